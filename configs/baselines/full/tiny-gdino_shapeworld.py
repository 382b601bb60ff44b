# Full fine-tuning of the tiny Grounding DINO on one ShapeWorld dataset: the same data,
# schedule and protocol as configs/sdpt/tiny-gdino_shapeworld.py; Grounding DINO's own
# fine-tuning optimiser at the base's pretraining settings (AdamW 4e-4 / 10, weight decay
# 1e-4, grad clip 0.1: configs/shapeworld/pretrain_tiny-gdino.py).
_base_ = '../../sdpt/tiny-gdino_shapeworld.py'

method = 'full'
model = dict(tuner=dict(_delete_=True, type='FullFineTuning'), backbone=dict(with_cp=False))
optim_wrapper = dict(optimizer=dict(lr=4e-5, weight_decay=1e-4),
                     clip_grad=dict(max_norm=0.1, norm_type=2))
work_dir = ('./work_dirs/shapeworld/tiny-gdino/full/{{$ODINW_DATASET:Synonyms}}/'
            'shot{{$ODINW_SHOT:3}}_seed{{$ODINW_SEED:3}}')
