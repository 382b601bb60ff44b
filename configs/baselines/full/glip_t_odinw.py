# GLIP's full fine-tuning (every weight trains), the reference all tuners are judged by.
# Same data, schedule and evaluation as sdpt/glip_t_odinw.py; optimizer as mmdet's GLIP-T
# fine-tune config (AdamW 1e-5, weight decay 0.05, no decay on norms/position tables,
# gradient clip 1.0).
_base_ = ['../../sdpt/glip_t_odinw.py', '../../_base_/full_finetune_optim.py']

model = dict(tuner=dict(_delete_=True, type='FullFineTuning'))
optim_wrapper = _base_.full_finetune_optim_wrapper
