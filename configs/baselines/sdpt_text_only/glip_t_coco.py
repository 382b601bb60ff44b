# SDPT ablation: unified tokens mapped into the text stream only.
# Same data, schedule and evaluation as sdpt/glip_t_coco.py.
_base_ = '../../sdpt/glip_t_coco.py'

model = dict(tuner=dict(streams=['text']))
