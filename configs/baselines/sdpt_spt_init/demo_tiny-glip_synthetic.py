# SDPT with SPT-style prototype initialisation on the demo's transfer set: as the SDPT demo
# (configs/sdpt/demo_tiny-glip_synthetic.py: data, 300 iterations of batch 4, AdamW 5e-2),
# except that before the first iteration PrototypeInitHook sets each fusion layer's 8 tokens
# to k-means centroids of v_proj(visual tokens) on 16 training images.
_base_ = '../../sdpt/demo_tiny-glip_synthetic.py'

model = dict(tuner=dict(init='prototype'))
custom_hooks = _base_.custom_hooks + [dict(type='PrototypeInitHook', num_images=16, iters=10)]
