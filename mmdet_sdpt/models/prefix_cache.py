"""Cache what the frozen prefix of a tuned detector computes (``model.prefix_cache``).

A parameter-efficient tuner trains a few tensors from some layer on; everything before that
layer (the *prefix*: Swin, FPN, BERT and, with prompts in later layers only, the first
fusion blocks) is frozen and in eval mode, so on a given image and prompt it computes the
same state at every step. Few-shot tuning feeds the same few images again and again, and
each validation runs the same prefix on the same images: this cache keeps the state the
prefix hands to the first tuned layer, per sample, and a step whose samples all hit runs
only the rest of the network.

**Where the cut is** (the first module, in forward order, that holds a trainable tensor or
a tuner module):

- GLIP: block ``c`` of ``bbox_head.head.dyhead_tower`` (VLFuse, BERT layer, DyConv per
  fusion layer); the cached state is what that block receives: the five visual levels and
  the language dict (``embedded``, ``masks``, ``hidden``). Nothing tuned in the tower
  (linear probe): the tower's output is cached, and the step runs only the box/class
  heads. The prefix is ``backbone``, ``neck``, ``language_model`` and the tower's first
  ``c`` blocks.
- Grounding DINO: encoder layer ``c`` (fusion layer, text layer, deformable layer); the
  cached state is what its fusion layer receives (visual tokens ``(N, 256)``, text tokens
  ``(T, 256)``), plus the language model's dict (masks, position ids, text token mask) and
  the feature maps' shapes. Grounding DINO's encoder loop cannot start at a layer: a cached
  step gives ``extract_feat`` zero maps of the cached shapes (``pre_transformer`` then
  recomputes padding masks, positions, spatial shapes, level starts and valid ratios, which
  depend on shapes and metainfo only), replaces the encoder's ``query`` and ``memory_text``
  by the cached state, and lets the layers before ``c`` pass their inputs through. The
  decoder always runs: it follows the encoder.

**Refusal.** Any trainable tensor or tuner module in the prefix (full fine-tuning, BitFit,
LoRA in the backbone or BERT, VPT, language_prompt_v2), or a prefix module in training
mode, stops with ``PrefixCacheError``: the cached state would be stale.

**Keys** make a hit exact: the padded image tensor the backbone receives (a hash of its
bytes: covers the image and every augmentation that changed it: flip, scale, crop,
padding), its ``img_shape`` and ``batch_input_shape`` (Grounding DINO's padding masks), the
text prompt as given (class order included), ``custom_entities``, ``caption_prompt``,
``tokens_positive`` and the mode ('loss' or 'predict': their captions may differ). With
prompts in later layers the cached state depends on the text: shuffled prompts
(``ShuffleClassPrompt``) give no hits; the hit rate is logged.

**Exactness.** A batch whose samples all miss computes its prefix as the uncached model
does and is then served from the stored copies: bit for bit in fp32. A hit on a sample
stored from a batch composed otherwise (or a partial hit, whose misses run as a smaller
batch) differs from the uncached step by the float noise of batched kernels only (the
prefix computes each sample independently: eval-mode norms, per-sample attention). With
``dtype='float16'`` the state is rounded to fp16 (relative error <= 2^-11 per value) for
hits and misses alike, so such runs stay deterministic.

**Memory**: an LRU of at most ``max_bytes``, on the CPU (``device='cpu'``, default) or the
model's device (``'same'``). The cache is cleared when any prefix tensor changes (a base
checkpoint loaded, the model moved). Under DDP every rank keeps its own cache.
"""
import contextlib
import copy
import hashlib
import threading
import types
from collections import OrderedDict
from contextvars import ContextVar
from typing import Callable, Dict, List, NamedTuple, Optional

import torch
from mmengine.logging import MessageHub, print_log
from torch import Tensor, nn

from .tuner_module import is_tuner_module

_SESSION: ContextVar = ContextVar('mmdet_sdpt_prefix_cache_session', default=None)
DTYPES = {None: None, 'float32': torch.float32, 'float16': torch.float16,
          'bfloat16': torch.bfloat16}


class PrefixCacheError(RuntimeError):
    """The prefix cache cannot serve this model: a tensor before its cut trains."""


class _Captured(Exception):
    """Raised by the capture hook once the prefix's state is known: nothing further runs."""

    def __init__(self, state: dict):
        super().__init__('prefix state captured')
        self.state = state


class _Stored(NamedTuple):
    """A stored tensor and the dtype it was computed in (restored when served)."""
    tensor: Tensor
    dtype: torch.dtype


