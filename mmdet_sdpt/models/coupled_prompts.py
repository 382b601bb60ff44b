"""Coupled vision-language prompt baselines at SDPT's insertion point.

MaPLe, UPT and MuDPT were made for CLIP, whose two encoders never meet: each learns prompts
for both encoders and ties them by a learnt function. A fusion-based detector has one place
where both streams meet, the fusion attention (mmdet's ``BiMultiHeadAttention``: GLIP's
``bbox_head.head.dyhead_tower.*.b_attn.attn``, Grounding DINO's
``encoder.fusion_layers.*.attn``). Each baseline here prompts both of its input streams
there, exactly as SDPT does (K rows appended to the image stream, v_dim wide, and to the
text stream, l_dim wide; masks extended; the rows cut from the outputs), and differs from
SDPT only in how the two sets of K prompt rows are produced and tied:

- ``MaPLe`` (Khattak et al., CVPR 2023): learnable text-side prompts T; the image-side
  prompts are their image through a per-layer coupling function, V = F(T), F a Linear
  (l_dim -> v_dim). MaPLe's "prompt depth" is ``layers``.
- ``UPT`` (Zang et al., 2022): one unified prompt U (K, d_u) per layer, refined by one small
  self-attention block (``nn.TransformerEncoderLayer``), then one Linear head per stream.
- ``MuDPT`` (Miao et al., 2023): independent V and T plus a bidirectional link,
  V' = V + g_t2v(T), T' = T + g_v2t(V), each g a bottleneck MLP whose output Linear starts
  at zero (at initialisation MuDPT is SDPT's dual-prompt ablation, ``projection='none'``).

Only the prompts and the coupling modules train; everything of the detector stays frozen.
Layer selection, K = 0, mask variants, ``disabled()``, freezing and adapter checkpoints are
SDPT's (these tuners subclass it); the prompt modules subclass its
``UnifiedPrototypeTokens`` and override only what to append (``prompts_for``).
"""
from typing import Optional, Sequence, Union

import torch
from mmdet.models.utils.vlfuse_helper import BiMultiHeadAttention
from torch import Tensor, nn

from ..registry import TUNERS
from .sdpt import (SDPT, STREAMS, IndependentDualPrompts, UnifiedPrototypeTokens,
                   _initialised)


INITS = ('uniform', 'normal', 'xavier', 'zeros')


def _fp32(tensor: Tensor):
    """Autocast off: the prompt modules run in fp32 and return fp32 (cast on insertion)."""
    return torch.autocast(device_type=tensor.device.type, enabled=False)


class MaPLePrompts(UnifiedPrototypeTokens):
    """Text-side prompts T (K, l_dim) and their coupling F: l_dim -> v_dim; V = F(T).

    Attached as ``<attention>.maple``. T is initialised as SDPT's tokens (``init``); F as a
    ``nn.Linear`` (as MaPLe's coupling layers).
    """

    def __init__(self, num_tokens: int, attn: BiMultiHeadAttention, init: str = 'uniform',
                 mask: str = 'paper'):
        self._dims = dict(v_dim=attn.v_dim, l_dim=attn.l_dim)
        super().__init__(num_tokens, attn.embed_dim, init, mask, STREAMS)

    def init_tokens(self, embed_dim: int, init: str) -> None:
        l_dim, v_dim = self._dims['l_dim'], self._dims['v_dim']
        self.text_tokens = nn.Parameter(_initialised(torch.empty(self.num_tokens, l_dim), init))
        self.coupling = nn.Linear(l_dim, v_dim)

    def prompts_for(self, attn: BiMultiHeadAttention):
        text = self.text_tokens.float()
        with _fp32(text):
            image = nn.functional.linear(text, self.coupling.weight.float(),
                                         self.coupling.bias.float())
        return image, text


class UPTPrompts(UnifiedPrototypeTokens):
    """One unified prompt U (K, dim), one self-attention block over its K rows, then one
    Linear head per stream: (K, v_dim) and (K, l_dim).

    Attached as ``<attention>.upt``. The block follows UPT's code: post-norm self-attention
    and feed-forward (``nn.TransformerEncoderLayer``, ReLU), feed-forward width = ``ffn_dim``
    (UPT: the prompt width), no dropout (UPT: 0.1) so a tuned model is deterministic.
    """

    def __init__(self, num_tokens: int, attn: BiMultiHeadAttention, init: str = 'uniform',
                 mask: str = 'paper', dim: int = 128, num_heads: int = 1,
                 ffn_dim: int = 128):
        self._dims = dict(v_dim=attn.v_dim, l_dim=attn.l_dim, dim=dim, num_heads=num_heads,
                          ffn_dim=ffn_dim)
        super().__init__(num_tokens, attn.embed_dim, init, mask, STREAMS)

    def init_tokens(self, embed_dim: int, init: str) -> None:
        d = self._dims
        self.tokens = nn.Parameter(_initialised(torch.empty(self.num_tokens, d['dim']), init))
        self.block = nn.TransformerEncoderLayer(
            d['dim'], d['num_heads'], dim_feedforward=d['ffn_dim'], dropout=0.0,
            activation='relu', batch_first=True, norm_first=False)
        self.image_head = nn.Linear(d['dim'], d['v_dim'])
        self.text_head = nn.Linear(d['dim'], d['l_dim'])

    def unified(self) -> Tensor:
        """U after the self-attention block, (K, dim), fp32."""
        with _fp32(self.tokens):
            return self.block(self.tokens.float()[None])[0]

    def prompts_for(self, attn: BiMultiHeadAttention):
        u = self.unified()
        with _fp32(u):
            return self.image_head(u), self.text_head(u)


