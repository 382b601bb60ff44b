# GLIP's language_prompt_v2 on the demo's transfer set: same data, schedule (300 iterations, batch 4) and
# evaluation as the SDPT demo (configs/sdpt/demo_tiny-glip_synthetic.py), for
# benchmarks/demo_learning.py. Optimizer: GLIP's: AdamW 0.05, weight decay 0.25.
_base_ = '../../sdpt/demo_tiny-glip_synthetic.py'

model = dict(tuner=dict(_delete_=True, type='LanguagePromptV2'))
optim_wrapper = dict(
    optimizer=dict(lr=0.05, weight_decay=0.25))
