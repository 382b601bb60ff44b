"""GLIP's few-shot splits: ``fewshot_train_shot{K}_seed{S}.json`` beside a dataset's train
annotations, and the ODinW dataset that reads them.

Sampling follows GLIP (maskrcnn_benchmark ``COCODataset(few_shot=K, shuffle_seed=S)``):
image ids sorted, images without annotations dropped, ``random.Random(S).shuffle`` of the
ids, then greedily, in that order, an image is taken when it holds a class that still has
fewer than K taken images; each taken image counts once for every class it holds and keeps
all its annotations. Unlike GLIP's loop (which indexes a list by ``category_id - 1``) any
category ids work, and a class with fewer than K images in the source is an error instead
of a silently smaller split.
"""
import os.path as osp
import random
from collections import defaultdict
from typing import Dict, List, Tuple

from mmdet.registry import DATASETS

from .odinw import ODinWDataset, odinw_layout


def fewshot_file_name(shot: int, seed: int, split: str = 'train') -> str:
    """GLIP's few-shot file name, e.g. ``fewshot_train_shot3_seed30.json``."""
    return f'fewshot_{split}_shot{int(shot)}_seed{int(seed)}.json'


class NotEnoughImagesError(ValueError):
    """A class has fewer than K images in the source: no K-shot split exists."""


def sample_fewshot(coco: dict, shot: int, seed: int) -> dict:
    """The K-shot subset of a COCO dict (see the module docstring): same keys, the taken
    images in the source's order, all their annotations, every category."""
    if shot < 1:
        raise ValueError(f'shot must be >= 1, got {shot}')
    classes_of: Dict[int, set] = defaultdict(set)
    for ann in coco['annotations']:
        classes_of[ann['image_id']].add(ann['category_id'])
    names = {c['id']: c['name'] for c in coco['categories']}
    images_per_class = defaultdict(int)
    for cats in classes_of.values():
        for c in cats:
            images_per_class[c] += 1
    short = {names[c]: images_per_class[c] for c in names if images_per_class[c] < shot}
    if short:
        raise NotEnoughImagesError(
            f'{len(short)} class(es) have fewer than {shot} annotated images, so no '
            f'{shot}-shot split exists: ' +
            ', '.join(f'{n!r} ({k} image{"s" * (k != 1)})' for n, k in short.items()))

    ids: List[int] = sorted(i['id'] for i in coco['images'] if classes_of.get(i['id']))
    random.Random(seed).shuffle(ids)
    needed = {c: shot for c in names}
    taken = set()
    for img_id in ids:
        cats = classes_of[img_id]
        if any(needed[c] > 0 for c in cats):
            taken.add(img_id)
            for c in cats:
                needed[c] -= 1
        if all(n <= 0 for n in needed.values()):
            break
    subset = {k: v for k, v in coco.items() if k not in ('images', 'annotations')}
    subset['images'] = [i for i in coco['images'] if i['id'] in taken]
    subset['annotations'] = [a for a in coco['annotations'] if a['image_id'] in taken]
    return subset


def write_fewshot_file(train_json: str, shot: int, seed: int, out_dir: str = None,
                       coco: dict = None) -> Tuple[str, dict]:
    """Sample the K-shot split of seed S of ``train_json`` (``coco``: its content, when
    already read) and write it (atomically) as ``fewshot_train_shot{K}_seed{S}.json`` beside
    it (or in ``out_dir``). Returns its path and the split."""
    import json

    from ..utils.atomic_io import atomic_write_json
    if coco is None:
        with open(train_json) as f:
            coco = json.load(f)
    out_dir = out_dir or osp.dirname(osp.abspath(train_json))
    subset = sample_fewshot(coco, shot, seed)
    return atomic_write_json(osp.join(out_dir, fewshot_file_name(shot, seed)), subset), subset


@DATASETS.register_module()
class ODinWFewShotDataset(ODinWDataset):
    """A suite dataset's K-shot train split of seed S: GLIP's
    ``fewshot_train_shot{K}_seed{S}.json`` beside the dataset's train annotations, images
    from the train folder. A missing file is sampled on first use with GLIP's sampler (the
    same as ``tools/fewshot_sample.py``; files already there, e.g. GLIP's own, are read as
    they are). ``shot=0`` is the full train split (GLIP's "full data" row), so one config
    covers the whole protocol.

    Args:
        shot (int): K, images per class (1, 3, 5, 10 in GLIP's protocol; 0: all).
        seed (int): S, the sampling seed (3, 30, 300); it also names the run.
        Others as :class:`ODinWDataset` (``split`` stays 'train').
    """

    def __init__(self, name: str, shot: int, seed: int, suite: str = 'odinw13',
                 split: str = 'train', data_root: str = None, **kwargs):
        if split != 'train':
            raise ValueError(f'GLIP samples few-shot splits from train, not {split!r}')
        if int(shot) < 0:
            raise ValueError(f'shot must be >= 0 (0: full data), got {shot}')
        self.shot, self.seed = int(shot), int(seed)
        if self.shot and kwargs.get('ann_file') is None:
            layout = odinw_layout(name, 'train', data_root, suite, prepare=True)
            kwargs['ann_file'] = osp.join(osp.dirname(layout['ann_file']),
                                          fewshot_file_name(shot, seed))
            path = osp.join(layout['data_root'], kwargs['ann_file'])
            train_json = osp.join(layout['data_root'], layout['ann_file'])
            if not osp.isfile(path) and osp.isfile(train_json):
                write_fewshot_file(train_json, self.shot, self.seed)
        super().__init__(name=name, split='train', suite=suite, data_root=data_root, **kwargs)
