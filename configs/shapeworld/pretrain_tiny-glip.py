# Pretrains the ShapeWorld tiny GLIP base (every weight trains, seed 0) on the world's base
# part: BaseShapes/train named by shape (circle, square, triangle, cross, star, diamond) and
# the same images named by colour (red, green, blue, yellow; BaseColours), prompts shuffled
# per image with up to 3 distractor words no image holds. Validated on BaseShapes/valid.
#   python tools/pretrain_demo_base.py --config configs/shapeworld/pretrain_tiny-glip.py
# exports assets/shapeworld/tiny-glip_shapeworld_base.pth (fp16, sha256 in SHA256SUMS).
_base_ = '../sdpt/tiny-glip_shapeworld.py'

method = 'pretrain'
odinw_suite = 'shapeworld'
model = dict(base_checkpoint=None, tuner=dict(_delete_=True, type='FullFineTuning'))
work_dir = './work_dirs/shapeworld/pretrain_tiny-glip'
train_dataloader = dict(dataset=dict(_delete_=True, **_base_.sw_pretrain_dataset))
val_dataloader = dict(dataset=_base_.sw_base_domain)
test_dataloader = dict(dataset=_base_.sw_base_domain)
val_evaluator = _base_.sw_base_domain
test_evaluator = _base_.sw_base_domain
randomness = dict(seed=0)
train_cfg = dict(max_iters=4000, val_interval=1000)
optim_wrapper = dict(optimizer=dict(lr=2e-4, weight_decay=0.05),
                     clip_grad=dict(max_norm=1.0, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=100, end=4000, eta_min=1e-5)
]
default_hooks = dict(checkpoint=dict(interval=1000, max_keep_ckpts=1, save_best=None))
