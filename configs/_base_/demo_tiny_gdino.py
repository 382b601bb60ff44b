# The demo with the tiny Grounding DINO (models/sdpt_tiny_gdino.py: Swin 32, 2 encoder
# layers each with a fusion layer of embed_dim 256, 2 decoder layers, 50 queries) instead of
# the tiny GLIP: the same generated shapes, prompts, splits and schedule (demo_shapes_data.py),
# the same committed tiny BERT, and its own base pretrained on the base words
# (configs/demo/pretrain_tiny-gdino_shapes.py, tools/pretrain_demo_base.py --config ...).
# Grounding DINO's loss builds its positive maps from the per-image 'text' (the class names
# ShuffleClassPrompt reorders) and the remapped labels, so no 'tokens_positive' is needed.
_base_ = ['./models/sdpt_tiny_gdino.py', './demo_shapes_data.py']

base_checkpoint = '{{ fileDirname }}/../../assets/demo/tiny-gdino_shapes_base.pth'
# num_classes: the denoising queries' label embedding, one row per class of the demo.
# contrastive_cfg: MM-Grounding-DINO's from-scratch setting (scores scaled by 1/sqrt(d) and
# a learnt bias starting at the 0.01 prior); Grounding DINO-T's (unscaled, no bias) only
# suits loading its pretrained weights, and from random weights gives focal losses in the
# hundreds and an unstable start.
model = dict(base_checkpoint=base_checkpoint,
             bbox_head=dict(num_classes=4,
                            contrastive_cfg=dict(log_scale='auto', bias=True)),
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
