# A tiny GLIP (same classes as GLIP-T, smaller sizes) for tests and the CPU demo, built
# from random weights: Swin embed 32 depths 1-1-1-1, FPN 256, 2 dyhead blocks each with a
# fusion layer, a small local BERT (mmdet_sdpt.utils.make_tiny_bert). mmdet fixes the
# fusion at l_dim 768 / embed_dim 2048 and deformable convs on: two named post-build edits
# change that (mmdet_sdpt/models/post_build.py).
#   TINY_BERT_DIR: local BERT directory. Base weights: --cfg-options model.base_checkpoint=...
_base_ = './sdpt_glip_t.py'
lang_model_name = '{{$TINY_BERT_DIR:{{ fileDirname }}/../../../assets/demo/tiny_bert}}'
base_checkpoint = None  # --cfg-options model.base_checkpoint=PATH

model = dict(
    base_checkpoint=base_checkpoint,
    tuner=dict(num_tokens=4),
    post_build=[dict(type='RebuildVLFusion', embed_dim=256, num_heads=8),
                dict(type='DisableDCN')],
    backbone=dict(embed_dims=32, depths=[1, 1, 1, 1], num_heads=[1, 2, 4, 8],
                  drop_path_rate=0.0),
    neck=dict(in_channels=[64, 128, 256]),
    bbox_head=dict(num_classes=3, num_dyhead_blocks=2, lang_model_name=lang_model_name),
    language_model=dict(name=lang_model_name),
    test_cfg=dict(nms_pre=200, max_per_img=50, score_thr=0.001))
