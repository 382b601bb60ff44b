# SDPT with prompts in the last fusion layer only: the same budget as the default 8 tokens
# x 6 layers, 48 tokens x 1 layer (48 x 2048 = 98,304 trainable, 0.042% of GLIP-T). The
# backward pass then stops at the last fusion layer: see README "What tuning costs".
# Same data, schedule and evaluation as sdpt/glip_t_odinw.py.
_base_ = '../../sdpt/glip_t_odinw.py'

model = dict(tuner=dict(num_tokens=48, layers=[-1]))