class MuDPTPrompts(IndependentDualPrompts):
    """Independent V (K, v_dim) and T (K, l_dim), as SDPT's dual-prompt ablation, plus
    V' = V + g_t2v(T) and T' = T + g_v2t(V); each g = Linear-GELU-Linear through
    ``bottleneck`` units, its output Linear zero-initialised (g = 0 at initialisation).

    Attached as ``<attention>.mudpt``; V and T keep that ablation's names
    (``image_tokens``, ``text_tokens``) and initialisation.
    """

    def __init__(self, num_tokens: int, attn: BiMultiHeadAttention, init: str = 'uniform',
                 mask: str = 'paper', bottleneck: int = 32):
        self._bottleneck = bottleneck
        super().__init__(num_tokens, attn, init, mask, STREAMS)

    def init_tokens(self, embed_dim: int, init: str) -> None:
        super().init_tokens(embed_dim, init)  # image_tokens, text_tokens
        v_dim, l_dim, b = self._dims['image'], self._dims['text'], self._bottleneck
        self.t2v = nn.Sequential(nn.Linear(l_dim, b), nn.GELU(), nn.Linear(b, v_dim))
        self.v2t = nn.Sequential(nn.Linear(v_dim, b), nn.GELU(), nn.Linear(b, l_dim))
        for link in (self.t2v, self.v2t):
            nn.init.zeros_(link[-1].weight)
            nn.init.zeros_(link[-1].bias)

    def prompts_for(self, attn: BiMultiHeadAttention):
        image, text = self.image_tokens.float(), self.text_tokens.float()
        with _fp32(image):
            return image + self.t2v(text), text + self.v2t(image)


class _CoupledPromptTuner(SDPT):
    """SDPT's insertion, layers, masks and freezing with another prompt module.

    Both streams are always prompted (the coupling is the point), there is no inverse
    projection and no extra trainable base tensor.
    """

    def __init__(self, num_tokens: int = 8, layers: Union[str, Sequence[int]] = 'all',
                 init: str = 'uniform', mask: str = 'paper'):
        if init not in INITS:  # SDPT's 'prototype' fills its D-space tokens: none here
            raise ValueError(f'{self.method} init must be one of {INITS}, got {init!r}')
        super().__init__(num_tokens=num_tokens, layers=layers, init=init, mask=mask,
                         streams=STREAMS)

    def knobs(self) -> dict:
        """The method's own settings that shape its tensors (recorded in checkpoints)."""
        return {}

    def describe(self, detector: nn.Module) -> dict:
        desc = super().describe(detector)
        for key in ('streams', 'projection', 'extra_trainable'):  # fixed here
            desc.pop(key)
        desc.update(self.knobs())
        return desc

    def make_prompts(self, attn: BiMultiHeadAttention, index: int) -> UnifiedPrototypeTokens:
        return self.prompt_module(attn).to(attn.v_proj.weight.device)

    def prompt_module(self, attn: BiMultiHeadAttention) -> UnifiedPrototypeTokens:
        raise NotImplementedError


def _positive(owner: str, **values) -> None:
    for name, value in values.items():
        if int(value) < 1:
            raise ValueError(f'{owner} {name} must be >= 1, got {value}')


@TUNERS.register_module()
class MaPLe(_CoupledPromptTuner):
    """MaPLe (multi-modal prompt learning, Khattak et al., CVPR 2023) at the fusion layers:
    per prompted layer, text-side prompts T (K x l_dim) and a coupling Linear F
    (l_dim -> v_dim) that makes the image-side prompts, V = F(T). Only T and F train.

    Args:
        num_tokens (int): K per prompted layer. Default 8, as SDPT, so the family differs
            only in how the prompts are made (MaPLe's paper uses 2). F dominates the count:
            GLIP-T (6 fusion layers, v_dim 256, l_dim 768), K = 8, all layers:
            6 x (8 x 768 + 768 x 256 + 256) = 6 x 203,008 = 1,218,048 trainable, 0.526% of
            231,759,662 (K = 2: 6 x 198,400 = 1,190,400, 0.514%).
        layers ('all' | list[int]): prompted fusion layers (MaPLe's prompt depth).
        init (str): T's initialisation, as SDPT's tokens ('uniform', 'normal', 'xavier',
            'zeros'; MaPLe: normal, std 0.02, on CLIP's unnormalised token embeddings; the
            fusion inputs here are layer-normed, so SDPT's uniform(-1, 1) is kept).
        mask (str): the text-side prompt rows' mask value, as SDPT ('paper' / 'reference').
    """

    method = 'MaPLe'
    module_name = 'maple'

    def prompt_module(self, attn):
        return MaPLePrompts(self.num_tokens, attn, self.init, self.mask)


