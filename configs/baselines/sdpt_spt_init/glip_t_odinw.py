# SDPT with SPT-style prototype initialisation, GLIP-T, one ODinW dataset per run.
# (ODINW_DATASET etc.: configs/sdpt/glip_t_odinw.py)
# init='prototype': before the first iteration of a fresh start, PrototypeInitHook sets each
# layer's K = 8 unified tokens to k-means centroids of v_proj(visual tokens) of that fusion
# layer on 16 training images (frozen model, prompts off; mmdet_sdpt/engine/prototype_init.py).
# Resuming keeps the checkpoint's tokens. Everything else as configs/sdpt/glip_t_odinw.py.
_base_ = '../../sdpt/glip_t_odinw.py'

model = dict(tuner=dict(init='prototype'))
custom_hooks = _base_.custom_hooks + [dict(type='PrototypeInitHook', num_images=16, iters=10)]
