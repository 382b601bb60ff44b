# The embedded demo (make demo): SDPT prompts tuned on the transfer part of the generated
# shapes (new words for known shapes), on top of the committed tiny GLIP base checkpoint;
# prints zero-shot vs SDPT box AP on the transfer test split.
#   python tools/train.py configs/sdpt/demo_tiny-glip_synthetic.py
# 8 tokens x 2 fusion layers x D 256 = 4,096 trainable of the tiny GLIP's ~8.8M (0.05%).
_base_ = '../_base_/demo_tiny_glip.py'

model = dict(tuner=dict(num_tokens=8))
optim_wrapper = dict(optimizer=dict(lr=5e-2))
custom_hooks = _base_.custom_hooks + [
    dict(type='ZeroShotComparisonHook'), dict(type='ProgressBarHook')]
