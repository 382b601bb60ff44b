# MaPLe (Khattak et al., CVPR 2023) on GLIP-T, COCO 2017.
# (data, schedule, evaluation: configs/sdpt/glip_t_coco.py)
# Per prompted fusion layer: text-side prompts T (K x l_dim) and a coupling Linear F
# (l_dim -> v_dim) making the image-side prompts V = F(T), both appended at SDPT's
# insertion point (mmdet_sdpt/models/coupled_prompts.py).
# Trainable on GLIP-T, K = 8, all 6 fusion layers: 6 x (8 x 768 + 768 x 256 + 256)
# = 1,218,048 (0.526%); the coupling Linear is 97% of it (K = 2, the paper's: 0.514%).
# Optimizer: AdamW 2e-3, no decay: between SDPT's 1e-2 for tokens and LoRA's 5e-4 for Linear
# weights (one LR for T and F, as MaPLe; its CLIP runs use SGD 3.5e-3). A starting
# point, not tuned for detection.
_base_ = '../../sdpt/glip_t_coco.py'

model = dict(tuner=dict(_delete_=True, type='MaPLe', num_tokens=8, layers='all',
                        init='uniform', mask='paper'))
optim_wrapper = dict(optimizer=dict(lr=2e-3, weight_decay=0.0))
