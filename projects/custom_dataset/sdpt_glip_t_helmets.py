# SDPT on GLIP-T, tuned on your own COCO-format dataset (here: helmets), from any folder:
#   HELMETS_ROOT=data/helmets/ bash tools/dist_train.sh \
#       projects/custom_dataset/sdpt_glip_t_helmets.py 8
_base_ = '../../configs/sdpt/glip_t_coco.py'  # relative to this file, whatever the cwd
data_root = '{{$HELMETS_ROOT:data/helmets/}}'  # train/, val/, train.json, val.json
classes = ('helmet', 'person')  # the names GLIP is prompted with: plain words work best
data = dict(type='CocoDataset', data_root=data_root, metainfo=dict(classes=classes),
            return_classes=True)
train_dataloader = dict(dataset=dict(_delete_=True, **data, ann_file='train.json',
                        data_prefix=dict(img='train/'), filter_cfg=dict(filter_empty_gt=True),
                        pipeline=_base_.train_pipeline))
val_dataloader = dict(dataset=dict(**data, ann_file='val.json', data_prefix=dict(img='val/')))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'val.json')
test_evaluator = val_evaluator
default_hooks = dict(checkpoint=dict(save_best='coco/bbox_mAP', rule='greater'))
model = dict(tuner=dict(num_tokens=8, layers='all'))  # layers=[-1]: only the last fusion
