# VPT-deep (Jia et al., ECCV 2022) in the Swin backbone of GLIP-T, one ODinW dataset per run.
# (ODINW_DATASET etc.: configs/sdpt/glip_t_odinw.py)
# K = 8 prompts in every Swin block; mmdet's window attention cannot take extra tokens, so
# they enter it as extra keys and values shared by every window, with zero relative-position
# bias and no mask (what VPT's prompt tokens are to the patch tokens; mmdet_sdpt/models/vpt.py).
# Trainable on GLIP-T (Swin-T, 2-2-6-2 blocks of 96/192/384/768): 8 x 4,416 = 35,328 (0.015%).
# Optimizer: AdamW 1e-2, no weight decay (the SDPT row's); a starting point, not tuned for
# detection.
_base_ = '../../sdpt/glip_t_odinw.py'

model = dict(tuner=dict(_delete_=True, type='VPT', num_tokens=8, deep=True, init='uniform',
                        dropout=0.0))
optim_wrapper = dict(optimizer=dict(lr=1e-2, weight_decay=0.0))
