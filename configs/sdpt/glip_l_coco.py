# SDPT, GLIP-L, COCO 2017 (train2017 -> val2017, box AP). Data in data/coco/ as mmdet's.
#   export GLIP_L_CKPT=checkpoints/glip_l_mmdet-abfe026b.pth BERT_DIR=checkpoints/bert-base-uncased
#   bash tools/dist_train.sh configs/sdpt/glip_l_coco.py 8
#   python tools/test.py configs/sdpt/glip_l_coco.py work_dirs/glip_l_coco/epoch_12.pth
_base_ = '../_base_/models/sdpt_glip_l.py'
