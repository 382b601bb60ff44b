# SDPT on mmdet's GLIP-L (Swin-L, fusion in all 8 dyhead blocks), inherited, not retyped.
# Same as sdpt_glip_t.py except the base config and its checkpoint. Local paths (nothing is
# downloaded at run time); override with environment variables
#   BERT_DIR     a local `from_pretrained` directory of bert-base-uncased
#   GLIP_L_CKPT  a full mmdet GLIP-L checkpoint (mmdet's glip_l_mmdet-abfe026b.pth, or an
#                official GLIP-L .pth converted by tools/model_converters/glip_to_mmdet.py)
# or with --cfg-options model.base_checkpoint=... model.language_model.name=...
#   model.bbox_head.lang_model_name=...
_base_ = [
    'mmdet::glip/glip_atss_swin-l_fpn_dyhead_16xb2_ms-2x_funtune_coco.py',
    '../tuned_runtime.py'
]
# boxes named by each sample's own (shuffled) prompt: browse_dataset.py, DetInferencer
visualizer = dict(type='PromptVisualizer')
lang_model_name = '{{$BERT_DIR:checkpoints/bert-base-uncased}}'
base_checkpoint = '{{$GLIP_L_CKPT:checkpoints/glip_l_mmdet-abfe026b.pth}}'

# Default budget: K = 11 tokens x 8 fusion layers x D = 2048 = 180,224 trainable
# = 0.042% of GLIP-L's 430,401,824 parameters (benchmarks/param_count.py; K = 10 would give
# 0.038%), the paper's ~0.04% as on GLIP-T.
model = dict(
    type='TunedDetector',
    detector_type='GLIP',
    base_checkpoint=base_checkpoint,
    tuner=dict(type='SDPT', num_tokens=11, layers='all', init='uniform', mask='paper'),
    # mmdet's GLIP-L fine-tune config checkpoints each VLFuse reentrantly (as GLIP-T's):
    # with a frozen trunk the prompts would get no gradient. Off.
    bbox_head=dict(lang_model_name=lang_model_name, use_checkpoint=False),
    language_model=dict(name=lang_model_name))

# Prompts need a far larger step than full fine-tuning (a starting point, see README).
# mmdet's load_from (a download URL) is replaced: base weights come from model.base_checkpoint
# (its Swin-L has no init_cfg to neutralise: the chain sets none)
load_from = None
optim_wrapper = dict(
    constructor='TrainableOptimWrapperConstructor',
    optimizer=dict(type='AdamW', lr=1e-2, weight_decay=0.0),
    paramwise_cfg=dict(_delete_=True),
    clip_grad=dict(max_norm=1.0, norm_type=2))
