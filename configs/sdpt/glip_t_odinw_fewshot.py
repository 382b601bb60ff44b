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
_base_ = './glip_t_odinw.py'

odinw_shot = {{'$ODINW_SHOT:3'}}
odinw_seed = {{'$ODINW_SEED:3'}}
# <dataset>/shot{K}_seed{S}: the layout tools/collect_results.py reads
work_dir = ('./work_dirs/glip_t_odinw_fewshot/{{$ODINW_DATASET:AerialMaritimeDrone}}/'
            'shot{{$ODINW_SHOT:3}}_seed{{$ODINW_SEED:3}}')

# K -> (max epochs, copies per epoch, plateau patience, stopping patience): GLIP's
# --custom_shot_and_epoch_and_general_copy 1_200_8, 3_200_4, 5_200_2, 10_200_1 and 0_200_1
# (full data), SOLVER.STEP_PATIENCE 3 and AUTO_TERMINATE_PATIENCE 8 (full data: 2 and 4)
glip_fewshot_schedule = {1: (200, 8, 3, 8), 3: (200, 4, 3, 8), 5: (200, 2, 3, 8),
                         10: (200, 1, 3, 8), 0: (200, 1, 2, 4)}
assert odinw_shot in glip_fewshot_schedule, (
    f'ODINW_SHOT={odinw_shot}: GLIP\'s protocol has schedules for shots 1, 3, 5, 10 and 0 '
    '(full data) only')
max_epochs, copies, lr_patience, stop_patience = glip_fewshot_schedule[odinw_shot]

train_dataloader = dict(
    batch_size=1,
    dataset=dict(_delete_=True, type='RepeatDataset', times=copies,
                 dataset=dict(_base_.train_dataloader.dataset, type='ODinWFewShotDataset',
                              shot=odinw_shot, seed=odinw_seed)))
train_cfg = dict(_delete_=True, type='EpochBasedTrainLoop', max_epochs=max_epochs,
                 val_interval=1)
# no warmup (GLIP's ODinW task configs: SOLVER.WARMUP_ITERS 0); SOLVER.USE_AUTOSTEP:
# ReduceLROnPlateau on valid AP, factor SOLVER.GAMMA 0.1, threshold 1e-4 relative,
# SOLVER.MIN_LR 1e-6
param_scheduler = [
    dict(type='ReduceOnPlateauLR', monitor='coco/bbox_mAP', rule='greater', factor=0.1,
         patience=lr_patience, threshold=1e-4, threshold_rule='rel', min_value=1e-6,
         by_epoch=True)
]
# GLIP counts a validation as bad when its AP is strictly below the best (ties reset the
# count): min_delta 0, not EarlyStoppingHook's default 0.1
custom_hooks = _base_.custom_hooks + [
    dict(type='EarlyStoppingHook', monitor='coco/bbox_mAP', rule='greater', min_delta=0.0,
         patience=stop_patience)
]
default_hooks = dict(checkpoint=dict(by_epoch=True, interval=1, max_keep_ckpts=1))
