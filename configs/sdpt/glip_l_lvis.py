# SDPT, GLIP-L, LVIS v1: everything as glip_t_lvis.py (LVIS v1 train with <= 40 shuffled
# class names per image; minival FixedAP, 300 detections per image, prompts in chunks of
# 40; LVIS_ROOT), the model as glip_l_coco.py. The test side equals mmdet's
#   mmdet::glip/lvis/glip_atss_swin-l_fpn_dyhead_pretrain_zeroshot_mini-lvis.py
#   GLIP_L_CKPT=checkpoints/glip_l_mmdet-abfe026b.pth bash tools/dist_train.sh \
#       configs/sdpt/glip_l_lvis.py 8
#
# Like glip_l_odinw.py it inherits the GLIP-T data file (two bases would define the same
# keys: "Duplicate key is not allowed among bases") and makes its model mmdet's GLIP-L;
# tests/benchmarks/test_configs.py checks the model equals glip_l_coco.py's (test_cfg aside).
_base_ = './glip_t_lvis.py'

model = dict(
    base_checkpoint='{{$GLIP_L_CKPT:checkpoints/glip_l_mmdet-abfe026b.pth}}',
    tuner=dict(num_tokens=11),  # 11 x 8 layers x 2048 = 0.042% of GLIP-L (sdpt_glip_l.py)
    backbone=dict(embed_dims=192, depths=[2, 2, 18, 2], num_heads=[6, 12, 24, 48],
                  window_size=12, drop_path_rate=0.4),
    neck=dict(in_channels=[384, 768, 1536]),
    bbox_head=dict(num_dyhead_blocks=8))
