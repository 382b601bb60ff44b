"""ODinW datasets, named as in mmdet's shipped GLIP ODinW configs (class names, folders,
caption prompts are read from there, never retyped here).

mmdet's configs describe each dataset's ``valid`` split only; the other splits of the GLIP
layout sit beside it (``train/``, ``test/`` or ``train_annotations_...json``):
``data/odinw/<dataset folder>/<split>/annotations_without_background.json``.
"""
import functools
import os.path as osp
import re

from mmdet.datasets import CocoDataset
from mmdet.registry import DATASETS

ODINW_CONFIGS = {
    'odinw13': 'glip/odinw/glip_atss_swin-t_a_fpn_dyhead_pretrain_odinw13.py',
    'odinw35': 'glip/odinw/glip_atss_swin-t_a_fpn_dyhead_pretrain_odinw35.py',
}
MMDET_ODINW_ROOT = 'data/odinw/'


@functools.lru_cache(maxsize=None)
def odinw_suite(suite: str = 'odinw35') -> dict:
    """{dataset name: its mmdet dataset config (valid split)}, in mmdet's order."""
    import mmdet
    from mmengine.config import Config
    if suite not in ODINW_CONFIGS:
        raise ValueError(f'unknown ODinW suite {suite!r}; known: {sorted(ODINW_CONFIGS)}')
    path = osp.join(osp.dirname(mmdet.__file__), '.mim', 'configs', ODINW_CONFIGS[suite])
    cfg = Config.fromfile(path)
    return dict(zip(cfg.dataset_prefixes, cfg.datasets))


def _to_split(path: str, split: str) -> str:
    return re.sub(r'(^|/)(valid|val)(?=[/_])', lambda m: m.group(1) + split, path, count=1)


def odinw_layout(name: str, split: str, data_root: str = MMDET_ODINW_ROOT,
                 suite: str = 'odinw13') -> dict:
    """Where ODinW dataset ``name``'s ``split`` lies under ``data_root``, in GLIP's layout:
    ``dict(entry=<mmdet's dataset config>, data_root=..., ann_file=..., img_prefix=...)``
    (``ann_file`` and ``img_prefix`` relative to ``data_root``)."""
    entries = odinw_suite(suite)
    if name not in entries:
        raise KeyError(f'{name!r} is not an ODinW dataset of {suite}; known: '
                       f'{", ".join(entries)}')
    entry = entries[name]
    return dict(entry=entry,
                data_root=osp.join(data_root, entry['data_root'][len(MMDET_ODINW_ROOT):]),
                ann_file=_to_split(entry['ann_file'], split),
                img_prefix=_to_split(entry['data_prefix']['img'], split))


@DATASETS.register_module()
class ODinWDataset(CocoDataset):
    """One ODinW dataset by name, e.g. ``dict(type='ODinWDataset', name='Raccoon',
    split='train')``; classes and layout come from mmdet's ODinW config of ``suite``.

    Args:
        name (str): dataset name as in mmdet's ``dataset_prefixes``.
        split (str): 'train', 'valid' or 'test' (or a few-shot file's split name).
        data_root (str): the ODinW root holding every dataset's folder.
        suite (str): 'odinw13' or 'odinw35' (names differ a little between the two).
        ann_file (str, optional): override the split's annotation file (relative to the
            dataset folder), e.g. a few-shot file ``fewshot_train_shot3_seed30.json``.
    """

    def __init__(self, name: str, split: str = 'train', data_root: str = MMDET_ODINW_ROOT,
                 suite: str = 'odinw13', ann_file: str = None, **kwargs):
        layout = odinw_layout(name, split, data_root, suite)
        self.odinw_name = name
        kwargs.setdefault('caption_prompt', layout['entry'].get('caption_prompt'))
        kwargs.setdefault('return_classes', True)
        super().__init__(
            metainfo=dict(classes=layout['entry']['metainfo']['classes']),
            data_root=layout['data_root'], ann_file=ann_file or layout['ann_file'],
            data_prefix=dict(img=layout['img_prefix']),
            **kwargs)
