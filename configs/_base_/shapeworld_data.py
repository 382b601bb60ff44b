# The generated ShapeWorld suite (mmdet_sdpt/datasets/shapeworld.py), read exactly as
# ODinW: one dataset of suite ODINW_SUITE per run (ODinWDataset / ODinWFewShotDataset /
# ODinWCocoMetric), K shots of seed S (ODINW_SHOT, ODINW_SEED; shot 0 = full data), data
# under ODINW_ROOT (default: the suite's own root, data/shapeworld/ for shapeworld, written
# on first use). With ODINW_SUITE=odinw13 and ODINW_ROOT=data/odinw/ the same configs read
# a real ODinW download.
# Every key is named sw_*, so this file sits beside a model base in `_base_`; a config
# picks the keys up with `_base_.sw_*` (configs/sdpt/tiny-glip_shapeworld.py).
odinw_dataset = '{{$ODINW_DATASET:Synonyms}}'
odinw_suite = '{{$ODINW_SUITE:shapeworld}}'
odinw_root = '{{$ODINW_ROOT:auto}}'  # auto: the suite's own root
odinw_shot = {{'$ODINW_SHOT:3'}}
odinw_seed = {{'$ODINW_SEED:3'}}

sw_odinw = dict(name=odinw_dataset, suite=odinw_suite, data_root=None if odinw_root == 'auto' else odinw_root)
sw_meta_keys = ('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor', 'flip',
                'flip_direction', 'text', 'custom_entities', 'caption_prompt')
# images at their own size (ShapeWorld draws 128-256 px; small objects stay visible): a
# resize by 1 only records the scale factor the box post-processing reads
sw_keep_size = dict(type='Resize', scale_factor=1.0, keep_ratio=True, backend='pillow')
sw_train_pipeline = [
    dict(type='LoadImageFromFile', imdecode_backend='pillow', backend_args=None),
    dict(type='LoadAnnotations', with_bbox=True),
    sw_keep_size,
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs', meta_keys=sw_meta_keys)
]
sw_test_pipeline = [
    dict(type='LoadImageFromFile', imdecode_backend='pillow', backend_args=None),
    sw_keep_size,
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs', meta_keys=sw_meta_keys[:5] + sw_meta_keys[7:])
]
sw_train_dataloader = dict(
    batch_size=2, num_workers=0,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type='ODinWFewShotDataset', split='train', shot=odinw_shot, seed=odinw_seed,
                 **sw_odinw, filter_cfg=dict(filter_empty_gt=True),
                 pipeline=sw_train_pipeline))
sw_val_dataloader = dict(
    batch_size=8, num_workers=0, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='ODinWDataset', split='valid', **sw_odinw, test_mode=True,
                 pipeline=sw_test_pipeline))
sw_test_dataloader = dict(
    batch_size=8, num_workers=0, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='ODinWDataset', split='test', **sw_odinw, test_mode=True,
                 pipeline=sw_test_pipeline))
sw_val_evaluator = dict(type='ODinWCocoMetric', split='valid', **sw_odinw)
sw_test_evaluator = dict(type='ODinWCocoMetric', split='test', **sw_odinw)

# a short schedule (the leaderboard's grid must run in about 2 hours on 2 CPU cores), the
# same for every method: batch 2, iterations by shot, validated half-way and at the end;
# the best-on-valid checkpoint is tested
sw_iters = {0: 100, 1: 30, 3: 30, 5: 40, 10: 40}.get(odinw_shot, 40)
sw_train_cfg = dict(type='IterBasedTrainLoop', max_iters=sw_iters, val_interval=sw_iters // 2)
sw_default_hooks = dict(
    logger=dict(interval=10, log_metric_by_epoch=False),
    checkpoint=dict(by_epoch=False, interval=sw_iters // 2, max_keep_ckpts=1,
                    save_best='coco/bbox_mAP', rule='greater'))

# Pretraining data of the ShapeWorld bases (configs/shapeworld/pretrain_*.py): the world's
# base part, BaseShapes/train named by shape and the same images named by colour
# (BaseColours), prompts shuffled per image with up to 3 distractor words no image holds;
# validated and tested on BaseShapes (the retention split's domain).
sw_pretrain_pipeline = [
    dict(type='LoadImageFromFile', imdecode_backend='pillow', backend_args=None),
    dict(type='LoadAnnotations', with_bbox=True),
    sw_keep_size,
    dict(type='ShuffleClassPrompt', negatives='shapeworld', max_negatives=3),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs', meta_keys=sw_meta_keys)
]
sw_base_domain = dict(name='BaseShapes', suite='shapeworld', data_root=sw_odinw['data_root'])
sw_pretrain_dataset = dict(
    type='ConcatDataset', ignore_keys=['classes', 'palette'],
    datasets=[dict(type='ODinWDataset', name=name, suite='shapeworld', split='train',
                   data_root=sw_odinw['data_root'], filter_cfg=dict(filter_empty_gt=True),
                   pipeline=sw_pretrain_pipeline) for name in ('BaseShapes', 'BaseColours')])
