"""SEP: Self-Enhanced Prompt Tuning (Yao, Zhang, Yu, Xu, 2024, arXiv 2405.15549), adapted
to the fusion attention of GLIP / Grounding DINO.

SEP makes CoOp-style learnable tokens input-aware: at each prompted layer it *selects* a few
representative pretrained tokens of the current sample and merges them into the learnable
tokens with a small cross-attention, the Token Fusion Module (TFM). Here the learnable
tokens are SDPT's unified prototype tokens P (K x D) in the fusion attention's aligned
space, and the self-enhanced tokens are mapped into both streams by SDPT's inverse
projections::

    S  = [v_proj(pool_M(vision)); l_proj(pool_M(lang))]      (B, M x sources, D)
    P' = P + W_out attn(P W_q, S W_k, S W_v)                  (B, K, D)
    X_v = (P' - b_v) pinv(W_v^T),  X_l = (P' - b_l) pinv(W_l^T)

Selection (ours; the paper picks tokens by their attention to the class token, which a
detector's fusion input does not have): adaptive average pooling of the layer's input token
sequence into M contiguous groups (padded tokens excluded), then the frozen ``v_proj`` /
``l_proj``. Pooling first is exact, not an approximation: the projections are affine, so the
mean of the projected tokens equals the projection of the mean, at M/N of the cost.

``W_out`` starts at zero, so an untrained SEP computes exactly what SDPT computes with the
same tokens (tested); unlike SDPT's, its prompts differ per image.
"""
from typing import Optional, Sequence, Tuple

import torch
from mmdet.models.utils.vlfuse_helper import BiMultiHeadAttention
from torch import Tensor, nn
from torch.nn import functional as F

from ..registry import TUNERS
from .adapter_choice import chosen, switched_off
from .sdpt import (STREAMS, SDPT, UnifiedPrototypeTokens, _extend_mask, _unpack,
                   valid_tokens)

SOURCES = ('image', 'text')


def pooled_tokens(tokens: Tensor, valid: Optional[Tensor], num: int) -> Tuple[Tensor, Tensor]:
    """Means of ``num`` contiguous groups of a (B, N, C) token sequence, as adaptive average
    pooling draws them, over the valid tokens only (``valid``: (B, N) bool, or None).

    Returns the (B, num, C) means and a (B, num) bool: the group holds no valid token.
    """
    x = tokens.transpose(1, 2)  # (B, C, N)
    if valid is None:
        means = F.adaptive_avg_pool1d(x, num)
        return means.transpose(1, 2), means.new_zeros(means.shape[0], num, dtype=torch.bool)
    w = valid.to(x.dtype).unsqueeze(1)  # (B, 1, N)
    # mean over valid tokens = mean(x w) / mean(w), both over the same group
    share = F.adaptive_avg_pool1d(w, num)  # (B, 1, num)
    means = F.adaptive_avg_pool1d(x * w, num) / share.clamp_min(torch.finfo(x.dtype).tiny)
    return means.transpose(1, 2), share[:, 0] == 0



