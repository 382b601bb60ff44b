# AdvPT for SDPT (Adversarial Prompt Tuning, Zhang et al., ECCV 2024, moved to a grounding
# detector; docs/robust.md): SDPT trained with the normal detection loss on training images
# attacked once against the frozen base (AdversarialTrainingSetHook: AdvPT's feature attack on
# backbone+neck, eps 8/255, 10 steps, before training, into <work_dir>/adversarial/), whose
# frozen-prefix features the prefix cache keeps (AdvPT caches the adversarial image
# embeddings). One config, like any other method:
#   ODINW_DATASET=Synonyms python tools/train.py configs/robust/tiny-glip_shapeworld_advpt.py
#   python tools/fewshot_protocol.py configs/robust/tiny-glip_shapeworld_advpt.py
_base_ = ['../sdpt/tiny-glip_shapeworld.py']

method = 'advpt_sdpt'
model = dict(prefix_cache=dict(max_bytes=2**30, device='cpu', dtype=None))
custom_hooks = _base_.custom_hooks + [
    dict(type='AdversarialTrainingSetHook', eps=8, steps=10)]
work_dir = ('./work_dirs/shapeworld/tiny-glip/advpt_sdpt/{{$ODINW_DATASET:Synonyms}}/'
            'shot{{$ODINW_SHOT:3}}_seed{{$ODINW_SEED:3}}')
