from .demo_hooks import ProgressBarHook, ZeroShotComparisonHook
from .hooks import (AdapterCheckpointHook, FrozenSetHook, PlainCheckpointHook,
                    trainable_table)
from .optim import TrainableOptimWrapperConstructor

__all__ = ['AdapterCheckpointHook', 'FrozenSetHook', 'PlainCheckpointHook',
           'TrainableOptimWrapperConstructor', 'ProgressBarHook', 'ZeroShotComparisonHook',
           'trainable_table']
from . import prototype_init  # noqa: E402,F401  (registers its hook)
