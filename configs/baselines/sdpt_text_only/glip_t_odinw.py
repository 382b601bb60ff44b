# SDPT ablation: unified tokens mapped into the text stream only.
# Same data, schedule and evaluation as sdpt/glip_t_odinw.py.
_base_ = '../../sdpt/glip_t_odinw.py'

model = dict(tuner=dict(streams=['text']))
