"""A K-template ensemble of class names for GLIP, training-free, at test time.

CLIP's prompt ensemble averages a class's text embedding over K hand-made templates ("a photo
of a {}", "a drawing of a {}", ...). GLIP has no single class embedding: it encodes the whole
caption ("ball. box. cone.") jointly and scores each region against the BERT outputs of the
class's tokens. The ensemble here keeps that: the caption is encoded once per template, with
the template around every name (mmdet's own caption prompts, ``prefix``/``suffix``), and each
class's token features are averaged over the K captions; those averages replace the class's
token features of the plain caption the detector encodes, whose token positions (and so its
class-to-token maps) stay as they are. Everything else of the model runs unchanged: K + 1
BERT passes per distinct caption, and none per image.

    custom_hooks = [dict(type='TemplateEnsembleHook')]       # in a test config
    python tools/test.py CONFIG CHECKPOINT --cfg-options \
        "custom_hooks=[dict(type='TemplateEnsembleHook')]"
"""
from typing import Dict, Sequence, Tuple

import torch
from mmdet.registry import HOOKS
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from torch import Tensor, nn

# (prefix, suffix) around each name: hand-made, in the spirit of CLIP's ensembles
TEMPLATES = (('a photo of a ', ''), ('a picture of a ', ''), ('an image of a ', ''),
             ('a ', ' in the scene'), ('a small ', ''), ('a large ', ''))
FEATURE_KEYS = ('embedded', 'hidden')  # mmdet's BERT outputs, (B, T, D) each


class TemplateEnsemble:
    """Install with ``with TemplateEnsemble(detector, templates): detector.predict(...)``.

    Args:
        detector: a GLIP detector (mmdet's ``GLIP`` or a subclass, tuned or not).
        templates: (prefix, suffix) pairs put around every class name.
    """

    def __init__(self, detector: nn.Module, templates: Sequence[Tuple[str, str]] = TEMPLATES):
        if not hasattr(detector, 'get_tokens_positive_and_prompts') or getattr(
                detector.language_model, 'use_sub_sentence_represent', False):
            raise TypeError(f'TemplateEnsemble needs a GLIP detector (one caption, one BERT '
                            f'pass); {type(detector).__name__} is not one')
        if not templates:
            raise ValueError('TemplateEnsemble needs at least one (prefix, suffix) template')
        self.detector = detector
        self.templates = [(str(p), str(s)) for p, s in templates]
        self._rows: Dict[str, Tuple[Tensor, Dict[str, Tensor]]] = {}
        self._building = False  # encoding the template captions: nothing replaced
        self._handle = None  # the language model's forward hook while installed
        self._saved_predict = None  # the detector's own predict while installed

    def __enter__(self):
        det = self.detector
        self._handle = det.language_model.register_forward_hook(self._replace)
        self._saved_predict = det.predict
        ensemble = self

        def predict(batch_inputs, batch_data_samples, rescale=True):
            ensemble.prepare(batch_data_samples)
            return ensemble._saved_predict(batch_inputs, batch_data_samples, rescale=rescale)

        det.predict = predict
        return self

    def __exit__(self, *exc):
        self._handle.remove()
        self.detector.predict = self._saved_predict
        self._handle = self._saved_predict = None
        self._rows.clear()

    def _caption(self, names, prompt=None):
        """(caption, token indices per class) as GLIP builds them for ``names``."""
        _, caption, positive_map, _ = self.detector.get_tokens_positive_and_prompts(
            list(names), True, prompt, None)
        return caption, [row.nonzero().flatten() for row in positive_map]

    def prepare(self, data_samples) -> None:
        """The averaged class token features of every distinct caption of the batch."""
        for sample in data_samples:
            if sample.get('caption_prompt') is not None:
                raise ValueError('TemplateEnsemble builds its own caption prompts; the dataset '
                                 'sets caption_prompt too: drop one of them')
            if not sample.get('custom_entities', False):
                raise ValueError('TemplateEnsemble needs class names (custom_entities=True), '
                                 'not a free caption')
        for names in dict.fromkeys(tuple(s.text) for s in data_samples):
            caption, tokens = self._caption(names)
            if caption in self._rows:
                continue
            sums = {}
            for prefix, suffix in self.templates:
                prompt = {n: dict(prefix=prefix, suffix=suffix) for n in names}
                caption_k, tokens_k = self._caption(names, prompt)
                self._building = True
                try:
                    with torch.no_grad():
                        feats = self.detector.language_model([caption_k])
                finally:
                    self._building = False
                for key in FEATURE_KEYS:
                    if key not in feats:
                        continue
                    got = []
                    for base, idx in zip(tokens, tokens_k):
                        if len(idx) != len(base):
                            raise ValueError(
                                f'template {prefix!r} ... {suffix!r} changes how a class name '
                                f'is cut into tokens ({len(base)} -> {len(idx)}): keep a space '
                                'or punctuation between the template and the name')
                        got.append(feats[key][0, idx])
                    rows = torch.cat(got)
                    sums[key] = rows if key not in sums else sums[key] + rows
            self._rows[caption] = (torch.cat(tokens), {
                key: value / len(self.templates) for key, value in sums.items()})

    def _replace(self, module, args, output):
        """forward hook on the language model: the class tokens of a known caption get the
        ensemble's features."""
        if self._building:
            return None
        captions = args[0] if args else None
        if not captions or not any(c in self._rows for c in captions):
            return None
        for key in FEATURE_KEYS:
            if key not in output:
                continue
            value = output[key].clone()
            for b, caption in enumerate(captions):
                if caption in self._rows:
                    idx, rows = self._rows[caption]
                    value[b, idx.to(value.device)] = rows[key].to(value)
            output[key] = value
        return output


@HOOKS.register_module()
class TemplateEnsembleHook(Hook):
    """Test and validate with the K-template ensemble (``TemplateEnsemble``).

    Args:
        templates: (prefix, suffix) pairs; default ``TEMPLATES``.
    """
    priority = 'VERY_LOW'

    def __init__(self, templates: Sequence[Sequence[str]] = TEMPLATES):
        self.templates = [tuple(t) for t in templates]
        if any(len(t) != 2 for t in self.templates):
            raise ValueError('TemplateEnsembleHook: each template is a (prefix, suffix) pair')
        self._ensemble = None  # installed during a test or validation

    def _enter(self, runner) -> None:
        if runner.cfg.model.get('prefix_cache') is not None:
            raise RuntimeError('TemplateEnsembleHook needs model.prefix_cache=None (the cache '
                               'keeps the plain caption\'s features): set it in the config or '
                               '--cfg-options model.prefix_cache=None')
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        self._ensemble = TemplateEnsemble(model, self.templates).__enter__()

    def _exit(self, runner) -> None:
        if self._ensemble is not None:
            self._ensemble.__exit__(None, None, None)
            self._ensemble = None

    def before_test(self, runner) -> None:
        self._enter(runner)

    def after_test(self, runner) -> None:
        self._exit(runner)

    def before_val(self, runner) -> None:
        self._enter(runner)

    def after_val(self, runner) -> None:
        self._exit(runner)
