# AdvPT for SDPT on the embedded demo (docs/robust.md): the demo's SDPT (same data, schedule
# and rate) trained on its transfer training images attacked once against the frozen base
# (tools/make_adversarial.py: AdvPT's feature attack, eps 8/255, 10 steps), their
# frozen-prefix features kept by the prefix cache. The demo's data root is DEMO_DATA, and the
# attacked copy holds the transfer part:
#   python tools/make_adversarial.py configs/robust/demo_tiny-glip_synthetic_advpt.py \
#       --out data/adversarial/demo/transfer
#   DEMO_DATA=data/adversarial/demo \
#       python tools/train.py configs/robust/demo_tiny-glip_synthetic_advpt.py
_base_ = ['../sdpt/demo_tiny-glip_synthetic.py']

method = 'advpt_sdpt'
model = dict(prefix_cache=dict(max_bytes=2**30, device='cpu', dtype=None))
