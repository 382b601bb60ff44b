"""mmdet-sdpt: parameter-efficient tuning of fusion-based vision-language detectors
(SDPT, ECCV 2024, first) as registry-built, config-driven MMDetection 3.x components.

Importing the package registers everything into mmdet's registries.
"""
from . import compat  # noqa: F401  (before anything imports lvis)
from . import checkpoint  # noqa: F401  (every local .pth load: tensors and plain data only)
from . import datasets, engine, models, visualization  # noqa: F401
from .adapter import load_adapter

__version__ = '0.1.0'
__all__ = ['load_adapter', '__version__']
from . import evaluation, robust  # noqa: F401
