"""Adapter-only checkpoints: just the tuned tensors plus what they must be loaded on.

``meta['adapter']`` records the tuner (method, K, layers, dims, mask variant) and the base it
was tuned on (detector class and a fingerprint of a few frozen tensors). Loading checks both
and stops with one error that names the fix.
"""
import contextlib
import hashlib
import warnings
from typing import Union

import torch
from mmengine.model import is_model_wrapper
from torch import nn

from .checkpoint import META_KEY, SOURCE_KEY, load_checkpoint_file
from .utils.atomic_io import atomic_write

FORMAT = 'mmdet_sdpt.adapter/1'


class AdapterMismatchError(RuntimeError):
    """A tuned (adapter-only) checkpoint does not fit the model it is loaded on."""


def unwrap(model: nn.Module) -> nn.Module:
    return model.module if is_model_wrapper(model) else model


def get_tuner(model: nn.Module):
    tuner = getattr(unwrap(model), 'tuner', None)
    if tuner is None:
        raise RuntimeError(
            f'{type(unwrap(model)).__name__} carries no tuner: build it with '
            "model=dict(type='TunedDetector', detector_type=..., tuner=dict(...)).")
    return tuner


def adapter_meta(model: nn.Module) -> dict:
    model = unwrap(model)
    tuner = get_tuner(model)
    return dict(format=FORMAT, tuner=tuner.describe(model), base=tuner.base_identity(model))


