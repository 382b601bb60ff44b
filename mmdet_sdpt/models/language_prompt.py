"""GLIP's ``language_prompt_v2`` tuning mode ("prompt tuning" in the GLIP paper).

GLIP adds a zero-initialised, learnable offset per token position to the language model's
output before fusion, to both the ``embedded`` and the ``hidden`` text features, and trains
nothing else (``SOLVER.TUNING_HIGHLEVEL_OVERRIDE language_prompt_v2``, LR 0.05, weight
decay 0.25). GLIP sizes the offset 1000 x lang_dim and slices it to the sequence length;
mmdet's BERT wrapper never returns more than ``max_tokens`` (256) positions, so rows beyond
that could never act or receive a gradient: we size it ``max_tokens`` x lang_dim.
"""

import torch
from torch import Tensor, nn

from ..registry import TUNERS
from .base_tuner import BaseTuner
from .adapter_choice import chosen, switched_off
from .tuner_module import TunerModule

ATTACH = 'language_model'
NAME = 'prompt_v2'


class TokenOffset(TunerModule):
    """A (max_tokens, lang_dim) offset added to the language model's text features.

    Attached as ``language_model.prompt_v2`` and applied by a forward hook on the language
    model, so mmdet's ``BertModel`` runs unmodified.
    """

    def __init__(self, max_tokens: int, lang_dim: int):
        super().__init__()
        # zeros, as GLIP: the tuned model starts exactly at the frozen one
        self.offset = nn.Parameter(torch.zeros(max_tokens, lang_dim))
        self.enabled = True  # False: the text features are the base's

    bank_names = ('offset', )  # served per image (mmdet_sdpt.serving)

    def add(self, features: Tensor) -> Tensor:
        """``features`` (B, N, lang_dim) plus the offset of positions 0..N-1 (each image's
        own offset when a served model chose an adapter per image)."""
        n = features.size(1)
        if n > self.offset.size(0):
            raise ValueError(f'{n} text tokens exceed the prompt offset\'s '
                             f'{self.offset.size(0)} positions (language_model.max_tokens)')
        rows = chosen(self, 'offset')  # (B, max_tokens, lang_dim) or None
        offset = self.offset[:n] if rows is None else rows[:, :n]
        return features + offset.to(features.dtype)

    def hook(self, language_model: nn.Module, args, output: dict) -> dict:
        """forward hook: a new dict (the frozen model's is left as it was)."""
        if switched_off(self):
            return None
        output = dict(output)
        output['embedded'] = self.add(output['embedded'])
        output['hidden'] = self.add(output['hidden'])
        return output

    def extra_repr(self) -> str:
        return f'max_tokens={self.offset.size(0)}, lang_dim={self.offset.size(1)}'


def _lang_dim(language_model: nn.Module) -> int:
    # mmdet's BertModel -> language_backbone.body (BertEncoder) -> model (HF BertModel)
    return language_model.language_backbone.body.model.config.hidden_size


@TUNERS.register_module()
class LanguagePromptV2(BaseTuner):
    """GLIP's ``language_prompt_v2``: a zero-initialised per-position offset on the text
    features (``embedded`` and ``hidden``) of ``language_model``; everything else frozen.
    Trainable: ``max_tokens`` x lang_dim (256 x 768 = 196,608 on GLIP-T)."""

    method = 'language_prompt_v2'

    def inject(self, detector: nn.Module) -> None:
        lm = getattr(detector, ATTACH, None)
        if lm is None or not hasattr(lm, 'max_tokens'):
            raise ValueError(f'LanguagePromptV2 needs a detector with mmdet\'s BertModel as '
                             f'`{ATTACH}`; {type(detector).__name__} has none.')
        prompt = TokenOffset(lm.max_tokens, _lang_dim(lm))
        lm.add_module(NAME, prompt)
        lm.register_forward_hook(prompt.hook)

    def trainable(self, name: str) -> bool:
        return name.startswith(f'{ATTACH}.{NAME}.')

    def describe(self, detector: nn.Module) -> dict:
        prompt = getattr(detector, ATTACH).get_submodule(NAME)
        max_tokens, lang_dim = prompt.offset.shape
        return dict(method=self.method, max_tokens=max_tokens, lang_dim=lang_dim,
                    module=f'{ATTACH}.{NAME}')
