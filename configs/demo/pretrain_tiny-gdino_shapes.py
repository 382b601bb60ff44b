# Pretrains the demo's tiny Grounding DINO base (every weight trains) on the base part of
# the generated shapes (circle, square, triangle, cross).
#   python tools/pretrain_demo_base.py --config configs/demo/pretrain_tiny-gdino_shapes.py
# exports assets/demo/tiny-gdino_shapes_base.pth (fp16).
_base_ = '../_base_/demo_tiny_gdino.py'

# every weight trains; Swin's activation checkpointing only costs time at this size
model = dict(base_checkpoint=None, tuner=dict(_delete_=True, type='FullFineTuning'),
             backbone=dict(with_cp=False))
train_dataloader = dict(dataset=dict(part='base'))
val_dataloader = dict(dataset=dict(part='base', split='val'))
test_dataloader = val_dataloader
train_cfg = dict(max_iters=1200, val_interval=300)
# DETR-style training converges slowly: a higher LR than GLIP's, AdamW and grad clipping at
# 0.1 as mmdet's Grounding DINO configs
optim_wrapper = dict(optimizer=dict(lr=4e-4, weight_decay=1e-4),
                     clip_grad=dict(max_norm=0.1, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=100, end=1200, eta_min=1e-5)
]
default_hooks = dict(checkpoint=dict(interval=300, max_keep_ckpts=1))
