"""Modulated deformable convolution whose frozen weights get no gradient.

mmcv's ``ModulatedDeformConv2dFunction.backward`` always computes the gradients of the
weight and bias, and on CPU its input/offset/mask gradients are slow: it was 55% of an SDPT
train step of GLIP-T (all fusion layers prompted) on CPU, for weights that are frozen.

``InputGradOnlyModulatedDeformConv2d`` is a thin subclass of mmcv's module that every
*frozen* ``ModulatedDeformConv2d`` of a tuned detector becomes (``use_input_grad_only_dcn``).
Its forward is mmcv's own op, unchanged (so a tuned model's outputs stay bit for bit the
frozen model's); only its backward differs: it recomputes the same sampling with
``torch.nn.functional.grid_sample`` and lets autograd take the gradients of the input, the
offsets and the masks, never of the weight. Modules whose weight trains, and settings the
torch form does not cover (groups or deform_groups other than 1), keep mmcv's backward.
"""
from typing import Optional

import torch
import torch.nn.functional as F
from mmcv.ops import ModulatedDeformConv2d, modulated_deform_conv2d
from torch import Tensor, nn
from torch.nn.modules.utils import _pair


def modulated_deform_conv2d_torch(input: Tensor, offset: Tensor, mask: Tensor,
                                  weight: Tensor, bias: Optional[Tensor] = None,
                                  stride=1, padding=0, dilation=1) -> Tensor:
    """mmcv's modulated deformable conv (groups = deform_groups = 1) in differentiable torch.

    ``offset`` is (N, 2 * kh * kw, Ho, Wo), (dy, dx) per kernel position in row-major order;
    ``mask`` is (N, kh * kw, Ho, Wo). Out-of-image samples read zeros, as in mmcv.

    Like mmcv, the output size comes from the input and the kernel, and each image's
    offsets and masks are read as flat buffers of that size. (GLIP's DyConv hands a conv the
    offsets of a neighbouring pyramid level: mmcv then reads the first 2K x Ho x Wo values.)
    """
    n, c, h, w = input.shape
    out_ch, _, kh, kw = weight.shape
    (sh, sw), (ph, pw), (dh, dw) = _pair(stride), _pair(padding), _pair(dilation)
    ho = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    wo = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    k = kh * kw
    if offset.shape[2:] != (ho, wo):
        offset = offset.flatten(1)[:, :2 * k * ho * wo].reshape(n, 2 * k, ho, wo)
        mask = mask.flatten(1)[:, :k * ho * wo].reshape(n, k, ho, wo)
    # base sampling positions of every kernel tap at every output location
    ys = torch.arange(ho, device=input.device, dtype=offset.dtype) * sh - ph
    xs = torch.arange(wo, device=input.device, dtype=offset.dtype) * sw - pw
    ky = (torch.arange(kh, device=input.device, dtype=offset.dtype) * dh).repeat_interleave(kw)
    kx = (torch.arange(kw, device=input.device, dtype=offset.dtype) * dw).repeat(kh)
    off = offset.view(n, k, 2, ho, wo)
    py = ys.view(1, 1, ho, 1) + ky.view(1, k, 1, 1) + off[:, :, 0]  # (N, K, Ho, Wo)
    px = xs.view(1, 1, 1, wo) + kx.view(1, k, 1, 1) + off[:, :, 1]
    # pixel index -> grid_sample's normalised coordinate (align_corners=False: no 1/(W-1))
    grid = torch.stack([(2 * px + 1) / w - 1, (2 * py + 1) / h - 1], dim=-1)
    sampled = F.grid_sample(input, grid.view(n, k * ho, wo, 2), mode='bilinear',
                            padding_mode='zeros', align_corners=False)  # (N, C, K*Ho, Wo)
    cols = sampled.view(n, c, k, ho * wo) * mask.view(n, 1, k, ho * wo)
    out = weight.view(out_ch, c * k) @ cols.view(n, c * k, ho * wo)
    if bias is not None:
        out = out + bias.view(1, out_ch, 1)
    return out.view(n, out_ch, ho, wo)


class _InputGradOnlyMDCN(torch.autograd.Function):
    """Forward: mmcv's kernel. Backward: input/offset/mask gradients only, from the torch
    form above (weight and bias are constants)."""

    @staticmethod
    def forward(ctx, input, offset, mask, weight, bias, stride, padding, dilation):
        ctx.conv_args = (stride, padding, dilation)
        ctx.save_for_backward(input, offset, mask, weight)  # the bias has no say in them
        return modulated_deform_conv2d(input, offset, mask, weight, bias, stride, padding,
                                       dilation, 1, 1)

    @staticmethod
    def backward(ctx, grad_out):
        input, offset, mask, weight = ctx.saved_tensors
        wanted = ctx.needs_input_grad[:3]
        leaves = [t.detach().requires_grad_(need) for t, need in zip(
            (input, offset, mask), wanted)]
        with torch.enable_grad():
            dtype = offset.dtype  # mmcv computes in the offsets' dtype (AMP)
            x, off, m = leaves[0].to(dtype), leaves[1], leaves[2].to(dtype)
            out = modulated_deform_conv2d_torch(x, off, m, weight.to(dtype), None,
                                                *ctx.conv_args)
            needed = [t for t, need in zip(leaves, wanted) if need]
            grads = iter(torch.autograd.grad(out, needed, grad_out.to(out.dtype)))
        return tuple(next(grads) if need else None for need in wanted) + (None,) * 5


class InputGradOnlyModulatedDeformConv2d(ModulatedDeformConv2d):
    """mmcv's ``ModulatedDeformConv2d`` that computes no gradient for its frozen weight and
    bias (same parameters, same state dict, same forward)."""

    def forward(self, x: Tensor, offset: Tensor, mask: Tensor) -> Tensor:
        frozen = not self.weight.requires_grad and (
            self.bias is None or not self.bias.requires_grad)
        if (frozen and torch.is_grad_enabled() and self.groups == 1
                and self.deform_groups == 1
                and (x.requires_grad or offset.requires_grad or mask.requires_grad)):
            return _InputGradOnlyMDCN.apply(x, offset, mask, self.weight, self.bias,
                                            self.stride, self.padding, self.dilation)
        return super().forward(x, offset, mask)


def use_input_grad_only_dcn(model: nn.Module) -> list:
    """Make every frozen mmcv ``ModulatedDeformConv2d`` of ``model`` an
    ``InputGradOnlyModulatedDeformConv2d`` (in place; names and tensors unchanged).
    Returns the paths of the converted modules."""
    converted = []
    for name, module in model.named_modules():
        if type(module) is ModulatedDeformConv2d and not any(
                p.requires_grad for p in module.parameters()):
            module.__class__ = InputGradOnlyModulatedDeformConv2d
            converted.append(name)
    return converted
