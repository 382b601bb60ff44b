# SDPT on MM-Grounding-DINO-T (same architecture as Grounding DINO-T, other weights and
# training recipe), inherited from mmdet's MM-GDINO COCO fine-tune config.
#   BERT_DIR       a local `from_pretrained` directory of bert-base-uncased
#   MM_GDINO_CKPT  a full mmdet MM-Grounding-DINO-T checkpoint
_base_ = [
    'mmdet::mm_grounding_dino/coco/grounding_dino_swin-t_finetune_16xb4_1x_coco.py',
    '../tuned_runtime.py'
]
# boxes named by each sample's own (shuffled) prompt: browse_dataset.py, DetInferencer
visualizer = dict(type='PromptVisualizer')
lang_model_name = '{{$BERT_DIR:checkpoints/bert-base-uncased}}'
base_checkpoint = '{{$MM_GDINO_CKPT:checkpoints/mm_grounding_dino_swin-t.pth}}'

# Default budget: K = 11 x 6 fusion layers x D = 1024 = 67,584 trainable
# = 0.039% of MM-Grounding-DINO-T's 172,977,693 parameters (benchmarks/param_count.py).
model = dict(
    type='TunedDetector',
    detector_type='GroundingDINO',
    base_checkpoint=base_checkpoint,
    tuner=dict(type='SDPT', num_tokens=11, layers='all', init='uniform', mask='paper'),
    language_model=dict(name=lang_model_name),
    # the Swin's init_cfg points at a download URL; the base checkpoint has its weights
    backbone=dict(init_cfg=None),
    # fairscale checkpointing of the fusion layers: no prompt gradients, and no fairscale
    encoder=dict(num_cp=0))

load_from = None
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    constructor='TrainableOptimWrapperConstructor',
    optimizer=dict(type='AdamW', lr=1e-2, weight_decay=0.0),
    clip_grad=dict(max_norm=0.1, norm_type=2))
