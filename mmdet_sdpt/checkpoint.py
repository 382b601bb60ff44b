"""The one way mmdet-sdpt reads a ``.pth``: tensors and plain data, never code.

A checkpoint is untrusted input: people share them. ``torch.load`` in weights-only mode
rebuilds tensors, numbers, strings and containers and refuses any other global a pickle
asks for. We keep it that way:

- nothing is added to torch's allowlist at import; ``load_checkpoint_file`` allows numpy's
  plain arrays and scalars (data, not callables) for the duration of its own call only;
- our checkpoints hold nothing else: ``PlainCheckpointHook`` turns the message hub's
  ``HistoryBuffer`` objects and numpy values into tagged plain data when a checkpoint is
  saved, and back when it is loaded, so stock ``torch.load`` (and mmdet's own scripts) read
  them as they are;
- every path that reads a ``.pth`` comes here: mmengine's ``CheckpointLoader`` (the runner,
  ``load_from``, ``--resume``, ``init_detector``, ``DetInferencer``) through the local scheme
  registered below, and our tools and ``model.base_checkpoint`` directly;
- a refused or unreadable file stops with one line naming the file and what is wrong.

Checkpoints written by mmengine before this (a message hub of pickled ``HistoryBuffer``
objects, reached through ``getattr``) are refused with an error naming
``tools/convert_checkpoint.py``, which rewrites them as plain data; it reads them with
stand-ins that can only rebuild that data, so it is safe on untrusted files too.
"""
import os.path as osp
import pickle
import re
import zipfile
from collections import OrderedDict
from typing import Any

import numpy as np
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader

try:  # numpy < 2
    from numpy.core.multiarray import _reconstruct, scalar
except ImportError:  # pragma: no cover  (numpy 2)
    from numpy._core.multiarray import _reconstruct, scalar


class CheckpointLoadError(RuntimeError):
    """A checkpoint file is unreadable (empty, truncated, not a checkpoint)."""


class UnsafeCheckpointError(CheckpointLoadError):
    """A checkpoint file asks for more than tensors and plain data: it is not loaded."""


# Plain data beyond torch's own allowlist: numpy arrays and scalars of plain dtypes. None is a
# callable that can reach other objects (``_reconstruct`` only builds ndarray subtypes).
_NUMPY_DTYPES = [type(np.dtype(t)) for t in (
    'bool', 'int8', 'int16', 'int32', 'int64', 'uint8', 'uint16', 'uint32', 'uint64',
    'float16', 'float32', 'float64')]
PLAIN_NUMPY_GLOBALS = [_reconstruct, scalar, np.ndarray, np.dtype] + _NUMPY_DTYPES


