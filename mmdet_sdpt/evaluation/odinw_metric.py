"""COCO box AP on one ODinW dataset's split, its ground-truth file found by name.

mmdet 3.3's ``CocoMetric`` needs ``ann_file``: without it, it takes the ground truth from
``data_sample['instances']``, which mmdet's ``PackDetInputs`` never packs, and stops with
"ground truth is required for evaluation when `ann_file` is not provided". An ODinW
config chooses its dataset with an environment variable, so it cannot write that path
(each dataset has its own folder and layout); this metric finds it as ``ODinWDataset``
finds its annotations.
"""
import os.path as osp
from typing import Optional

from mmdet.evaluation import CocoMetric
from mmdet.registry import METRICS

from ..datasets.class_order import coco_follows_class_names
from ..datasets.odinw import odinw_layout


def odinw_ann_file(name: str, split: str, data_root: Optional[str] = None,
                   suite: str = 'odinw13') -> str:
    """The annotation file of ``split`` of suite dataset ``name`` under ``data_root``, laid
    out as ``ODinWDataset`` reads it (made first where the suite generates its data)."""
    layout = odinw_layout(name, split, data_root, suite, prepare=True)
    return osp.join(layout['data_root'], layout['ann_file'])


@METRICS.register_module()
class ODinWCocoMetric(CocoMetric):
    """``CocoMetric`` whose ``ann_file`` is ODinW dataset ``name``'s ``split``, e.g.
    ``dict(type='ODinWCocoMetric', name='Raccoon', split='test', data_root='data/odinw/')``.
    Other arguments as ``CocoMetric`` (``metric='bbox'`` by default). A label is mapped to
    the id of the category named like its class, whatever the file's order
    (``datasets/class_order.py``)."""

    def __init__(self, name: str, split: str = 'valid', data_root: Optional[str] = None,
                 suite: str = 'odinw13', **kwargs):
        self.odinw_name, self.split = name, split
        with coco_follows_class_names():  # its ground truth read with NameOrderedCOCO
            super().__init__(ann_file=odinw_ann_file(name, split, data_root, suite), **kwargs)
