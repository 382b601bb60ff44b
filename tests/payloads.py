"""Crafted checkpoint files for the tests of our loaders: each, if unpickled as it asks,
creates a marker file (the side effect a test looks for). Built here, never downloaded.

- ``reduce_payload``: a ``__reduce__`` that calls ``os.system`` directly (refused by any
  weights-only load);
- ``gadget_payload``: only globals a careless allowlist admits: ``builtins.getattr`` walks
  from ``getattr.__self__`` (the builtins module) to ``eval``, and torch's own allowlisted
  ``torch._tensor._rebuild_from_type_v2`` calls it. Allowing ``getattr`` process-wide (as
  mmdet-sdpt once did, for mmengine's message hub) lets this run code.
"""
import os

import torch


class _Getattr:
    def __init__(self, obj, name):
        self.obj, self.name = obj, name

    def __reduce__(self):
        return getattr, (self.obj, self.name)


class _CallThroughTorch:
    def __init__(self, func, arg):
        self.func, self.arg = func, arg

    def __reduce__(self):
        return torch._tensor._rebuild_from_type_v2, (self.func, torch.Tensor, (self.arg, ), None)


class _System:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f'touch {self.marker}', )


def _looks_like_a_checkpoint(payload) -> dict:
    return {'meta': {'payload': payload}, 'state_dict': {'x': torch.zeros(1)}}


def gadget_payload(path, marker) -> str:
    builtins_module = _Getattr(getattr, '__self__')
    evaluate = _Getattr(builtins_module, 'eval')
    code = f"__import__('pathlib').Path({str(marker)!r}).touch()"
    torch.save(_looks_like_a_checkpoint(_CallThroughTorch(evaluate, code)), str(path))
    return str(path)


def reduce_payload(path, marker) -> str:
    torch.save(_looks_like_a_checkpoint(_System(marker)), str(path))
    return str(path)


PAYLOADS = {'reduce': reduce_payload, 'gadget': gadget_payload}
