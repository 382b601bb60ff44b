"""BitFit (Ben Zaken et al., ACL 2022): only the bias terms of the model train.

A bias term here is every parameter named ``*.bias`` (Linear, conv, LayerNorm, GroupNorm
biases) inside the chosen top-level parts of the detector. GLIP's own head scalars
``bias_lang`` / ``bias0`` (the text-dependent logit bias) are not ``*.bias`` tensors and stay
frozen: they belong to GLIP's linear probe (``LinearProbe``), not to BitFit.

Nothing is injected: the tuned tensors are base tensors, so their names are mmdet's.
"""
from typing import List, Sequence

from torch import nn

from ..registry import TUNERS
from .base_tuner import BaseTuner


@TUNERS.register_module()
class BitFit(BaseTuner):
    """Train the ``*.bias`` parameters of ``parts`` (top-level children of the detector).

    Args:
        parts (list[str]): which parts' biases train; default GLIP's four:
            'backbone', 'neck', 'bbox_head' (fusion, DyHead, head BERT layers, predictors)
            and 'language_model' (BERT).
    """

    method = 'BitFit'
    tunes_base_tensors = True

    def __init__(self, parts: Sequence[str] = ('backbone', 'neck', 'bbox_head',
                                               'language_model')):
        if isinstance(parts, str):
            parts = (parts, )
        self.parts = sorted(set(parts))
        if not self.parts:
            raise ValueError('BitFit parts must name at least one part of the detector')
        self._tuned: List[str] = []

    def inject(self, detector: nn.Module) -> None:
        # Nothing to add. An unknown part would silently train nothing: refuse it.
        children = [n for n, _ in detector.named_children()]
        unknown = [p for p in self.parts if p not in children]
        if unknown:
            raise ValueError(f'BitFit parts {unknown} are not parts of '
                             f'{type(detector).__name__} (it has {children})')
        self._tuned = [n for n, _ in detector.named_parameters() if self.trainable(n)]

    def trainable(self, name: str) -> bool:
        return name.endswith('.bias') and name.split('.', 1)[0] in self.parts

    def describe(self, detector: nn.Module) -> dict:
        return dict(method=self.method, parts=list(self.parts), num_tensors=len(self._tuned))
