from .odinw import ODinWDataset, odinw_suite
from .suites import Suite, get_suite, register_suite, suite_names
from .synthetic import (DEMO_PARTS, SHAPES, SyntheticShapesDataset, make_demo_data,
                        make_shapes_dataset)
from .transforms import ShuffleClassPrompt

__all__ = [
    'SHAPES', 'DEMO_PARTS', 'make_shapes_dataset', 'make_demo_data', 'SyntheticShapesDataset',
    'ODinWDataset', 'odinw_suite', 'ShuffleClassPrompt', 'Suite', 'get_suite',
    'register_suite', 'suite_names'
]
from .fewshot import ODinWFewShotDataset, fewshot_file_name, sample_fewshot  # noqa: F401,E402
from . import shapeworld  # noqa: F401,E402  (its negative pool for ShuffleClassPrompt)
