# full fine-tuning (GLIP's full) on the demo's transfer set: same data, schedule (300 iterations, batch 4) and
# evaluation as the SDPT demo (configs/sdpt/demo_tiny-glip_synthetic.py), for
# benchmarks/demo_learning.py. Optimizer: AdamW 2e-4, weight decay 0.05 (the base's pretraining LR).
_base_ = '../../sdpt/demo_tiny-glip_synthetic.py'

model = dict(tuner=dict(_delete_=True, type='FullFineTuning'))
optim_wrapper = dict(
    optimizer=dict(lr=2e-4, weight_decay=0.05))
