# SDPT on the tiny Grounding DINO, one dataset of the generated ShapeWorld suite per run:
# as tiny-glip_shapeworld.py (data, schedule, protocol), with the tiny Grounding DINO of
# models/sdpt_tiny_gdino.py and its ShapeWorld base
# (assets/shapeworld/tiny-gdino_shapeworld_base.pth, configs/shapeworld/pretrain_tiny-gdino.py).
_base_ = ['../_base_/models/sdpt_tiny_gdino.py', '../_base_/shapeworld_data.py']

detector, method = 'tiny-gdino', 'sdpt'  # the results' row: 'tiny-gdino sdpt'
sw_bert = '{{ fileDirname }}/../../assets/shapeworld/tiny_bert'
base_checkpoint = '{{ fileDirname }}/../../assets/shapeworld/tiny-gdino_shapeworld_base.pth'
# num_classes: rows of the denoising queries' label embedding, at least the largest prompt
# (ManyClasses: 15). contrastive_cfg: MM-Grounding-DINO's from-scratch setting, as the demo.
# max_per_img: at most num_queries (50): mmdet's head takes the top max_per_img of
# num_queries x num_classes scores, which a one-class prompt (OneClass) cannot give beyond 50.
model = dict(base_checkpoint=base_checkpoint, tuner=dict(num_tokens=8),
             bbox_head=dict(num_classes=16, contrastive_cfg=dict(log_scale='auto', bias=True)),
             language_model=dict(name=sw_bert), test_cfg=dict(max_per_img=50))
work_dir = ('./work_dirs/shapeworld/tiny-gdino/sdpt/{{$ODINW_DATASET:Synonyms}}/'
            'shot{{$ODINW_SHOT:3}}_seed{{$ODINW_SEED:3}}')

train_dataloader = dict(_delete_=True, **_base_.sw_train_dataloader)
# the learning rates are set for this batch, one process (mmdet's GLIP bases say 16)
auto_scale_lr = dict(enable=False, base_batch_size=_base_.sw_train_dataloader['batch_size'])
val_dataloader = dict(_delete_=True, **_base_.sw_val_dataloader)
test_dataloader = dict(_delete_=True, **_base_.sw_test_dataloader)
val_evaluator = dict(_delete_=True, **_base_.sw_val_evaluator)
test_evaluator = dict(_delete_=True, **_base_.sw_test_evaluator)
train_cfg = dict(_delete_=True, **_base_.sw_train_cfg)
param_scheduler = _base_.sw_param_scheduler
custom_hooks = _base_.custom_hooks + _base_.sw_custom_hooks
default_hooks = _base_.sw_default_hooks
log_processor = _base_.sw_log_processor
randomness = dict(seed=_base_.odinw_seed)
optim_wrapper = dict(optimizer=dict(lr=5e-2))
