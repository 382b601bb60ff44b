# GLIP's language_prompt_v2 ("prompt tuning") on GLIP-L, one ODinW dataset per run.
# (data, schedule, evaluation: configs/sdpt/glip_l_odinw.py)
# Trainable: a zero-initialised offset of max_tokens x lang_dim (256 x 768 = 196,608)
# added to the text features (embedded and hidden) before fusion.
# Optimizer: GLIP's (README, Prompt Tuning): AdamW, LR 0.05, weight decay 0.25.
_base_ = '../../sdpt/glip_l_odinw.py'

model = dict(tuner=dict(_delete_=True, type='LanguagePromptV2'))
optim_wrapper = dict(optimizer=dict(lr=0.05, weight_decay=0.25))
