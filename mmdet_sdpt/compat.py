"""Compatibility steps, each small, named and tested.

``lvis`` 0.5.3 (its only release, used by mmdet's LVIS metrics) still calls ``np.float``,
which numpy removed in 1.24. We keep a current numpy and give ``np.float`` back its old
meaning (the builtin ``float``) for lvis, rather than pinning numpy below 1.24.
"""
import numpy as np


def lvis_numpy_compat() -> bool:
    """Restore ``np.float`` (= ``float``) if numpy removed it. Returns True if it did."""
    if 'float' in np.__dict__:
        return False
    np.float = float  # noqa: the alias numpy deprecated in 1.20 and removed in 1.24
    return True


lvis_numpy_compat()


def mmengine_checkpoint_globals() -> list:
    """Let ``torch.load`` (weights_only by default since torch 2.6) read the checkpoints
    mmengine 0.10 writes: its message hub pickles ``HistoryBuffer`` objects holding numpy
    arrays. Only these globals are allowed; nothing else of the weights-only guard changes.
    """
    import torch
    from mmengine.logging.history_buffer import HistoryBuffer
    try:
        from numpy.core.multiarray import _reconstruct, scalar
    except ImportError:  # numpy 2
        from numpy._core.multiarray import _reconstruct, scalar
    allowed = [HistoryBuffer, _reconstruct, scalar, np.ndarray, np.dtype, getattr]
    allowed += [type(np.dtype(t)) for t in ('float64', 'float32', 'int64', 'int32', 'bool')]
    torch.serialization.add_safe_globals(allowed)
    return allowed


mmengine_checkpoint_globals()
