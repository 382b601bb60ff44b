# GLIP's linear_prob on GLIP-L, COCO 2017.
# (data, schedule, evaluation: configs/sdpt/glip_l_coco.py)
# Trainable: GLIP's whitelist in mmdet names, bbox_head.head.{bbox_pred, centerness,
# dot_product_projection_text, log_scale, bias_lang, bias0} (count: python
# benchmarks/param_count.py --config this file). Optimizer as the GLIP-T COCO row: AdamW
# 1e-4, weight decay 0.05, 'bias' tensors 2x LR and no decay (GLIP's solver).
_base_ = '../../sdpt/glip_l_coco.py'

model = dict(tuner=dict(_delete_=True, type='LinearProbe'))
optim_wrapper = dict(
    optimizer=dict(lr=1e-4, weight_decay=0.05),
    paramwise_cfg=dict(custom_keys={'bias': dict(lr_mult=2.0, decay_mult=0.0)}))
