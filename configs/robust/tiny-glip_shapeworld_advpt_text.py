# AdvPT's own method, text prompts (GLIP's language_prompt_v2) trained on training images
# attacked once against the frozen base (AdversarialTrainingSetHook: AdvPT's feature attack,
# eps 8/255, 10 steps); docs/robust.md.
#   ODINW_DATASET=Synonyms python tools/train.py configs/robust/tiny-glip_shapeworld_advpt_text.py
_base_ = ['../baselines/language_prompt_v2/tiny-glip_shapeworld.py']

method = 'advpt_text'
custom_hooks = _base_.custom_hooks + [
    dict(type='AdversarialTrainingSetHook', eps=8, steps=10)]
work_dir = ('./work_dirs/shapeworld/tiny-glip/advpt_text/{{$ODINW_DATASET:Synonyms}}/'
            'shot{{$ODINW_SHOT:3}}_seed{{$ODINW_SEED:3}}')
