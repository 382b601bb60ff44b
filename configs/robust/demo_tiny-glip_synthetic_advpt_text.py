# On the embedded demo: AdvPT's own method, text prompts (GLIP's language_prompt_v2) trained
# on the transfer training images attacked once against the frozen base
# (AdversarialTrainingSetHook: AdvPT's feature attack, eps 8/255, 10 steps); docs/robust.md.
#   python tools/train.py configs/robust/demo_tiny-glip_synthetic_advpt_text.py
_base_ = ['../baselines/language_prompt_v2/demo_tiny-glip_synthetic.py']

method = 'advpt_text'
custom_hooks = _base_.custom_hooks + [
    dict(type='AdversarialTrainingSetHook', eps=8, steps=10)]
