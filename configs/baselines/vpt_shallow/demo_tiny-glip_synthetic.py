# VPT-shallow on the demo's transfer set: same data, schedule (300 iterations, batch 4) and
# evaluation as the SDPT demo (configs/sdpt/demo_tiny-glip_synthetic.py), for
# benchmarks/demo_learning.py. K = 8 prompts in the tiny Swin's first block: 8 x 32 = 256
# trainable.
# Optimizer: AdamW 5e-2, no weight decay (as configs/baselines/vpt/).
_base_ = '../../sdpt/demo_tiny-glip_synthetic.py'

model = dict(tuner=dict(_delete_=True, type='VPT', num_tokens=8, deep=False, init='uniform',
                        dropout=0.0))
optim_wrapper = dict(
    optimizer=dict(lr=5e-2, weight_decay=0.0))
