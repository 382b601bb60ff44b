# linear_prob on one ShapeWorld dataset: the same data, schedule and protocol as
# configs/sdpt/tiny-glip_shapeworld.py; tuner and optimiser as this method's demo config
# (configs/baselines/linear_prob/demo_tiny-glip_synthetic.py).
_base_ = '../../sdpt/tiny-glip_shapeworld.py'

method = 'linear_prob'
work_dir = ('./work_dirs/shapeworld/tiny-glip/linear_prob/{{$ODINW_DATASET:Synonyms}}/'
            'shot{{$ODINW_SHOT:3}}_seed{{$ODINW_SEED:3}}')
model = dict(tuner=dict(_delete_=True, type='LinearProbe'))
optim_wrapper = dict(
    optimizer=dict(lr=1e-3, weight_decay=0.05),
    paramwise_cfg=dict(custom_keys={'bias': dict(lr_mult=2.0, decay_mult=0.0)}))
