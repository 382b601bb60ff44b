# lora on one ShapeWorld dataset: the same data, schedule and protocol as
# configs/sdpt/tiny-glip_shapeworld.py; tuner and optimiser as this method's demo config
# (configs/baselines/lora/demo_tiny-glip_synthetic.py).
_base_ = '../../sdpt/tiny-glip_shapeworld.py'

method = 'lora'
work_dir = ('./work_dirs/shapeworld/tiny-glip/lora/{{$ODINW_DATASET:Synonyms}}/'
            'shot{{$ODINW_SHOT:3}}_seed{{$ODINW_SEED:3}}')
model = dict(tuner=dict(_delete_=True, type='LoRA', targets=['fusion'], rank=8, alpha=16,
                        dropout=0.0))
optim_wrapper = dict(
    optimizer=dict(lr=1e-3, weight_decay=0.01))
