# VPT-shallow in the Swin backbone of GLIP-T, one ODinW dataset per run.
# (ODINW_DATASET etc.: configs/sdpt/glip_t_odinw.py)
# K = 8 prompts in the first Swin block only (VPT carries its prompts' outputs through the
# later blocks; here they are keys and values of the first block only, see
# mmdet_sdpt/models/vpt.py). Trainable on GLIP-T: 8 x 96 = 768 (0.0003%).
# Optimizer: AdamW 1e-2, no weight decay (as configs/baselines/vpt/).
_base_ = '../../sdpt/glip_t_odinw.py'

model = dict(tuner=dict(_delete_=True, type='VPT', num_tokens=8, deep=False, init='uniform',
                        dropout=0.0))
optim_wrapper = dict(optimizer=dict(lr=1e-2, weight_decay=0.0))
