"""SDPT: Synchronous Dual Prompt Tuning (Zhou, Wu et al., ECCV 2024).

One set of learnable *unified prototype tokens* P (K x D) per prompted fusion layer lives in
the fusion attention's aligned space (D = embed_dim of mmdet's ``BiMultiHeadAttention``).
Training-free inverse linear projections map P into both input streams of that attention:

    X_v = (P - b_v) pinv(W_v^T)      (K, v_dim)   from the frozen ``v_proj``
    X_l = (P - b_l) pinv(W_l^T)      (K, l_dim)   from the frozen ``l_proj``

X_v is appended to the visual tokens and X_l to the text tokens given to the attention
(after the block's layer norms), the text mask grows by K entries, and the K prompt rows are
cut from both outputs, so every later module sees the shapes the detector expects.
"""
import copy
import math
import re
from typing import Dict, List, Optional, Sequence, Union

import torch
from mmdet.models.utils.vlfuse_helper import BiMultiHeadAttention
from torch import Tensor, nn

from ..registry import TUNERS
from .base_tuner import BaseTuner
from .prototype_guard import PrototypeSite, await_prototype_init
from .adapter_choice import chosen, choosing_rows, switched_off
from .tuner_module import TunerModule, default_bank_rows

MASK_VARIANTS = ('paper', 'reference')
INITS = ('uniform', 'normal', 'xavier', 'zeros', 'prototype')
STREAMS = ('image', 'text')
PROJECTIONS = ('inverse', 'none')


@torch.no_grad()
def inverse_projection(linear: nn.Linear) -> Tensor:
    """Moore-Penrose pseudo-inverse of a Linear's weight, ``pinv(W^T)`` of shape (D, d).

    Computed in fp32 with autocast off: a half-precision pinv is unreliable.
    """
    weight = linear.weight.detach().float()  # (D, d)
    with torch.autocast(device_type=weight.device.type, enabled=False):
        return torch.linalg.pinv(weight.t())


