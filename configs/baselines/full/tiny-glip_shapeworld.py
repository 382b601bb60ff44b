# Full fine-tuning (GLIP's full) on one ShapeWorld dataset: the same data, schedule and
# protocol as configs/sdpt/tiny-glip_shapeworld.py; the optimiser of the demo's full
# fine-tuning (AdamW 2e-4, weight decay 0.05: the base's pretraining LR).
_base_ = '../../sdpt/tiny-glip_shapeworld.py'

method = 'full'
model = dict(tuner=dict(_delete_=True, type='FullFineTuning'))
optim_wrapper = dict(optimizer=dict(lr=2e-4, weight_decay=0.05))
work_dir = ('./work_dirs/shapeworld/tiny-glip/full/{{$ODINW_DATASET:Synonyms}}/'
            'shot{{$ODINW_SHOT:3}}_seed{{$ODINW_SEED:3}}')
