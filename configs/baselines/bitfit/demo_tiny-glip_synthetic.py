# BitFit on the demo's transfer set: same data, schedule (300 iterations, batch 4) and
# evaluation as the SDPT demo (configs/sdpt/demo_tiny-glip_synthetic.py), for
# benchmarks/demo_learning.py. Optimizer: AdamW 1e-3, no weight decay (as the GLIP-T row).
_base_ = '../../sdpt/demo_tiny-glip_synthetic.py'

model = dict(tuner=dict(_delete_=True, type='BitFit',
                        parts=['backbone', 'neck', 'bbox_head', 'language_model']))
optim_wrapper = dict(
    optimizer=dict(lr=1e-3, weight_decay=0.0))