class UnifiedPrototypeTokens(TunerModule):
    """The K x D prompt of one fusion layer and its insertion into that layer's attention.

    Attached as ``<attention>.sdpt`` and driven by forward hooks on the attention module, so
    mmdet's ``BiMultiHeadAttention`` runs unmodified on the lengthened sequences.

    Args:
        num_tokens (int): K.
        embed_dim (int): D, the attention's aligned space.
        init (str): 'uniform' (U(-1, 1), as the reference code), 'normal', 'xavier' or 'zeros'.
        mask (str): value of the K text-side prompt rows in the text mask. 'paper': visible
            (both prompts interact with both modalities); 'reference': hidden, as the
            authors' code pads with zeros (the text-side prompts are then inert).
    """

    def __init__(self, num_tokens: int, embed_dim: int, init: str = 'uniform',
                 mask: str = 'paper', streams: Sequence[str] = STREAMS):
        super().__init__()
        if mask not in MASK_VARIANTS:
            raise ValueError(f'SDPT mask must be one of {MASK_VARIANTS}, got {mask!r}')
        self.num_tokens = num_tokens
        self.mask = mask
        self.streams = tuple(streams)
        self.init_tokens(embed_dim, init)
        self.enabled = True  # False: the attention runs as if there were no prompts
        # pinv cache per projection: (key of the frozen weight it came from, pinv)
        self._pinv = {}

    def init_tokens(self, embed_dim: int, init: str) -> None:
        self.tokens = nn.Parameter(_initialised(torch.empty(self.num_tokens, embed_dim), init))

    # A served model (mmdet_sdpt.serving) keeps, per adapter, the prompts this module
    # appends (they depend on its own tensors only): banks 'image' / 'text' of (K, dim) rows.
    # A subclass whose prompts depend on the sample sets False and names its bank_names.
    serves_prompts = True

    @property
    def banked(self) -> bool:
        return self.serves_prompts or bool(self.bank_names)

    def bank_rows(self, state: Dict[str, Tensor], prefix: str,
                  parent: nn.Module) -> Dict[str, Tensor]:
        """{stream: (K, dim) fp32} prompts this module appends with the adapter's tensors
        (computed by a copy of the module: the model's own is not touched); with
        ``serves_prompts`` False, the tensors of ``bank_names``."""
        if not self.serves_prompts:
            return default_bank_rows(self, state, prefix)
        twin = copy.deepcopy(self)
        twin.load_state_dict({k[len(prefix):]: v for k, v in state.items()
                              if k.startswith(prefix)})
        with torch.no_grad():
            prompts = twin.prompts_for(parent)
        return {side: x.float() for side, x in zip(STREAMS, prompts) if x is not None}

    def prompts_for(self, attn: BiMultiHeadAttention):
        """(X_v or None, X_l or None), (K, dim) in fp32, for the streams this module
        prompts."""
        x_v = self.project(attn.v_proj, 'v_proj') if 'image' in self.streams else None
        x_l = self.project(attn.l_proj, 'l_proj') if 'text' in self.streams else None
        return x_v, x_l

    def current_prompts(self, attn: BiMultiHeadAttention):
        """This forward's prompts: each image's (B, K, dim) rows of its adapter when a
        served model chose adapters per image, else :meth:`prompts_for`."""
        if not choosing_rows():
            return self.prompts_for(attn)
        return tuple(chosen(self, side) if side in self.streams else None
                     for side in STREAMS)

    def project(self, linear: nn.Linear, slot: str, tokens: Optional[Tensor] = None) -> Tensor:
        """``(P - b) pinv(W^T)``: the tokens (default: this module's K x D; any (..., D)
        aligned-space tokens) mapped into ``linear``'s input space, in fp32."""
        # The pinv depends only on the frozen weight: cache it, and recompute only when the
        # weight changes. Loading a checkpoint copies into it in place (bumps _version);
        # moving the model gives it new storage (new data_ptr, device).
        weight = linear.weight
        key = (weight.data_ptr(), weight._version, weight.device)
        if slot not in self._pinv or self._pinv[slot][0] != key:
            self._pinv[slot] = (key, inverse_projection(linear))
        pinv = self._pinv[slot][1]
        bias = linear.bias.detach().float() if linear.bias is not None else 0.0
        with torch.autocast(device_type=pinv.device.type, enabled=False):
            return ((self.tokens if tokens is None else tokens).float() - bias) @ pinv

    # -- hooks on the attention module -------------------------------------------------
    def insert(self, attn: BiMultiHeadAttention, args: tuple, kwargs: dict):
        """forward pre-hook: append the prompts to both streams and extend the masks."""
        if switched_off(self):
            return None
        vision, lang, mask_v, mask_l = _unpack(args, kwargs)
        bsz, k = vision.size(0), self.num_tokens
        x_v, x_l = self.current_prompts(attn)  # (K or B x K, v_dim), (K or B x K, l_dim)
        if x_v is not None:
            vision = torch.cat([vision, x_v.to(vision.dtype).expand(bsz, k, -1)], dim=1)
            if mask_v is not None:  # Grounding DINO's padding mask: prompts are not padding
                mask_v = _extend_mask(mask_v, k, visible=True)
        if x_l is not None:
            if mask_l is None and self.mask == 'reference':
                mask_l = torch.ones(bsz, lang.size(1), dtype=torch.long, device=lang.device)
            lang = torch.cat([lang, x_l.to(lang.dtype).expand(bsz, k, -1)], dim=1)
            if mask_l is not None:
                mask_l = _extend_mask(mask_l, k, visible=self.mask == 'paper')
        return (vision, lang), dict(attention_mask_v=mask_v, attention_mask_l=mask_l)

    def strip(self, attn: BiMultiHeadAttention, args, kwargs, outputs):
        """forward hook: the K prompt rows never leave the attention."""
        if switched_off(self):
            return None
        out_v, out_l = outputs
        k = self.num_tokens
        return (out_v[:, :-k] if 'image' in self.streams else out_v,
                out_l[:, :-k] if 'text' in self.streams else out_l)

    def extra_repr(self) -> str:
        return f'num_tokens={self.num_tokens}, mask={self.mask}, streams={self.streams}'


