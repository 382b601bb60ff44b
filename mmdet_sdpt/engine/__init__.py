from .hooks import AdapterCheckpointHook, FrozenSetHook, trainable_table
from .optim import TrainableOptimWrapperConstructor

__all__ = ['AdapterCheckpointHook', 'FrozenSetHook', 'TrainableOptimWrapperConstructor',
           'trainable_table']
