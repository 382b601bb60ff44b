# SDPT, GLIP-T, ODinW few-shot (GLIP's protocol): one dataset, K shots, seed S per run;
# report mean +- std over seeds 3, 30, 300 of the test AP of the best-on-valid checkpoint.
# Everything else as glip_t_odinw.py (ODINW_DATASET, ODINW_ROOT, ODINW_SUITE).
# The K-shot split of seed S is GLIP's fewshot_train_shot{K}_seed{S}.json beside the
# dataset's train annotations; write missing ones with tools/fewshot_sample.py:
#   python tools/fewshot_sample.py \
#       data/odinw/Raccoon/Raccoon.v2-raw.coco/train/annotations_without_background.json
#   ODINW_DATASET=Raccoon ODINW_SHOT=3 ODINW_SEED=30 bash tools/dist_train.sh \
#       configs/sdpt/glip_t_odinw_fewshot.py 8
#   ODINW_DATASET=Raccoon ODINW_SHOT=3 ODINW_SEED=30 python tools/test.py \
#       configs/sdpt/glip_t_odinw_fewshot.py \
#       work_dirs/glip_t_odinw_fewshot/Raccoon/shot3_seed30/best_coco_bbox_mAP_epoch_N.pth
#   python tools/collect_results.py work_dirs/glip_t_odinw_fewshot --suite odinw13
# The schedule is glip_t_odinw.py's; GLIP's few-shot runs repeat the small split per K
# (shots_epochs_copies 1_200_8, 3_200_4, 5_200_2, 10_200_1) with patience-based early
# stopping, which this config does not reproduce.
_base_ = './glip_t_odinw.py'

odinw_shot = {{'$ODINW_SHOT:3'}}
odinw_seed = {{'$ODINW_SEED:3'}}
# <dataset>/shot{K}_seed{S}: the layout tools/collect_results.py reads
work_dir = ('./work_dirs/glip_t_odinw_fewshot/{{$ODINW_DATASET:AerialMaritimeDrone}}/'
            'shot{{$ODINW_SHOT:3}}_seed{{$ODINW_SEED:3}}')

train_dataloader = dict(
    dataset=dict(type='ODinWFewShotDataset', shot=odinw_shot, seed=odinw_seed))
