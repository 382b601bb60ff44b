# GLIP's full fine-tuning (every weight trains) on GLIP-L, LVIS v1 (train) / minival (FixedAP).
# (data, schedule, evaluation: configs/sdpt/glip_l_lvis.py)
# Optimizer as the GLIP-T COCO row (mmdet's GLIP fine-tune config): AdamW 1e-5, weight
# decay 0.05, no decay on norms/position tables.
_base_ = ['../../sdpt/glip_l_lvis.py', '../../_base_/full_finetune_optim.py']

model = dict(tuner=dict(_delete_=True, type='FullFineTuning'))
optim_wrapper = _base_.full_finetune_optim_wrapper
