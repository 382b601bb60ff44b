# SDPT on mmdet's GLIP-T (Swin-T, fusion in all 6 dyhead blocks), inherited, not retyped.
# Local paths (nothing is downloaded at run time); override with environment variables
#   BERT_DIR   a local `from_pretrained` directory of bert-base-uncased
#   GLIP_CKPT  a full mmdet GLIP-T checkpoint (mmdet's glip_tiny_mmdet-c24ce662.pth, or an
#              official GLIP .pth converted by tools/model_converters/glip_to_mmdet.py)
# or with --cfg-options model.base_checkpoint=... model.language_model.name=...
#   model.bbox_head.lang_model_name=...
_base_ = [
    'mmdet::glip/glip_atss_swin-t_fpn_dyhead_16xb2_ms-2x_funtune_coco.py',
    '../tuned_runtime.py'
]
# boxes named by each sample's own (shuffled) prompt: browse_dataset.py, DetInferencer
visualizer = dict(type='PromptVisualizer')
lang_model_name = '{{$BERT_DIR:checkpoints/bert-base-uncased}}'
base_checkpoint = '{{$GLIP_CKPT:checkpoints/glip_tiny_mmdet-c24ce662.pth}}'

# Default budget: K = 8 tokens x 6 fusion layers x D = 2048 = 98,304 trainable
# = 0.042% of GLIP-T's 231,759,662 parameters (the paper's ~0.04%).
model = dict(
    type='TunedDetector',
    detector_type='GLIP',
    base_checkpoint=base_checkpoint,
    tuner=dict(type='SDPT', num_tokens=8, layers='all', init='uniform', mask='paper'),
    # mmdet's GLIP-T fine-tune config checkpoints each VLFuse reentrantly: with a frozen
    # trunk the prompts would get no gradient. Off.
    bbox_head=dict(lang_model_name=lang_model_name, use_checkpoint=False),
    language_model=dict(name=lang_model_name))

# Prompts need a far larger step than full fine-tuning (a starting point, see README).
load_from = None  # base weights: model.base_checkpoint (adapter checkpoints replace load_from)
optim_wrapper = dict(
    constructor='TrainableOptimWrapperConstructor',
    optimizer=dict(type='AdamW', lr=1e-2, weight_decay=0.0),
    paramwise_cfg=dict(_delete_=True),
    clip_grad=dict(max_norm=1.0, norm_type=2))
