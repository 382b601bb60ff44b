"""GLIP's ``linear_prob`` tuning mode: only the detector's final predictors train.

GLIP (``tools/finetune.py``, ``SOLVER.TUNING_HIGHLEVEL_OVERRIDE linear_prob``) freezes
everything except a whitelist of head tensors: bbox_pred, cls_logits, centerness,
cosine_scale, dot_product_projection_text, head.log_scale, head.bias_lang, head.bias0. In
mmdet's ``VLFusionModule`` (``bbox_head.head``) those are the six names below: mmdet has no
``cls_logits`` or ``cosine_scale`` there (classification is the dot product with the text
tokens), and its per-level ``scales`` are not in GLIP's list, so they stay frozen.

Nothing is injected: the tuned tensors are base tensors, so their names are mmdet's.
"""
from typing import List

from torch import nn

from ..registry import TUNERS
from .base_tuner import BaseTuner

HEAD = 'bbox_head.head'
# GLIP's whitelist as mmdet names them (modules: weight + bias; the rest: bare tensors)
WHITELIST = ('bbox_pred', 'centerness', 'dot_product_projection_text', 'log_scale',
             'bias_lang', 'bias0')


@TUNERS.register_module()
class LinearProbe(BaseTuner):
    """GLIP's ``linear_prob``: ``bbox_head.head.{bbox_pred, centerness,
    dot_product_projection_text, log_scale, bias_lang, bias0}`` train, all else is frozen."""

    method = 'linear_prob'
    tunes_base_tensors = True

    def __init__(self):
        self._tuned: List[str] = []  # names of the tuned tensors, found at inject

    def inject(self, detector: nn.Module) -> None:
        # Nothing to add; check the whitelist exists, or the freeze would silently train
        # nothing (e.g. on a detector without GLIP's fusion head).
        self._tuned = [n for n, _ in detector.named_parameters() if self.trainable(n)]
        found = {n[len(HEAD) + 1:].split('.')[0] for n in self._tuned}
        missing = [w for w in WHITELIST if w not in found]
        if missing:
            raise ValueError(
                f'LinearProbe needs GLIP\'s head tensors {HEAD}.{{{", ".join(WHITELIST)}}}, '
                f'but {type(detector).__name__} lacks {missing}: it applies to mmdet\'s GLIP '
                '(ATSSVLFusionHead) only.')

    def trainable(self, name: str) -> bool:
        return any(name == f'{HEAD}.{w}' or name.startswith(f'{HEAD}.{w}.')
                   for w in WHITELIST)

    def describe(self, detector: nn.Module) -> dict:
        # No knobs: what a checkpoint must match is the set of tuned tensors.
        return dict(method=self.method, tensors=list(self._tuned))
