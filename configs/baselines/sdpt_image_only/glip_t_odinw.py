# SDPT ablation: unified tokens mapped into the image stream only.
# Same data, schedule and evaluation as sdpt/glip_t_odinw.py.
_base_ = '../../sdpt/glip_t_odinw.py'

model = dict(tuner=dict(streams=['image']))
