# SDPT on mmdet's Grounding DINO-T (Swin-T; 6 encoder fusion layers, BiMultiHeadAttention
# with v_dim = l_dim = 256, embed_dim D = 1024, 4 heads), inherited from mmdet's COCO
# fine-tune config. Local paths, no download at run time:
#   BERT_DIR    a local `from_pretrained` directory of bert-base-uncased
#   GDINO_CKPT  a full mmdet Grounding DINO-T checkpoint (mmdet's
#               groundingdino_swint_ogc_mmdet-822d7e9d.pth, or an official one converted by
#               mmdet's tools/model_converters/groundingdino_to_mmdet.py)
_base_ = [
    'mmdet::grounding_dino/grounding_dino_swin-t_finetune_16xb2_1x_coco.py',
    '../tuned_runtime.py'
]
# boxes named by each sample's own (shuffled) prompt: browse_dataset.py, DetInferencer
visualizer = dict(type='PromptVisualizer')
lang_model_name = '{{$BERT_DIR:checkpoints/bert-base-uncased}}'
base_checkpoint = '{{$GDINO_CKPT:checkpoints/groundingdino_swint_ogc_mmdet-822d7e9d.pth}}'

# Default budget: K = 11 tokens x 6 fusion layers x D = 1024 = 67,584 trainable
# = 0.039% of Grounding DINO-T's 172,932,637 parameters (benchmarks/param_count.py).
model = dict(
    type='TunedDetector',
    detector_type='GroundingDINO',
    base_checkpoint=base_checkpoint,
    tuner=dict(type='SDPT', num_tokens=11, layers='all', init='uniform', mask='paper'),
    language_model=dict(name=lang_model_name),
    # mmdet's fine-tune config wraps the fusion layers in fairscale's checkpoint_wrapper:
    # with a frozen trunk the prompts could get no gradient, and it needs fairscale. Off.
    encoder=dict(num_cp=0))

load_from = None  # base weights: model.base_checkpoint (adapter checkpoints replace load_from)
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    constructor='TrainableOptimWrapperConstructor',
    optimizer=dict(type='AdamW', lr=1e-2, weight_decay=0.0),
    clip_grad=dict(max_norm=0.1, norm_type=2))
