# The demo's data, shared by every demo detector (demo_tiny_glip.py, demo_tiny_gdino.py):
# generated shapes under DEMO_DATA (mmdet_sdpt.datasets.SyntheticShapesDataset, made on
# first use), prompts shuffled per training image, 128 px, the transfer part (new words:
# ball, box, cone, plus) for tuning and testing, and the 300-iteration schedule.
# Every key is named demo_*, so this file sits beside a model base in `_base_` (mmengine
# refuses keys that two bases both define); a demo config picks the keys up with
# `_base_.demo_*` (see demo_tiny_glip.py).
demo_data = '{{$DEMO_DATA:data/demo}}'
# the committed BERT: its vocabulary holds the base and the transfer words
demo_bert = '{{ fileDirname }}/../../assets/demo/tiny_bert'

demo_meta_keys = ('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor', 'flip',
                  'flip_direction', 'text', 'custom_entities')
demo_train_pipeline = [
    dict(type='LoadImageFromFile', imdecode_backend='pillow', backend_args=None),
    dict(type='LoadAnnotations', with_bbox=True),
    # prompts list the classes in a new order each time: words, not positions, are learnt
    dict(type='ShuffleClassPrompt'),
    dict(type='FixScaleResize', scale=(128, 128), keep_ratio=True, backend='pillow'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs', meta_keys=demo_meta_keys)
]
demo_test_pipeline = [
    dict(type='LoadImageFromFile', imdecode_backend='pillow', backend_args=None),
    dict(type='FixScaleResize', scale=(128, 128), keep_ratio=True, backend='pillow'),
    dict(type='LoadAnnotations', with_bbox=True),
    # 'instances': CocoMetric takes the ground truth from the samples (no ann_file)
    dict(type='PackDetInputs',
         meta_keys=demo_meta_keys[:5] + demo_meta_keys[7:] + ('instances', ))
]
demo_train_dataloader = dict(
    batch_size=4, num_workers=0,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type='SyntheticShapesDataset', data_root=demo_data, part='transfer',
                 split='train', filter_cfg=dict(filter_empty_gt=True),
                 pipeline=demo_train_pipeline))
demo_val_dataloader = dict(
    batch_size=8, num_workers=0, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='SyntheticShapesDataset', data_root=demo_data, part='transfer',
                 split='test', test_mode=True, pipeline=demo_test_pipeline))
# ground truth from the dataset itself (the split's json is generated on first use)
demo_evaluator = dict(type='CocoMetric', metric='bbox')

demo_train_cfg = dict(type='IterBasedTrainLoop', max_iters=300, val_interval=300)
demo_default_hooks = dict(logger=dict(interval=50, log_metric_by_epoch=False),
                          checkpoint=dict(by_epoch=False, interval=300, max_keep_ckpts=1))