class TokenFusion(nn.Module):
    """SEP's Token Fusion Module: the K learnable tokens (queries) attend to the selected
    pretrained tokens (keys, values) in a narrow ``dim``-wide space; the zero-initialised
    output Linear maps the result back to D.

    Args:
        embed_dim (int): D, the aligned space of tokens and selected tokens.
        dim (int): inner width of the attention (split over ``heads``).
        heads (int): attention heads.
    """

    def __init__(self, embed_dim: int, dim: int = 64, heads: int = 4):
        super().__init__()
        if dim % heads:
            raise ValueError(f'SEP dim ({dim}) must be divisible by heads ({heads})')
        self.heads = heads
        self.query = nn.Linear(embed_dim, dim, bias=False)
        self.key = nn.Linear(embed_dim, dim, bias=False)
        self.value = nn.Linear(embed_dim, dim, bias=False)
        self.out = nn.Linear(dim, embed_dim)
        nn.init.zeros_(self.out.weight)  # P' = P at the start: SEP begins as SDPT
        nn.init.zeros_(self.out.bias)

    def forward(self, tokens: Tensor, selected: Tensor, empty: Tensor,
                weights: Optional[dict] = None) -> Tensor:
        """tokens (K, D), selected (B, M, D), empty (B, M) bool (ignore) -> (B, K, D).

        ``weights``: each image's own tensors of this module (a served model, one adapter
        per image: {'query.weight': (B, dim, D), ...}); then ``tokens`` is (B, K, D)."""
        bsz, m, _ = selected.shape
        h = self.heads
        if weights is None:
            k = tokens.size(0)
            q = self.query(tokens).view(1, k, h, -1).transpose(1, 2).expand(bsz, -1, -1, -1)
            key, value = self.key(selected), self.value(selected)
        else:
            k = tokens.size(1)
            q = torch.bmm(tokens, weights['query.weight'].transpose(1, 2))
            q = q.view(bsz, k, h, -1).transpose(1, 2)
            key = torch.bmm(selected, weights['key.weight'].transpose(1, 2))
            value = torch.bmm(selected, weights['value.weight'].transpose(1, 2))
        key = key.view(bsz, m, h, -1).transpose(1, 2)  # (B, h, M, d)
        value = value.view(bsz, m, h, -1).transpose(1, 2)
        # a sample whose groups are all empty (cannot happen with real inputs) attends to
        # all of them rather than to none (a softmax over nothing is NaN)
        empty = empty & ~empty.all(dim=1, keepdim=True)
        keep = ~empty[:, None, None, :]  # (B, 1, 1, M): True = may attend
        fused = F.scaled_dot_product_attention(q, key.to(q.dtype), value.to(q.dtype),
                                               attn_mask=keep)  # (B, h, K, d)
        fused = fused.transpose(1, 2).reshape(bsz, k, -1)
        if weights is None:
            return self.out(fused)
        return torch.baddbmm(weights['out.bias'][:, None], fused,
                             weights['out.weight'].transpose(1, 2))


class SelfEnhancedPrompts(UnifiedPrototypeTokens):
    """SDPT's unified tokens of one fusion layer, enhanced per sample by that layer's own
    input tokens (SEP), and inserted into both streams of the attention.

    Attached as ``<attention>.sep``; parameters ``tokens`` (K, D) and ``fusion.*``.
    """

    def __init__(self, num_tokens: int, embed_dim: int, init: str = 'uniform',
                 mask: str = 'paper', streams: Sequence[str] = STREAMS,
                 num_selected: int = 8, sources: Sequence[str] = ('image',),
                 dim: int = 64, heads: int = 4):
        super().__init__(num_tokens, embed_dim, init, mask, streams)
        self.num_selected = num_selected
        self.sources = tuple(s for s in SOURCES if s in sources)
        self.fusion = TokenFusion(embed_dim, dim, heads)

    def selected_tokens(self, attn: BiMultiHeadAttention, vision: Tensor, lang: Tensor,
                        mask_v: Optional[Tensor], mask_l: Optional[Tensor]):
        """(B, M x len(sources), D) representative pretrained tokens in the aligned space,
        and which of them are empty groups (padding only)."""
        picked, empty = [], []
        for source, tokens, mask, proj in (('image', vision, mask_v, attn.v_proj),
                                           ('text', lang, mask_l, attn.l_proj)):
            if source in self.sources:
                means, none = pooled_tokens(tokens, valid_tokens(mask), self.num_selected)
                picked.append(proj(means))  # frozen projection: pooled first, exact
                empty.append(none)
        return torch.cat(picked, dim=1), torch.cat(empty, dim=1)

    # served per image (mmdet_sdpt.serving): its own tensors, each image's from the banks
    bank_names = ('tokens', 'fusion.query.weight', 'fusion.key.weight', 'fusion.value.weight',
                  'fusion.out.weight', 'fusion.out.bias')

    def enhanced_tokens(self, attn: BiMultiHeadAttention, vision: Tensor, lang: Tensor,
                        mask_v: Optional[Tensor], mask_l: Optional[Tensor]) -> Tensor:
        """P' = P + TFM(P, S): (B, K, D) in fp32 (P and the TFM each image's own when a
        served model chose an adapter per image)."""
        selected, empty = self.selected_tokens(attn, vision, lang, mask_v, mask_l)
        rows = chosen(self, 'tokens')  # (B, K, D) or None
        if rows is None:
            delta = self.fusion(self.tokens.to(selected.dtype), selected, empty)
            return self.tokens.float() + delta.float()
        weights = {name[len('fusion.'):]: chosen(self, name).to(selected.dtype)
                   for name in self.bank_names[1:]}
        delta = self.fusion(rows.to(selected.dtype), selected, empty, weights)
        return rows.float() + delta.float()

    def insert(self, attn: BiMultiHeadAttention, args: tuple, kwargs: dict):
        """forward pre-hook: as SDPT's, with each sample's own self-enhanced prompts."""
        if switched_off(self):
            return None
        vision, lang, mask_v, mask_l = _unpack(args, kwargs)
        bsz, k = vision.size(0), self.num_tokens
        tokens = self.enhanced_tokens(attn, vision, lang, mask_v, mask_l)  # (B, K, D)
        if 'image' in self.streams:
            x_v = self.project(attn.v_proj, 'v_proj', tokens)  # (B, K, v_dim)
            vision = torch.cat([vision, x_v.to(vision.dtype)], dim=1)
            if mask_v is not None:  # Grounding DINO's padding mask: prompts are not padding
                mask_v = _extend_mask(mask_v, k, visible=True)
        if 'text' in self.streams:
            x_l = self.project(attn.l_proj, 'l_proj', tokens)  # (B, K, l_dim)
            if mask_l is None and self.mask == 'reference':
                mask_l = torch.ones(bsz, lang.size(1), dtype=torch.long, device=lang.device)
            lang = torch.cat([lang, x_l.to(lang.dtype)], dim=1)
            if mask_l is not None:
                mask_l = _extend_mask(mask_l, k, visible=self.mask == 'paper')
        return (vision, lang), dict(attention_mask_v=mask_v, attention_mask_l=mask_l)

    serves_prompts = False  # its prompts depend on the sample: its tensors are banked

    def prompts_for(self, attn: BiMultiHeadAttention):
        raise NotImplementedError('SEP prompts depend on the sample: see insert()')

    def extra_repr(self) -> str:
        return (super().extra_repr() + f', num_selected={self.num_selected}, '
                f'sources={self.sources}')