class IndependentDualPrompts(UnifiedPrototypeTokens):
    """The ablation without the inverse projection (the reference's ``vpt_only -3``):
    independent learnable image-side (K, v_dim) and text-side (K, l_dim) prompts at the
    same insertion point, nothing tying the two together."""

    def __init__(self, num_tokens: int, attn: BiMultiHeadAttention, init: str = 'uniform',
                 mask: str = 'paper', streams: Sequence[str] = STREAMS):
        self._dims = dict(image=attn.v_dim, text=attn.l_dim)
        super().__init__(num_tokens, attn.embed_dim, init, mask, streams)

    def init_tokens(self, embed_dim: int, init: str) -> None:
        for side in self.streams:
            param = _initialised(torch.empty(self.num_tokens, self._dims[side]), init)
            self.register_parameter(f'{side}_tokens', nn.Parameter(param))

    def prompts_for(self, attn: BiMultiHeadAttention):
        return (self.image_tokens.float() if 'image' in self.streams else None,
                self.text_tokens.float() if 'text' in self.streams else None)


@torch.no_grad()
def _initialised(tokens: Tensor, init: str) -> Tensor:
    if init in ('uniform', 'prototype'):  # 'prototype': placeholders, see PrototypeInitHook
        return tokens.uniform_(-1.0, 1.0)
    if init == 'normal':
        return tokens.normal_(0.0, 1.0)
    if init == 'xavier':
        return nn.init.xavier_uniform_(tokens)
    if init == 'zeros':
        return tokens.zero_()
    raise ValueError(f'SDPT init must be one of {INITS}, got {init!r}')


def _unpack(args: tuple, kwargs: dict):
    names = ('vision', 'lang', 'attention_mask_v', 'attention_mask_l')
    bound = dict(zip(names, args))
    bound.update(kwargs)
    return (bound['vision'], bound['lang'], bound.get('attention_mask_v'),
            bound.get('attention_mask_l'))


def _extend_mask(mask: Tensor, k: int, visible: bool) -> Tensor:
    """Append K columns to a (B, N) mask in the mask's own convention.

    mmdet's fusion masks come in two conventions: GLIP's integer text mask (1 = valid token)
    and Grounding DINO's bool masks (True = padding).
    """
    if mask.dtype == torch.bool:
        value = not visible
    else:
        value = 1 if visible else 0
    pad = mask.new_full((mask.size(0), k), value)
    return torch.cat([mask, pad], dim=1)


def valid_tokens(mask: Optional[Tensor]) -> Optional[Tensor]:
    """(B, N) bool, True = a real token, from either fusion mask convention (GLIP's integer
    text mask, 1 = valid; Grounding DINO's bool masks, True = padding)."""
    if mask is None:
        return None
    return ~mask if mask.dtype == torch.bool else mask != 0


def fusion_attentions(detector: nn.Module) -> List[str]:
    """Paths of every ``BiMultiHeadAttention`` in the detector, in forward order."""
    return [n for n, m in detector.named_modules() if isinstance(m, BiMultiHeadAttention)]


