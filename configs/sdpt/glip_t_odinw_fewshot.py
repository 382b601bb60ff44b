# SDPT, GLIP-T, ODinW few-shot (GLIP's protocol): one dataset, K shots, seed S per run;
# report mean +- std over seeds 3, 30, 300 of the test AP of the best-on-valid checkpoint.
# Everything else as glip_t_odinw.py (ODINW_DATASET, ODINW_ROOT, ODINW_SUITE).
# The K-shot split of seed S is GLIP's fewshot_train_shot{K}_seed{S}.json beside the
# dataset's train annotations; write missing ones with tools/fewshot_sample.py:
#   python tools/fewshot_sample.py \
#       data/odinw/Raccoon/Raccoon.v2-raw.coco/train/annotations_without_background.json
#   ODINW_DATASET=Raccoon ODINW_SHOT=3 ODINW_SEED=30 bash tools/dist_train.sh \
#       configs/sdpt/glip_t_odinw_fewshot.py 4
#   ODINW_DATASET=Raccoon ODINW_SHOT=3 ODINW_SEED=30 python tools/test.py \
#       configs/sdpt/glip_t_odinw_fewshot.py \
#       work_dirs/glip_t_odinw_fewshot/Raccoon/shot3_seed30/best_coco_bbox_mAP_epoch_N.pth
#   python tools/collect_results.py work_dirs/glip_t_odinw_fewshot --suite odinw13
# The schedule is GLIP's few-shot protocol (each fact's source, in microsoft/GLIP, is in
# benchmarks/glip_fewshot_protocol.md): the K-shot split repeated `copies` times per epoch,
# up to 200 epochs, a validation each epoch, the learning rate x0.1 when valid AP has not
# improved for `lr_patience` validations, training stopped after `stop_patience`
# validations below the best, the best-on-valid checkpoint tested. A total batch of 4 (GLIP:
# SOLVER.IMS_PER_BATCH 4 on 4 GPUs): 4 GPUs x 1 image, or set train_dataloader.batch_size.
_base_ = ['./glip_t_odinw.py', '../_base_/glip_fewshot_schedule.py']

odinw_shot = {{'$ODINW_SHOT:3'}}
odinw_seed = {{'$ODINW_SEED:3'}}
# <dataset>/shot{K}_seed{S}: the layout tools/collect_results.py reads
work_dir = ('./work_dirs/glip_t_odinw_fewshot/{{$ODINW_DATASET:AerialMaritimeDrone}}/'
            'shot{{$ODINW_SHOT:3}}_seed{{$ODINW_SEED:3}}')

train_dataloader = dict(
    batch_size=1,
    dataset=dict(_delete_=True, type='RepeatDataset', times=_base_.fewshot_copies,
                 dataset=dict(_base_.train_dataloader.dataset, type='ODinWFewShotDataset',
                              shot=odinw_shot, seed=odinw_seed)))
train_cfg = dict(_delete_=True, **_base_.fewshot_train_cfg)
param_scheduler = _base_.fewshot_param_scheduler
custom_hooks = _base_.custom_hooks + _base_.fewshot_hooks
default_hooks = dict(checkpoint=_base_.fewshot_checkpoint)
