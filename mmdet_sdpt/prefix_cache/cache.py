"""The coordinator: a detector's ``prefix_cache``, its keys, hits and misses, its log."""
import copy
import hashlib
import types
from typing import Callable, List, Optional

import torch
from mmengine.logging import MessageHub, print_log
from torch import Tensor, nn

from ..adapter import unwrap
from .session import _SESSION, _Session
from .cuts import PrefixCacheError, _Captured, prefix_cut
from .store import PrefixStore, _tree_map, _tree_stack, restore



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
        self.family = prefix_cut(detector)
        self.family.check()
        self.store = PrefixStore(max_bytes, device, dtype)
        self.log_interval = log_interval
        self.calls = 0
        self._weights = self.family.weights_key()
        self._warned_chunked = False
        detector.prefix_cache = self  # a plain attribute: no state-dict entries
        self.family.install(self)
        detector.loss = types.MethodType(_cached_loss, detector)
        detector.predict = types.MethodType(_cached_predict, detector)

    @property
    def detector(self) -> nn.Module:
        return self.family.detector

    def stats(self) -> dict:
        return dict(self.store.stats(), cut=self.family.describe_cut())

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
        self.family.check()
        if self.family.weights_key() != self._weights:  # a checkpoint loaded, the model moved
            self.store.clear()
            self.family._listed = None  # moved buffers are new tensors: list them again
            self._weights = self.family.weights_key()
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
        with torch.no_grad(), self.family.capturing():
            try:
                original(inputs, subset)
            except _Captured as captured:
                state = captured.state
        if state is None:
            raise RuntimeError(f'prefix cache: the forward never reached '
                               f'{self.family.describe_cut()}')
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
    return getattr(unwrap(model), 'prefix_cache', None)
