# SDPT, GLIP-T, LVIS v1: tuned on LVIS v1 train, evaluated as GLIP reports LVIS: minival,
# FixedAP (top 10,000 detections per class over the dataset, mmdet's LVISFixedAPMetric),
# 300 detections per image, class names prompted in chunks of 40. Reports AP, APr, APc, APf.
# Data as mmdet's: LVIS_ROOT (default data/coco/) holds train2017/, val2017/ and
# annotations/{lvis_v1_train.json, lvis_v1_minival_inserted_image_name.json}.
#   LVIS_ROOT=data/coco/ bash tools/dist_train.sh configs/sdpt/glip_t_lvis.py 8
#   python tools/test.py configs/sdpt/glip_t_lvis.py work_dirs/glip_t_lvis/epoch_12.pth
#
# The test side is mmdet's zero-shot config
#   mmdet::glip/lvis/glip_atss_swin-t_bc_fpn_dyhead_pretrain_zeroshot_mini-lvis.py
# (via its base ..._a_..._zeroshot_mini-lvis.py). It cannot be a second _base_ beside ours:
# both chains inherit mmdet's coco_detection / default_runtime bases, and mmengine refuses
# any key two bases define ("Duplicate key is not allowed among bases"). Its settings are
# therefore written out below; tests/benchmarks/test_configs.py checks they still equal
# mmdet's.
#
# Training: mmdet's GLIP.loss prompts with *all* class names of the dataset in one caption,
# and its BERT reads at most 256 tokens: LVIS's 1,203 names would leave every class past the
# first ~115 with an all-zero token target. So each training image is prompted with its own
# classes plus randomly chosen absent ones, 40 names at most, in a random order
# (ShuffleClassPrompt, as GLIP's and MM-GDINO's od-to-grounding pipelines sample them).
# Evaluation is unaffected (chunked_size=40 prompts 40 names at a time).
_base_ = '../_base_/models/sdpt_glip_t.py'

lvis_root = '{{$LVIS_ROOT:data/coco/}}'
lvis_minival = 'annotations/lvis_v1_minival_inserted_image_name.json'

model = dict(test_cfg=dict(max_per_img=300, chunked_size=40))

# the image's classes + sampled absent ones, <= 40 names (see above), before resizing
train_pipeline = _base_.train_pipeline
train_pipeline.insert(2, dict(type='ShuffleClassPrompt', max_classes=40))

# LVIS v1 file names come from each image's coco_url (train2017/..., val2017/...).
train_dataloader = dict(
    dataset=dict(_delete_=True, type='LVISV1Dataset', data_root=lvis_root,
                 ann_file='annotations/lvis_v1_train.json', data_prefix=dict(img=''),
                 filter_cfg=dict(filter_empty_gt=True, min_size=32),
                 pipeline=train_pipeline, return_classes=True, backend_args=None))
val_dataloader = dict(
    dataset=dict(_delete_=True, type='LVISV1Dataset', data_root=lvis_root,
                 ann_file=lvis_minival, data_prefix=dict(img=''), test_mode=True,
                 pipeline=_base_.test_pipeline, return_classes=True, backend_args=None))
test_dataloader = val_dataloader
val_evaluator = dict(_delete_=True, type='LVISFixedAPMetric', ann_file=lvis_root + lvis_minival)
test_evaluator = val_evaluator
default_hooks = dict(checkpoint=dict(save_best='lvis_fixed_ap/AP', rule='greater'))
