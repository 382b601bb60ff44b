"""A new tuner in one file: K learnable text-side prefix tokens (see README.md beside it).

Every text feature h of mmdet's ``BertModel`` attends to K learnable prefix tokens (keys
P_k, values P_v, as prefix tuning adds them to an attention) and adds what it reads:
``h + softmax(h P_k^T / sqrt(d)) P_v``, at the real (unpadded) token positions only. The text
keeps its length: GLIP's token-level targets are sized to the prompt's token positions, so
tokens appended to the sequence would not fit the head's loss. P_v starts at zero: the tuned
detector starts exactly at the base. Load it with
``custom_imports=dict(imports=['mmdet_sdpt', 'projects.new_tuner.prefix_tokens'])``.
"""
import contextlib
import math

import torch
from torch import nn

from mmdet_sdpt.models import BaseTuner
from mmdet_sdpt.registry import TUNERS

# the tensors: language_model.prefix_tokens.keys / .values
ATTACH, NAME = 'language_model', 'prefix_tokens'


class PrefixTokens(nn.Module):
    is_tuner_module = True  # TunedDetector: its tensors are the tuner's, not the base's

    def __init__(self, num_tokens: int, dim: int):
        super().__init__()
        self.keys = nn.Parameter(torch.randn(num_tokens, dim) * 0.02)  # distinct tokens
        self.values = nn.Parameter(torch.zeros(num_tokens, dim))  # zeros: exactly the base
        self.enabled = True

    def read(self, feats: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        attn = torch.softmax(feats @ self.keys.t() / math.sqrt(feats.size(-1)), dim=-1)
        return feats + (attn @ self.values) * valid.unsqueeze(-1).to(feats.dtype)

    def hook(self, language_model: nn.Module, args, output: dict):
        """Forward hook on the language model: a new output dict (the base's is kept)."""
        if not self.enabled:
            return None
        valid = output.get('text_token_mask', output['masks'])  # (B, N) real tokens
        return dict(output, embedded=self.read(output['embedded'], valid),
                    hidden=self.read(output['hidden'], valid))


@TUNERS.register_module()
class TextPrefixTokens(BaseTuner):
    """K learnable prefix tokens on the text side only; 2 x K x lang_dim trainable."""

    method = 'text_prefix_tokens'

    def __init__(self, num_tokens: int = 8):
        self.num_tokens = num_tokens

    def inject(self, detector: nn.Module) -> None:
        lm = getattr(detector, ATTACH)
        dim = lm.language_backbone.body.model.config.hidden_size  # BERT's width
        prefix = PrefixTokens(self.num_tokens, dim)
        lm.add_module(NAME, prefix)  # a submodule: saved, moved to the GPU, wrapped by DDP
        lm.register_forward_hook(prefix.hook)

    def trainable(self, name: str) -> bool:
        return name.startswith(f'{ATTACH}.{NAME}.')

    def describe(self, detector: nn.Module) -> dict:
        """What an adapter checkpoint records and must match to be loaded on a model."""
        keys = detector.get_submodule(f'{ATTACH}.{NAME}').keys
        return dict(method=self.method, num_tokens=keys.size(0), lang_dim=keys.size(1))

    @contextlib.contextmanager
    def disabled(self, detector: nn.Module):
        """The base detector inside the block (zero-shot), whatever the tokens learned."""
        prefix = detector.get_submodule(f'{ATTACH}.{NAME}')
        prefix.enabled = False
        try:
            yield
        finally:
            prefix.enabled = True
