# AdvPT for SDPT (Adversarial Prompt Tuning, Zhang et al., ECCV 2024, moved to a grounding
# detector; docs/robust.md): SDPT trained with the normal detection loss on training images
# attacked once against the frozen base (tools/make_adversarial.py: AdvPT's feature attack on
# backbone+neck, eps 8/255, 10 steps), whose frozen-prefix features the prefix cache keeps
# (AdvPT caches the adversarial image embeddings).
#   ODINW_DATASET=Synonyms python tools/make_adversarial.py \
#       configs/robust/tiny-glip_shapeworld_advpt.py --out data/adversarial/eps8
#   ODINW_ROOT=data/adversarial/eps8 ODINW_DATASET=Synonyms \
#       python tools/train.py configs/robust/tiny-glip_shapeworld_advpt.py
_base_ = ['../sdpt/tiny-glip_shapeworld.py']

method = 'advpt_sdpt'
model = dict(prefix_cache=dict(max_bytes=2**30, device='cpu', dtype=None))
work_dir = ('./work_dirs/shapeworld/tiny-glip/advpt_sdpt/{{$ODINW_DATASET:Synonyms}}/'
            'shot{{$ODINW_SHOT:3}}_seed{{$ODINW_SEED:3}}')
