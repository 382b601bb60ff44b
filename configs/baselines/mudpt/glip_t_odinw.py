# MuDPT (Miao et al., 2023) on GLIP-T, one ODinW dataset per run.
# (ODINW_DATASET etc.: configs/sdpt/glip_t_odinw.py)
# Per prompted fusion layer: independent image-side V (K x v_dim) and text-side
# T (K x l_dim) prompts linked both ways, V' = V + g_t2v(T), T' = T + g_v2t(V), each g
# a bottleneck MLP with a zero-initialised output Linear (at initialisation: SDPT's
# dual-prompt ablation, sdpt_no_inverse), appended at SDPT's insertion point
# (mmdet_sdpt/models/coupled_prompts.py).
# Trainable on GLIP-T, K = 8, bottleneck 32, all 6 fusion layers: 6 x (8,192 V + T
# + 33,056 g_t2v + 33,568 g_v2t) = 448,896 (0.194%).
# Optimizer: AdamW 5e-3, no decay: half SDPT's 1e-2 (its prompts are tokens too), as the
# links are Linear weights that a token-sized step would move fast. A starting point,
# not tuned for detection.
_base_ = '../../sdpt/glip_t_odinw.py'

model = dict(tuner=dict(_delete_=True, type='MuDPT', num_tokens=8, bottleneck=32,
                        layers='all', init='uniform', mask='paper'))
optim_wrapper = dict(optimizer=dict(lr=5e-3, weight_decay=0.0))