@TUNERS.register_module()
class SEP(SDPT):
    """SEP's self-enhanced prompts at every prompted fusion layer (see the module doc).

    Args:
        num_tokens, layers, init, mask, streams: as SDPT's (unified tokens, inverse
            projection into the chosen streams).
        num_selected (int): M, pretrained tokens selected per source (group means).
        sources (list[str]): whose tokens enhance the prompts: 'image' (the visual tokens
            through the frozen v_proj) and/or 'text' (the text tokens through l_proj).
        dim (int): inner width of the token fusion's cross-attention.
        heads (int): its attention heads.
    """

    method = 'SEP'
    module_name = 'sep'

    def __init__(self, num_tokens: int = 8, layers='all', init: str = 'uniform',
                 mask: str = 'paper', streams: Sequence[str] = STREAMS,
                 num_selected: int = 8, sources: Sequence[str] = ('image',),
                 dim: int = 64, heads: int = 4):
        super().__init__(num_tokens, layers, init, mask, streams)
        if not sources or set(sources) - set(SOURCES):
            raise ValueError(f'SEP sources must be a non-empty subset of {SOURCES}, '
                             f'got {sources!r}')
        if num_selected < 1:
            raise ValueError(f'SEP num_selected must be >= 1, got {num_selected}')
        if dim < 1 or heads < 1 or dim % heads:
            raise ValueError(f'SEP dim ({dim}) must be a positive multiple of heads ({heads})')
        self.num_selected = int(num_selected)
        self.sources = tuple(s for s in SOURCES if s in sources)
        self.dim = int(dim)
        self.heads = int(heads)

    def make_prompts(self, attn: BiMultiHeadAttention, index: int) -> SelfEnhancedPrompts:
        return SelfEnhancedPrompts(self.num_tokens, attn.embed_dim, self.init, self.mask,
                                   self.streams, self.num_selected, self.sources, self.dim,
                                   self.heads)

    def describe(self, detector: nn.Module) -> dict:
        return dict(super().describe(detector), num_selected=self.num_selected,
                    sources=list(self.sources), dim=self.dim, heads=self.heads)
