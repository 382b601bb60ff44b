"""What travels in a federation: the tuner's tensors, as Flower ``ArrayRecord``s in one
stable key order, and the adapter meta (tuner and base fingerprint) as JSON text in a
``ConfigRecord``. The server checks every update before it is averaged: an update that
does not fit the global adapter (other keys, other shapes, NaN/inf, another tuner setting,
another base) is rejected with the reason, named by its site."""
import json
from collections import OrderedDict
from typing import Dict, Optional

import numpy as np
import torch
from flwr.app import Array, ArrayRecord

META = 'adapter-meta'  # ConfigRecord key: adapter meta (tuner, base), JSON text
SITE = 'site'  # ConfigRecord key: the replying site's domain name


class RejectedUpdate(ValueError):
    """A site's update that the server does not average (the message names why)."""


def to_arrays(state: Dict[str, torch.Tensor]) -> ArrayRecord:
    """An adapter state dict as an ``ArrayRecord``, keys sorted (the order every site and
    the server agree on). fp32 on the wire: a site training in fp16/bf16 sends fp32."""
    return ArrayRecord(OrderedDict(
        (k, Array(np.ascontiguousarray(state[k].detach().float().cpu().numpy())))
        for k in sorted(state)))


def to_state(arrays: ArrayRecord) -> Dict[str, torch.Tensor]:
    """An ``ArrayRecord`` as a state dict (numpy's loader without pickle: Flower's)."""
    return OrderedDict((k, torch.from_numpy(np.array(arrays[k].numpy())))
                       for k in arrays.keys())


def payload_bytes(arrays: ArrayRecord) -> int:
    """Bytes of an update's tensors on the wire (Flower's own count: the serialized
    arrays and their keys)."""
    return arrays.count_bytes()


def dump_meta(meta: dict) -> str:
    return json.dumps(meta, sort_keys=True)


def load_meta(text: str) -> dict:
    return json.loads(text)


def check_update(state: Dict[str, torch.Tensor], meta: Optional[dict],
                 expected: Dict[str, torch.Tensor], expected_meta: dict,
                 who: str) -> None:
    """Raise :class:`RejectedUpdate` unless ``state`` (a site's update) has exactly the
    global adapter's keys and shapes, finite values, and was made by the same tuner setting
    on the same base (``meta``, the site's adapter meta)."""
    if meta is None:
        raise RejectedUpdate(f'{who} sent no adapter meta: it does not run this project\'s '
                             'ClientApp (mmdet_sdpt.federated.client).')
    if meta.get('tuner') != expected_meta['tuner']:
        raise RejectedUpdate(
            f'{who} tunes another setting ({meta.get("tuner")}) than the federation '
            f'({expected_meta["tuner"]}): the site must run the federation\'s config.')
    if meta.get('base') != expected_meta['base']:
        raise RejectedUpdate(
            f'{who} is on base {meta.get("base")}, the federation on {expected_meta["base"]}: '
            'the site must load the federation\'s base checkpoint (model.base_checkpoint).')
    missing = sorted(set(expected) - set(state))
    extra = sorted(set(state) - set(expected))
    if missing or extra:
        raise RejectedUpdate(f'{who} sent other tensors than the adapter\'s: missing '
                             f'{missing[:3]}, unexpected {extra[:3]}.')
    wrong = [f'{k}: {tuple(state[k].shape)} vs {tuple(v.shape)}'
             for k, v in expected.items() if tuple(state[k].shape) != tuple(v.shape)]
    if wrong:
        raise RejectedUpdate(f'{who} sent tensors of other shapes than the adapter\'s: '
                             f'{wrong[:3]}.')
    broken = [k for k, v in state.items()
              if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if broken:
        raise RejectedUpdate(f'{who} sent NaN/inf in {len(broken)} tensors, e.g. '
                             f'{broken[:2]} (its local training diverged).')
