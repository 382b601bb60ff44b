# GLIP's prompt tuning (language_prompt_v2), GLIP-T, ODinW few-shot on GLIP's protocol (the
# schedule of configs/sdpt/glip_t_odinw_fewshot.py) with GLIP's recipe
# (benchmarks/glip_fewshot_protocol.md, section 5): lr 0.05, weight decay 0.25.
_base_ = '../../sdpt/glip_t_odinw_fewshot.py'

method = 'language_prompt_v2'
model = dict(tuner=dict(_delete_=True, type='LanguagePromptV2'))
optim_wrapper = dict(optimizer=dict(lr=0.05, weight_decay=0.25))
work_dir = ('./work_dirs/glip_t_odinw_fewshot_language_prompt_v2/'
            '{{$ODINW_DATASET:AerialMaritimeDrone}}/shot{{$ODINW_SHOT:3}}_seed{{$ODINW_SEED:3}}')
