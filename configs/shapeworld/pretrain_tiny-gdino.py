# Pretrains the ShapeWorld tiny Grounding DINO base (every weight trains, seed 0) on the
# world's base part, as pretrain_tiny-glip.py (same data, views, prompts and distractor
# words), with Grounding DINO's optimisation of the demo's base
# (configs/demo/pretrain_tiny-gdino_shapes.py: AdamW 4e-4, grad clip 0.1).
#   python tools/pretrain_demo_base.py --config configs/shapeworld/pretrain_tiny-gdino.py
# exports assets/shapeworld/tiny-gdino_shapeworld_base.pth (fp16, sha256 in SHA256SUMS).
_base_ = ['../sdpt/tiny-gdino_shapeworld.py']

method = 'pretrain'
odinw_suite = 'shapeworld'
# every weight trains; Swin's activation checkpointing only costs time at this size
model = dict(base_checkpoint=None, tuner=dict(_delete_=True, type='FullFineTuning'),
             backbone=dict(with_cp=False))
work_dir = './work_dirs/shapeworld/pretrain_tiny-gdino'
train_dataloader = dict(dataset=dict(_delete_=True, **_base_.sw_pretrain_dataset))
val_dataloader = dict(dataset=_base_.sw_base_domain)
test_dataloader = dict(dataset=_base_.sw_base_domain)
val_evaluator = _base_.sw_base_domain
test_evaluator = _base_.sw_base_domain
randomness = dict(seed=0)
train_cfg = dict(max_iters=3000, val_interval=1000)
optim_wrapper = dict(optimizer=dict(lr=4e-4, weight_decay=1e-4),
                     clip_grad=dict(max_norm=0.1, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=100, end=3000, eta_min=1e-5)
]
default_hooks = dict(checkpoint=dict(interval=1000, max_keep_ckpts=1, save_best=None))
