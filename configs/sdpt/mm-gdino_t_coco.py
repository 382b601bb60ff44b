# SDPT, MM-Grounding-DINO-T, COCO 2017 (train2017 -> val2017, box AP), data in data/coco/.
#   bash tools/dist_train.sh configs/sdpt/mm-gdino_t_coco.py 8
_base_ = '../_base_/models/sdpt_mm-gdino_t.py'
