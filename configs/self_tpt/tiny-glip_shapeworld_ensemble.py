# The K-template ensemble at test time (mmdet_sdpt/models/template_ensemble.py): every class
# name put in K hand-made templates, each caption encoded once, each class's token features
# averaged over the K captions. Training-free: test the base (--zero-shot) or any GLIP
# checkpoint of the same base with it; no prefix cache (it keeps the plain caption's state).
#   ODINW_DATASET=Synonyms python tools/test.py \
#       configs/self_tpt/tiny-glip_shapeworld_ensemble.py --zero-shot
_base_ = ['./tiny-glip_shapeworld.py']

model = dict(prefix_cache=None)
custom_hooks = _base_.custom_hooks + [dict(type='TemplateEnsembleHook')]
