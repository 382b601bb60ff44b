# AdvPT for SDPT on the embedded demo (docs/robust.md): the demo's SDPT (same data, schedule
# and rate) trained on its transfer training images attacked once against the frozen base
# (AdversarialTrainingSetHook: AdvPT's feature attack, eps 8/255, 10 steps, before training),
# their frozen-prefix features kept by the prefix cache.
#   python tools/train.py configs/robust/demo_tiny-glip_synthetic_advpt.py
_base_ = ['../sdpt/demo_tiny-glip_synthetic.py']

method = 'advpt_sdpt'
model = dict(prefix_cache=dict(max_bytes=2**30, device='cpu', dtype=None))
custom_hooks = _base_.custom_hooks + [
    dict(type='AdversarialTrainingSetHook', eps=8, steps=10)]
