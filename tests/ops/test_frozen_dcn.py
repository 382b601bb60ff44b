"""Frozen deformable convs: mmcv's forward, input-only backward, same gradients."""
import copy

import pytest
import torch
from mmcv.ops import ModulatedDeformConv2d

from mmdet_sdpt.ops import (InputGradOnlyModulatedDeformConv2d, modulated_deform_conv2d_torch,
                            use_input_grad_only_dcn)
from tests.helpers import make_batch, total_loss

CASES = [dict(stride=1, padding=1, dilation=1), dict(stride=2, padding=1, dilation=1),
         dict(stride=1, padding=2, dilation=2), dict(stride=1, padding=0, dilation=1)]


def _inputs(conv, seed=0, size=(9, 11)):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(2, conv.in_channels, *size, generator=g)
    k = conv.kernel_size[0] * conv.kernel_size[1]
    ho, wo = [(s + 2 * p - d * (kk - 1) - 1) // st + 1 for s, p, d, kk, st in zip(
        size, conv.padding, conv.dilation, conv.kernel_size, conv.stride)]
    # offsets of several pixels: many taps fall between pixels and outside the image
    offset = torch.randn(2, 2 * k, ho, wo, generator=g) * 3
    mask = torch.rand(2, k, ho, wo, generator=g)
    return [t.requires_grad_() for t in (x, offset, mask)]


def _conv(case, seed=0):
    torch.manual_seed(seed)
    conv = ModulatedDeformConv2d(6, 5, 3, **case)
    with torch.no_grad():
        conv.bias.normal_()
    return conv


@pytest.mark.parametrize('case', CASES, ids=str)
def test_torch_form_computes_mmcvs_output(case):
    conv = _conv(case)
    x, offset, mask = _inputs(conv)
    ours = modulated_deform_conv2d_torch(x, offset, mask, conv.weight, conv.bias,
                                         conv.stride, conv.padding, conv.dilation)
    torch.testing.assert_close(ours, conv(x, offset, mask), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('case', CASES, ids=str)
def test_frozen_module_keeps_forward_and_input_gradients_skips_weight_gradients(case):
    ref = _conv(case).requires_grad_(False)
    fast = _conv(case).requires_grad_(False)
    assert use_input_grad_only_dcn(fast) == ['']
    assert type(fast) is InputGradOnlyModulatedDeformConv2d
    assert list(fast.state_dict()) == list(ref.state_dict())
    x, offset, mask = _inputs(ref)
    out_ref, out_fast = ref(x, offset, mask), fast(x, offset, mask)
    assert torch.equal(out_ref, out_fast)  # mmcv's own forward
    g = torch.randn_like(out_ref)
    grads_ref = torch.autograd.grad(out_ref, (x, offset, mask), g)
    grads_fast = torch.autograd.grad(out_fast, (x, offset, mask), g)
    for a, b in zip(grads_fast, grads_ref):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)
    assert fast.weight.grad is None and fast.bias.grad is None
    # only the inputs that need a gradient get one
    out = fast(x.detach(), offset, mask.detach())
    (grad_offset,) = torch.autograd.grad(out.sum(), offset)
    assert grad_offset.shape == offset.shape


def test_trainable_convs_are_left_to_mmcv_and_trained_weights_get_gradients():
    model = torch.nn.ModuleDict(dict(frozen=_conv(CASES[0]).requires_grad_(False),
                                     tuned=_conv(CASES[0])))
    assert use_input_grad_only_dcn(model) == ['frozen']
    assert type(model['tuned']) is ModulatedDeformConv2d
    x, offset, mask = _inputs(model['tuned'])
    fast = model['frozen']
    fast.weight.requires_grad_(True)  # unfrozen later: mmcv's backward again
    fast(x, offset, mask).sum().backward()
    assert fast.weight.grad is not None and fast.weight.grad.abs().sum() > 0


def test_tiny_glip_with_dcn_gets_the_same_prompt_gradients(tiny_cfg, build_tiny):
    """The tiny GLIP with GLIP's deformable convs kept: every DyHead DCN is converted, and
    the prompts' gradients equal those of mmcv's backward."""
    post_build = [e for e in tiny_cfg.model.post_build if e['type'] != 'DisableDCN']
    grads = {}
    for fast in (True, False):
        model = build_tiny(post_build=post_build, input_grad_only_dcn=fast)
        dcns = [m for m in model.modules() if isinstance(m, ModulatedDeformConv2d)]
        assert dcns and all((type(m) is InputGradOnlyModulatedDeformConv2d) == fast
                            for m in dcns)
        model.train()
        total_loss(model, *make_batch(num_images=1)).backward()
        grads[fast] = {n: p.grad for n, p in model.named_parameters() if p.requires_grad}
    assert grads[True].keys() == grads[False].keys() and grads[True]
    for name, grad in grads[True].items():
        torch.testing.assert_close(grad, grads[False][name], rtol=1e-3, atol=1e-6)


def test_full_fine_tuning_keeps_mmcvs_convs(tiny_cfg):
    from mmdet.registry import MODELS
    post_build = [e for e in tiny_cfg.model.post_build if e['type'] != 'DisableDCN']
    model = MODELS.build(dict(copy.deepcopy(tiny_cfg.model), post_build=post_build,
                              tuner=dict(type='FullFineTuning')))
    dcns = [m for m in model.modules() if isinstance(m, ModulatedDeformConv2d)]
    assert dcns and all(type(m) is ModulatedDeformConv2d for m in dcns)


def test_offsets_of_another_size_are_read_as_mmcv_reads_them():
    """GLIP's DyConv gives a conv on the next pyramid level this level's offsets."""
    conv = _conv(CASES[0]).requires_grad_(False)
    x = torch.randn(2, 6, 3, 4, requires_grad=True)
    _, offset, mask = _inputs(conv, size=(6, 8))  # offsets of a 6x8 level, output 3x4
    ref = conv(x, offset, mask)
    assert ref.shape[2:] == (3, 4)
    torch.testing.assert_close(modulated_deform_conv2d_torch(
        x, offset, mask, conv.weight, conv.bias, 1, 1, 1), ref, rtol=1e-5, atol=1e-5)
    g = torch.randn_like(ref)
    grads_ref = torch.autograd.grad(ref, (x, offset, mask), g)
    use_input_grad_only_dcn(conv)
    grads = torch.autograd.grad(conv(x, offset, mask), (x, offset, mask), g)
    for a, b in zip(grads, grads_ref):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)
