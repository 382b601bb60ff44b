# The embedded demo with the tiny Grounding DINO: SDPT prompts tuned on the transfer part of
# the generated shapes (new words for known shapes), on top of the committed tiny Grounding
# DINO base (assets/demo/tiny-gdino_shapes_base.pth); prints zero-shot vs SDPT box AP on the
# transfer test split.
#   python tools/train.py configs/sdpt/demo_tiny-gdino_synthetic.py
# As the tiny GLIP demo: 8 tokens x 2 fusion layers x D 256 = 4,096 trainable.
_base_ = '../_base_/demo_tiny_gdino.py'

model = dict(tuner=dict(num_tokens=8))
optim_wrapper = dict(optimizer=dict(lr=5e-2))
custom_hooks = _base_.custom_hooks + [
    dict(type='ZeroShotComparisonHook'), dict(type='ProgressBarHook')]
