# SDPT ablation: unified tokens mapped into the image stream only.
# Same data, schedule and evaluation as sdpt/demo_tiny-glip_synthetic.py.
_base_ = '../../sdpt/demo_tiny-glip_synthetic.py'

model = dict(tuner=dict(streams=['image']))
