# VPT-deep with SPT-style prototype initialisation, GLIP-T, one ODinW dataset per run.
# (ODINW_DATASET etc.: configs/sdpt/glip_t_odinw.py)
# init='prototype': before the first iteration of a fresh start, PrototypeInitHook sets each
# Swin block's K = 8 prompts to k-means centroids of that block's input tokens on 16
# training images (frozen model, prompts off; mmdet_sdpt/engine/prototype_init.py).
# Resuming keeps the checkpoint's tokens. Everything else as configs/baselines/vpt/glip_t_odinw.py.
_base_ = '../vpt/glip_t_odinw.py'

model = dict(tuner=dict(init='prototype'))
custom_hooks = _base_.custom_hooks + [dict(type='PrototypeInitHook', num_images=16, iters=10)]
