# VPT-deep with SPT-style prototype initialisation on the demo's transfer set: as
# configs/baselines/vpt/demo_tiny-glip_synthetic.py, except that before the first iteration
# PrototypeInitHook sets each Swin block's 8 prompts to k-means centroids of that block's
# input tokens on 16 training images.
_base_ = '../vpt/demo_tiny-glip_synthetic.py'

model = dict(tuner=dict(init='prototype'))
custom_hooks = _base_.custom_hooks + [dict(type='PrototypeInitHook', num_images=16, iters=10)]
