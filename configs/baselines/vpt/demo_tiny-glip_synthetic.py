# VPT-deep on the demo's transfer set: same data, schedule (300 iterations, batch 4) and
# evaluation as the SDPT demo (configs/sdpt/demo_tiny-glip_synthetic.py), for
# benchmarks/demo_learning.py. K = 8 prompts in each of the tiny Swin's 4 blocks:
# 8 x (32 + 64 + 128 + 256) = 3,840 trainable.
# Optimizer: AdamW 5e-2, no weight decay (the SDPT demo's LR: a 300-iteration schedule).
# Measured here, seed 0: AP 0.350 (LR 5e-2) and 0.348 (LR 1e-2) vs 0.350 zero-shot: the
# prompts train (they move from +-0.27 to std 0.7 and take 5-15% of each window's attention)
# but visual prompts in the backbone cannot teach the detector new words.
_base_ = '../../sdpt/demo_tiny-glip_synthetic.py'

model = dict(tuner=dict(_delete_=True, type='VPT', num_tokens=8, deep=True, init='uniform',
                        dropout=0.0))
optim_wrapper = dict(
    optimizer=dict(lr=5e-2, weight_decay=0.0))
