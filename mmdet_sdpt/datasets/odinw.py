"""Datasets of a benchmark suite in GLIP's ODinW layout (``suites.py``): mmdet's ODinW
(names, classes, folders and caption prompts read from mmdet's shipped GLIP ODinW configs,
never retyped here) or a generated suite.

A suite describes each dataset's ``valid`` split; the other splits of the GLIP layout sit
beside it (``train/``, ``test/`` or ``train_annotations_...json``):
``<root>/<dataset folder>/<split>/annotations_without_background.json``.
"""
import os.path as osp
import re
from typing import Optional

from mmdet.datasets import CocoDataset
from mmdet.registry import DATASETS

from .class_order import NameOrderedCOCO
from .suites import MMDET_ODINW_ROOT, ODINW_CONFIGS, get_suite  # noqa: F401


def odinw_suite(suite: str = 'odinw35') -> dict:
    """{dataset name: its dataset config (valid split, ``data_root`` relative to the
    suite's root)} of the datasets suite ``suite`` reports, in order (``suites.py``)."""
    s = get_suite(suite)
    return {name: s.entries[name] for name in s.datasets}


def _to_split(path: str, split: str) -> str:
    return re.sub(r'(^|/)(valid|val)(?=[/_])', lambda m: m.group(1) + split, path, count=1)


def odinw_layout(name: str, split: str, data_root: Optional[str] = None,
                 suite: str = 'odinw13', prepare: bool = False) -> dict:
    """Where dataset ``name``'s ``split`` lies under ``data_root`` (default: the suite's
    root), in GLIP's layout: ``dict(entry=<its dataset config>, data_root=..., ann_file=...,
    img_prefix=...)`` (``ann_file`` and ``img_prefix`` relative to ``data_root``).
    ``prepare``: make the split's files first where the suite generates them."""
    s = get_suite(suite)
    entry = s.entry(name)
    root = s.root(data_root)
    if prepare and s.prepare is not None:
        s.prepare(root, name, split)
    return dict(entry=entry, data_root=osp.join(root, entry['data_root']),
                ann_file=_to_split(entry['ann_file'], split),
                img_prefix=_to_split(entry['data_prefix']['img'], split))


@DATASETS.register_module()
class ODinWDataset(CocoDataset):
    """One dataset of a suite by name, e.g. ``dict(type='ODinWDataset', name='Raccoon',
    split='train')``; classes and layout come from the suite (``suites.py``: mmdet's ODinW
    configs for odinw13/odinw35; generated on first use for shapeworld).

    Args:
        name (str): dataset name as in mmdet's ``dataset_prefixes``.
        split (str): 'train', 'valid' or 'test' (or a few-shot file's split name).
        data_root (str, optional): the root holding every dataset's folder (default: the
            suite's, e.g. data/odinw/).
        suite (str): a registered suite: 'odinw13', 'odinw35' (names differ a little
            between the two), 'shapeworld', ...
        ann_file (str, optional): override the split's annotation file (relative to the
            dataset folder), e.g. a few-shot file ``fewshot_train_shot3_seed30.json``.
    """
    COCOAPI = NameOrderedCOCO  # labels follow the classes by name (class_order.py)

    def __init__(self, name: str, split: str = 'train', data_root: Optional[str] = None,
                 suite: str = 'odinw13', ann_file: str = None, **kwargs):
        # a generated suite writes the split on full_init, not here: a lazy build (serving
        # reads the classes of the config's test set) writes nothing
        layout = odinw_layout(name, split, data_root, suite)
        self._layout_args = (name, split, data_root, suite)
        self.odinw_name = name
        kwargs.setdefault('caption_prompt', layout['entry'].get('caption_prompt'))
        kwargs.setdefault('return_classes', True)
        super().__init__(
            metainfo=dict(classes=layout['entry']['metainfo']['classes']),
            data_root=layout['data_root'], ann_file=ann_file or layout['ann_file'],
            data_prefix=dict(img=layout['img_prefix']),
            **kwargs)

    def full_init(self) -> None:
        if not self._fully_initialized:
            odinw_layout(*self._layout_args, prepare=True)
        super().full_init()
