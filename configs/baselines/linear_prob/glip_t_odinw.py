# GLIP's linear_prob on GLIP-T, one ODinW dataset per run.
# (ODINW_DATASET etc.: configs/sdpt/glip_t_odinw.py)
# Trainable: bbox_head.head.{bbox_pred, centerness, dot_product_projection_text, log_scale,
# bias_lang, bias0}; on GLIP-T 1,028 + 257 + 196,864 + 1 + 768 + 1 = 198,919 (0.086%).
# Optimizer: GLIP runs linear_prob with its full fine-tuning solver (GLIP README / finetune.py):
# AdamW, BASE_LR 1e-4 (GLIP-T config), weight decay 0.05, and for every tensor whose name
# contains 'bias' (here bias_lang, bias0 and the predictors' biases) 2x LR and no decay
# (GLIP's BIAS_LR_FACTOR 2, WEIGHT_DECAY_BIAS 0); gradient clip 1.0 as SDPT's.
_base_ = '../../sdpt/glip_t_odinw.py'

model = dict(tuner=dict(_delete_=True, type='LinearProbe'))
optim_wrapper = dict(
    optimizer=dict(lr=1e-4, weight_decay=0.05),
    paramwise_cfg=dict(custom_keys={'bias': dict(lr_mult=2.0, decay_mult=0.0)}))
