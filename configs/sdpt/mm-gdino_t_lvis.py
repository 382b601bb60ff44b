# SDPT, MM-Grounding-DINO-T, LVIS v1: tuned on LVIS v1 train, evaluated as mmdet reports
# MM-Grounding-DINO's zero-shot LVIS: minival, FixedAP (mmdet's LVISFixedAPMetric), 300
# detections per image, class names prompted in chunks of 40. Reports AP, APr, APc, APf.
# Data as mmdet's: LVIS_ROOT (default data/coco/) holds train2017/, val2017/ and
# annotations/{lvis_v1_train.json, lvis_v1_minival_inserted_image_name.json}.
#   LVIS_ROOT=data/coco/ bash tools/dist_train.sh configs/sdpt/mm-gdino_t_lvis.py 8
#   python tools/test.py configs/sdpt/mm-gdino_t_lvis.py work_dirs/mm-gdino_t_lvis/epoch_12.pth
#
# The test side is mmdet's zero-shot config
#   mmdet::mm_grounding_dino/lvis/grounding_dino_swin-t_pretrain_zeroshot_mini-lvis.py
# written out below, not inherited: both chains inherit mmdet's coco_detection /
# default_runtime bases and mmengine refuses "Duplicate key is not allowed among bases".
# Its test pipeline (pillow decoding, 'tokens_positive' among PackDetInputs' meta_keys) is
# also the MM-GDINO COCO fine-tune's we inherit; it is written out all the same, as in
# gdino_t_lvis.py. tests/benchmarks/test_configs.py checks it all still equals mmdet's.
#
# Training: (MM-)Grounding DINO's loss prompts with all class names of the dataset in one
# caption and its BERT reads at most 256 tokens (LVIS has 1,203 names): each training image
# is prompted with its own classes plus randomly chosen absent ones, 40 names at most, in a
# random order (ShuffleClassPrompt), as in glip_t_lvis.py. Evaluation is unaffected
# (chunked_size=40). Empty images are kept for training, as mmdet's MM-GDINO fine-tune
# configs (COCO, LVIS) keep them (filter_empty_gt=False).
_base_ = '../_base_/models/sdpt_mm-gdino_t.py'

lvis_root = '{{$LVIS_ROOT:data/coco/}}'
lvis_minival = 'annotations/lvis_v1_minival_inserted_image_name.json'

model = dict(test_cfg=dict(max_per_img=300, chunked_size=40))

# the image's classes + sampled absent ones, <= 40 names (see above), before any resizing
train_pipeline = _base_.train_pipeline
train_pipeline.insert(2, dict(type='ShuffleClassPrompt', max_classes=40))
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None, imdecode_backend='pillow'),
    dict(type='FixScaleResize', scale=(800, 1333), keep_ratio=True, backend='pillow'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor',
                    'text', 'custom_entities', 'tokens_positive'))
]

# LVIS v1 file names come from each image's coco_url (train2017/..., val2017/...).
train_dataloader = dict(
    dataset=dict(_delete_=True, type='LVISV1Dataset', data_root=lvis_root,
                 ann_file='annotations/lvis_v1_train.json', data_prefix=dict(img=''),
                 filter_cfg=dict(filter_empty_gt=False, min_size=32),
                 pipeline=train_pipeline, return_classes=True, backend_args=None))
val_dataloader = dict(
    dataset=dict(_delete_=True, type='LVISV1Dataset', data_root=lvis_root,
                 ann_file=lvis_minival, data_prefix=dict(img=''), test_mode=True,
                 pipeline=test_pipeline, return_classes=True, backend_args=None))
test_dataloader = val_dataloader
val_evaluator = dict(_delete_=True, type='LVISFixedAPMetric', ann_file=lvis_root + lvis_minival)
test_evaluator = val_evaluator
default_hooks = dict(checkpoint=dict(save_best='lvis_fixed_ap/AP', rule='greater'))
