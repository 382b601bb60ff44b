# SDPT on the committed tiny Grounding DINO (its ShapeWorld base) tuned on a dataset of your own in
# COCO format: the config a ten-line config of yours inherits (README, "Your own dataset").
#   python tools/train.py my_config.py     # my_config.py: _base_ = this file + your data
# Data: configs/_base_/own_coco_data.py (<data_root>/{train,val,test}.json and image folders;
# override data_root, metainfo.classes, ann_file, data_prefix in your dataset dicts).
# Schedule: GLIP's full-data one (0_200_1: a validation each epoch, the learning rate x0.1
# after 2 validations without improvement, stopped after 4 below the best; the best-on-valid
# checkpoint kept), at most 60 epochs as the ShapeWorld configs. No zero-shot comparison
# (the demo's ZeroShotComparisonHook): add it to custom_hooks if you want one.
# The tiny BERT's vocabulary holds ShapeWorld's words; any other word is split into its
# letters (mug -> m ##u ##g), so new class names are told apart, but start from letter
# embeddings pretraining barely used: expect the tuning, not the base, to carry them.
# Prompts of at most 16 classes (bbox_head.num_classes: the denoising queries' label
# embedding); raise it for more.
_base_ = '../sdpt/tiny-gdino_shapeworld.py'  # own_coco_data.py comes with it

work_dir = './work_dirs/own_data/tiny-gdino'
train_dataloader = dict(_delete_=True, **_base_.own_train_dataloader)
val_dataloader = dict(_delete_=True, **_base_.own_val_dataloader)
test_dataloader = dict(_delete_=True, **_base_.own_test_dataloader)
val_evaluator = dict(_delete_=True, **_base_.own_val_evaluator)
test_evaluator = dict(_delete_=True, **_base_.own_test_evaluator)
own_lr_patience, own_stop_patience = _base_.glip_fewshot_schedule[0][2:]
train_cfg = dict(_base_.fewshot_train_cfg, _delete_=True, max_epochs=60)
param_scheduler = [dict(_base_.fewshot_param_scheduler[0], patience=own_lr_patience)]
custom_hooks = [dict(h, patience=own_stop_patience) if h['type'] == 'ResumableEarlyStoppingHook'
                else h for h in _base_.custom_hooks]
randomness = dict(seed=0)
