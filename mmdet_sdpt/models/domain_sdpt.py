"""Domain-aware SDPT: Fed-DPT's domain-aware dual prompts (Wei et al., *Dual Prompt Tuning
for Domain-Aware Federated Learning*), adapted to SDPT in a grounding detector.

What is Fed-DPT's: prompts split into a part every client shares and a part per domain,
learned by the clients that hold that domain; at inference an image weights the domains by
the similarity of its features to each domain's key (Fed-DPT: attention of the image's
CLIP feature over domain prompts) and mixes their prompts.

What is adapted for detection: the prompts are SDPT's unified prototype tokens of each
fusion layer (``num_shared`` shared rows + ``num_domain`` rows per domain, all mapped into
both streams by SDPT's inverse projections); a domain's key is the mean of the layer's own
image-stream input (the visual tokens entering the fusion attention) over the domain's
training images, kept as a running mean while its sites train; an image's weights are
``softmax(cos(mean visual token, key_d) / temperature)`` over the domains that have a key,
per layer; a site trains with its own domain's rows only (``train_domain``).
"""
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from mmdet.models.utils.vlfuse_helper import BiMultiHeadAttention
from torch import Tensor, nn

from ..registry import TUNERS
from .adapter_choice import chosen, choosing_rows, switched_off
from .sdpt import SDPT, UnifiedPrototypeTokens, _initialised, _unpack, valid_tokens

PER_DOMAIN = ('domain_tokens', 'domain_keys', 'key_counts')


class DomainPrototypeTokens(UnifiedPrototypeTokens):
    """One fusion layer's shared tokens (``tokens``: (num_shared, D)), per-domain tokens
    (``domain_tokens``: (N, num_domain, D)) and domain keys (``domain_keys``: (N, v_dim),
    ``key_counts``: (N,) images seen)."""

    serves_prompts = False  # an image's prompts depend on the image
    bank_names = ('tokens', ) + PER_DOMAIN

    def __init__(self, num_shared: int, num_domain: int, num_domains: int,
                 attn: BiMultiHeadAttention, init: str, mask: str, streams: Sequence[str],
                 temperature: float):
        self.num_shared, self.num_domain, self.num_domains = num_shared, num_domain, num_domains
        self.temperature = temperature
        self._v_dim = attn.v_dim
        super().__init__(num_shared + num_domain, attn.embed_dim, init, mask, streams)
        self.train_domain: Optional[int] = None
        self._weights: Optional[Tensor] = None

    def init_tokens(self, embed_dim: int, init: str) -> None:
        self.tokens = nn.Parameter(_initialised(torch.empty(self.num_shared, embed_dim), init))
        self.domain_tokens = nn.Parameter(_initialised(
            torch.empty(self.num_domains, self.num_domain, embed_dim), init))
        self.register_buffer('domain_keys', torch.zeros(self.num_domains, self._v_dim))
        self.register_buffer('key_counts', torch.zeros(self.num_domains))

    def _own(self, name: str, batch: int) -> Tensor:
        """(B, *shape) of tensor ``name``: each image's adapter's when a served model chose
        adapters per image, else this module's own for every image."""
        rows = chosen(self, name) if choosing_rows() else None
        own = getattr(self, name)
        return rows if rows is not None else own[None].expand(batch, *own.shape)

    def domain_weights(self, vision: Tensor, mask_v: Optional[Tensor]) -> Tensor:
        """(B, N) weights of the domains for each image of the batch."""
        batch = vision.size(0)
        if self.train_domain is not None:
            weights = vision.new_zeros(batch, self.num_domains, dtype=torch.float)
            weights[:, self.train_domain] = 1.0
            return weights
        valid = valid_tokens(mask_v)
        feats = vision.detach().float()
        if valid is None:
            mean = feats.mean(1)
        else:
            valid = valid.to(feats.dtype).unsqueeze(-1)
            mean = (feats * valid).sum(1) / valid.sum(1).clamp(min=1)
        keys, counts = self._own('domain_keys', batch), self._own('key_counts', batch)
        sims = F.cosine_similarity(mean[:, None], keys.float(), dim=-1)  # (B, N)
        sims = sims.masked_fill(counts <= 0, float('-inf'))
        no_key = (counts <= 0).all(1, keepdim=True)  # no domain has a key yet: uniform
        sims = torch.where(no_key, torch.zeros_like(sims), sims)
        return torch.softmax(sims / self.temperature, dim=1)

    @torch.no_grad()
    def _update_key(self, vision: Tensor, mask_v: Optional[Tensor]) -> None:
        valid = valid_tokens(mask_v)
        feats = vision.detach().float()
        means = feats.mean(1) if valid is None else (
            (feats * valid[..., None]).sum(1) / valid.sum(1, keepdim=True).clamp(min=1))
        d, count = self.train_domain, self.key_counts[self.train_domain]
        total = count + means.size(0)
        self.domain_keys[d] = (self.domain_keys[d] * count + means.sum(0)) / total
        self.key_counts[d] = total

    def insert(self, attn: BiMultiHeadAttention, args: tuple, kwargs: dict):
        if switched_off(self):
            return None
        vision, _, mask_v, _ = _unpack(args, kwargs)
        if self.training and self.train_domain is not None:
            self._update_key(vision, mask_v)
        self._weights = self.domain_weights(vision, mask_v)
        return super().insert(attn, args, kwargs)

    def mixed_tokens(self, weights: Tensor) -> Tensor:
        """(B, K, D) aligned-space tokens: shared rows, then the domains' rows mixed."""
        batch = weights.size(0)
        shared = self._own('tokens', batch)
        domain = torch.einsum('bn,bnkd->bkd', weights.to(shared.dtype),
                              self._own('domain_tokens', batch))
        return torch.cat([shared, domain], dim=1)

    def current_prompts(self, attn: BiMultiHeadAttention):
        tokens = self.mixed_tokens(self._weights)
        return (self.project(attn.v_proj, 'v_proj', tokens) if 'image' in self.streams
                else None,
                self.project(attn.l_proj, 'l_proj', tokens) if 'text' in self.streams
                else None)

    def prompts_for(self, attn: BiMultiHeadAttention):
        """Prompts with the domains weighted equally (what no image chose)."""
        weights = self.tokens.new_full((1, self.num_domains), 1.0 / self.num_domains)
        tokens = self.mixed_tokens(weights)[0]
        return (self.project(attn.v_proj, 'v_proj', tokens) if 'image' in self.streams
                else None,
                self.project(attn.l_proj, 'l_proj', tokens) if 'text' in self.streams
                else None)

    def extra_repr(self) -> str:
        return (f'num_shared={self.num_shared}, num_domain={self.num_domain}, '
                f'domains={self.num_domains}, mask={self.mask}, streams={self.streams}')


