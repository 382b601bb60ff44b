"""A new tuner in one file: K learnable text-side prefix tokens (see README.md beside it).

Every text feature h of mmdet's ``BertModel`` attends to K learnable prefix tokens (keys
P_k, values P_v, as prefix tuning adds them to an attention) and adds what it reads:
``h + softmax(h P_k^T / sqrt(d)) P_v``, at the real (unpadded) token positions only. The text
keeps its length: GLIP's token-level targets are sized to the prompt's token positions, so
tokens appended to the sequence would not fit the head's loss. P_v starts at zero: the tuned
detector starts exactly at the base. Load it with
``custom_imports=dict(imports=['mmdet_sdpt', 'projects.new_tuner.prefix_tokens'])``.

What the rest of the toolbox asks of a tuner, all answered here (nothing in ``mmdet_sdpt``
names this tuner):

- serving many adapters on one base (``TunedInferencer``, ``AdapterBank``): the module's
  ``bank_names``, read back per image with ``chosen``;
- ``init='prototype'`` (``PrototypeInitHook``): the tuner's ``prototype_sites``, here the keys
  from k-means prototypes of the text features the keys are compared with;
- the prefix cache (``model.prefix_cache``): nothing to declare; the module sits in the
  language model, so the cache sees a tuner module before its cut and refuses the model.
"""
import math
from typing import List, Optional, Sequence

import torch
from torch import nn

from mmdet_sdpt.models import BaseTuner
from mmdet_sdpt.models.prototype_guard import PrototypeSite, await_prototype_init
from mmdet_sdpt.models.adapter_choice import chosen, switched_off
from mmdet_sdpt.models.tuner_module import TunerModule
from mmdet_sdpt.registry import TUNERS

# the tensors: language_model.prefix_tokens.keys / .values
ATTACH, NAME = 'language_model', 'prefix_tokens'


class PrefixTokens(TunerModule):
    """keys (K, d), values (K, d); called by a forward hook on the language model."""

    bank_names = ('keys', 'values')  # served per image: each image reads its adapter's rows

    def __init__(self, num_tokens: int, dim: int):
        super().__init__()
        self.keys = nn.Parameter(torch.randn(num_tokens, dim) * 0.02)  # distinct tokens
        self.values = nn.Parameter(torch.zeros(num_tokens, dim))  # zeros: exactly the base
        self.enabled = True

    def forward(self, feats: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """``feats`` (B, N, d) plus what they read from the tokens, at valid positions.
        A module call (not a plain method), so hooks (prototype init) see its input."""
        if switched_off(self):
            return feats
        keys, values = chosen(self, 'keys'), chosen(self, 'values')  # (B, K, d) or None
        if keys is None:
            keys, values = self.keys[None], self.values[None]
        attn = torch.softmax(feats @ keys.transpose(1, 2).to(feats.dtype)
                             / math.sqrt(feats.size(-1)), dim=-1)
        return feats + (attn @ values.to(feats.dtype)) * valid.unsqueeze(-1).to(feats.dtype)

    def hook(self, language_model: nn.Module, args, output: dict):
        """Forward hook on the language model: a new output dict (the base's is kept)."""
        valid = output.get('text_token_mask', output['masks'])  # (B, N) real tokens
        return dict(output, embedded=self(output['embedded'], valid),
                    hidden=self(output['hidden'], valid))


@TUNERS.register_module()
class TextPrefixTokens(BaseTuner):
    """K learnable prefix tokens on the text side only; 2 x K x lang_dim trainable."""

    method = 'text_prefix_tokens'

    def __init__(self, num_tokens: int = 8, init: str = 'random'):
        if init not in ('random', 'prototype'):
            raise ValueError(f"TextPrefixTokens init is 'random' or 'prototype', not {init!r}")
        self.num_tokens = num_tokens
        self.init = init

    def inject(self, detector: nn.Module) -> None:
        lm = getattr(detector, ATTACH)
        dim = lm.language_backbone.body.model.config.hidden_size  # BERT's width
        prefix = PrefixTokens(self.num_tokens, dim)
        lm.add_module(NAME, prefix)  # a submodule: saved, moved to the GPU, wrapped by DDP
        lm.register_forward_hook(prefix.hook)
        if self.init == 'prototype':  # PrototypeInitHook sets the keys before training
            await_prototype_init(self, detector)

    def prototype_sites(self, detector: nn.Module,
                        sources: Optional[Sequence[str]] = None) -> List[PrototypeSite]:
        """The keys, from k-means prototypes of the text features they are compared with
        (the module's input, real tokens only)."""
        module = detector.get_submodule(f'{ATTACH}.{NAME}')
        return [PrototypeSite(f'{ATTACH}.{NAME}.keys', module.keys, module,
                              lambda args, kwargs: [(args[0], args[1].bool(), None)])]

    def trainable(self, name: str) -> bool:
        return name.startswith(f'{ATTACH}.{NAME}.')

    def describe(self, detector: nn.Module) -> dict:
        """What an adapter checkpoint records and must match to be loaded on a model."""
        keys = detector.get_submodule(f'{ATTACH}.{NAME}').keys
        return dict(method=self.method, num_tokens=keys.size(0), lang_dim=keys.size(1))
