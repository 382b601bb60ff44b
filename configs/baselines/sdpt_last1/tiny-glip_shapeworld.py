# sdpt_last1 on one ShapeWorld dataset: the same data, schedule and protocol as
# configs/sdpt/tiny-glip_shapeworld.py; tuner and optimiser as this method's demo config
# (configs/baselines/sdpt_last1/demo_tiny-glip_synthetic.py).
_base_ = '../../sdpt/tiny-glip_shapeworld.py'

method = 'sdpt_last1'
work_dir = ('./work_dirs/shapeworld/tiny-glip/sdpt_last1/{{$ODINW_DATASET:Synonyms}}/'
            'shot{{$ODINW_SHOT:3}}_seed{{$ODINW_SEED:3}}')
model = dict(tuner=dict(num_tokens=16, layers=[-1]))
