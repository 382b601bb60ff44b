# SDPT, MM-Grounding-DINO-T, one ODinW dataset per run (the paper tunes and reports each dataset on its
# own, then averages). Choose the dataset with ODINW_DATASET (names as in mmdet's ODinW
# configs, e.g. AerialMaritimeDrone, Aquarium, ..., VehiclesOpenImages) and the data root
# with ODINW_ROOT (GLIP's layout: data/odinw/<dataset folder>/{train,valid,test}/...):
#   ODINW_DATASET=Raccoon bash tools/dist_train.sh configs/sdpt/mm-gdino_t_odinw.py 8
#   ODINW_DATASET=Raccoon python tools/test.py configs/sdpt/mm-gdino_t_odinw.py \
#       work_dirs/mm-gdino_t_odinw/Raccoon/best_coco_bbox_mAP_epoch_N.pth
# Trains on train/, validates on valid/, tests on test/. Class names, folders and caption
# prompts come from mmdet's shipped ODinW configs (mmdet_sdpt.datasets.ODinWDataset).
_base_ = '../_base_/models/sdpt_mm-gdino_t.py'

odinw_dataset = '{{$ODINW_DATASET:AerialMaritimeDrone}}'
odinw_root = '{{$ODINW_ROOT:data/odinw/}}'
odinw_suite = '{{$ODINW_SUITE:odinw13}}'  # or odinw35 (its names differ a little)
work_dir = './work_dirs/mm-gdino_t_odinw/{{$ODINW_DATASET:AerialMaritimeDrone}}'

odinw = dict(name=odinw_dataset, data_root=odinw_root, suite=odinw_suite)
# mmdet's ODinW configs pack each dataset's caption prompt (ODinW35 uses some)
test_pipeline = _base_.test_pipeline
test_pipeline[-1]['meta_keys'] = ('img_id', 'img_path', 'ori_shape', 'img_shape',
                                  'scale_factor', 'text', 'custom_entities', 'tokens_positive', 'caption_prompt')
train_dataloader = dict(
    dataset=dict(_delete_=True, type='ODinWDataset', split='train', **odinw,
                 filter_cfg=dict(filter_empty_gt=True), pipeline=_base_.train_pipeline))
val_dataloader = dict(
    dataset=dict(_delete_=True, type='ODinWDataset', split='valid', **odinw, test_mode=True,
                 pipeline=test_pipeline))
test_dataloader = dict(
    dataset=dict(_delete_=True, type='ODinWDataset', split='test', **odinw, test_mode=True,
                 pipeline=test_pipeline))
# COCO box AP against the split's own annotation file (found by name, as the dataset does)
val_evaluator = dict(_delete_=True, type='ODinWCocoMetric', split='valid', **odinw)
test_evaluator = dict(_delete_=True, type='ODinWCocoMetric', split='test', **odinw)
default_hooks = dict(checkpoint=dict(save_best='coco/bbox_mAP', rule='greater'))