@TUNERS.register_module()
class DomainAwareSDPT(SDPT):
    """SDPT with shared and per-domain prototype tokens (see the module docstring).

    Args:
        domains (list[str]): the federation's domains, in order (their rows and keys).
        num_shared (int): shared tokens per prompted fusion layer.
        num_domain (int): tokens per domain per prompted fusion layer.
        temperature (float): of the softmax over the domains' key similarities.
        train_domain (str, optional): the domain a site trains (its rows only, its key
            updated); None at test time (every image mixes the domains).
        **kwargs: SDPT's (layers, init, mask, streams).
    """

    method = 'DomainAwareSDPT'

    def __init__(self, domains: Sequence[str], num_shared: int = 4, num_domain: int = 4,
                 temperature: float = 0.1, train_domain: Optional[str] = None, **kwargs):
        if kwargs.get('init') == 'prototype' or kwargs.get('projection', 'inverse') != 'inverse':
            raise ValueError('DomainAwareSDPT: init=prototype and projection=none are not '
                             'supported (use SDPT for those)')
        super().__init__(num_tokens=num_shared + num_domain, **kwargs)
        self.domains = list(domains)
        if not self.domains or len(set(self.domains)) != len(self.domains):
            raise ValueError(f'DomainAwareSDPT domains must be distinct names, got {domains}')
        if train_domain is not None and train_domain not in self.domains:
            raise ValueError(
                f'site domain {train_domain!r} is not one of the tuner\'s domains '
                f'{self.domains}: add it to model.tuner.domains (the domain-aware configs read '
                'FED_DOMAINS) so that it has rows of its own.')
        self.num_shared, self.num_domain = int(num_shared), int(num_domain)
        self.temperature = float(temperature)
        self.train_domain = train_domain

    def make_prompts(self, attn: BiMultiHeadAttention, index: int) -> DomainPrototypeTokens:
        module = DomainPrototypeTokens(self.num_shared, self.num_domain, len(self.domains),
                                       attn, self.init, self.mask, self.streams,
                                       self.temperature)
        if self.train_domain is not None:
            module.train_domain = self.domains.index(self.train_domain)
        return module

    @staticmethod
    def per_domain_tensor(name: str) -> bool:
        """Whether tensor ``name`` has one row per domain (merged per domain, not averaged)."""
        return name.rsplit('.', 1)[-1] in PER_DOMAIN

    def describe(self, detector: nn.Module) -> dict:
        # the temperature is left out: it only weighs the domains at test time, so an adapter
        # may be tested at another one (--cfg-options model.tuner.temperature=...)
        return dict(super().describe(detector), domains=list(self.domains),
                    num_shared=self.num_shared, num_domain=self.num_domain)

    def prototype_sites(self, detector, sources=None):
        raise NotImplementedError('DomainAwareSDPT has no prototype initialisation')
