# SDPT ablation: unified tokens mapped into the text stream only.
# Same data, schedule and evaluation as sdpt/demo_tiny-glip_synthetic.py.
_base_ = '../../sdpt/demo_tiny-glip_synthetic.py'

model = dict(tuner=dict(streams=['text']))
