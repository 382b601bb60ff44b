# SDPT, GLIP-L, one ODinW dataset per run: everything as glip_t_odinw.py (ODINW_DATASET,
# ODINW_ROOT, ODINW_SUITE; data, evaluation, save_best), the model as glip_l_coco.py.
#   GLIP_L_CKPT=checkpoints/glip_l_mmdet-abfe026b.pth ODINW_DATASET=Raccoon \
#       bash tools/dist_train.sh configs/sdpt/glip_l_odinw.py 8
#   bash tools/odinw_suite.sh configs/sdpt/glip_l_odinw.py 8     # the whole suite, one table
#
# It cannot inherit both glip_t_odinw.py and ../_base_/models/sdpt_glip_l.py: both chains
# define the same keys (model, data, runtime) and mmengine refuses "Duplicate key is not
# allowed among bases". So it inherits the ODinW file and turns its GLIP-T into mmdet's
# GLIP-L, with the very differences mmdet's GLIP-L config makes
# (glip_atss_swin-l_fpn_dyhead_16xb2_ms-2x_funtune_coco.py: Swin-L, FPN inputs, 8 dyhead
# blocks); tests/benchmarks/test_configs.py checks the model equals glip_l_coco.py's.
_base_ = './glip_t_odinw.py'

work_dir = './work_dirs/glip_l_odinw/{{$ODINW_DATASET:AerialMaritimeDrone}}'

model = dict(
    base_checkpoint='{{$GLIP_L_CKPT:checkpoints/glip_l_mmdet-abfe026b.pth}}',
    tuner=dict(num_tokens=11),  # 11 x 8 layers x 2048 = 0.042% of GLIP-L (sdpt_glip_l.py)
    backbone=dict(embed_dims=192, depths=[2, 2, 18, 2], num_heads=[6, 12, 24, 48],
                  window_size=12, drop_path_rate=0.4),
    neck=dict(in_channels=[384, 768, 1536]),
    bbox_head=dict(num_dyhead_blocks=8))
