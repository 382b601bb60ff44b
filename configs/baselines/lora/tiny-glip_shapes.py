# LoRA (Hu et al., 2022) on the tiny GLIP on generated shapes.
# (tests and CPU demo: configs/sdpt/tiny-glip_shapes.py)
# peft-style: frozen Linears keep their names; lora_A (kaiming) and lora_B (zeros) act
# through a forward hook.
# Trainable on GLIP-T at rank 8: fusion (6 Linears x 6 fusion layers) 737,280 (0.318%);
# also 'visual' (Swin qkv/proj) +211,968 and 'text' (BERT query/key/value) +442,368.
# Optimizer: AdamW 5e-4 (the LoRA paper's RoBERTa-base GLUE runs use 4e-4..5e-4), weight
# decay 0.01; a starting point, not tuned for detection.
_base_ = '../../sdpt/tiny-glip_shapes.py'

model = dict(tuner=dict(_delete_=True, type='LoRA', targets=['fusion'], rank=8, alpha=16,
                        dropout=0.0))
optim_wrapper = dict(optimizer=dict(lr=5e-4, weight_decay=0.01))
