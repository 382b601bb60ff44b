# A dataset of your own in COCO format, for the own-data configs (configs/own_data/): one
# dataset dict that a config inheriting them overrides in part, e.g.
#   data = dict(data_root='data/kitchen/', metainfo=dict(classes=('mug', 'plate')))
#   train_dataloader = dict(dataset=data)   # and val_dataloader, test_dataloader
#   val_evaluator = dict(ann_file='data/kitchen/val.json')   # and test_evaluator
# Layout: <data_root>/{train,val,test}.json and the images in <data_root>/{train,val,test}/
# (set ann_file / data_prefix in your dataset dicts for another). The classes are prompted
# by their names, in this order. Every key is named own_*; the pipelines are also the
# ShapeWorld configs' (configs/_base_/shapeworld_data.py inherits this file).
own_classes = ('object', )
own_root = 'data/my_dataset/'
own_dataset = dict(type='CocoDataset', data_root=own_root, metainfo=dict(classes=own_classes),
                   return_classes=True)
own_meta_keys = ('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor', 'flip',
                 'flip_direction', 'text', 'custom_entities', 'caption_prompt')
# images at their own size; a resize by 1 records the scale factor the box post-processing
# reads (scale your images beforehand, or put a Resize here, for large photos)
own_keep_size = dict(type='Resize', scale_factor=1.0, keep_ratio=True, backend='pillow')
own_train_pipeline = [
    dict(type='LoadImageFromFile', imdecode_backend='pillow', backend_args=None),
    dict(type='LoadAnnotations', with_bbox=True),
    own_keep_size,
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs', meta_keys=own_meta_keys)
]
own_test_pipeline = [
    dict(type='LoadImageFromFile', imdecode_backend='pillow', backend_args=None),
    own_keep_size,
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs', meta_keys=own_meta_keys[:5] + own_meta_keys[7:])
]
own_train_dataloader = dict(
    batch_size=2, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(own_dataset, ann_file='train.json', data_prefix=dict(img='train/'),
                 filter_cfg=dict(filter_empty_gt=True), pipeline=own_train_pipeline))
own_val_dataloader = dict(
    batch_size=8, num_workers=0, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(own_dataset, ann_file='val.json', data_prefix=dict(img='val/'),
                 test_mode=True, pipeline=own_test_pipeline))
own_test_dataloader = dict(
    batch_size=8, num_workers=0, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(own_dataset, ann_file='test.json', data_prefix=dict(img='test/'),
                 test_mode=True, pipeline=own_test_pipeline))
own_val_evaluator = dict(type='CocoMetric', ann_file=own_root + 'val.json', metric='bbox')
own_test_evaluator = dict(type='CocoMetric', ann_file=own_root + 'test.json', metric='bbox')
