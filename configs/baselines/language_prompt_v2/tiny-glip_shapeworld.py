# language_prompt_v2 on one ShapeWorld dataset: the same data, schedule and protocol as
# configs/sdpt/tiny-glip_shapeworld.py; tuner and optimiser as this method's demo config
# (configs/baselines/language_prompt_v2/demo_tiny-glip_synthetic.py).
_base_ = '../../sdpt/tiny-glip_shapeworld.py'

method = 'language_prompt_v2'
work_dir = ('./work_dirs/shapeworld/tiny-glip/language_prompt_v2/{{$ODINW_DATASET:Synonyms}}/'
            'shot{{$ODINW_SHOT:3}}_seed{{$ODINW_SEED:3}}')
model = dict(tuner=dict(_delete_=True, type='LanguagePromptV2'))
optim_wrapper = dict(
    optimizer=dict(lr=0.05, weight_decay=0.25))
