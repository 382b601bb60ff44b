"""Where the prefix ends, per detector family, and how it is captured and served."""
import contextlib
from typing import TYPE_CHECKING, Dict

from torch import nn

from ..models.tuner_module import is_tuner_module
from .session import _serve_feats_with, _serve_with, _served_lang, _session_of

if TYPE_CHECKING:
    from .cache import PrefixCache


class PrefixCacheError(RuntimeError):
    """The prefix cache cannot serve this model: a tensor before its cut trains."""


class _Captured(Exception):
    """Raised by the capture hook once the prefix's state is known: nothing further runs."""

    def __init__(self, state: dict):
        super().__init__('prefix state captured')
        self.state = state



# -- where the prefix ends, per detector family ---------------------------------------
def _holds_tuned(module: nn.Module) -> bool:
    return (any(p.requires_grad for p in module.parameters())
            or any(is_tuner_module(m) for m in module.modules()))


class PrefixCut:
    """How one detector family's prefix is cut, captured and served.

    Subclasses set ``self.cut`` and ``self.prefix`` ({name: module or parameter} that run
    before the cut) and implement the capture hooks and the serving overrides.
    """

    def __init__(self, detector: nn.Module):
        self.detector = detector
        self.cut = 0
        self.prefix: Dict[str, nn.Module] = {}
        self._listed = None

    def describe_cut(self) -> str:
        raise NotImplementedError

    def _parts(self):
        """(parameters, modules, buffers) of the prefix, listed once: checked every call."""
        if getattr(self, '_listed', None) is None:
            params, modules, buffers = [], [], []
            for part in self.prefix.values():
                if isinstance(part, nn.Parameter):
                    params.append(part)
                else:
                    params += list(part.parameters())
                    modules += list(part.modules())
                    buffers += list(part.buffers())
            self._listed = (params, modules, buffers)
        return self._listed

    def check(self) -> None:
        """Refuse a prefix that trains or is in training mode (its state would change)."""
        params, modules, _ = self._parts()
        if (any(p.requires_grad for p in params) or any(m.training for m in modules)
                or any(is_tuner_module(m) for m in modules)):
            self._refuse()

    def _refuse(self) -> None:
        tuner = getattr(self.detector, 'tuner', None)
        method = getattr(tuner, 'method', None) or type(tuner).__name__
        trained, training = [], []
        for name, part in self.prefix.items():
            if isinstance(part, nn.Parameter):
                trained += [name] if part.requires_grad else []
                continue
            trained += [f'{name}.{n}' for n, p in part.named_parameters() if p.requires_grad]
            trained += [f'{name}.{n}' if n else name for n, m in part.named_modules()
                        if is_tuner_module(m)]
            training += [f'{name}.{n}' if n else name for n, m in part.named_modules()
                         if m.training]
        if trained:
            raise PrefixCacheError(
                f'model.prefix_cache keeps what the frozen modules before the first tuned '
                f'layer compute ({self.describe_cut()}), but the {method} tuner trains or '
                f'adds tensors there: {sorted(set(trained))[:4]} ({len(set(trained))} in '
                'all). The cache serves tuners that leave the backbone, neck and language '
                'model frozen and add nothing to them (prompts or adapters in the fusion '
                'layers or the heads); remove model.prefix_cache for this one.')
        raise PrefixCacheError(
            f'model.prefix_cache: the modules before {self.describe_cut()} must stay in '
            f'eval mode (their state is cached), but {training[:4]} are in training '
            "mode. Tuned models keep frozen modules in eval mode (TunedDetector's "
            'train()); do not switch them to training.')

    def weights_key(self) -> tuple:
        """Changes whenever a prefix tensor is written in place or replaced."""
        params, _, buffers = self._parts()
        return tuple((t.data_ptr(), t._version, t.device) for t in params + buffers)

    # capture (a miss): hooks that record the state and stop the forward with _Captured
    def capture_hooks(self, record: dict) -> list:
        raise NotImplementedError

    @contextlib.contextmanager
    def capturing(self):
        record, handles = {}, []
        try:
            handles = self.capture_hooks(record)
            yield record
        finally:
            for h in handles:
                h.remove()

    # serving (every sample known): overrides read the session's state
    def install(self, owner: 'PrefixCache') -> None:
        raise NotImplementedError


