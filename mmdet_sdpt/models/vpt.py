"""VPT: Visual Prompt Tuning (Jia et al., ECCV 2022) in the Swin backbone of GLIP.

VPT prepends K learnable tokens P to the input sequence of a frozen transformer block
(VPT-deep: a new set at every block; VPT-shallow: at the first block), the block runs over
[patch tokens; P] (norm1 included) and the prompts' outputs are discarded. VPT's Swin
variant lets every window attend to the same K prompts, with zero relative-position bias
and no shifted-window mask on them.

mmdet's ``WindowMSA`` cannot take extra tokens (its relative-position bias and mask are
N x N), so the prompts enter as exactly what they are to the patch tokens: K extra keys and
values shared by every window (per head, s = the attention's scale)::

    k_p, v_p = qkv(norm1(P))                                   (K, C) each
    A = softmax([q k^T s + bias + mask,  q k_p^T s])           (.., N, N + K), jointly
    out = proj(A[..., :N] v + A[..., N:] v_p)

through three hooks on ``WindowMSA``'s own submodules, no copy of its forward: ``qkv``
(keep q, compute k_p and v_p), ``softmax`` (joint softmax over N + K; the N patch columns go
on, the K prompt columns are kept) and ``proj`` (add the prompt columns times v_p). The patch
tokens' outputs are VPT's; the prompts' own outputs (their queries) are never computed, as
VPT-deep discards them anyway.

Deviation, VPT-shallow: VPT carries the first block's prompt outputs through all later
blocks. Without prompt queries that is not available, so ``deep=False`` here means prompts in
the first Swin block only (later blocks see none).
"""
import math
import threading
from typing import List, Optional, Sequence

import torch
from mmdet.models.backbones.swin import SwinBlock, WindowMSA
from torch import Tensor, nn
from torch.nn import functional as F

from ..registry import TUNERS
from .base_tuner import BaseTuner
from .prototype_guard import PrototypeSite, await_prototype_init
from .adapter_choice import chosen, switched_off
from .tuner_module import TunerModule

NAME = 'vpt'  # the prompt module's attribute on each prompted WindowMSA
INITS = ('uniform', 'normal', 'zeros', 'prototype')


