# LoRA on the demo's transfer set: same data, schedule (300 iterations, batch 4) and
# evaluation as the SDPT demo (configs/sdpt/demo_tiny-glip_synthetic.py), for
# benchmarks/demo_learning.py. Optimizer: AdamW 1e-3 (2x the GLIP-T row's: a 300-iteration schedule).
_base_ = '../../sdpt/demo_tiny-glip_synthetic.py'

model = dict(tuner=dict(_delete_=True, type='LoRA', targets=['fusion'], rank=8, alpha=16,
                        dropout=0.0))
optim_wrapper = dict(
    optimizer=dict(lr=1e-3, weight_decay=0.01))
