# GLIP's few-shot fine-tuning schedule from mmengine's parts, for ODINW_SHOT=K (the facts
# and their sources in microsoft/GLIP: benchmarks/glip_fewshot_protocol.md). A config takes
# `_base_.fewshot_train_cfg`, `_base_.fewshot_param_scheduler`, `_base_.fewshot_hooks`
# and repeats its K-shot train split `_base_.fewshot_copies` times per epoch
# (configs/sdpt/glip_t_odinw_fewshot.py, configs/_base_/shapeworld_data.py).
fewshot_shot = {{'$ODINW_SHOT:3'}}
# K -> (max epochs, copies per epoch, plateau patience, stopping patience): GLIP's
# --custom_shot_and_epoch_and_general_copy 1_200_8, 3_200_4, 5_200_2, 10_200_1 and 0_200_1
# (full data; README.md:227-229), SOLVER.STEP_PATIENCE 3 and AUTO_TERMINATE_PATIENCE 8
# (full data: 2 and 4)
glip_fewshot_schedule = {1: (200, 8, 3, 8), 3: (200, 4, 3, 8), 5: (200, 2, 3, 8),
                         10: (200, 1, 3, 8), 0: (200, 1, 2, 4)}
assert fewshot_shot in glip_fewshot_schedule, (
    f'ODINW_SHOT={fewshot_shot}: GLIP\'s protocol has schedules for shots 1, 3, 5, 10 and 0 '
    '(full data) only')
fewshot_max_epochs, fewshot_copies, fewshot_lr_patience, fewshot_stop_patience = \
    glip_fewshot_schedule[fewshot_shot]
# a validation each (repeated) epoch (engine/trainer.py:76-77, CHECKPOINT_PER_EPOCH 1.0)
fewshot_train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=fewshot_max_epochs,
                         val_interval=1)
# no warmup (the ODinW task configs' SOLVER.WARMUP_ITERS 0); SOLVER.USE_AUTOSTEP:
# ReduceLROnPlateau on valid AP, factor SOLVER.GAMMA 0.1, threshold 1e-4 relative,
# SOLVER.MIN_LR 1e-6 (solver/lr_scheduler.py:104-164)
fewshot_param_scheduler = [
    dict(type='ReduceOnPlateauLR', monitor='coco/bbox_mAP', rule='greater', factor=0.1,
         patience=fewshot_lr_patience, threshold=1e-4, threshold_rule='rel',
         min_value=1e-6, by_epoch=True)
]
# GLIP counts a validation as bad when its AP is strictly below the best, a tie resets the
# count (engine/trainer.py:335-346): min_delta 0, not EarlyStoppingHook's default 0.1; the
# count survives a resume (mmdet_sdpt/engine/early_stopping.py)
fewshot_stopping = dict(type='ResumableEarlyStoppingHook', monitor='coco/bbox_mAP',
                        rule='greater', min_delta=0.0, patience=fewshot_stop_patience)
# a run resumed from an epoch checkpoint validates that epoch first (mmengine saves the
# checkpoint before the epoch's validation): the plateau, the stop and the best checkpoint
# then see what the uninterrupted run saw (mmdet_sdpt/engine/resume_validation.py)
fewshot_hooks = [fewshot_stopping, dict(type='ValidateResumedEpochHook')]
# the best-on-valid checkpoint is tested; one epoch checkpoint kept to resume from
fewshot_checkpoint = dict(by_epoch=True, interval=1, max_keep_ckpts=1,
                          save_best='coco/bbox_mAP', rule='greater')
