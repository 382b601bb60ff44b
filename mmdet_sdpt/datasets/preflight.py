"""The preflight: a suite's data checked before anything trains.

``preflight(suite, datasets, shots)`` reads every split file a protocol would read and
returns one :class:`Problem` per thing that would fail later, each naming the file and the
fix: a split file missing (with the layout expected, and the folder that does exist when the
root looks one level off), a file that does not parse or lacks COCO's keys, an image file
missing, a class the suite (the config) prompts for that the file lacks or a file category
the suite does not name (the first would crash in the metric at the first evaluation), fewer
train images of a class than a requested shot, a retention split missing.
``tools/fewshot_protocol.py`` runs it before the grid (and prints it under ``--dry-run``).

Generated suites (``Suite.prepare``) write their files on first use: they are not checked.
"""
import json
import os.path as osp
from collections import Counter
from dataclasses import dataclass
from typing import Iterable, List, Optional, Sequence

from .odinw import odinw_layout
from .suites import LAYOUT, get_suite


@dataclass(frozen=True)
class Problem:
    path: str  # the file (or folder) at fault
    problem: str
    fix: str

    def __str__(self) -> str:
        return f'{self.path}: {self.problem}; fix: {self.fix}'


def _load(path: str, problems: List[Problem]) -> Optional[dict]:
    if not osp.isfile(path):
        split_dir, name = osp.split(path)
        folder = osp.dirname(split_dir)  # the dataset's folder
        root = osp.dirname(folder)
        hint = ''
        if osp.isfile(osp.join(root, osp.basename(split_dir), name)):
            hint = (f' (but {osp.join(root, osp.basename(split_dir), name)} is: the data '
                    f'root is one level too deep; pass {osp.dirname(root)})')
        elif osp.isdir(osp.join(folder, osp.basename(folder))):
            hint = (f' ({osp.join(folder, osp.basename(folder))} exists: the data root is '
                    f'one level too shallow; pass {folder})')
        problems.append(Problem(path, 'missing' + hint,
                                f'put the split there; a suite is laid out as {LAYOUT}'))
        return None
    try:
        with open(path) as f:
            coco = json.load(f)
    except (OSError, ValueError) as e:
        problems.append(Problem(path, f'does not parse as JSON ({e})',
                                'write it as COCO JSON (images, annotations, categories)'))
        return None
    missing = [k for k in ('images', 'annotations', 'categories')
               if not isinstance(coco, dict) or not isinstance(coco.get(k), list)]
    if missing:
        problems.append(Problem(path, f'has no list {missing}',
                                'write it as COCO JSON (images, annotations, categories)'))
        return None
    return coco


def check_split(path: str, img_dir: str, classes: Sequence[str], shots: Iterable[int] = (),
                check_images: bool = True) -> List[Problem]:
    """Every problem of one split file against the classes the suite prompts for."""
    problems: List[Problem] = []
    coco = _load(path, problems)
    if coco is None:
        return problems
    names = [c.get('name') for c in coco['categories']]
    lacking = [c for c in classes if c not in names]
    if lacking:
        problems.append(Problem(path, f'lacks the classes {lacking} that the suite prompts '
                                'for', 'add them to its categories, or drop them from the '
                                'suite\'s classes (a folder suite takes the file\'s own)'))
    extra = [n for n in names if n not in classes]
    if extra:
        problems.append(Problem(path, f'has categories {extra} that the suite does not '
                                'name', 'add them to the suite\'s classes, or remove them '
                                'and their boxes from the file'))
    if check_images:
        absent = [im.get('file_name') for im in coco['images']
                  if not osp.isfile(osp.join(img_dir, str(im.get('file_name'))))]
        if absent:
            problems.append(Problem(path, f'{len(absent)} of its {len(coco["images"])} '
                                    f'images are not in {img_dir} (first: {absent[0]})',
                                    'put the images beside the file, as file_name says'))
    by_id = {c.get('id'): c.get('name') for c in coco['categories']}
    images = Counter()
    for name, image in {(by_id.get(a.get('category_id')), a.get('image_id'))
                        for a in coco['annotations']}:
        images[name] += 1
    for shot in sorted({s for s in shots if s > 0}):
        short = {c: images[c] for c in classes if c in names and images[c] < shot}
        if short:
            problems.append(Problem(path, f'{shot}-shot needs {shot} train images of each '
                                    f'class; {short} have fewer',
                                    f'add images of those classes, or drop shot {shot}'))
    return problems


def preflight(suite: str, datasets: Optional[Sequence[str]] = None, shots: Iterable[int] = (),
              data_root: Optional[str] = None, retention: bool = True,
              check_images: bool = True) -> List[Problem]:
    """Every problem of ``datasets`` (default: the suite's) for the ``shots`` asked."""
    s = get_suite(suite)
    if s.prepare is not None:
        return []  # generated on first use
    problems: List[Problem] = []
    names = list(datasets or s.datasets)
    for name in names:
        if name not in s.entries:
            problems.append(Problem(osp.join(s.root(data_root), name),
                                    f'is not a dataset of suite {s.name}',
                                    f'choose among {", ".join(s.datasets)}'))
            continue
        classes = s.entries[name]['metainfo']['classes']
        for split in ('train', 'valid', 'test'):
            layout = odinw_layout(name, split, data_root, suite)
            path = osp.join(layout['data_root'], layout['ann_file'])
            img_dir = osp.join(layout['data_root'], layout['img_prefix'])
            problems += check_split(path, img_dir, classes, shots if split == 'train' else (),
                                    check_images)
    if retention:
        for keep in dict.fromkeys(s.retention[n] for n in names if n in s.retention):
            layout = odinw_layout(keep, 'test', data_root, suite)
            problems += check_split(osp.join(layout['data_root'], layout['ann_file']),
                                    osp.join(layout['data_root'], layout['img_prefix']),
                                    s.entries[keep]['metainfo']['classes'], (), check_images)
    return problems
