# GLIP's language_prompt_v2 ("prompt tuning") on the tiny GLIP on generated shapes.
# (tests and CPU demo: configs/sdpt/tiny-glip_shapes.py)
# Trainable: a zero-initialised offset of max_tokens x lang_dim added to the text features
# (embedded and hidden) before fusion; on GLIP-T 256 x 768 = 196,608 (0.085%).
# Optimizer: GLIP's (README, Prompt Tuning): AdamW, LR 0.05, weight decay 0.25.
_base_ = '../../sdpt/tiny-glip_shapes.py'

model = dict(tuner=dict(_delete_=True, type='LanguagePromptV2'))
optim_wrapper = dict(optimizer=dict(lr=0.05, weight_decay=0.25))
