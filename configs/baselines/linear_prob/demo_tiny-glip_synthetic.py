# GLIP's linear_prob on the demo's transfer set: same data, schedule (300 iterations, batch 4) and
# evaluation as the SDPT demo (configs/sdpt/demo_tiny-glip_synthetic.py), for
# benchmarks/demo_learning.py. Optimizer: AdamW 1e-3 (10x the GLIP-T row's 1e-4: a 300-iteration schedule), GLIP's bias rule.
_base_ = '../../sdpt/demo_tiny-glip_synthetic.py'

model = dict(tuner=dict(_delete_=True, type='LinearProbe'))
optim_wrapper = dict(
    optimizer=dict(lr=1e-3, weight_decay=0.05),
    paramwise_cfg=dict(custom_keys={'bias': dict(lr_mult=2.0, decay_mult=0.0)}))