class SwinPromptTokens(TunerModule):
    """The K x C prompts of one Swin block, attached as ``<block>.attn.w_msa.vpt``.

    Args:
        num_tokens (int): K.
        norm (nn.Module): the block's ``norm1`` (the prompts pass through it, as in VPT);
            kept as a reference, not a submodule, so the base's names stay unique.
        w_msa (WindowMSA): the block's window attention.
        init (str): see :class:`VPT`.
        fan_in (int): VPT's init fan-in, 3 x patch height x patch width.
        dropout (float): dropout on the prompts while training (VPT's prompt dropout).
    """

    def __init__(self, num_tokens: int, norm: nn.Module, w_msa: WindowMSA,
                 init: str = 'uniform', fan_in: int = 48, dropout: float = 0.0):
        super().__init__()
        self.tokens = nn.Parameter(
            _initialised(torch.empty(num_tokens, w_msa.embed_dims), init, fan_in))
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self._block = (norm, w_msa)  # a tuple is no submodule
        # what one WindowMSA forward passes from hook to hook, per thread (a server's
        # threads run forwards at once)
        self._stash = {}
        self.enabled = True  # False: the attention computes what the base computes

    bank_names = ('tokens', )  # served per image (mmdet_sdpt.serving)

    @property
    def num_tokens(self) -> int:
        return self.tokens.size(0)

    # -- hooks on the WindowMSA's submodules, in the order they run ----------------------
    def keep_query(self, qkv: nn.Linear, args: tuple, out: Tensor) -> None:
        """forward hook of ``qkv``: keep q (scaled as WindowMSA scales it) and compute the
        prompts' keys and values with the same frozen ``norm1`` and ``qkv``."""
        self._stash.pop(threading.get_ident(), None)
        if switched_off(self):
            return
        norm, w_msa = self._block
        heads, c = w_msa.num_heads, w_msa.embed_dims
        b, n = out.shape[:2]
        q = out[..., :c].reshape(b, n, heads, c // heads).transpose(1, 2) * w_msa.scale
        rows = chosen(self, 'tokens')  # (B, K, C): each image's own (a served model)
        if rows is None:
            kv = F.linear(norm(self.dropout(self.tokens)), qkv.weight, qkv.bias)  # (K, 3C)
            k_p, v_p = kv[:, c:].reshape(-1, 2, heads, c // heads).permute(1, 2, 0, 3)
        else:  # (b, h, K, d): an image's windows lie together (window_partition)
            if b % rows.size(0):
                raise RuntimeError(f'VPT per image: {b} windows for {rows.size(0)} images')
            kv = F.linear(norm(rows), qkv.weight, qkv.bias)  # (B, K, 3C)
            kv = kv.repeat_interleave(b // rows.size(0), 0)
            k_p, v_p = kv[..., c:].reshape(b, -1, 2, heads, c // heads).permute(2, 0, 3, 1, 4)
        # q (b, h, N, d); k_p, v_p (h, K, d) or (b, h, K, d)
        self._stash[threading.get_ident()] = dict(q=q, k=k_p, v=v_p)

    def joint_softmax(self, softmax: nn.Module, args: tuple, out: Tensor) -> Tensor:
        """forward hook of ``softmax``: normalise over the N patch and K prompt keys
        together (the prompts get no relative-position bias and no mask)."""
        stash = self._stash.get(threading.get_ident())
        if stash is None:
            return None
        attn = args[0]  # (b, h, N, N): logits + bias (+ shifted-window mask)
        prompt_logits = (stash['q'] @ stash['k'].transpose(-2, -1)).to(attn.dtype)
        joint = torch.softmax(torch.cat([attn, prompt_logits], dim=-1), dim=-1)
        n = attn.size(-1)
        stash['attn'] = joint[..., n:]  # (b, h, N, K)
        return joint[..., :n]

    def add_prompt_values(self, proj: nn.Linear, args: tuple):
        """forward pre-hook of ``proj``: add the prompt columns' share, A_p v_p."""
        stash = self._stash.pop(threading.get_ident(), None)
        if stash is None or 'attn' not in stash:
            return None
        x = args[0]  # (b, N, C): attn @ v with heads merged
        attn = self._block[1].attn_drop(stash['attn'])  # identity in eval (frozen) mode
        extra = (attn @ stash['v'].to(attn.dtype)).transpose(1, 2).reshape(x.shape)
        return (x + extra.to(x.dtype), ) + tuple(args[1:])

    def extra_repr(self) -> str:
        return f'num_tokens={self.num_tokens}, embed_dims={self.tokens.size(1)}'


def attach_prompts(block: SwinBlock, num_tokens: int, init: str = 'uniform',
                   fan_in: int = 48, dropout: float = 0.0) -> SwinPromptTokens:
    """Attach K prompts to one mmdet ``SwinBlock`` (as ``block.attn.w_msa.vpt``)."""
    w_msa = block.attn.w_msa
    prompts = SwinPromptTokens(num_tokens, block.norm1, w_msa, init, fan_in,
                               dropout).to(w_msa.qkv.weight.device)
    w_msa.add_module(NAME, prompts)
    w_msa.qkv.register_forward_hook(prompts.keep_query)
    w_msa.softmax.register_forward_hook(prompts.joint_softmax)
    w_msa.proj.register_forward_pre_hook(prompts.add_prompt_values)
    return prompts


@torch.no_grad()
def _initialised(tokens: Tensor, init: str, fan_in: int) -> Tensor:
    # VPT's init: uniform(-v, v), v = sqrt(6 / (3 x patch area + C)), xavier-like
    bound = math.sqrt(6.0 / (fan_in + tokens.size(1)))
    if init in ('uniform', 'prototype'):  # 'prototype': placeholders, see PrototypeInitHook
        return tokens.uniform_(-bound, bound)
    if init == 'normal':  # the same variance as 'uniform'
        return tokens.normal_(0.0, bound / math.sqrt(3.0))
    if init == 'zeros':  # all prompts then start equal: norm1(0) is norm1's bias
        return tokens.zero_()
    raise ValueError(f'VPT init must be one of {INITS}, got {init!r}')


def swin_blocks(detector: nn.Module) -> List[str]:
    """Paths of every mmdet ``SwinBlock`` of the detector, in forward order."""
    return [n for n, m in detector.named_modules() if isinstance(m, SwinBlock)]


def _patch_fan_in(detector: nn.Module, default: int = 48) -> int:
    """3 x patch height x patch width of the Swin patch embedding (48 for 4 x 4 patches)."""
    for module in detector.modules():
        projection = getattr(getattr(module, 'patch_embed', None), 'projection', None)
        if isinstance(projection, nn.Conv2d):
            return projection.weight[0].numel()
    return default


@TUNERS.register_module()
class VPT(BaseTuner):
    """Visual prompts in the Swin backbone's window attention; everything else frozen.

    Args:
        num_tokens (int): K prompts per prompted Swin block (0: nothing is injected).
        deep (bool): prompts in every Swin block (VPT-deep) or in the first only (shallow;
            see the module docstring for how it differs from VPT's).
        init (str): 'uniform' (VPT's xavier-like uniform, default), 'normal' (same
            variance), 'zeros', or 'prototype' (SPT: k-means prototypes of the blocks'
            input tokens on the first training images, set by ``PrototypeInitHook``).
        dropout (float): dropout on the prompts while training (not recorded in
            checkpoints: it does not change what trained prompts compute).

    Trainable = K x sum of the prompted blocks' widths. GLIP-T (Swin-T, 2-2-6-2 blocks of
    96, 192, 384, 768), K = 8: deep 8 x 4,416 = 35,328 (0.015% of 231,759,662), shallow
    8 x 96 = 768 (0.0003%); K = 22 would match SDPT's 98,304 (97,152).
    """

    method = 'VPT'

    def __init__(self, num_tokens: int = 8, deep: bool = True, init: str = 'uniform',
                 dropout: float = 0.0):
        if num_tokens < 0:
            raise ValueError(f'VPT num_tokens must be >= 0, got {num_tokens}')
        if init not in INITS:
            raise ValueError(f'VPT init must be one of {INITS}, got {init!r}')
        self.num_tokens = int(num_tokens)
        self.deep = bool(deep)
        self.init = init
        self.dropout = dropout
        self.prompted: List[str] = []  # paths of the prompted Swin blocks
        self.needs_prototype_init = False

    def inject(self, detector: nn.Module) -> None:
        blocks = swin_blocks(detector)
        if not blocks:
            raise ValueError(f'VPT needs a Swin backbone (mmdet SwinTransformer), but '
                             f'{type(detector).__name__} has no SwinBlock.')
        if self.num_tokens == 0:
            return
        self.prompted = blocks if self.deep else blocks[:1]
        fan_in = _patch_fan_in(detector)
        for path in self.prompted:
            attach_prompts(detector.get_submodule(path), self.num_tokens, self.init, fan_in,
                           self.dropout)
        if self.init == 'prototype':
            await_prototype_init(self, detector)

    def trainable(self, name: str) -> bool:
        return f'.{NAME}.' in name

    def describe(self, detector: nn.Module) -> dict:
        dims = {}
        for path in self.prompted:
            w_msa = detector.get_submodule(path).attn.w_msa
            dims[path] = [w_msa.embed_dims, w_msa.num_heads]
        return dict(method=self.method, num_tokens=self.num_tokens, deep=self.deep,
                    blocks=list(self.prompted), dims=dims)

    def prototype_sites(self, detector: nn.Module,
                        sources: Optional[Sequence[str]] = None) -> List[PrototypeSite]:
        """Per prompted Swin block, the block's input tokens (``norm1``'s input): the
        prompts pass through the frozen ``norm1`` themselves, so they live in its input
        space. ``sources`` is SDPT's and ignored here."""
        params = dict(detector.named_parameters())
        return [PrototypeSite(f'{path}.attn.w_msa.{NAME}.tokens',
                              params[f'{path}.attn.w_msa.{NAME}.tokens'],
                              detector.get_submodule(path).norm1,
                              lambda args, kwargs: [(args[0], None, None)])
                for path in self.prompted]

    def fingerprint_names(self, detector: nn.Module) -> List[str]:
        # the prompts' keys and values come from exactly these frozen tensors
        own = [f'{p}.{t}' for p in self.prompted
               for t in ('norm1.weight', 'norm1.bias', 'attn.w_msa.qkv.weight')]
        return super().fingerprint_names(detector) + own


def prompt_modules(detector: nn.Module) -> Sequence[SwinPromptTokens]:
    return [m for m in detector.modules() if isinstance(m, SwinPromptTokens)]
