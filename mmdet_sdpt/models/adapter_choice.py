"""Which adapter each image of a forward uses, chosen per call and per thread.

A served model holds several adapters of one base in *banks*: each tuner module that can
serve per sample keeps, beside its own tensors, a stack of every loaded adapter's values of
them (``AdapterBank.add``, ``mmdet_sdpt.serving``). A forward run inside
``adapter_choice(rows)`` (``rows``: a LongTensor of bank rows, one per image) gathers each
image's tensors from the banks; inside ``adapter_choice(ZERO_SHOT)`` every tuner module
computes nothing (the base alone); outside any choice, the modules use their own tensors,
as in training and testing.

The choice is a ``contextvars.ContextVar``: two threads (a web page's requests) choose
independently, and no module flag is flipped per request.
"""
import contextlib
from contextvars import ContextVar
from typing import Optional, Union

from torch import Tensor

from ..constants import ZERO_SHOT

_CHOICE: ContextVar = ContextVar('mmdet_sdpt_adapter_choice', default=None)


@contextlib.contextmanager
def adapter_choice(choice: Union[None, str, Tensor]):
    """Forwards inside this context use ``choice``: None (the modules' own tensors),
    ``ZERO_SHOT`` (no tuner module computes) or a LongTensor of bank rows, one per image."""
    if not (choice is None or choice == ZERO_SHOT or isinstance(choice, Tensor)):
        raise ValueError(f'an adapter choice is None, {ZERO_SHOT!r} or a tensor of bank rows, '
                         f'not {choice!r}')
    token = _CHOICE.set(choice)
    try:
        yield
    finally:
        _CHOICE.reset(token)


def switched_off(module) -> bool:
    """Whether a tuner module computes nothing in this forward (its flag, or zero-shot)."""
    choice = _CHOICE.get()
    return not module.enabled or (isinstance(choice, str) and choice == ZERO_SHOT)


def choosing_rows() -> bool:
    """Whether this forward runs under a per-image choice of bank rows."""
    return isinstance(_CHOICE.get(), Tensor)


def chosen(module, name: str) -> Optional[Tensor]:
    """The per-image values (B, *shape) of the module's tensor ``name`` under the current
    choice of bank rows, or None (the module's own tensor applies)."""
    rows = _CHOICE.get()
    if not isinstance(rows, Tensor):
        return None
    bank = getattr(module, 'bank', None)
    if not bank or name not in bank:
        raise RuntimeError(f'{type(module).__name__} holds no bank of {name!r}: load the '
                           'adapters with mmdet_sdpt.serving.AdapterBank before choosing them')
    stack = bank[name]
    return stack.index_select(0, rows.to(stack.device))
