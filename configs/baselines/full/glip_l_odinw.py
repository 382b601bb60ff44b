# GLIP's full fine-tuning (every weight trains) on GLIP-L, one ODinW dataset per run.
# (data, schedule, evaluation: configs/sdpt/glip_l_odinw.py)
# Optimizer as the GLIP-T COCO row (mmdet's GLIP fine-tune config): AdamW 1e-5, weight
# decay 0.05, no decay on norms/position tables.
_base_ = ['../../sdpt/glip_l_odinw.py', '../../_base_/full_finetune_optim.py']

model = dict(tuner=dict(_delete_=True, type='FullFineTuning'))
optim_wrapper = _base_.full_finetune_optim_wrapper
