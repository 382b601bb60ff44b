# SDPT in the last fusion layer of the tiny GLIP (configs/baselines/sdpt_last1's tuner) on
# one ShapeWorld dataset, with the prefix cache: the leaderboard's few-shot schedule, data
# and protocol (tiny-glip_shapeworld.py). Compare with the same run without the cache:
#   ODINW_DATASET=Synonyms ODINW_SHOT=3 ODINW_SEED=3 \
#       python tools/train.py configs/sdpt/tiny-glip_shapeworld_cached.py
#   ODINW_DATASET=Synonyms ODINW_SHOT=3 ODINW_SEED=3 \
#       python tools/train.py configs/baselines/sdpt_last1/tiny-glip_shapeworld.py
_base_ = '../baselines/sdpt_last1/tiny-glip_shapeworld.py'

method = 'sdpt_last1_cached'
work_dir = ('./work_dirs/shapeworld/tiny-glip/sdpt_last1_cached/{{$ODINW_DATASET:Synonyms}}/'
            'shot{{$ODINW_SHOT:3}}_seed{{$ODINW_SEED:3}}')
model = dict(prefix_cache=dict(max_bytes=2**30, device='cpu', dtype=None))