def load_checkpoint_file(filename: str, map_location: Any = 'cpu') -> Any:
    """``torch.load`` a local file with tensors and plain data only.

    Raises:
        FileNotFoundError: the file does not exist.
        UnsafeCheckpointError: the file asks for an object that is not plain data.
        CheckpointLoadError: the file is empty, truncated or not a PyTorch checkpoint.
    """
    filename = osp.expanduser(str(filename))
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint {filename} not found' +
                                (' (it is a folder)' if osp.isdir(filename) else ''))
    size = osp.getsize(filename)
    if size == 0:
        raise CheckpointLoadError(
            f'checkpoint {filename} is empty (0 bytes): an interrupted save or download. '
            'Re-create it, or use an earlier checkpoint.')
    try:
        with torch.serialization.safe_globals(PLAIN_NUMPY_GLOBALS):
            checkpoint = torch.load(filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        reason = _weights_only_reason(str(err))
        # the globals it asks for, from its pickle (read, not run), or from torch's words
        wanted = _unsafe_globals(filename) or re.findall(r'GLOBAL (\S+)', reason)
        if wanted:
            raise _refused(filename, wanted) from None
        raise _unreadable(filename, size, reason) from None
    except (RuntimeError, EOFError, OSError, ValueError, KeyError, IndexError,
            AttributeError, TypeError, UnicodeDecodeError) as err:
        raise _unreadable(filename, size, f'{type(err).__name__}: {err}') from None
    return label_state_dict(checkpoint, f'checkpoint {filename}')


# Where a loaded state dict came from, and its adapter meta, ride in the state dict's root
# metadata (``state_dict._metadata['']``, which torch and mmengine hand to the root module's
# load hooks): a tuned detector's load check (``mmdet_sdpt.adapter.check_loaded_state_dict``)
# sees that, not the checkpoint's ``meta``.
SOURCE_KEY = 'mmdet_sdpt.source'
META_KEY = 'mmdet_sdpt.adapter'


def label_state_dict(checkpoint: Any, source: str) -> Any:
    """Record ``source`` and ``checkpoint['meta']['adapter']`` (if any) in the root metadata
    of its state dict (``checkpoint['state_dict']``, or the checkpoint itself when it is a
    bare state dict). Returns the checkpoint."""
    if not isinstance(checkpoint, dict):
        return checkpoint
    nested = isinstance(checkpoint.get('state_dict'), dict)
    state = checkpoint['state_dict'] if nested else checkpoint
    if not isinstance(state, OrderedDict):
        state = OrderedDict(state)
        if nested:
            checkpoint['state_dict'] = state
        else:
            checkpoint = state
    metadata = getattr(state, '_metadata', None)
    if metadata is None:
        metadata = state._metadata = OrderedDict()
    root = dict(metadata.get('', {}), **{SOURCE_KEY: source})
    meta = checkpoint.get('meta') if nested else None
    adapter = meta.get('adapter') if isinstance(meta, dict) else None
    if isinstance(adapter, dict):
        root[META_KEY] = adapter
    metadata[''] = root
    return checkpoint


def _unsafe_globals(filename: str) -> list:
    """The globals a checkpoint asks for beyond plain data, read from its pickle without
    running it ([] if there is none, or the file cannot be parsed)."""
    try:
        wanted = torch.serialization.get_unsafe_globals_in_checkpoint(filename)
    except Exception:  # not a zip checkpoint: nothing more to say than torch's error
        return []
    plain = {f'{g.__module__}.{g.__qualname__}' for g in PLAIN_NUMPY_GLOBALS}
    return [g for g in wanted if g not in plain]


def _weights_only_reason(message: str) -> str:
    """The unpickler's own words, without torch's advice around them (to set
    ``weights_only=False`` or widen the allowlist: wrong advice for a file one does not
    trust)."""
    found = re.search(r'WeightsUnpickler error:\s*([^\n]+)|((?:Unsupported|Trying to|Can only)'
                      r'[^\n]+)', message)
    reason = next(g for g in found.groups() if g) if found else message.strip()
    return reason.split('. Please use')[0].strip()


def _refused(filename: str, wanted: list) -> UnsafeCheckpointError:
    legacy = any(g in ('builtins.getattr', 'mmengine.logging.history_buffer.HistoryBuffer')
                 for g in wanted)
    return UnsafeCheckpointError(
        f'checkpoint {filename} was refused: it asks the unpickler for {", ".join(wanted[:3])}, '
        'which is not plain data. mmdet-sdpt loads only tensors and plain data from a '
        'checkpoint, never code.' +
        (' If it is a checkpoint that mmengine\'s runner wrote (mmdet-sdpt before 0.2, or '
         f'plain mmdet), convert it once: python tools/convert_checkpoint.py {filename} '
         'NEW.pth' if legacy else ''))


def _unreadable(filename: str, size: int, reason: str) -> CheckpointLoadError:
    reason = (reason.splitlines() or ['?'])[0][:80]
    with open(filename, 'rb') as f:
        zipped = f.read(4) == b'PK\x03\x04'  # torch.save writes a zip archive
    if zipped and not zipfile.is_zipfile(filename):  # its directory, at the end, is missing
        what = 'it is truncated (an interrupted save or download?)'
    elif zipped:
        what = f'it is corrupt ({reason})'
    else:
        what = f'it is not a PyTorch checkpoint ({reason})'
    return CheckpointLoadError(
        f'checkpoint {filename} ({size:,} bytes) cannot be read: {what}. Re-create or '
        're-download it, or use an earlier checkpoint.')


def load_from_safe_local(filename: str, map_location=None) -> Any:
    """mmengine ``CheckpointLoader`` scheme for local paths (the prefix ''), replacing
    mmengine's ``load_from_local``, whose ``torch.load`` takes whatever the process-wide
    allowlist allows."""
    return load_checkpoint_file(filename, map_location)


CheckpointLoader.register_scheme(prefixes='', loader=load_from_safe_local, force=True)


# ---- plain data in what we save: HistoryBuffer and numpy values, tagged -----------------
_TAG = '__mmdet_sdpt_plain__'


def to_plain(obj: Any) -> Any:
    """``obj`` with every numpy array / scalar and mmengine ``HistoryBuffer`` replaced by a
    tagged dict of plain values; dicts, lists and tuples are walked, all else is kept.
    :func:`from_plain` rebuilds the same objects (same dtypes, same values)."""
    if isinstance(obj, HistoryBuffer):
        log, count = obj.data
        return {_TAG: 'HistoryBuffer', 'max_length': obj.max_length,
                'log_history': to_plain(log), 'count_history': to_plain(count)}
    if isinstance(obj, np.ndarray):
        return {_TAG: 'ndarray', 'dtype': obj.dtype.str, 'shape': list(obj.shape),
                'data': obj.ravel().tolist()}
    if isinstance(obj, np.generic):
        return {_TAG: 'scalar', 'dtype': obj.dtype.str, 'data': obj.item()}
    return _walk(obj, to_plain)


def from_plain(obj: Any) -> Any:
    """Inverse of :func:`to_plain`."""
    kind = obj.get(_TAG) if isinstance(obj, dict) else None
    if kind == 'ndarray':
        return np.array(obj['data'], dtype=np.dtype(obj['dtype'])).reshape(obj['shape'])
    if kind == 'scalar':
        return np.dtype(obj['dtype']).type(obj['data'])
    if kind == 'HistoryBuffer':
        buf = HistoryBuffer(max_length=obj['max_length'])
        buf._log_history = from_plain(obj['log_history'])
        buf._count_history = from_plain(obj['count_history'])
        return buf
    return _walk(obj, from_plain)


def _walk(obj: Any, fn) -> Any:
    if isinstance(obj, dict):  # OrderedDict stays one; other dict subclasses become dicts
        items = [(k, fn(v)) for k, v in obj.items()]
        if not isinstance(obj, OrderedDict):
            return dict(items)
        walked = OrderedDict(items)
        if hasattr(obj, '_metadata'):  # a state dict's per-module versions
            walked._metadata = obj._metadata
        return walked
    if isinstance(obj, list):
        return [fn(v) for v in obj]
    if type(obj) is tuple:
        return tuple(fn(v) for v in obj)
    return obj


# ---- checkpoints written before: a narrow, explicit reader ------------------------------
class _LegacyHistoryBuffer:
    """Stand-in for mmengine's ``HistoryBuffer`` while an old checkpoint is read: it keeps
    the pickled state and nothing else (mmengine's own ``__setstate__`` would write the
    pickled statistics methods into the class, shared by the whole process)."""

    def __setstate__(self, state: dict) -> None:
        self.state = state


_HISTORY_STATISTICS = ('min', 'max', 'current', 'mean')


def _legacy_getattr(obj, name: str) -> str:
    """Stand-in for ``getattr`` while an old checkpoint is read. mmengine pickles
    ``HistoryBuffer``'s statistics methods as ``getattr(HistoryBuffer, 'min')``; that is all
    this allows, and it returns the method's name, not the method."""
    if obj is _LegacyHistoryBuffer and name in _HISTORY_STATISTICS:
        return name
    owner = 'getattr' if obj is _legacy_getattr else getattr(obj, '__name__', type(obj).__name__)
    raise pickle.UnpicklingError(
        f'getattr({owner}, {name!r}) is not one of HistoryBuffer\'s statistics '
        f'{_HISTORY_STATISTICS}')


_LEGACY_GLOBALS = [(_LegacyHistoryBuffer, 'mmengine.logging.history_buffer.HistoryBuffer'),
                   (_legacy_getattr, 'builtins.getattr')]


def load_legacy_checkpoint(filename: str) -> Any:
    """Read a checkpoint that mmengine's runner wrote with pickled ``HistoryBuffer`` objects
    and return it as plain data (the form our checkpoints are written in now).

    Only the stand-ins above are added to the plain-data allowlist, for this call only: the
    real ``getattr`` and ``HistoryBuffer`` are never reachable, so this is safe on a file one
    does not trust; anything else such a file asks for is refused as usual.
    """
    filename = osp.expanduser(str(filename))
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint {filename} not found')
    try:
        with torch.serialization.safe_globals(_LEGACY_GLOBALS + PLAIN_NUMPY_GLOBALS):
            checkpoint = torch.load(filename, map_location='cpu', weights_only=True)
    except pickle.UnpicklingError as err:
        reason = _weights_only_reason(str(err)).rstrip('.')
        raise UnsafeCheckpointError(
            f'checkpoint {filename} was refused: {reason}. It holds more than tensors, plain '
            'data and mmengine\'s message-hub buffers: not converted.') from None
    except (RuntimeError, EOFError, OSError, ValueError) as err:
        raise _unreadable(filename, osp.getsize(filename), f'{type(err).__name__}: {err}') \
            from None
    return to_plain(_replace_legacy(checkpoint))


def _replace_legacy(obj: Any) -> Any:
    if isinstance(obj, _LegacyHistoryBuffer):
        state = obj.state
        return {_TAG: 'HistoryBuffer', 'max_length': state['max_length'],
                'log_history': to_plain(state['_log_history']),
                'count_history': to_plain(state['_count_history'])}
    if isinstance(obj, torch.Tensor):
        return obj
    return _walk(obj, _replace_legacy)
