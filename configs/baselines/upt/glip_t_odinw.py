# UPT (Zang et al., 2022) on GLIP-T, one ODinW dataset per run.
# (ODINW_DATASET etc.: configs/sdpt/glip_t_odinw.py)
# Per prompted fusion layer: one unified prompt U (K x dim) refined by one
# self-attention block (nn.TransformerEncoderLayer, 1 head, FFN width dim), then a
# Linear head per stream (dim -> v_dim, dim -> l_dim), appended at SDPT's insertion
# point (mmdet_sdpt/models/coupled_prompts.py).
# Trainable on GLIP-T, K = 8, dim 128, all 6 fusion layers: 6 x (1,024 U + 99,584
# block + 132,096 heads) = 1,396,224 (0.602%).
# Optimizer: AdamW 1e-3, no decay: nearly all of it is Linear weights, trained at LoRA's scale
# (5e-4..1e-3; UPT's CLIP runs use SGD 2e-3). A starting point, not tuned for
# detection.
_base_ = '../../sdpt/glip_t_odinw.py'

model = dict(tuner=dict(_delete_=True, type='UPT', num_tokens=8, dim=128, num_heads=1,
                        ffn_dim=128, layers='all', init='uniform', mask='paper'))
optim_wrapper = dict(optimizer=dict(lr=1e-3, weight_decay=0.0))