@TUNERS.register_module()
class SDPT(BaseTuner):
    """Synchronous Dual Prompt Tuning on every detector that fuses through mmdet's
    ``BiMultiHeadAttention`` (GLIP, Grounding DINO, MM-Grounding-DINO).

    Args:
        num_tokens (int): K, unified prototype tokens per prompted fusion layer.
        layers ('all' | list[int]): which fusion layers carry prompts, as indices into the
            detector's fusion layers in forward order (negative indices count from the last).
        init (str): token initialisation: 'uniform' (reference), 'normal', 'xavier', 'zeros',
            'prototype' (SPT: k-means prototypes of v_proj(visual tokens), PrototypeInitHook).
        mask (str): 'paper' (default; text-side prompts visible to image queries) or
            'reference' (the authors' code: text-side prompts masked out, inert).
        streams (list[str]): which token streams receive prompts: both (SDPT), or only
            'image' / only 'text' (ablations).
        projection (str): 'inverse' (SDPT: one set of unified tokens in the aligned space,
            mapped to both streams by pseudo-inverses) or 'none' (ablation: independent
            learnable image- and text-side prompts, the reference's ``vpt_only -3``).
        extra_trainable (list[str]): regular expressions (``re.search``) of base parameter
            names that train as well (the reference README's recipe); empty in the paper.
    """

    method = 'SDPT'
    # name under which each prompted attention holds its prompt module (``<attn>.sdpt``);
    # subclasses that insert other prompt modules at the same point use their own name
    module_name = 'sdpt'

    def __init__(self, num_tokens: int = 8, layers: Union[str, Sequence[int]] = 'all',
                 init: str = 'uniform', mask: str = 'paper',
                 streams: Sequence[str] = STREAMS, projection: str = 'inverse',
                 extra_trainable: Sequence[str] = ()):
        if not streams or set(streams) - set(STREAMS):
            raise ValueError(f'SDPT streams must be a non-empty subset of {STREAMS}, '
                             f'got {streams!r}')
        if projection not in PROJECTIONS:
            raise ValueError(f'SDPT projection must be one of {PROJECTIONS}, '
                             f'got {projection!r}')
        if mask not in MASK_VARIANTS:
            raise ValueError(f"SDPT mask must be one of {MASK_VARIANTS}, got {mask!r}")
        if init not in INITS:
            raise ValueError(f'SDPT init must be one of {INITS}, got {init!r}')
        if num_tokens < 0:
            raise ValueError(f'SDPT num_tokens must be >= 0, got {num_tokens}')
        self.num_tokens = int(num_tokens)
        self.layers = layers if layers == 'all' else [int(i) for i in layers]
        self.init = init
        self.mask = mask
        self.streams = tuple(s for s in STREAMS if s in streams)
        self.projection = projection
        self.extra_trainable = tuple(extra_trainable)
        self._extra = [re.compile(p) for p in self.extra_trainable]
        self.prompted: List[str] = []  # paths of the prompted attention modules
        self.fusion_layers: List[str] = []

    def _resolve_layers(self, detector: nn.Module) -> List[str]:
        found = fusion_attentions(detector)
        if not found:
            raise ValueError(
                f'SDPT needs a detector with vision-language fusion layers '
                f'(mmdet BiMultiHeadAttention), but {type(detector).__name__} has none. '
                'GLIP-T(A) (early_fuse=False) has no fusion layers: use GLIP-T(B), (C), '
                'GLIP-T or GLIP-L, or set bbox_head.early_fuse=True.')
        self.fusion_layers = found
        if self.layers == 'all':
            return found
        bad = [i for i in self.layers if not -len(found) <= i < len(found)]
        if bad:
            raise ValueError(f'SDPT layers {bad} out of range: the detector has '
                             f'{len(found)} fusion layers (indices 0..{len(found) - 1}).')
        return [found[i] for i in sorted({i % len(found) for i in self.layers})]

    def inject(self, detector: nn.Module) -> None:
        paths = self._resolve_layers(detector)
        self.prompted = paths if self.num_tokens > 0 else []
        for index, path in enumerate(self.prompted):
            attn = detector.get_submodule(path)
            prompts = self.make_prompts(attn, index)
            attn.add_module(self.module_name, prompts)
            attn.register_forward_pre_hook(prompts.insert, with_kwargs=True)
            attn.register_forward_hook(prompts.strip, with_kwargs=True)
        if self.init == 'prototype' and self.prompted:
            await_prototype_init(self, detector)

    def make_prompts(self, attn: BiMultiHeadAttention, index: int) -> UnifiedPrototypeTokens:
        """The prompt module of the ``index``-th prompted layer (subclasses: their own
        ``UnifiedPrototypeTokens`` subclass, which says what to append to each stream)."""
        if self.projection == 'inverse':
            return UnifiedPrototypeTokens(self.num_tokens, attn.embed_dim, self.init,
                                          self.mask, self.streams)
        return IndependentDualPrompts(self.num_tokens, attn, self.init, self.mask,
                                      self.streams)

    def trainable(self, name: str) -> bool:
        return f'.{self.module_name}.' in name or any(p.search(name) for p in self._extra)

    def describe(self, detector: nn.Module) -> dict:
        dims = {}
        for path in self.prompted:
            attn = detector.get_submodule(path)
            dims[path] = [attn.v_dim, attn.l_dim, attn.embed_dim]
        return dict(method=self.method, num_tokens=self.num_tokens, mask=self.mask,
                    streams=list(self.streams), projection=self.projection,
                    layers=list(self.prompted), dims=dims,
                    extra_trainable=list(self.extra_trainable))

    def fingerprint_names(self, detector: nn.Module) -> List[str]:
        # the inverse projections depend on exactly these frozen tensors
        own = [f'{p}.{lin}.{t}' for p in self.fusion_layers for lin in ('v_proj', 'l_proj')
               for t in ('weight', 'bias')]
        return super().fingerprint_names(detector) + own

    def prototype_sites(self, detector: nn.Module,
                        sources: Optional[Sequence[str]] = None) -> List[PrototypeSite]:
        """Per prompted fusion layer, its attention's input: unified tokens from the aligned
        space D (``v_proj`` of the visual tokens and/or ``l_proj`` of the text tokens,
        padding excluded), independent prompts (``projection='none'``) each from its raw
        stream.

        Args:
            sources: with the inverse projection, which tokens' aligned features:
                ('image',), ('text',) or both (pooled). Default: the visual tokens if the
                image stream is prompted, else the text tokens.
        """
        if sources is None:
            sources = ('image', ) if 'image' in self.streams else ('text', )
        bad = set(sources) - {'image', 'text'}
        if bad or not sources:
            raise ValueError(f"prototype sources must be a non-empty subset of ('image', "
                             f"'text'), got {sources!r}")
        params = dict(detector.named_parameters())
        sites = []
        for path in self.prompted:
            attn = detector.get_submodule(path)
            prefix = f'{path}.{self.module_name}.'
            if prefix + 'tokens' in params:  # unified tokens in the aligned space D
                sites.append(PrototypeSite(prefix + 'tokens', params[prefix + 'tokens'], attn,
                                           _aligned_streams(attn, tuple(sources))))
            elif prefix + 'image_tokens' in params or prefix + 'text_tokens' in params:
                for side in self.streams:  # independent prompts: each from its stream
                    sites.append(PrototypeSite(prefix + f'{side}_tokens',
                                               params[prefix + f'{side}_tokens'], attn,
                                               _raw_streams(side)))
            else:
                raise NotImplementedError(
                    f'prototype init does not know the prompts of {type(self).__name__} at '
                    f'{prefix[:-1]}: it initialises tensors named tokens, image_tokens or '
                    'text_tokens.')
        return sites

    @staticmethod
    def budget(total_params: int, fraction: float, embed_dim: int) -> int:
        """layers x K that gives ``fraction`` of ``total_params`` (e.g. 0.0004 of GLIP-T)."""
        return math.floor(total_params * fraction / embed_dim)


