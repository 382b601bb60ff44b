# SDPT, Grounding DINO-T, COCO 2017 (train2017 -> val2017, box AP), data in data/coco/.
#   bash tools/dist_train.sh configs/sdpt/gdino_t_coco.py 8
#   python tools/test.py configs/sdpt/gdino_t_coco.py work_dirs/gdino_t_coco/epoch_12.pth
_base_ = '../_base_/models/sdpt_gdino_t.py'
