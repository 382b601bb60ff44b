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

