"""The prefix cache's store: per-sample states (nested dicts, lists and tuples of tensors)
in an LRU of at most ``max_bytes``, on the CPU or the model's device, optionally rounded."""
import copy
import threading
from collections import OrderedDict
from typing import Callable, NamedTuple, Optional

import torch
from torch import Tensor

DTYPES = {None: None, 'float32': torch.float32, 'float16': torch.float16,
          'bfloat16': torch.bfloat16}


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
