# SDPT on the tiny GLIP, generated shapes (COCO format): the smallest end-to-end config,
# used by the tests. SHAPES_ROOT holds train/, val/ and annotations/{train,val}.json
# (mmdet_sdpt.datasets.make_shapes_dataset).
_base_ = '../_base_/models/sdpt_tiny_glip.py'

data_root = '{{$SHAPES_ROOT:data/shapes}}/'
metainfo = dict(classes=('circle', 'square', 'triangle'))
pipeline = [
    dict(type='LoadImageFromFile', imdecode_backend='pillow', backend_args=None),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='FixScaleResize', scale=(128, 128), keep_ratio=True, backend='pillow'),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor',
                    'text', 'custom_entities'))
]
train_dataloader = dict(
    _delete_=True, batch_size=2, num_workers=0,
    sampler=dict(type='InfiniteSampler', shuffle=True),  # iteration-based schedule
    dataset=dict(type='CocoDataset', data_root=data_root, metainfo=metainfo,
                 ann_file='annotations/train.json', data_prefix=dict(img='train/'),
                 filter_cfg=dict(filter_empty_gt=True), pipeline=pipeline,
                 return_classes=True))
val_dataloader = dict(
    _delete_=True, batch_size=2, num_workers=0, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='CocoDataset', data_root=data_root, metainfo=metainfo,
                 ann_file='annotations/val.json', data_prefix=dict(img='val/'),
                 test_mode=True, pipeline=pipeline, return_classes=True))
test_dataloader = val_dataloader
val_evaluator = dict(_delete_=True, type='CocoMetric',
                     ann_file=data_root + 'annotations/val.json', metric='bbox')
test_evaluator = val_evaluator

train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=20, val_interval=20)
param_scheduler = []
default_hooks = dict(logger=dict(interval=5, log_metric_by_epoch=False),
                     checkpoint=dict(by_epoch=False, interval=20, max_keep_ckpts=2))
log_processor = dict(by_epoch=False)
auto_scale_lr = dict(enable=False, base_batch_size=2)  # the LR's batch, one process
optim_wrapper = dict(optimizer=dict(lr=5e-2))
