"""Data that would silently give wrong results, named: an annotation file with no images,
boxes dropped because their category is not a prompt class, a sample that fails in the
pipeline (its file named)."""
import json
import os.path as osp
from typing import Optional

from mmengine.dataset import Compose
from mmengine.logging import print_log
from mmengine.registry import DATASETS, DefaultScope


class EmptyDatasetError(ValueError):
    """A dataset's annotation file has no images (left)."""


class DataSampleError(RuntimeError):
    """A sample failed in the data pipeline; the message names its file."""


class SampleErrorCompose(Compose):
    """mmengine's ``Compose`` that names the sample's file when a transform fails."""

    def __call__(self, data: dict):
        try:
            return super().__call__(data)
        except DataSampleError:
            raise
        except Exception as err:
            path = data.get('img_path') if isinstance(data, dict) else None
            if path is None:
                raise
            raise DataSampleError(
                f'data sample {path} failed in the data pipeline: {type(err).__name__}: '
                f'{err}. If the file is corrupt or not an image, replace it or remove it '
                'from the annotation file.') from err


def leaf_datasets(dataset) -> list:
    """The datasets inside mmengine/torch wrappers (Concat, Repeat, ClassBalanced...)."""
    if hasattr(dataset, 'datasets'):
        return [leaf for d in dataset.datasets for leaf in leaf_datasets(d)]
    if hasattr(dataset, 'dataset'):
        return leaf_datasets(dataset.dataset)
    return [dataset]


def _ann_file_of(cfg) -> Optional[str]:
    """The annotation file a dataset config reads: the dataset built without loading
    (``lazy_init``) knows it with ``data_root`` joined; else the config's own keys."""
    inner = cfg.get('dataset', cfg) if 'ann_file' not in cfg else cfg
    try:
        with DefaultScope.overwrite_default_scope(inner.get('_scope_')):
            ann_file = DATASETS.build({**inner, 'lazy_init': True}).ann_file
    except Exception:  # a dataset class without lazy_init or ann_file
        ann_file = inner.get('ann_file')
        root = inner.get('data_root') or ''
        if ann_file and root and not osp.isabs(ann_file):
            ann_file = osp.join(root, ann_file)
    return ann_file or None


def _read_coco(path: str, max_bytes: int = 256 << 20) -> Optional[dict]:
    if not path or not osp.isfile(path) or osp.getsize(path) > max_bytes:
        return None
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def empty_dataset_error(cfg) -> EmptyDatasetError:
    path = _ann_file_of(cfg)
    coco = _read_coco(path)
    if path is None:
        what = 'its dataset has no samples'
    elif coco is not None and not coco.get('images'):
        what = f'the annotation file {path} holds no images (it is empty)'
    elif coco is not None:
        what = (f'none of the {len(coco["images"])} images of {path} is left after '
                'filter_cfg (e.g. filter_empty_gt drops images without boxes of the '
                "prompt's classes)")
    else:
        what = f'the annotation file {path} gives no samples'
    return EmptyDatasetError(f'{what}: point ann_file at a file with images, or check '
                             'the dataset config (data_root, ann_file, classes, filter_cfg).')


def check_dropped_categories(dataset) -> Optional[str]:
    """Warn (and return the warning) when annotations of ``dataset``'s file have categories
    that are not among its classes (the prompt): mmdet's ``CocoDataset`` drops those boxes
    without a word."""
    classes = (getattr(dataset, 'metainfo', None) or {}).get('classes')
    coco = _read_coco(getattr(dataset, 'ann_file', None))
    if not classes or coco is None or not coco.get('annotations'):
        return None
    names = {c['id']: c.get('name', str(c['id'])) for c in coco.get('categories', [])}
    kept = set(classes)
    dropped = {}
    for ann in coco['annotations']:
        name = names.get(ann.get('category_id'), f'id {ann.get("category_id")}')
        if name not in kept:
            dropped[name] = dropped.get(name, 0) + 1
    if not dropped:
        return None
    total, lost = len(coco['annotations']), sum(dropped.values())
    per = ', '.join(f'{n!r}: {c}' for n, c in sorted(dropped.items(), key=lambda x: -x[1]))
    msg = (f'{dataset.ann_file}: {lost} of {total} boxes ({100 * lost / total:.0f}%) are '
           f"dropped: their categories are not among the prompt's classes ({per}). Add "
           'them to metainfo.classes, or remove them from the annotation file.')
    print_log(msg, logger='current', level=30)
    return msg
