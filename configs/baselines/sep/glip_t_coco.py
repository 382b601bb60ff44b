# SEP (Yao et al., 2024, self-enhanced prompt tuning), adapted to the fusion layers:
# SDPT's unified tokens P (K x D) per fusion layer, enhanced per image by M = 8 group means of
# the layer's visual tokens (through the frozen v_proj) with a small cross-attention (inner
# dim 64, 4 heads, zero-initialised output: it starts as SDPT), then mapped into both streams
# by SDPT's inverse projections (mmdet_sdpt/models/sep.py).
# Trainable on GLIP-T (K = 8, 6 layers, D = 2048): 6 x (8 x 2048 tokens + 4 x 2048 x 64 + 2048
# fusion) = 6 x 542,720 = 3,256,320 (1.405% of 231,759,662); the fusion dominates (dim=16:
# 6 x 149,504 = 897,024, 0.387%).
# Optimizer: the tokens at SDPT's LR of this row, the token fusion's Linears at 0.1x (zero-init
# output layer; AdamW steps of SDPT's size would swamp it); a starting point, not tuned.
# (data, schedule, evaluation: configs/sdpt/glip_t_coco.py)
_base_ = '../../sdpt/glip_t_coco.py'

model = dict(tuner=dict(_delete_=True, type='SEP', num_tokens=8, layers='all', init='uniform',
                        mask='paper', num_selected=8, sources=['image'], dim=64, heads=4))
optim_wrapper = dict(
    optimizer=dict(lr=1e-2, weight_decay=0.0),
    paramwise_cfg=dict(custom_keys={'.sep.fusion.': dict(lr_mult=0.1)}))
