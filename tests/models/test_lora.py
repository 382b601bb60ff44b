"""LoRA on the tiny GLIP (fusion, Swin attention, BERT attention), one property per test."""
import pytest
import torch
from torch import nn

from mmdet_sdpt.models import LoRA
from mmdet_sdpt.models.lora import LoRAAdapter
from tests.helpers import head_outputs, make_batch
from tests.helpers import assert_reproduces, backward_once, trainable_names

ALL = ['fusion', 'visual', 'text']
LORA = dict(type='LoRA', targets=ALL, rank=8, alpha=16)
# where each target's Linears live in the tiny GLIP (2 fusion layers, Swin 1-1-1-1, BERT x2)
SUFFIXES = {
    'fusion': ('.attn.v_proj', '.attn.l_proj', '.attn.values_v_proj', '.attn.values_l_proj',
               '.attn.out_v_proj', '.attn.out_l_proj'),
    'visual': ('.w_msa.qkv', '.w_msa.proj'),
    'text': ('.self.query', '.self.key', '.self.value'),
}


def _group(path):
    return next(t for t, ends in SUFFIXES.items() if path.endswith(ends))


@pytest.fixture(scope='module')
def lora(build_tuned):
    return build_tuned(dict(LORA, dropout=0.1))


def test_adapters_sit_on_the_chosen_linears_and_base_names_stay(lora, plain_glip):
    layers = lora.tuner.adapted
    counts = {t: sum(_group(p) == t for p in layers) for t in ALL}
    assert counts == {'fusion': 6 * 2, 'visual': 2 * 4, 'text': 3 * 2}
    assert all(p.startswith('language_model.') for p in layers if _group(p) == 'text')
    base = [n for n, _ in plain_glip.named_parameters()]
    assert [n for n, _ in lora.named_parameters() if not lora.tuner.trainable(n)] == base
    expected = {f'{p}.lora.lora_{ab}.weight' for p in layers for ab in 'AB'}
    assert trainable_names(lora) == expected
    params = dict(lora.named_parameters())
    assert sum(params[n].numel() for n in expected) == sum(
        8 * (lora.get_submodule(p).in_features + lora.get_submodule(p).out_features)
        for p in layers)


def test_b_zero_reproduces_frozen_glip_bit_for_bit(lora, plain_glip):
    assert all(torch.all(m.lora_B.weight == 0) for m in lora.modules()
               if isinstance(m, LoRAAdapter))
    assert_reproduces(lora, plain_glip)  # in training mode: adapter dropout 0.1 is on


@pytest.mark.parametrize('target', ALL)
def test_each_target_changes_the_output_once_b_is_nonzero(lora, plain_glip, target):
    inputs, samples = make_batch(num_images=1)
    adapters = [lora.get_submodule(p).lora for p in lora.tuner.adapted if _group(p) == target]
    try:
        with torch.no_grad():
            for adapter in adapters:
                adapter.lora_B.weight.normal_(0, 0.5)
            diff = max((a - b).abs().max().item() for a, b in zip(
                head_outputs(lora, inputs, samples), head_outputs(plain_glip, inputs, samples)))
        assert diff > 1e-4
    finally:
        with torch.no_grad():
            for adapter in adapters:
                adapter.lora_B.weight.zero_()


def test_disabled_gives_the_base_whatever_the_adapters_learned(lora, plain_glip):
    inputs, samples = make_batch(num_images=1)
    adapters = [m for m in lora.modules() if isinstance(m, LoRAAdapter)]
    try:
        with torch.no_grad():
            for adapter in adapters:
                adapter.lora_B.weight.normal_(0, 0.5)
            with lora.tuner.disabled(lora):
                for a, b in zip(head_outputs(lora, inputs, samples),
                                head_outputs(plain_glip, inputs, samples)):
                    assert torch.equal(a, b)
        assert all(adapter.enabled for adapter in adapters)  # back on after the block
    finally:
        with torch.no_grad():
            for adapter in adapters:
                adapter.lora_B.weight.zero_()


def test_only_adapters_train_and_b_receives_gradient(lora):
    grads = backward_once(lora)
    assert set(grads) == trainable_names(lora)
    for name, grad in grads.items():
        if '.lora_B.' in name:
            assert grad.abs().sum() > 0, name
        else:  # dL/dA = B^T (...) = 0 while B = 0: A starts moving after B's first step
            assert torch.all(grad == 0), name


def test_hook_adds_the_scaled_low_rank_update():
    torch.manual_seed(0)
    linear = nn.Linear(6, 5)
    adapter = LoRAAdapter(6, 5, rank=2, alpha=3)
    nn.init.normal_(adapter.lora_B.weight)
    linear.register_forward_hook(adapter.hook)
    x = torch.randn(4, 6)
    expected = x @ linear.weight.t() + linear.bias + \
        x @ adapter.lora_A.weight.t() @ adapter.lora_B.weight.t() * 1.5
    assert torch.allclose(linear(x), expected, atol=1e-6)


def test_unknown_targets_and_ranks_are_refused():
    with pytest.raises(ValueError, match='targets must be a non-empty subset'):
        LoRA(targets=['cross'])
    with pytest.raises(ValueError, match='rank must be >= 1'):
        LoRA(rank=0)
