# mudpt on one ShapeWorld dataset: the same data, schedule and protocol as
# configs/sdpt/tiny-glip_shapeworld.py; tuner and optimiser as this method's demo config
# (configs/baselines/mudpt/demo_tiny-glip_synthetic.py).
_base_ = '../../sdpt/tiny-glip_shapeworld.py'

method = 'mudpt'
work_dir = ('./work_dirs/shapeworld/tiny-glip/mudpt/{{$ODINW_DATASET:Synonyms}}/'
            'shot{{$ODINW_SHOT:3}}_seed{{$ODINW_SEED:3}}')
model = dict(tuner=dict(_delete_=True, type='MuDPT', num_tokens=8, bottleneck=32,
                        layers='all', init='uniform', mask='paper'))
optim_wrapper = dict(
    optimizer=dict(lr=2e-2, weight_decay=0.0))
