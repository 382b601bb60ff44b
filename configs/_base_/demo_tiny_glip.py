# The demo: the tiny GLIP (models/sdpt_tiny_glip.py) on generated shapes. The transfer part
# names the shapes with new words (ball, box, cone, plus) the base never saw; data are
# generated under DEMO_DATA on first use (the data and schedule: demo_shapes_data.py, shared
# with the tiny Grounding DINO's demo_tiny_gdino.py).
_base_ = ['./models/sdpt_tiny_glip.py', './demo_shapes_data.py']

# the committed BERT (its vocabulary holds the base and transfer words) and base weights
base_checkpoint = '{{ fileDirname }}/../../assets/demo/tiny-glip_shapes_base.pth'
model = dict(base_checkpoint=base_checkpoint,
             bbox_head=dict(num_classes=4, lang_model_name=_base_.demo_bert),
             language_model=dict(name=_base_.demo_bert))

train_pipeline = _base_.demo_train_pipeline
test_pipeline = _base_.demo_test_pipeline
train_dataloader = dict(_delete_=True, **_base_.demo_train_dataloader)
# the learning rates are set for this batch, one process (mmdet's GLIP bases say 16)
auto_scale_lr = dict(enable=False, base_batch_size=_base_.demo_train_dataloader['batch_size'])
val_dataloader = dict(_delete_=True, **_base_.demo_val_dataloader)
test_dataloader = val_dataloader
val_evaluator = dict(_delete_=True, **_base_.demo_evaluator)
test_evaluator = val_evaluator

train_cfg = dict(_delete_=True, **_base_.demo_train_cfg)
param_scheduler = []
default_hooks = _base_.demo_default_hooks
log_processor = dict(by_epoch=False)
randomness = dict(seed=0)
