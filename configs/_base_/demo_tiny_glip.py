# The demo: the tiny GLIP (models/sdpt_tiny_glip.py) on generated shapes. The transfer part
# names the shapes with new words (ball, box, cone, plus) the base never saw; data are
# generated under DEMO_DATA on first use (mmdet_sdpt.datasets.SyntheticShapesDataset).
_base_ = './models/sdpt_tiny_glip.py'

demo_data = '{{$DEMO_DATA:data/demo}}'
# the committed BERT (its vocabulary holds the base and transfer words) and base weights
demo_bert = '{{ fileDirname }}/../../assets/demo/tiny_bert'
base_checkpoint = '{{ fileDirname }}/../../assets/demo/tiny-glip_shapes_base.pth'
model = dict(base_checkpoint=base_checkpoint,
             bbox_head=dict(num_classes=4, lang_model_name=demo_bert),
             language_model=dict(name=demo_bert))

meta_keys = ('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor', 'flip',
             'flip_direction', 'text', 'custom_entities')
train_pipeline = [
    dict(type='LoadImageFromFile', imdecode_backend='pillow', backend_args=None),
    dict(type='LoadAnnotations', with_bbox=True),
    # prompts list the classes in a new order each time: words, not positions, are learnt
    dict(type='ShuffleClassPrompt'),
    dict(type='FixScaleResize', scale=(128, 128), keep_ratio=True, backend='pillow'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs', meta_keys=meta_keys)
]
test_pipeline = [
    dict(type='LoadImageFromFile', imdecode_backend='pillow', backend_args=None),
    dict(type='FixScaleResize', scale=(128, 128), keep_ratio=True, backend='pillow'),
    dict(type='LoadAnnotations', with_bbox=True),
    # 'instances': CocoMetric takes the ground truth from the samples (no ann_file)
    dict(type='PackDetInputs', meta_keys=meta_keys[:5] + meta_keys[7:] + ('instances', ))
]
train_dataloader = dict(
    _delete_=True, batch_size=4, num_workers=0,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type='SyntheticShapesDataset', data_root=demo_data, part='transfer',
                 split='train', filter_cfg=dict(filter_empty_gt=True),
                 pipeline=train_pipeline))
val_dataloader = dict(
    _delete_=True, batch_size=8, num_workers=0, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='SyntheticShapesDataset', data_root=demo_data, part='transfer',
                 split='test', test_mode=True, pipeline=test_pipeline))
test_dataloader = val_dataloader
# ground truth from the dataset itself (the split's json is generated on first use)
val_evaluator = dict(_delete_=True, type='CocoMetric', metric='bbox')
test_evaluator = val_evaluator

train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=300, val_interval=300)
param_scheduler = []
default_hooks = dict(logger=dict(interval=50),
                     checkpoint=dict(by_epoch=False, interval=300, max_keep_ckpts=1))
log_processor = dict(by_epoch=False)
randomness = dict(seed=0)