def _aligned_streams(attn: nn.Module, sources: Sequence[str]):
    def streams(args, kwargs):
        vision, lang, mask_v, mask_l = _unpack(args, kwargs)
        found = []
        if 'image' in sources:
            found.append((vision, valid_tokens(mask_v), attn.v_proj))
        if 'text' in sources:
            found.append((lang, valid_tokens(mask_l), attn.l_proj))
        return found

    return streams


def _raw_streams(side: str):
    def streams(args, kwargs):
        vision, lang, mask_v, mask_l = _unpack(args, kwargs)
        return [(vision, valid_tokens(mask_v), None) if side == 'image' else
                (lang, valid_tokens(mask_l), None)]

    return streams


def prompt_modules(detector: nn.Module) -> List[UnifiedPrototypeTokens]:
    return [m for m in detector.modules() if isinstance(m, UnifiedPrototypeTokens)]


def round_trip_error(detector: nn.Module) -> Optional[dict]:
    """Relative error of v_proj(X_v) and l_proj(X_l) against P, averaged over layers.

    A property of the method (d < D: each side keeps only the part of P in its projection's
    image), reported by the trainable-parameter table, not a bug.
    """
    errs = {'image': [], 'text': []}
    with torch.no_grad():
        for m in detector.modules():
            prompts = getattr(m, 'sdpt', None)
            if isinstance(m, BiMultiHeadAttention) and type(prompts) is UnifiedPrototypeTokens:
                p = m.sdpt.tokens.float()
                for side, slot in (('image', 'v_proj'), ('text', 'l_proj')):
                    lin = getattr(m, slot)
                    back = nn.functional.linear(m.sdpt.project(lin, slot),
                                                lin.weight.float(), lin.bias.float())
                    errs[side].append(((back - p).norm() / p.norm().clamp_min(1e-12)).item())
    if not errs['image']:
        return None
    return {k: sum(v) / len(v) for k, v in errs.items()}
