# GLIP's full fine-tuning (every weight trains) on GLIP-T, LVIS v1 (train) / minival (FixedAP).
# (data, schedule, evaluation: configs/sdpt/glip_t_lvis.py)
# Optimizer as the GLIP-T COCO row (mmdet's GLIP fine-tune config): AdamW 1e-5, weight
# decay 0.05, no decay on norms/position tables.
_base_ = '../../sdpt/glip_t_lvis.py'

model = dict(tuner=dict(_delete_=True, type='FullFineTuning'))
optim_wrapper = dict(
    optimizer=dict(lr=1e-5, weight_decay=0.05),
    paramwise_cfg=dict(custom_keys={
        'absolute_pos_embed': dict(decay_mult=0.),
        'relative_position_bias_table': dict(decay_mult=0.),
        'norm': dict(decay_mult=0.)
    }))
