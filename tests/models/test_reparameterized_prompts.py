"""PRE (reparameterised text prompts) on the tiny GLIP, and its fold into plain prompts."""
import os.path as osp
import runpy
import sys

import pytest
import torch
from mmdet.models.utils.vlfuse_helper import BiMultiHeadAttention

from mmdet_sdpt.adapter import AdapterMismatchError, load_adapter
from mmdet_sdpt.models.reparameterized_prompts import (PRE, ReparameterizedTextPrompts, fold_checkpoint,
                                   reparameterize)
from tests.helpers import ROOT, head_outputs, make_batch
from tests.helpers import assert_reproduces, backward_once, trainable_names

K = 4
PRE_CFG = dict(type='PRE', num_tokens=K, hidden=16)
FOLDED_CFG = dict(type='SDPT', num_tokens=K, projection='none', streams=['text'])


@pytest.fixture(scope='module')
def pre(build_tuned):
    return build_tuned(PRE_CFG)


@pytest.fixture(scope='module')
def folded(trained_adapter, tmp_path_factory):
    """(trained PRE model, path of its folded checkpoint written by tools/fold_pre.py)."""
    model, path = trained_adapter(PRE_CFG)
    out = str(tmp_path_factory.mktemp('folded') / 'folded.pth')
    argv = sys.argv
    sys.argv = ['fold_pre.py', path, out]
    try:
        runpy.run_path(osp.join(ROOT, 'tools', 'fold_pre.py'), run_name='__main__')
    finally:
        sys.argv = argv
    return model, out


def test_text_prompts_only_and_trainable_count(pre, plain_glip):
    modules = [m for m in pre.modules() if isinstance(m, ReparameterizedTextPrompts)]
    assert len(modules) == 2 and all(m.streams == ('text',) for m in modules)
    names = trainable_names(pre)
    assert names and all('.pre.' in n for n in names)
    assert [n for n, _ in pre.named_parameters() if n not in names] == \
        [n for n, _ in plain_glip.named_parameters()]
    l_dim, hidden = 64, 16  # the tiny GLIP's text width
    # per layer: E (K x l) + down (l x h + h) + up (h x l + l)
    assert sum(p.numel() for n, p in pre.named_parameters() if n in names) == \
        2 * (K * l_dim + l_dim * hidden + hidden + hidden * l_dim + l_dim)


def test_only_the_text_stream_is_lengthened(pre, plain_glip):
    def lengths(model):
        seen = []
        handles = [m.register_forward_pre_hook(
            lambda mod, a, kw: seen.append((a[0].shape[1], a[1].shape[1])), with_kwargs=True)
            for m in model.modules() if isinstance(m, BiMultiHeadAttention)]
        with torch.no_grad():
            head_outputs(model, *make_batch(num_images=1))
        for h in handles:
            h.remove()
        return seen

    assert [(v, t - K) for v, t in lengths(pre)] == lengths(plain_glip)


def test_zero_tokens_reproduce_frozen_glip_bit_for_bit(build_tuned, plain_glip):
    model = build_tuned(dict(PRE_CFG, num_tokens=0))
    assert not trainable_names(model)
    assert_reproduces(model, plain_glip)


def test_only_pre_tensors_train_and_all_get_gradients(pre):
    grads = backward_once(pre)
    assert set(grads) == trainable_names(pre)
    assert all(g.abs().sum() > 0 for g in grads.values())


def test_folded_checkpoint_says_so_and_holds_plain_text_prompts(folded, build_tuned):
    model, path = folded
    ckpt = torch.load(path, weights_only=False)
    adapter = ckpt['meta']['adapter']
    assert adapter['folded_from'] == 'PRE' and adapter['unfolded']['method'] == 'PRE'
    assert adapter['tuner']['method'] == 'SDPT' and adapter['tuner']['projection'] == 'none'
    assert adapter['tuner']['streams'] == ['text']
    plain = build_tuned(FOLDED_CFG)
    assert set(ckpt['state_dict']) == trainable_names(plain)  # <attn>.sdpt.text_tokens
    assert all(k.endswith('.sdpt.text_tokens') for k in ckpt['state_dict'])


def test_folded_model_computes_what_pre_computes_bit_for_bit(folded, build_tuned,
                                                             base_checkpoint):
    # T is computed by the same function on the same fp32 tensors in both (reparameterize),
    # so the folded prompts are PRE's bit for bit on one device (across devices, up to the
    # last bit of that small MLP)
    model, path = folded
    plain = build_tuned(FOLDED_CFG, seed=2, base_checkpoint=base_checkpoint)
    load_adapter(plain, path)  # checks tuner and base like tools/test.py
    inputs, samples = make_batch(num_images=1)
    with torch.no_grad():
        for a, b in zip(head_outputs(model, inputs, samples),
                        head_outputs(plain, inputs, samples)):
            assert torch.equal(a, b)


def test_fold_on_the_tuner_equals_the_tool(folded):
    model, path = folded
    from_tool = torch.load(path, weights_only=False)
    live = model.tuner.fold(model)
    assert live['meta']['adapter']['tuner'] == from_tool['meta']['adapter']['tuner']
    for name, value in live['state_dict'].items():
        assert torch.equal(value, from_tool['state_dict'][name])
    module = model.get_submodule(model.tuner.prompted[0]).pre
    assert torch.equal(module.fold(),
                       live['state_dict'][model.tuner.prompted[0] + '.sdpt.text_tokens'])
    assert model.tuner.folded_tuner() == dict(FOLDED_CFG, layers='all', mask='paper')


def test_only_pre_checkpoints_fold(trained_adapter):
    _, path = trained_adapter(dict(type='SDPT', num_tokens=K))
    with pytest.raises(ValueError, match=r'not a PRE adapter checkpoint \(SDPT\)'):
        fold_checkpoint(torch.load(path, weights_only=False))


def test_a_folded_checkpoint_of_another_k_is_refused(build_tuned, base_checkpoint, folded):
    # (PRE's own adapters: tests/models/test_tuner_contract.py)
    plain = build_tuned(dict(FOLDED_CFG, num_tokens=2), base_checkpoint=base_checkpoint)
    with pytest.raises(AdapterMismatchError, match=r'num_tokens=4 \(checkpoint\)'):
        load_adapter(plain, folded[1])


def test_reparameterize_is_a_residual_mlp():
    torch.manual_seed(0)
    e, w1, b1, w2, b2 = (torch.randn(3, 5), torch.randn(2, 5), torch.randn(2),
                         torch.randn(5, 2), torch.randn(5))
    expected = e + torch.nn.functional.gelu(e @ w1.t() + b1) @ w2.t() + b2
    assert torch.allclose(reparameterize(e, w1, b1, w2, b2), expected, atol=1e-6)


def test_unknown_knobs_are_refused():
    with pytest.raises(ValueError, match='hidden must be >= 1'):
        PRE(hidden=0)