def to_adapter_checkpoint(model: nn.Module, checkpoint: dict) -> dict:
    """Reduce a runner checkpoint to the tuned tensors, in place, and record the meta.
    Refuses non-finite tensors: a checkpoint of a diverged training is never written."""
    tuner = get_tuner(model)
    state = tuner.adapter_state_dict(checkpoint['state_dict'])
    broken = [k for k, v in state.items()
              if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if broken:
        raise RuntimeError(f'not saving a checkpoint: {len(broken)} tuned tensors hold NaN/inf '
                           f'values, e.g. {broken[:3]} (the training diverged: lower the '
                           'learning rate).')
    checkpoint['state_dict'] = state
    checkpoint.setdefault('meta', {})['adapter'] = adapter_meta(model)
    return checkpoint


def _differences(theirs: dict, ours: dict) -> str:
    """The knobs in which two tuner descriptions differ, e.g. "num_tokens=4 vs 8"."""
    keys = [k for k in dict.fromkeys(list(theirs) + list(ours)) if theirs.get(k) != ours.get(k)]
    return '; '.join(f'{k}={theirs.get(k)} (checkpoint) vs {k}={ours.get(k)} (model)'
                     for k in keys)


def _tunes_base_tensors(method: str) -> bool:
    """Whether the registered tuner of ``method`` trains base tensors (its class says)."""
    from .registry import TUNERS
    return any(getattr(cls, 'method', None) == method and
               getattr(cls, 'tunes_base_tensors', False)
               for cls in TUNERS.module_dict.values())


def check_adapter_meta(model: nn.Module, meta: dict, source: str = 'checkpoint',
                       allow_base_mismatch: bool = False) -> None:
    """Raise :class:`AdapterMismatchError` if an adapter's ``meta['adapter']`` (its tuner
    and base) does not describe ``model``."""
    model = unwrap(model)
    ours = adapter_meta(model)
    theirs_method, our_method = meta['tuner'].get('method'), ours['tuner'].get('method')
    if theirs_method != our_method:
        if _tunes_base_tensors(theirs_method):
            raise AdapterMismatchError(
                f'{source} is a {theirs_method} checkpoint: {theirs_method} trains the base\'s '
                f'own tensors, so each of its checkpoints is a model of its own, not an '
                f'adapter for this {our_method} model. Use it as the checkpoint of its own '
                f'config (tools/test.py THAT_CONFIG CHECKPOINT), or write it out as a plain '
                'mmdet model with tools/merge_adapter.py.')
        raise AdapterMismatchError(
            f'{source} holds a {theirs_method} adapter, but this model tunes with '
            f'{our_method}. Fix: load it with a {theirs_method} config (the one it was '
            'trained with).')
    if meta['tuner'] != ours['tuner']:
        raise AdapterMismatchError(
            f'{source} was tuned with another {meta["tuner"].get("method")} setting than this '
            f'model\'s: {_differences(meta["tuner"], ours["tuner"])}. Fix: use the config it '
            'was trained with (or set model.tuner to match, e.g. --cfg-options '
            'model.tuner.num_tokens=...), or the checkpoint made for this config.')
    if meta['base'] != ours['base']:
        msg = (f'{source} was tuned on base {meta["base"]}, but this model\'s base is '
               f'{ours["base"]}. Fix: set model.base_checkpoint to the base it was tuned on; '
               'to load it anyway, set model.allow_base_mismatch=True.')
        if not (allow_base_mismatch or getattr(model, 'allow_base_mismatch', False)):
            raise AdapterMismatchError(msg)
        warnings.warn(msg + ' Loading anyway (allow_base_mismatch=True).')


def check_tuned_tensors(model: nn.Module, state: dict, source: str = 'checkpoint',
                        prefix: str = '') -> None:
    """Raise :class:`AdapterMismatchError` unless ``state`` (keys under ``prefix``) gives
    every tensor ``model`` tunes, in the model's shapes, finite, and (for tuners whose tuned
    tensors are base tensors) not just the base's own values. Says what ``state`` is."""
    model = unwrap(model)
    tuner = get_tuner(model)
    tuned = {k: v for k, v in model.state_dict().items() if tuner.trainable(k)}
    if not tuned:
        return
    given = {k[len(prefix):]: v for k, v in state.items()
             if k.startswith(prefix) and isinstance(v, torch.Tensor)}
    missing = [k for k in tuned if k not in given]
    method = tuner.method
    if missing:
        raise AdapterMismatchError(f'{source} {_what_it_is(model, given, missing)}')
    wrong = [f'{k}: {tuple(given[k].shape)} (checkpoint) vs {tuple(v.shape)} (model)'
             for k, v in tuned.items() if given[k].shape != v.shape]
    if wrong:
        raise AdapterMismatchError(
            f'{source} holds the {method} tensors of this model in other shapes: '
            f'{wrong[:3]}. It was made for another setting (num_tokens? layers? rank?): '
            'use the config it was trained with, or the checkpoint made for this config.')
    broken = [k for k in tuned if given[k].is_floating_point()
              and not bool(torch.isfinite(given[k]).all())]
    if broken:
        raise AdapterMismatchError(
            f'{source} holds non-finite values (NaN/inf) in {len(broken)} tuned tensors, '
            f'e.g. {broken[:3]}: the training that wrote it diverged. Use an earlier '
            'checkpoint, or train again with a lower learning rate.')
    base_digest = getattr(model, 'base_tuned_digest', None)
    if base_digest is not None and tensors_digest(given, sorted(tuned)) == base_digest:
        raise AdapterMismatchError(
            f'{source} holds the base\'s own values in every tensor {method} tunes: it is the '
            'base checkpoint (or an untrained one), not a tuned one. Pass the checkpoint '
            'tools/train.py wrote for this config (WORK_DIR/iter_N.pth or epoch_N.pth), or '
            'evaluate the base on purpose with tools/test.py CONFIG --zero-shot.')


def _what_it_is(model: nn.Module, given: dict, missing: list) -> str:
    """The end of an error about a state dict that lacks tuned tensors: what it looks like
    (the base, another model, another tuner's adapter) and what to pass instead."""
    tuner = get_tuner(model)
    own = model.state_dict()
    base_names = [k for k in own if not tuner.owns(k)]
    fits = [k for k in base_names if k in given and given[k].shape == own[k].shape]
    tuned_given = len([k for k in own if tuner.trainable(k) and k in given])
    fix = ('Pass the checkpoint tools/train.py wrote for this config (WORK_DIR/iter_N.pth or '
           'epoch_N.pth)')
    if tuned_given:
        return (f'lacks {len(missing)} of the {tuner.method} tensors this model tunes, e.g. '
                f'{missing[:3]}: it was made for other layers or another tuner. {fix}, or use '
                'the config it was trained with.')
    if base_names and len(fits) >= 0.9 * len(base_names):
        return (f'is a checkpoint of the base detector: it holds {len(fits)} of the '
                f'{len(base_names)} base tensors of this {type(model).__name__} but none of the '
                f'{tuner.method} tensors this model tunes (e.g. {missing[:2]}). {fix}; to '
                'evaluate the base itself, run tools/test.py CONFIG --zero-shot.')
    return (f'is not a checkpoint of this model: {len(fits)} of its {len(given)} tensors '
            f'match this {type(model).__name__}\'s {len(own)} by name and shape, and none '
            f'is one of the {tuner.method} tensors it tunes (e.g. {missing[:2]}). It was made '
            f'for another detector. {fix}.')


def tensors_digest(state: dict, names: list) -> str:
    """sha256 of the named tensors' names, shapes and values (fp32)."""
    digest = hashlib.sha256()
    for name in names:
        tensor = state[name].detach().float().cpu().contiguous()
        digest.update(name.encode())
        digest.update(str(tuple(tensor.shape)).encode())
        digest.update(tensor.numpy().tobytes())
    return digest.hexdigest()


def check_adapter_checkpoint(model: nn.Module, checkpoint: dict, source: str = 'checkpoint',
                             allow_base_mismatch: bool = False) -> bool:
    """Raise :class:`AdapterMismatchError` if a checkpoint does not fit ``model``: its
    adapter meta (tuner, base), if it has one, and its tuned tensors.

    Returns True for an adapter-only checkpoint, False for a full one.
    """
    meta = (checkpoint.get('meta') or {}).get('adapter')
    if meta is not None:
        check_adapter_meta(model, meta, source, allow_base_mismatch)
    check_tuned_tensors(model, checkpoint.get('state_dict', checkpoint), source)
    return meta is not None


def check_loaded_state_dict(module: nn.Module, state_dict: dict, prefix: str,
                            local_metadata: dict, *args) -> None:
    """Load-state-dict pre-hook of every tuned detector: whoever loads it (mmengine's
    runner, ``init_detector``, ``DetInferencer``, ``model.load_state_dict``), a state dict
    that lacks the tuned tensors, does not fit them, holds NaN/inf in them, or (with its
    adapter meta) was tuned for another setting or base, stops the load with
    :class:`AdapterMismatchError`. ``model.zero_shot=True`` evaluates the base on purpose."""
    if getattr(module, '_load_checks_off', 0):
        return
    source = local_metadata.get(SOURCE_KEY, 'the state dict being loaded')
    tuner = get_tuner(module)
    if getattr(module, 'zero_shot', False):
        added = [k for k in state_dict if k.startswith(prefix) and tuner.owns(k[len(prefix):])]
        if added:
            raise AdapterMismatchError(
                f'{source} holds {tuner.method} tensors (e.g. {added[:2]}), but the model is '
                'built with zero_shot=True (the tuner switched off, the base evaluated): drop '
                '--zero-shot / model.zero_shot to evaluate the tuned checkpoint.')
        return
    meta = local_metadata.get(META_KEY)
    if meta is not None:
        check_adapter_meta(module, meta, source)
    check_tuned_tensors(module, state_dict, source, prefix)


@contextlib.contextmanager
def load_checks_off(model: nn.Module):
    """Loads inside this context skip :func:`check_loaded_state_dict` (the base
    checkpoint, which has no tuned tensors; a checkpoint just checked with its meta)."""
    model = unwrap(model)
    model._load_checks_off = getattr(model, '_load_checks_off', 0) + 1
    try:
        yield
    finally:
        model._load_checks_off -= 1


def load_adapter(model: nn.Module, checkpoint: Union[str, dict],
                 allow_base_mismatch: bool = False) -> dict:
    """Load an adapter-only (or full) checkpoint onto a tuned model, after checking it."""
    source = f'checkpoint {checkpoint}' if isinstance(checkpoint, str) else 'checkpoint'
    if isinstance(checkpoint, str):
        checkpoint = load_checkpoint_file(checkpoint, map_location='cpu')
    check_adapter_checkpoint(model, checkpoint, source, allow_base_mismatch)
    state = checkpoint.get('state_dict', checkpoint)
    with load_checks_off(model):  # just checked, with its meta and name
        unwrap(model).load_state_dict(state, strict=False)
    return checkpoint


def atomic_save(obj, path: str) -> None:
    """torch.save to a temporary file beside ``path``, then rename: never half-written."""
    atomic_write(path, lambda tmp: torch.save(obj, tmp))
