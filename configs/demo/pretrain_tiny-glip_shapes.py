# Pretrains the demo's tiny GLIP base (every weight trains) on the base part of the
# generated shapes (circle, square, triangle, cross). tools/pretrain_demo_base.py runs it
# and exports assets/demo/tiny-glip_shapes_base.pth (fp16).
_base_ = '../_base_/demo_tiny_glip.py'

model = dict(base_checkpoint=None, tuner=dict(_delete_=True, type='FullFineTuning'))
train_dataloader = dict(dataset=dict(part='base'))
val_dataloader = dict(dataset=dict(part='base', split='val'))
test_dataloader = val_dataloader
train_cfg = dict(max_iters=1500, val_interval=500)
optim_wrapper = dict(optimizer=dict(lr=2e-4, weight_decay=0.05),
                     clip_grad=dict(max_norm=1.0, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=100, end=1500, eta_min=1e-5)
]
default_hooks = dict(checkpoint=dict(interval=500, max_keep_ckpts=1))
