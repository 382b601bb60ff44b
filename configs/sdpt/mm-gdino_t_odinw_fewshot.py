# SDPT, MM-Grounding-DINO-T, ODinW few-shot on GLIP's protocol: as glip_t_odinw_fewshot.py (the
# schedule per shot: configs/_base_/glip_fewshot_schedule.py; the facts and their sources:
# benchmarks/glip_fewshot_protocol.md), on mm-gdino_t_odinw.py's model and data.
#   ODINW_DATASET=Raccoon ODINW_SHOT=3 ODINW_SEED=30 bash tools/dist_train.sh \
#       configs/sdpt/mm-gdino_t_odinw_fewshot.py 4
#   python tools/fewshot_protocol.py configs/sdpt/mm-gdino_t_odinw_fewshot.py --launcher pytorch --gpus 4
_base_ = ['./mm-gdino_t_odinw.py', '../_base_/glip_fewshot_schedule.py']

odinw_shot = {{'$ODINW_SHOT:3'}}
odinw_seed = {{'$ODINW_SEED:3'}}
work_dir = ('./work_dirs/mm-gdino_t_odinw_fewshot/{{$ODINW_DATASET:AerialMaritimeDrone}}/'
            'shot{{$ODINW_SHOT:3}}_seed{{$ODINW_SEED:3}}')

# a total batch of 4: 4 GPUs x 1 image (GLIP: SOLVER.IMS_PER_BATCH 4)
train_dataloader = dict(
    batch_size=1,
    dataset=dict(_delete_=True, type='RepeatDataset', times=_base_.fewshot_copies,
                 dataset=dict(_base_.train_dataloader.dataset, type='ODinWFewShotDataset',
                              shot=odinw_shot, seed=odinw_seed)))
train_cfg = dict(_delete_=True, **_base_.fewshot_train_cfg)
param_scheduler = _base_.fewshot_param_scheduler
custom_hooks = _base_.custom_hooks + _base_.fewshot_hooks
default_hooks = dict(checkpoint=_base_.fewshot_checkpoint)
