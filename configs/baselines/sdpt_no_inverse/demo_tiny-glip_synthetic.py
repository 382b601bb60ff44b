# SDPT ablation: dual prompts without the inverse projection (independent
# learnable image- and text-side prompts at the same place; the reference's vpt_only -3).
# Same data, schedule and evaluation as sdpt/demo_tiny-glip_synthetic.py.
_base_ = '../../sdpt/demo_tiny-glip_synthetic.py'

model = dict(tuner=dict(projection='none'))
