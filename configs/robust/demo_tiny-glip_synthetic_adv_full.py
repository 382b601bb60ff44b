# On the embedded demo: full adversarial fine-tuning, the costly reference for AdvPT
# (docs/robust.md): the demo's full fine-tuning on its transfer training images attacked once
# against the frozen base (AdversarialTrainingSetHook: AdvPT's feature attack, eps 8/255,
# 10 steps).
#   python tools/train.py configs/robust/demo_tiny-glip_synthetic_adv_full.py
_base_ = ['../baselines/full/demo_tiny-glip_synthetic.py']

method = 'adv_full'
custom_hooks = _base_.custom_hooks + [
    dict(type='AdversarialTrainingSetHook', eps=8, steps=10)]
