"""Labels follow the words: box labels and metric category ids are mapped by category name.

GLIP and Grounding DINO are prompted with ``metainfo['classes']`` (a sample's ``text``), so
label ``i`` means ``classes[i]``. mmdet's ``CocoDataset`` and ``CocoMetric`` map category
ids to labels with ``COCO.get_cat_ids(cat_names=classes)``, which keeps the annotation
*file's* order: a file listing the same categories in another order trains and evaluates on
swapped labels without a word, and a class the file lacks (or a name two categories share)
shifts every label after it.

:class:`NameOrderedCOCO` answers that lookup by name: ``ids[i]`` is the id of the category
named ``classes[i]``, whatever the file's order; a missing or ambiguous name stops with
:class:`ClassOrderError`. Our datasets use it as their ``COCOAPI`` and ``ODinWCocoMetric``
for its ground truth; mmdet's own ``CocoDataset`` (and subclasses that keep its COCO api)
and ``CocoMetric`` get it when ``TunedRunner`` builds them
(:func:`coco_follows_class_names`). Files whose order already agrees give the same ids as
before, to the digit.
"""
from collections import Counter, defaultdict
from contextlib import contextmanager
from typing import List, Optional, Sequence

from mmdet.datasets import CocoDataset
from mmdet.datasets.api_wrappers import COCO
from mmengine.logging import print_log


_TOLD = set()  # files whose order was logged


class ClassOrderError(ValueError):
    """A class names no category of the annotation file, or several."""


def cat_ids_by_name(categories: Sequence[dict], classes: Sequence[str],
                    source: Optional[str] = None) -> List[int]:
    """The id of the category named ``classes[i]``, for every ``i``, in ``classes`` order.

    Raises :class:`ClassOrderError` (one message, naming ``source``, the names and the fix)
    when a class names no category or several, or is listed twice."""
    source = source or 'the annotation file'
    ids_of = defaultdict(list)
    for cat in categories:
        ids_of[cat['name']].append(cat['id'])
    missing = [n for n in classes if not ids_of[n]]
    shared = {n: ids_of[n] for n in dict.fromkeys(classes) if len(ids_of[n]) > 1}
    twice = [n for n, k in Counter(classes).items() if k > 1]
    if missing or shared or twice:
        what = []
        if missing:
            names = [repr(c['name']) for c in categories]
            has = ', '.join(names[:20]) + (f', ... ({len(names)} in all)' if names[20:] else '')
            what.append(f'class(es) {", ".join(map(repr, missing))} name no category of the '
                        f'file (it has {has or "none"})')
        if shared:
            what.append('name(s) shared by several categories: ' + ', '.join(
                f'{n!r} (ids {", ".join(map(str, ids))})' for n, ids in shared.items()))
        if twice:
            what.append(f'class(es) listed twice in classes: {", ".join(map(repr, twice))}')
        raise ClassOrderError(
            f'{source}: labels follow metainfo.classes by category name, but '
            f'{"; ".join(what)}. Make each class name exactly one category: fix '
            "metainfo.classes (the prompt) or the file's categories.")
    ids = [ids_of[n][0] for n in classes]
    wanted = set(classes)
    if [c['id'] for c in categories if c['name'] in wanted] != ids and source not in _TOLD:
        _TOLD.add(source)  # once per file, though a dataset and a metric both read it
        print_log(f'{source}: its categories are listed in another order than classes; '
                  'labels follow classes by name (category id -> index of its name in '
                  'classes).', logger='current')
    return ids


class NameOrderedCOCO(COCO):
    """mmdet's COCO api whose ``get_cat_ids(cat_names=classes)`` gives the ids in the order
    of ``classes``, by name (:func:`cat_ids_by_name`); every other lookup is mmdet's."""

    def __init__(self, annotation_file=None):
        self.source = annotation_file  # for messages: pycocotools keeps no path
        super().__init__(annotation_file)

    def get_cat_ids(self, cat_names=[], sup_names=[], cat_ids=[]):
        if not cat_names or sup_names or cat_ids or isinstance(cat_names, str):
            return super().get_cat_ids(cat_names, sup_names, cat_ids)
        return cat_ids_by_name(self.dataset.get('categories', []), cat_names, self.source)


@contextmanager
def coco_follows_class_names():
    """Within it, mmdet's ``CocoDataset`` (and the subclasses that inherit its
    ``COCOAPI``) and ``CocoMetric`` read their annotation files with
    :class:`NameOrderedCOCO`.

    ``TunedRunner`` builds its dataloaders and evaluators inside it, so mmdet's classes
    behave as ours under our configs, while mmdet used elsewhere is left as it is (no patch
    at import). Both are swaps of one attribute for the duration of a build, restored after
    it (mmengine builds in the main thread); a dataset loads its file while it is built
    (``Runner.build_dataloader`` calls ``full_init``), a metric in its ``__init__``."""
    from mmdet.evaluation.metrics import coco_metric  # CocoMetric reads its module's COCO
    saved = CocoDataset.__dict__['COCOAPI'], coco_metric.COCO
    CocoDataset.COCOAPI = coco_metric.COCO = NameOrderedCOCO
    try:
        yield
    finally:
        CocoDataset.COCOAPI, coco_metric.COCO = saved
