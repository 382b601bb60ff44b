# Full adversarial fine-tuning, the costly reference for AdvPT (docs/robust.md): GLIP's full
# fine-tuning on training images attacked once against the frozen base
# (AdversarialTrainingSetHook: AdvPT's feature attack, eps 8/255, 10 steps).
#   ODINW_DATASET=Synonyms python tools/train.py configs/robust/tiny-glip_shapeworld_adv_full.py
_base_ = ['../baselines/full/tiny-glip_shapeworld.py']

method = 'adv_full'
custom_hooks = _base_.custom_hooks + [
    dict(type='AdversarialTrainingSetHook', eps=8, steps=10)]
work_dir = ('./work_dirs/shapeworld/tiny-glip/adv_full/{{$ODINW_DATASET:Synonyms}}/'
            'shot{{$ODINW_SHOT:3}}_seed{{$ODINW_SEED:3}}')