@TUNERS.register_module()
class UPT(_CoupledPromptTuner):
    """UPT (unified vision and language prompt learning, Zang et al., 2022) at the fusion
    layers: per prompted layer one unified prompt U (K x dim), one self-attention block over
    its rows, and two Linear heads (dim -> v_dim, dim -> l_dim) giving the image- and
    text-side prompts. U, the block and the heads train.

    UPT's code keeps 2K unified rows of the text width and splits them after the block
    (first K: text prompts as they are; last K: image prompts through a Linear). Here the
    unified width ``dim`` is neither stream's, so each of the K rows goes through both heads.
    UPT prompts CLIP's first layer only (``layers=[0]``); the default prompts all fusion
    layers, as SDPT.

    Args:
        num_tokens (int): K per prompted layer (default 8, as SDPT).
        dim (int): d_u, the unified prompt's width (default 128).
        num_heads (int): heads of the block's self-attention (UPT: 1); divides ``dim``.
        ffn_dim (int, optional): the block's feed-forward width (default: ``dim``, as UPT).
        layers, init, mask: as SDPT (``init`` initialises U).

    GLIP-T, K = 8, dim 128, 1 head, all 6 layers: per layer U 8 x 128 = 1,024; block
    (3 x 128 x 128 + 384) + (128 x 128 + 128) + 2 x (128 x 128 + 128) + 2 x 256 = 99,584;
    heads (128 x 256 + 256) + (128 x 768 + 768) = 132,096; 232,704 x 6 = 1,396,224
    trainable, 0.602% of 231,759,662.
    """

    method = 'UPT'
    module_name = 'upt'

    def __init__(self, num_tokens: int = 8, dim: int = 128, num_heads: int = 1,
                 ffn_dim: Optional[int] = None, layers: Union[str, Sequence[int]] = 'all',
                 init: str = 'uniform', mask: str = 'paper'):
        ffn_dim = dim if ffn_dim is None else ffn_dim
        _positive('UPT', dim=dim, num_heads=num_heads, ffn_dim=ffn_dim)
        if dim % num_heads:
            raise ValueError(f'UPT num_heads must divide dim, got dim={dim}, '
                             f'num_heads={num_heads}')
        super().__init__(num_tokens, layers, init, mask)
        self.dim, self.num_heads, self.ffn_dim = int(dim), int(num_heads), int(ffn_dim)

    def knobs(self) -> dict:
        return dict(dim=self.dim, num_heads=self.num_heads, ffn_dim=self.ffn_dim)

    def prompt_module(self, attn):
        return UPTPrompts(self.num_tokens, attn, self.init, self.mask, self.dim,
                          self.num_heads, self.ffn_dim)


@TUNERS.register_module()
class MuDPT(_CoupledPromptTuner):
    """MuDPT (multi-modal deep-symphysis prompt tuning, Miao et al., 2023) at the fusion
    layers: per prompted layer independent image-side V (K x v_dim) and text-side
    T (K x l_dim) prompts, linked both ways by bottleneck MLPs:
    V' = V + g_t2v(T), T' = T + g_v2t(V). The links' output Linears start at zero, so a
    fresh MuDPT computes exactly SDPT's dual-prompt ablation (``projection='none'``) with
    the same V and T. V, T and both links train.

    Args:
        num_tokens (int): K per prompted layer (default 8, as SDPT).
        bottleneck (int): hidden width of each link (default 32).
        layers, init, mask: as SDPT (``init`` initialises V and T).

    GLIP-T, K = 8, bottleneck 32, all 6 layers: per layer V + T 8 x (256 + 768) = 8,192;
    g_t2v (768 x 32 + 32) + (32 x 256 + 256) = 33,056; g_v2t (256 x 32 + 32) +
    (32 x 768 + 768) = 33,568; 74,816 x 6 = 448,896 trainable, 0.194% of 231,759,662.
    """

    method = 'MuDPT'
    module_name = 'mudpt'

    def __init__(self, num_tokens: int = 8, bottleneck: int = 32,
                 layers: Union[str, Sequence[int]] = 'all', init: str = 'uniform',
                 mask: str = 'paper'):
        _positive('MuDPT', bottleneck=bottleneck)
        super().__init__(num_tokens, layers, init, mask)
        self.bottleneck = int(bottleneck)

    def knobs(self) -> dict:
        return dict(bottleneck=self.bottleneck)

    def prompt_module(self, attn):
        return MuDPTPrompts(self.num_tokens, attn, self.init, self.mask, self.bottleneck)


__all__ = ['MaPLe', 'UPT', 'MuDPT', 'MaPLePrompts', 'UPTPrompts', 'MuDPTPrompts']
