# BitFit (Ben Zaken et al., 2022) on GLIP-T, COCO 2017.
# (data, schedule, evaluation: configs/sdpt/glip_t_coco.py)
# Trainable: every *.bias of backbone, neck, bbox_head and language_model; on GLIP-T
# 285,293 (0.123%).
# Optimizer: biases need a far larger step than full fine-tuning (BitFit's runs use LRs
# around 1e-4..1e-3); AdamW 1e-3, no weight decay (GLIP's solver never decays biases either).
_base_ = '../../sdpt/glip_t_coco.py'

model = dict(tuner=dict(_delete_=True, type='BitFit',
                        parts=['backbone', 'neck', 'bbox_head', 'language_model']))
optim_wrapper = dict(optimizer=dict(lr=1e-3, weight_decay=0.0))
