"""Adapter-only checkpoints: just the tuned tensors plus what they must be loaded on.

``meta['adapter']`` records the tuner (method, K, layers, dims, mask variant) and the base it
was tuned on (detector class and a fingerprint of a few frozen tensors). Loading checks both
and stops with one error that names the fix.
"""
import os.path as osp
import warnings
from typing import Union

import torch
from mmengine.model import is_model_wrapper
from mmengine.runner.checkpoint import _load_checkpoint
from torch import nn

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
    """Reduce a runner checkpoint to the tuned tensors, in place, and record the meta."""
    tuner = get_tuner(model)
    checkpoint['state_dict'] = tuner.adapter_state_dict(checkpoint['state_dict'])
    checkpoint.setdefault('meta', {})['adapter'] = adapter_meta(model)
    return checkpoint


def _differences(theirs: dict, ours: dict) -> str:
    """The knobs in which two tuner descriptions differ, e.g. "num_tokens=4 vs 8"."""
    keys = [k for k in dict.fromkeys(list(theirs) + list(ours)) if theirs.get(k) != ours.get(k)]
    return '; '.join(f'{k}={theirs.get(k)} (checkpoint) vs {k}={ours.get(k)} (model)'
                     for k in keys)


def check_adapter_checkpoint(model: nn.Module, checkpoint: dict, source: str = 'checkpoint',
                             allow_base_mismatch: bool = False) -> bool:
    """Raise :class:`AdapterMismatchError` if an adapter checkpoint does not fit ``model``.

    Returns False for checkpoints that are not adapter-only (full checkpoints: nothing to
    check here), True for a fitting adapter checkpoint.
    """
    meta = (checkpoint.get('meta') or {}).get('adapter')
    if meta is None:
        return False
    model = unwrap(model)
    ours = adapter_meta(model)
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
    state = checkpoint.get('state_dict', {})
    expected = get_tuner(model).adapter_state_dict(model.state_dict())
    missing = sorted(set(expected) - set(state))
    wrong = [f'{k}: {tuple(state[k].shape)} vs {tuple(v.shape)}' for k, v in expected.items()
             if k in state and state[k].shape != v.shape]
    if missing or wrong:
        raise AdapterMismatchError(
            f'{source} does not hold the tuned tensors of this model: missing {missing[:3]}, '
            f'shape mismatches {wrong[:3]}. Use the checkpoint made for this config.')
    return True


def load_adapter(model: nn.Module, checkpoint: Union[str, dict],
                 allow_base_mismatch: bool = False) -> dict:
    """Load an adapter-only (or full) checkpoint onto a tuned model, after checking it."""
    source = checkpoint if isinstance(checkpoint, str) else 'checkpoint'
    if isinstance(checkpoint, str):
        if not osp.isfile(checkpoint):
            raise FileNotFoundError(f'checkpoint {checkpoint!r} not found')
        checkpoint = _load_checkpoint(checkpoint, map_location='cpu')
    check_adapter_checkpoint(model, checkpoint, source, allow_base_mismatch)
    state = checkpoint.get('state_dict', checkpoint)
    unwrap(model).load_state_dict(state, strict=False)
    return checkpoint


def atomic_save(obj, path: str) -> None:
    """torch.save to a temporary file beside ``path``, then rename: never half-written."""
    atomic_write(path, lambda tmp: torch.save(obj, tmp))
