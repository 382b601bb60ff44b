# SDPT on the tiny GLIP, one dataset of the generated ShapeWorld suite per run (the
# leaderboard's configs; configs/_base_/shapeworld_data.py): K shots of seed S, tested with
# the best-on-valid checkpoint. K = 8 tokens x every fusion layer, as in the demo.
#   ODINW_DATASET=ColourBinding ODINW_SHOT=3 ODINW_SEED=30 \
#       python tools/train.py configs/sdpt/tiny-glip_shapeworld.py
#   python tools/fewshot_protocol.py configs/sdpt/tiny-glip_shapeworld.py   # the whole grid
# The base: assets/shapeworld/tiny-glip_shapeworld_base.pth (pretrained on the world's base
# part: configs/shapeworld/pretrain_tiny-glip.py).
_base_ = ['../_base_/models/sdpt_tiny_glip.py', '../_base_/shapeworld_data.py']

detector, method = 'tiny-glip', 'sdpt'  # the results' row: 'tiny-glip sdpt'
sw_bert = '{{ fileDirname }}/../../assets/shapeworld/tiny_bert'
base_checkpoint = '{{ fileDirname }}/../../assets/shapeworld/tiny-glip_shapeworld_base.pth'
model = dict(base_checkpoint=base_checkpoint, tuner=dict(num_tokens=8),
             bbox_head=dict(lang_model_name=sw_bert), language_model=dict(name=sw_bert),
             test_cfg=dict(max_per_img=100))
work_dir = ('./work_dirs/shapeworld/tiny-glip/sdpt/{{$ODINW_DATASET:Synonyms}}/'
            'shot{{$ODINW_SHOT:3}}_seed{{$ODINW_SEED:3}}')

train_dataloader = dict(_delete_=True, **_base_.sw_train_dataloader)
# the learning rates are set for this batch, one process (mmdet's GLIP bases say 16)
auto_scale_lr = dict(enable=False, base_batch_size=_base_.sw_train_dataloader['batch_size'])
val_dataloader = dict(_delete_=True, **_base_.sw_val_dataloader)
test_dataloader = dict(_delete_=True, **_base_.sw_test_dataloader)
val_evaluator = dict(_delete_=True, **_base_.sw_val_evaluator)
test_evaluator = dict(_delete_=True, **_base_.sw_test_evaluator)
train_cfg = dict(_delete_=True, **_base_.sw_train_cfg)
param_scheduler = _base_.sw_param_scheduler
custom_hooks = _base_.custom_hooks + _base_.sw_custom_hooks
default_hooks = _base_.sw_default_hooks
log_processor = _base_.sw_log_processor
randomness = dict(seed=_base_.odinw_seed)
optim_wrapper = dict(optimizer=dict(lr=5e-2))
