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
  ``load_from``, ``--resume``, ``init_detector``, ``DetInferencer``) through the schemes
  registered below, and our tools and ``model.base_checkpoint`` directly;
- every scheme, not only local paths: an ``http(s)://`` checkpoint is downloaded into torch
  hub's cache (as ``torch.hub.load_state_dict_from_url`` does, which would then unpickle it
  with ``weights_only=False``) and read from there by the same loader; ``torchvision://``,
  ``open-mmlab://``, ``mmcls://``, ``pavi://`` and ``s3://`` resolve to a URL or a local copy
  first. A test fails when mmengine grows a scheme that is not ours;
- plain data is bounded: nesting depth, the number of elements (counted as if shared
  references were copied out, which is what a reader walking it does) and the tagged numpy
  values are checked before anything walks them, so a small crafted file cannot hang a load;
- a refused or unreadable file stops with one line naming the file and what is wrong.

Checkpoints written by mmengine before this (a message hub of pickled ``HistoryBuffer``
objects, reached through ``getattr``) are refused with an error naming
``tools/convert_checkpoint.py``, which rewrites them as plain data; it reads them with
stand-ins that can only rebuild that data, so it is safe on untrusted files too.
"""
import math
import os
import os.path as osp
import pickle
import re
import tempfile
import threading
import zipfile
from collections import OrderedDict
from contextlib import contextmanager
from typing import Any, Callable, Optional
from urllib.error import URLError
from urllib.parse import urlparse

import numpy as np
import torch
from mmengine.logging import HistoryBuffer
from mmengine.dist import get_dist_info
from mmengine.runner import checkpoint as mmengine_checkpoint
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
    """``torch.load`` a checkpoint with tensors and plain data only.

    ``filename`` is a local path or any scheme mmengine's ``CheckpointLoader`` knows
    (``https://...``, ``open-mmlab://...``): those are fetched first (see the schemes below)
    and the local copy is read the same way.

    Raises:
        FileNotFoundError: the file does not exist.
        UnsafeCheckpointError: the file asks for an object that is not plain data.
        CheckpointLoadError: the file is empty, truncated, not a PyTorch checkpoint, holds
            plain data past the bounds below, or cannot be downloaded.
    """
    filename = str(filename)
    if has_scheme(filename):
        return CheckpointLoader.load_checkpoint(filename, map_location)
    return _load_local(osp.expanduser(filename), map_location)


def has_scheme(path: str) -> bool:
    """``path`` is a URI (``https://``, ``s3://``, ``open-mmlab://``...), not a local file."""
    return re.match(r'^[A-Za-z][\w+.-]*:(\S+:)?//', str(path)) is not None


def _load_local(filename: str, map_location: Any, name: Optional[str] = None) -> Any:
    """Read local ``filename``; messages call it ``name`` (default: the file), e.g. the URL
    it was downloaded from."""
    name = name or filename
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint {name} not found' +
                                (' (it is a folder)' if osp.isdir(filename) else ''))
    size = osp.getsize(filename)
    if size == 0:
        raise CheckpointLoadError(
            f'checkpoint {name} is empty (0 bytes): an interrupted save or download. '
            'Re-create it, or use an earlier checkpoint.')
    try:
        with plain_numpy_allowed():
            checkpoint = torch.load(filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        reason = _weights_only_reason(str(err))
        # the globals it asks for, from its pickle (read, not run), or from torch's words
        wanted = _unsafe_globals(filename) or re.findall(r'GLOBAL (\S+)', reason)
        if wanted:
            raise _refused(name, wanted) from None
        raise _unreadable(filename, size, reason, name) from None
    except (RuntimeError, EOFError, OSError, ValueError, KeyError, IndexError,
            AttributeError, TypeError, UnicodeDecodeError, MemoryError,
            OverflowError) as err:  # RecursionError is a RuntimeError
        raise _unreadable(filename, size, f'{type(err).__name__}: {err}', name) from None
    try:
        check_plain_data(checkpoint)
    except PlainDataError as err:
        raise CheckpointLoadError(
            f'checkpoint {name} ({size:,} bytes) was refused: {err}. A checkpoint that '
            'mmdet-sdpt or mmengine wrote never does that; re-create it, or use another '
            'checkpoint.') from None
    return label_state_dict(checkpoint, f'checkpoint {name}')


# ---- torch's allowlist: ours for the duration of our loads only --------------------------
_allowlist_lock = threading.Lock()
_allowlist_users = 0
_allowlist_added: list = []


@contextmanager
def plain_numpy_allowed():
    """``PLAIN_NUMPY_GLOBALS`` in torch's weights-only allowlist while the block runs.

    Unlike ``torch.serialization.safe_globals``, whose exit removes its globals even when the
    caller had allowed them before, this removes only what it added, and only when the last
    of the loads running at once (threads) has finished."""
    global _allowlist_users, _allowlist_added
    with _allowlist_lock:
        if _allowlist_users == 0:
            present = set(torch.serialization.get_safe_globals())
            _allowlist_added = [g for g in PLAIN_NUMPY_GLOBALS if g not in present]
            torch.serialization.add_safe_globals(_allowlist_added)
        _allowlist_users += 1
    try:
        yield
    finally:
        with _allowlist_lock:
            _allowlist_users -= 1
            if _allowlist_users == 0:
                _remove_safe_globals(_allowlist_added)
                _allowlist_added = []


def _remove_safe_globals(globals_: list) -> None:
    keep = [g for g in torch.serialization.get_safe_globals() if g not in globals_]
    torch.serialization.clear_safe_globals()
    torch.serialization.add_safe_globals(keep)


# ---- bounds on plain data -------------------------------------------------------------------
class PlainDataError(ValueError):
    """Plain data past its bounds, or a malformed tagged value."""


MAX_DEPTH = 64  # our checkpoints nest about 6 deep
MAX_ELEMENTS = 50_000_000  # a message hub of 10 scalars x 10^6 history entries is 2 x 10^7
_PLAIN_KINDS = 'biufc'  # bool, signed, unsigned, float, complex: no objects, no void


def check_plain_data(obj: Any, max_depth: int = MAX_DEPTH,
                     max_elements: int = MAX_ELEMENTS) -> int:
    """Check that the containers of ``obj`` (a loaded checkpoint) are bounded: nesting no
    deeper than ``max_depth``, at most ``max_elements`` entries counted as a reader that
    walks it sees them (a container referenced twice counts twice: 64 lists each holding the
    next twice are 2^64 entries), state-dict ``_metadata`` a dict of dicts, and tagged
    numpy values well formed. Each container is visited once, so this is fast on any file.
    Returns the element count; raises ``PlainDataError``."""
    sizes: dict = {}

    def size(node: Any, depth: int) -> int:
        if not isinstance(node, (dict, list, tuple, set, frozenset)):
            return 1
        key = id(node)
        if key in sizes:
            return sizes[key]
        if depth > max_depth:
            raise PlainDataError(f'its data nests deeper than {max_depth} levels')
        sizes[key] = 1  # a cycle (not possible in a pickle of plain data) counts once
        if isinstance(node, dict):
            _check_tagged(node)
            _check_metadata(node)
            children = list(node.values())
            if getattr(node, '_metadata', None) is not None:
                children.append(node._metadata)  # torch and our checks read it too
        else:
            children = node
        total = 1 + sum(size(child, depth + 1) for child in children)
        if total > max_elements:
            raise PlainDataError(f'its data holds more than {max_elements:,} elements '
                                 '(counting shared references as a reader walks them)')
        sizes[key] = total
        return total

    return size(obj, 0)


def _check_metadata(node: dict) -> None:
    metadata = getattr(node, '_metadata', None)
    if metadata is None:
        return
    if not isinstance(metadata, dict) or not all(
            isinstance(k, str) and isinstance(v, dict) for k, v in metadata.items()):
        raise PlainDataError(f'its state dict\'s _metadata is a {type(metadata).__name__} '
                             'that is not a dict of per-module dicts')


def _check_tagged(node: dict) -> None:
    kind = node.get(_TAG)
    if kind is None:
        return
    try:
        if kind == 'ndarray':
            _plain_dtype(node['dtype'])
            shape, data = node['shape'], node['data']
            if not (isinstance(shape, list) and all(
                    type(d) is int and d >= 0 for d in shape) and isinstance(data, list)):
                raise PlainDataError('a tagged array has no list shape and data')
            if math.prod(shape) != len(data):
                raise PlainDataError(f'a tagged array of shape {shape} holds {len(data)} '
                                     'values')
        elif kind == 'scalar':
            _plain_dtype(node['dtype'])
        elif kind == 'HistoryBuffer':
            if type(node['max_length']) is not int or node['max_length'] < 0:
                raise PlainDataError('a tagged HistoryBuffer has no valid max_length')
            for key in ('log_history', 'count_history'):
                if not isinstance(node[key], dict) or node[key].get(_TAG) != 'ndarray':
                    raise PlainDataError(f'a tagged HistoryBuffer\'s {key} is not an array')
        else:
            raise PlainDataError(f'unknown tag {str(kind)[:40]!r}')
    except KeyError as err:
        raise PlainDataError(f'a tagged {str(kind)[:40]} lacks {err}') from None


def _plain_dtype(text: Any) -> np.dtype:
    try:
        dtype = np.dtype(str(text)[:16])
    except TypeError:
        dtype = None
    if dtype is None or dtype.kind not in _PLAIN_KINDS:
        raise PlainDataError(f'a tagged value has dtype {str(text)[:40]!r}, not a plain '
                             'number type')
    return dtype


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
    if not isinstance(metadata, dict):  # none (or, from a file, checked before: never junk)
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


def _unreadable(filename: str, size: int, reason: str,
                name: Optional[str] = None) -> CheckpointLoadError:
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
        f'checkpoint {name or filename} ({size:,} bytes) cannot be read: {what}. Re-create '
        'or re-download it, or use an earlier checkpoint.')


def load_from_safe_local(filename: str, map_location=None) -> Any:
    """mmengine ``CheckpointLoader`` scheme for local paths (the prefix ''), replacing
    mmengine's ``load_from_local``, whose ``torch.load`` takes whatever the process-wide
    allowlist allows."""
    return _load_local(osp.expanduser(filename), map_location)


# ---- remote schemes: fetched to a local file, then read as one --------------------------
def download_checkpoint(url: str, model_dir: Optional[str] = None) -> str:
    """The local copy of ``url`` in torch hub's checkpoint cache (``$TORCH_HOME/hub/
    checkpoints``), downloaded once as ``torch.hub.load_state_dict_from_url`` does: a
    partial file beside the target, renamed when complete. In a distributed run rank 0
    downloads first and the others then find it."""
    model_dir = model_dir or osp.join(torch.hub.get_dir(), 'checkpoints')
    rank, world_size = get_dist_info()
    if rank == 0:
        cached = _download(url, model_dir)
    if world_size > 1:
        torch.distributed.barrier()
        if rank > 0:
            cached = _download(url, model_dir)
    return cached


def _download(url: str, model_dir: str) -> str:
    cached = osp.join(model_dir, osp.basename(urlparse(url).path) or 'checkpoint.pth')
    if osp.isfile(cached):
        return cached
    os.makedirs(model_dir, exist_ok=True)
    try:
        torch.hub.download_url_to_file(url, cached, progress=False)
    except (URLError, OSError, ValueError) as err:
        raise CheckpointLoadError(
            f'checkpoint {url} cannot be downloaded ({type(err).__name__}: '
            f'{str(err)[:120]}). Check the address, or download the file yourself and pass '
            'its local path.') from None
    return cached


def load_from_safe_http(filename: str, map_location=None) -> Any:
    """Scheme ``http://`` / ``https://``: downloaded to the cache, then read as a local
    file (mmengine's ``load_from_http`` unpickles with ``weights_only=False``)."""
    cached = download_checkpoint(filename)
    return _load_local(cached, map_location, name=f'{filename} (cached as {cached})')


def _model_url(table: Callable[[], dict], scheme: str, name: str) -> str:
    urls = table()
    if name not in urls:
        raise CheckpointLoadError(f'checkpoint {scheme}{name}: mmengine knows no model '
                                  f'named {name!r} under {scheme} (e.g. '
                                  f'{", ".join(sorted(urls)[:3])}).')
    return urls[name]


def load_from_safe_torchvision(filename: str, map_location=None) -> Any:
    """Schemes ``torchvision://NAME`` and ``modelzoo://NAME``: torchvision's URL of NAME."""
    scheme, name = filename.split('://', 1)
    url = _model_url(mmengine_checkpoint.get_torchvision_models, f'{scheme}://', name)
    return load_from_safe_http(url, map_location)


def load_from_safe_openmmlab(filename: str, map_location=None) -> Any:
    """Schemes ``open-mmlab://NAME`` and ``openmmlab://NAME``: mmengine's table gives a URL
    or a file under mmengine's home."""
    scheme, name = filename.split('://', 1)
    name = mmengine_checkpoint.get_deprecated_model_names().get(name, name)
    url = _model_url(mmengine_checkpoint.get_external_models, f'{scheme}://', name)
    if has_scheme(url):
        return load_from_safe_http(url, map_location)
    return _load_local(osp.join(mmengine_checkpoint._get_mmengine_home(), url), map_location,
                       name=filename)


def load_from_safe_mmcls(filename: str, map_location=None) -> Any:
    """Scheme ``mmcls://NAME``: mmcls's URL of NAME, its keys renamed as mmengine does."""
    url = _model_url(mmengine_checkpoint.get_mmcls_models, 'mmcls://', filename[8:])
    return mmengine_checkpoint._process_mmcls_checkpoint(load_from_safe_http(url, map_location))


def load_from_safe_pavi(filename: str, map_location=None) -> Any:
    """Scheme ``pavi://``: downloaded from pavi's model cloud into a temporary folder."""
    try:
        from pavi import modelcloud
    except ImportError:
        raise ImportError('Please install pavi to load checkpoint from modelcloud.') from None
    model = modelcloud.get(filename[7:])
    with tempfile.TemporaryDirectory() as folder:
        local = osp.join(folder, osp.basename(str(model.name)) or 'checkpoint.pth')
        model.download(local)
        return _load_local(local, map_location, name=filename)


def load_from_safe_ceph(filename: str, map_location=None, backend: str = 'petrel') -> Any:
    """Schemes ``s3://`` and ``petrel://`` (optionally ``NAME:s3://``): the bytes from
    mmengine's file backend, read as a local file."""
    data = mmengine_checkpoint.get_file_backend(
        filename, backend_args={'backend': backend}).get(filename)
    with tempfile.TemporaryDirectory() as folder:
        local = osp.join(folder, 'checkpoint.pth')
        with open(local, 'wb') as f:
            f.write(data)
        return _load_local(local, map_location, name=filename)


SAFE_SCHEMES = {
    '': load_from_safe_local,
    ('http://', 'https://'): load_from_safe_http,
    ('modelzoo://', 'torchvision://'): load_from_safe_torchvision,
    ('open-mmlab://', 'openmmlab://'): load_from_safe_openmmlab,
    'mmcls://': load_from_safe_mmcls,
    'pavi://': load_from_safe_pavi,
    (r'(\S+\:)?s3://', r'(\S+\:)?petrel://'): load_from_safe_ceph,
}
for _prefixes, _loader in SAFE_SCHEMES.items():
    CheckpointLoader.register_scheme(prefixes=_prefixes, loader=_loader, force=True)


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
    """Inverse of :func:`to_plain`. Each container is converted once (a structure that
    references one list twice gets one converted list, referenced twice), so the work is
    linear in the data whatever its sharing; a malformed tag or data nested past
    ``MAX_DEPTH`` raises ``PlainDataError``."""
    done: dict = {}

    def convert(node: Any, depth: int = 0) -> Any:
        if not isinstance(node, (dict, list, tuple)):
            return node
        if id(node) in done:
            return done[id(node)]
        if depth > MAX_DEPTH:
            raise PlainDataError(f'data nests deeper than {MAX_DEPTH} levels')
        kind = node.get(_TAG) if isinstance(node, dict) else None
        if kind is not None:
            _check_tagged(node)
        if kind == 'ndarray':
            out = np.array(node['data'], dtype=np.dtype(node['dtype'])).reshape(node['shape'])
        elif kind == 'scalar':
            out = np.dtype(node['dtype']).type(node['data'])
        elif kind == 'HistoryBuffer':
            out = HistoryBuffer(max_length=node['max_length'])
            out._log_history = convert(node['log_history'], depth + 1)
            out._count_history = convert(node['count_history'], depth + 1)
        else:
            out = _walk(node, lambda child: convert(child, depth + 1))
        done[id(node)] = out
        return out

    return convert(obj)


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
        with plain_numpy_allowed(), torch.serialization.safe_globals(_LEGACY_GLOBALS):
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
