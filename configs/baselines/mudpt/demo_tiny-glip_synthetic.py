# MuDPT on the demo's transfer set: same data, schedule (300 iterations, batch 4)
# and evaluation as the SDPT demo (configs/sdpt/demo_tiny-glip_synthetic.py), for
# benchmarks/demo_learning.py. Knobs as the GLIP-T row (glip_t_coco.py).
# Optimizer: AdamW 2e-2, no decay (the GLIP-T row's 5e-3 raised for a
# 300-iteration schedule, as the SDPT demo raises 1e-2 to 5e-2 and LoRA 5e-4 to 1e-3).
_base_ = '../../sdpt/demo_tiny-glip_synthetic.py'

model = dict(tuner=dict(_delete_=True, type='MuDPT', num_tokens=8, bottleneck=32,
                        layers='all', init='uniform', mask='paper'))
optim_wrapper = dict(
    optimizer=dict(lr=2e-2, weight_decay=0.0))
