# A tiny Grounding DINO for tests and the CPU demo, from random weights: Swin embed 32
# depths 1-1-1-1, 2 encoder layers (each with a fusion layer, embed_dim 256), 2 decoder
# layers, 50 queries, a small local BERT (mmdet_sdpt.utils.make_tiny_bert).
#   TINY_BERT_DIR: local BERT directory. Base weights: --cfg-options model.base_checkpoint=...
_base_ = './sdpt_gdino_t.py'
lang_model_name = '{{$TINY_BERT_DIR:data/tiny_bert}}'

model = dict(
    base_checkpoint=None,
    tuner=dict(num_tokens=4),
    num_queries=50,
    language_model=dict(name=lang_model_name),
    backbone=dict(embed_dims=32, depths=[1, 1, 1, 1], num_heads=[1, 2, 4, 8],
                  drop_path_rate=0.0),
    neck=dict(in_channels=[64, 128, 256]),
    encoder=dict(
        num_layers=2,
        layer_cfg=dict(ffn_cfg=dict(feedforward_channels=256)),
        text_layer_cfg=dict(ffn_cfg=dict(feedforward_channels=256)),
        fusion_layer_cfg=dict(embed_dim=256, num_heads=4)),
    decoder=dict(num_layers=2, layer_cfg=dict(ffn_cfg=dict(feedforward_channels=256))),
    dn_cfg=dict(group_cfg=dict(num_dn_queries=10)),
    test_cfg=dict(max_per_img=50))
