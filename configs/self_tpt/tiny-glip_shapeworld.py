# Self-TPT on the tiny GLIP (docs/self_tpt.md; mmdet_sdpt/models/self_tpt.py): 4 learnable
# context tokens in BERT's input, stage 1 with the detection loss + the contrastive prompt
# task + gradient matching (this config, on a ShapeWorld dataset as the leaderboard's runs),
# stage 2 on new class names alone (tools/self_tpt_adapt.py: no images, seconds).
#   ODINW_DATASET=BaseShapes python tools/train.py configs/self_tpt/tiny-glip_shapeworld.py
#   python tools/self_tpt_adapt.py configs/self_tpt/tiny-glip_shapeworld.py STAGE1.pth \
#       --names ball box cone plus --out work_dirs/self_tpt/stage2.pth
_base_ = ['../sdpt/tiny-glip_shapeworld.py']

method = 'self_tpt'
model = dict(tuner=dict(_delete_=True, type='SelfTPT', num_tokens=4, cpt_weight=1.0,
                        gm_weight=1.0, temperature=0.07))
work_dir = ('./work_dirs/shapeworld/tiny-glip/self_tpt/{{$ODINW_DATASET:Synonyms}}/'
            'shot{{$ODINW_SHOT:3}}_seed{{$ODINW_SEED:3}}')
