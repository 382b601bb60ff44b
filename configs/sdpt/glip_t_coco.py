# SDPT, GLIP-T, COCO 2017 (train2017 -> val2017, box AP). Data in data/coco/ as mmdet's.
#   bash tools/dist_train.sh configs/sdpt/glip_t_coco.py 8
#   python tools/test.py configs/sdpt/glip_t_coco.py work_dirs/glip_t_coco/epoch_12.pth
_base_ = '../_base_/models/sdpt_glip_t.py'