# -- nested states: dicts, lists and tuples of tensors ----------------------------------
def _tree_map(fn: Callable, tree):
    if isinstance(tree, (Tensor, _Stored)):
        return fn(tree)
    if isinstance(tree, dict):
        return {k: _tree_map(fn, v) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return type(tree)(_tree_map(fn, v) for v in tree)
    return tree


def _tree_stack(trees: list):
    """One batched tree from per-sample trees (tensors stacked on a new first dim)."""
    first = trees[0]
    if isinstance(first, Tensor):
        return torch.stack(trees)
    if isinstance(first, dict):
        return {k: _tree_stack([t[k] for t in trees]) for k in first}
    if isinstance(first, (list, tuple)) and not isinstance(first, _Stored):
        return type(first)(_tree_stack([t[i] for t in trees]) for i in range(len(first)))
    if any(t != first for t in trees[1:]):
        raise ValueError(f'per-sample values differ: {first!r} vs others')
    return first


def _tree_bytes(tree) -> int:
    total = []
    _tree_map(lambda s: total.append(s.tensor.numel() * s.tensor.element_size()), tree)
    return sum(total)


# -- the store ------------------------------------------------------------------------
class PrefixStore:
    """An LRU of per-sample prefix states, bounded in bytes.

    Args:
        max_bytes (int): the most bytes of tensors held; the least recently used entries
            go first. An entry larger than this is used for its step and not kept.
        device (str): 'cpu' (host memory) or 'same' (the device the state was computed on).
        dtype (str, optional): None keeps the computed dtype; 'float16' / 'bfloat16' halve
            the memory (floating tensors only) at a rounding error of 2^-11 / 2^-8.
    """

    def __init__(self, max_bytes: int = 2**30, device: str = 'cpu',
                 dtype: Optional[str] = None):
        if device not in ('cpu', 'same'):
            raise ValueError(f"prefix_cache device must be 'cpu' or 'same', got {device!r}")
        if dtype not in DTYPES:
            raise ValueError(f'prefix_cache dtype must be one of {list(DTYPES)}, got {dtype!r}')
        self.max_bytes, self.device, self.dtype = int(max_bytes), device, DTYPES[dtype]
        self._entries: 'OrderedDict[str, tuple]' = OrderedDict()  # key -> (tree, bytes)
        self._lock = threading.Lock()
        self.bytes = 0
        self.hits = self.misses = self.evictions = self.bypassed = 0

    def stored_form(self, tree):
        """The per-sample state as the store keeps it (also used when it is not kept)."""
        def store(t: Tensor) -> _Stored:
            dtype = self.dtype if self.dtype is not None and t.is_floating_point() else t.dtype
            device = 'cpu' if self.device == 'cpu' else t.device
            return _Stored(t.detach().to(device=device, dtype=dtype, copy=True), t.dtype)
        return _tree_map(store, tree)

    def get(self, key: str):
        with self._lock:
            item = self._entries.get(key)
            if item is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return item[0]

    def put(self, key: str, tree) -> None:
        size = _tree_bytes(tree)
        with self._lock:
            if key in self._entries or size > self.max_bytes:
                return
            self._entries[key] = (tree, size)
            self.bytes += size
            while self.bytes > self.max_bytes:
                _, (_, freed) = self._entries.popitem(last=False)
                self.bytes -= freed
                self.evictions += 1

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.bytes = 0

    def __deepcopy__(self, memo) -> 'PrefixStore':
        """A copied model (EMA, tools) starts with an empty cache of the same settings."""
        new = copy.copy(self)
        new._entries, new._lock, new.bytes = OrderedDict(), threading.Lock(), 0
        new.hits = new.misses = new.evictions = new.bypassed = 0
        return new

    def __len__(self) -> int:
        return len(self._entries)

    def stats(self) -> dict:
        lookups = self.hits + self.misses
        return dict(hits=self.hits, misses=self.misses, entries=len(self),
                    bytes=self.bytes, max_bytes=self.max_bytes, evictions=self.evictions,
                    bypassed_batches=self.bypassed,
                    hit_rate=self.hits / lookups if lookups else 0.0)


def restore(tree, device) -> dict:
    """A per-sample stored state back in its computed dtype, on ``device``."""
    return _tree_map(lambda s: s.tensor.to(device=device, dtype=s.dtype), tree)


# -- where the prefix ends, per detector family ---------------------------------------
def _holds_tuned(module: nn.Module) -> bool:
    return (any(p.requires_grad for p in module.parameters())
            or any(is_tuner_module(m) for m in module.modules()))


class PrefixSite:
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


def _session_of(owner) -> Optional['_Session']:
    session = _SESSION.get()
    return session if session is not None and session.owner is owner else None


class _Session(NamedTuple):
    owner: 'PrefixCache'
    state: dict


# Serving overrides are instance attributes (mmdet's classes stay untouched; ``__call__``
# and its hooks run as always) made of module-level functions and plain attributes, so a
# deep copy of the model (EMA, tools) serves its own cache, not the original's.
def _served_forward(self, *args, **kwargs):
    session = _session_of(self.__dict__.get('_prefix_owner'))
    if session is None:
        return type(self).forward(self, *args, **kwargs)
    return self._prefix_serve(self, session, *args, **kwargs)


def _served_extract_feat(self, batch_inputs):
    session = _session_of(self.__dict__.get('prefix_cache'))
    if session is None:
        return type(self).extract_feat(self, batch_inputs)
    return self._prefix_serve_feats(self, session, batch_inputs)


def _serve_with(module: nn.Module, owner, serve: Callable) -> None:
    """Inside a serving session of ``owner``, ``module.forward`` returns
    ``serve(module, session, *args, **kwargs)``; elsewhere it is the module's own."""
    module._prefix_owner = owner
    module._prefix_serve = serve
    module.forward = types.MethodType(_served_forward, module)


def _serve_feats_with(detector: nn.Module, serve: Callable) -> None:
    detector._prefix_serve_feats = serve
    detector.extract_feat = types.MethodType(_served_extract_feat, detector)


def _served_lang(module, session, *args, **kwargs) -> dict:
    return dict(session.state['lang'])  # a new dict: the detector writes into it


class GLIPPrefix(PrefixSite):
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
                    lambda tower, session, inputs: tower[session.owner.site.cut:](inputs))