class GLIPPrefix(PrefixCut):
    """GLIP: the cut is a block of ``bbox_head.head.dyhead_tower``."""

    def __init__(self, detector: nn.Module):
        super().__init__(detector)
        self.tower = detector.bbox_head.head.dyhead_tower
        self.cut = next((i for i, block in enumerate(self.tower) if _holds_tuned(block)),
                        len(self.tower))
        self.prefix = dict(backbone=detector.backbone, neck=detector.neck,
                           language_model=detector.language_model)
        for i in range(self.cut):
            self.prefix[f'bbox_head.head.dyhead_tower.{i}'] = self.tower[i]

    def describe_cut(self) -> str:
        if self.cut == len(self.tower):
            return 'the output of bbox_head.head.dyhead_tower'
        return f'bbox_head.head.dyhead_tower.{self.cut} ({type(self.tower[self.cut]).__name__})'

    def capture_hooks(self, record: dict) -> list:
        def stop(state):
            raise _Captured(dict(visual=tuple(state['visual']), lang=dict(state['lang'])))

        if self.cut == len(self.tower):  # nothing tuned in the tower: keep its output
            return [self.tower.register_forward_hook(lambda m, a, out: stop(out))]
        return [self.tower[self.cut].register_forward_pre_hook(lambda m, args: stop(args[0]))]

    def install(self, owner: 'PrefixCache') -> None:
        # the head only counts the levels it is given; the tower gets the cached state
        _serve_feats_with(self.detector, lambda det, session, inputs: session.state['visual'])
        _serve_with(self.detector.language_model, owner, _served_lang)
        _serve_with(self.tower, owner,
                    lambda tower, session, inputs: tower[session.owner.family.cut:](inputs))


class GroundingDINOPrefix(PrefixCut):
    """Grounding DINO: the cut is an encoder layer (its fusion layer's input)."""

    def __init__(self, detector: nn.Module):
        super().__init__(detector)
        enc = detector.encoder
        if not enc.fusion_layers:
            raise PrefixCacheError('model.prefix_cache: this Grounding DINO encoder has no '
                                   'fusion layers; nothing to cut at')
        self.encoder = enc
        n = len(enc.layers)
        per_layer = [[enc.fusion_layers[i], enc.text_layers[i], enc.layers[i]]
                     for i in range(n)]
        first = next((i for i, mods in enumerate(per_layer)
                      if any(_holds_tuned(m) for m in mods)), n - 1)
        self.cut = min(first, n - 1)  # an encoder output is not a serving point (yet)
        self.prefix = dict(backbone=detector.backbone, neck=detector.neck,
                           language_model=detector.language_model,
                           level_embed=detector.level_embed)
        if detector.text_feat_map is not None:
            self.prefix['text_feat_map'] = detector.text_feat_map
        for i in range(self.cut):
            for kind in ('fusion_layers', 'text_layers', 'layers'):
                self.prefix[f'encoder.{kind}.{i}'] = getattr(enc, kind)[i]

    def describe_cut(self) -> str:
        return f'encoder layer {self.cut} (encoder.fusion_layers.{self.cut})'

    def capture_hooks(self, record: dict) -> list:
        def text(module, args, out):
            record['lang'] = dict(out)  # text_feat_map later rewrites 'embedded' in it

        def shapes(module, args, out):
            record['feat_shapes'] = [tuple(t.shape[1:]) for t in out]

        def stop(module, args, kwargs):
            raise _Captured(dict(visual=kwargs['visual_feature'], text=kwargs['lang_feature'],
                                 lang=record['lang'], feat_shapes=record['feat_shapes']))

        return [self.detector.language_model.register_forward_hook(text),
                self.detector.neck.register_forward_hook(shapes),
                self.encoder.fusion_layers[self.cut].register_forward_pre_hook(
                    stop, with_kwargs=True)]

    def install(self, owner: 'PrefixCache') -> None:
        _serve_feats_with(self.detector, _zero_maps)
        _serve_with(self.detector.language_model, owner, _served_lang)
        self.encoder._prefix_owner = owner
        self.encoder.register_forward_pre_hook(_start_at_cut, with_kwargs=True)
        for i in range(self.cut):  # the layers before the cut pass their inputs through
            _serve_with(self.encoder.fusion_layers[i], owner,
                        lambda m, s, visual_feature, lang_feature, **k: (visual_feature,
                                                                         lang_feature))
            _serve_with(self.encoder.text_layers[i], owner, lambda m, s, query, **k: query)
            _serve_with(self.encoder.layers[i], owner, lambda m, s, query, **k: query)


def _zero_maps(detector, session, batch_inputs) -> tuple:
    """Grounding DINO's ``pre_transformer`` reads only the maps' shapes (and metainfo):
    zeros of the cached shapes; its query is replaced by the cached state."""
    visual = session.state['visual']
    return tuple(visual.new_zeros((visual.size(0), ) + tuple(s))
                 for s in session.state['feat_shapes'])


def _start_at_cut(encoder, args, kwargs):
    """forward pre-hook of the encoder: the state at the cut replaces its inputs."""
    session = _session_of(encoder.__dict__.get('_prefix_owner'))
    if session is None:
        return None
    return args, dict(kwargs, query=session.state['visual'], memory_text=session.state['text'])


def prefix_cut(detector: nn.Module) -> PrefixCut:
    head = getattr(getattr(detector, 'bbox_head', None), 'head', None)
    if hasattr(head, 'dyhead_tower'):
        return GLIPPrefix(detector)
    if hasattr(getattr(detector, 'encoder', None), 'fusion_layers'):
        return GroundingDINOPrefix(detector)
    raise PrefixCacheError(f'model.prefix_cache supports GLIP and Grounding DINO; '
                           f'{type(detector).__name__} is neither')
