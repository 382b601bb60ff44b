from .odinw import ODinWDataset, odinw_suite
from .synthetic import SHAPES, make_shapes_dataset

__all__ = ['SHAPES', 'make_shapes_dataset', 'ODinWDataset', 'odinw_suite']