class GroundingDINOPrefix(PrefixSite):
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


def prefix_site(detector: nn.Module) -> PrefixSite:
    head = getattr(getattr(detector, 'bbox_head', None), 'head', None)
    if hasattr(head, 'dyhead_tower'):
        return GLIPPrefix(detector)
    if hasattr(getattr(detector, 'encoder', None), 'fusion_layers'):
        return GroundingDINOPrefix(detector)
    raise PrefixCacheError(f'model.prefix_cache supports GLIP and Grounding DINO; '
                           f'{type(detector).__name__} is neither')


# -- the cache --------------------------------------------------------------------------
def sample_key(mode: str, image: Tensor, sample) -> str:
    """Everything the prefix state of one sample depends on, hashed."""
    digest = hashlib.blake2b(digest_size=20)
    fields = (mode, tuple(image.shape), str(image.dtype), sample.get('text'),
              sample.get('custom_entities'), sample.get('caption_prompt'),
              sample.get('tokens_positive'), sample.get('img_shape'),
              sample.get('batch_input_shape'))
    digest.update(repr(fields).encode())
    digest.update(image.detach().contiguous().cpu().view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


class PrefixCache:
    """The prefix cache of one detector: wraps its ``loss`` and ``predict``.

    A call looks every sample up; the misses run the detector's own ``loss``/``predict``
    (as a smaller batch if some hit) until the cut, under ``no_grad``, and are stored;
    then the call runs with the prefix served from the per-sample states (see the module
    docstring). Args: those of :class:`PrefixStore`, and ``log_interval`` (print the
    statistics every that many calls; 0: never).
    """

    def __init__(self, detector: nn.Module, max_bytes: int = 2**30, device: str = 'cpu',
                 dtype: Optional[str] = None, log_interval: int = 50):
        self.site = prefix_site(detector)
        self.site.check()
        self.store = PrefixStore(max_bytes, device, dtype)
        self.log_interval = log_interval
        self.calls = 0
        self._weights = self.site.weights_key()
        self._warned_chunked = False
        detector.prefix_cache = self  # a plain attribute: no state-dict entries
        self.site.install(self)
        detector.loss = types.MethodType(_cached_loss, detector)
        detector.predict = types.MethodType(_cached_predict, detector)

    @property
    def detector(self) -> nn.Module:
        return self.site.detector

    def stats(self) -> dict:
        return dict(self.store.stats(), cut=self.site.describe_cut())

    def clear(self) -> None:
        self.store.clear()

    def applies(self, mode: str) -> bool:
        chunked = self.detector.test_cfg.get('chunked_size', -1) if self.detector.test_cfg \
            else -1
        if mode == 'predict' and not self.detector.training and chunked > 0:
            if not self._warned_chunked:  # several language passes per image (LVIS)
                print_log('prefix cache: chunked text prompts (test_cfg.chunked_size) are '
                          'not cached', logger='current', level=30)
                self._warned_chunked = True
            return False
        return True

    def run(self, mode: str, original: Callable, batch_inputs: Tensor, samples: list,
            **kwargs):
        if not self.applies(mode):
            return original(batch_inputs, samples, **kwargs)
        self.site.check()
        if self.site.weights_key() != self._weights:  # a checkpoint loaded, the model moved
            self.store.clear()
            self.site._listed = None  # moved buffers are new tensors: list them again
            self._weights = self.site.weights_key()
        keys = [sample_key(mode, batch_inputs[i], s) for i, s in enumerate(samples)]
        entries = [self.store.get(k) for k in keys]
        missing = [i for i, e in enumerate(entries) if e is None]
        if missing:
            computed = self._compute(original, batch_inputs, samples, missing)
            for i, entry in zip(missing, computed):
                entries[i] = entry
                self.store.put(keys[i], entry)
        self._log(mode, len(samples) - len(missing), len(samples))
        try:
            state = _tree_stack([restore(e, batch_inputs.device) for e in entries])
        except (RuntimeError, ValueError):  # e.g. texts padded to other lengths: no batch
            self.store.bypassed += 1
            return original(batch_inputs, samples, **kwargs)
        token = _SESSION.set(_Session(self, state))
        try:
            return original(batch_inputs, samples, **kwargs)
        finally:
            _SESSION.reset(token)

    def _compute(self, original: Callable, batch_inputs: Tensor, samples: list,
                 rows: List[int]) -> list:
        """The stored form of the prefix state of ``samples[rows]``, computed by the
        detector's own ``loss``/``predict`` stopped at the cut."""
        inputs = batch_inputs if len(rows) == len(samples) else batch_inputs[rows]
        subset = [copy.deepcopy(samples[i]) for i in rows]  # loss/predict write into them
        state = None
        with torch.no_grad(), self.site.capturing():
            try:
                original(inputs, subset)
            except _Captured as captured:
                state = captured.state
        if state is None:
            raise RuntimeError(f'prefix cache: the forward never reached '
                               f'{self.site.describe_cut()}')
        per_sample = [_tree_map(lambda t, b=b: t[b], state) for b in range(len(rows))]
        return [self.store.stored_form(s) for s in per_sample]

    def _log(self, mode: str, hits: int, total: int) -> None:
        self.calls += 1
        stats = self.store.stats()
        if mode == 'loss':  # the runner's log line shows them beside the losses
            hub = MessageHub.get_current_instance()
            hub.update_scalar('train/prefix_hit_rate', stats['hit_rate'])
            hub.update_scalar('train/prefix_cache_mb', stats['bytes'] / 2**20)
        if self.log_interval and self.calls % self.log_interval == 0:
            print_log(format_stats(self.stats()), logger='current')


def format_stats(stats: dict) -> str:
    return (f"prefix cache ({stats['cut']}): {stats['hits']} hits, {stats['misses']} misses "
            f"(hit rate {stats['hit_rate']:.1%}), {stats['entries']} entries, "
            f"{stats['bytes'] / 2**20:.1f} of {stats['max_bytes'] / 2**20:.0f} MiB, "
            f"{stats['evictions']} evictions, {stats['bypassed_batches']} batches bypassed")


def _cached_loss(self, batch_inputs, batch_data_samples, **kwargs):
    original = types.MethodType(type(self).loss, self)
    return self.prefix_cache.run('loss', original, batch_inputs, batch_data_samples, **kwargs)


def _cached_predict(self, batch_inputs, batch_data_samples, **kwargs):
    original = types.MethodType(type(self).predict, self)
    return self.prefix_cache.run('predict', original, batch_inputs, batch_data_samples,
                                 **kwargs)


def attach_prefix_cache(detector: nn.Module, max_bytes: int = 2**30, device: str = 'cpu',
                        dtype: Optional[str] = None, log_interval: int = 50) -> PrefixCache:
    """Give ``detector`` (a tuned GLIP or Grounding DINO) a prefix cache, kept as
    ``detector.prefix_cache`` (a plain attribute: no state-dict entries). Raises
    :class:`PrefixCacheError` if its tuner trains anything before the cut."""
    if getattr(detector, 'prefix_cache', None) is not None:
        raise PrefixCacheError('this detector already has a prefix cache')
    return PrefixCache(detector, max_bytes, device, dtype, log_interval)


def prefix_cache_of(model: nn.Module) -> Optional[PrefixCache]:
    return getattr(getattr(model, 'module', model), 'prefix_cache', None)


__all__ = ['PrefixCache', 'PrefixCacheError', 'PrefixStore', 'attach_prefix_cache',
           'prefix_cache_of', 'format_stats', 'sample_key', 'GLIPPrefix',
           'GroundingDINOPrefix']
