"""Labels follow the words (issue #28, item 2): a box's label is the index of its category's
*name* in ``classes`` (the prompt), and a metric maps label i to the id of the category
named ``classes[i]``, whatever order the annotation file lists its categories in: the same
file with its categories reversed or shuffled trains and evaluates the same.
(mmdet maps by the file's order: it silently swapped the demo's labels, AP 0.706 -> 0.187.)
"""
import json
import os
import os.path as osp
import shutil

import pytest

import mmdet_sdpt  # noqa: F401
from mmdet_sdpt.datasets import ODinWDataset, SyntheticShapesDataset, make_shapes_dataset
from mmdet_sdpt.datasets import class_order
from mmdet_sdpt.datasets.class_order import ClassOrderError, NameOrderedCOCO
from mmdet_sdpt.engine import TunedRunner
from tests.helpers import CAT_IDS, cocoeval_stats, data_samples, make_gt_and_dets

SHAPE_CLASSES = ('circle', 'square', 'triangle')
ORDERS = {'reversed': lambda cats: cats[::-1],
          'shuffled': lambda cats: [cats[1], cats[2], cats[0]] + cats[3:]}


@pytest.fixture(autouse=True)
def mmdet_scope():
    from mmdet.utils import register_all_modules
    register_all_modules()  # mmdet as the default scope, as the runner sets it


def reorder(src, dst, order):
    """Copy COCO file ``src`` to ``dst`` with its categories in another order (same ids,
    same names, same annotations)."""
    data = json.load(open(src))
    data['categories'] = ORDERS[order](data['categories']) if order in ORDERS else order(
        data['categories'])
    os.makedirs(osp.dirname(dst), exist_ok=True)
    json.dump(data, open(dst, 'w'))
    return dst


def truth(path):
    """Each image's boxes (x1, y1, x2, y2) with the name of their category, from the file."""
    data = json.load(open(path))
    names = {c['id']: c['name'] for c in data['categories']}
    return [[([a['bbox'][0], a['bbox'][1], a['bbox'][0] + a['bbox'][2],
               a['bbox'][1] + a['bbox'][3]], names[a['category_id']])
             for a in data['annotations'] if a['image_id'] == img['id']]
            for img in data['images']]


def boxes_by_name(dataset):
    """Each image's boxes with the class name their label stands for in the prompt."""
    classes = dataset.metainfo['classes']
    return [[(i['bbox'], classes[i['bbox_label']]) for i in dataset.get_data_info(k)['instances']]
            for k in range(len(dataset))]


def logged(monkeypatch):
    lines = []
    monkeypatch.setattr(class_order, 'print_log', lambda msg, *a, **k: lines.append(msg))
    return lines


@pytest.fixture(scope='module')
def shapes(tmp_path_factory):
    """A small shapes split: ``root/annotations/train.json``, categories in classes order."""
    root = str(tmp_path_factory.mktemp('class_order') / 'shapes')
    return make_shapes_dataset(root, 'train', 6, SHAPE_CLASSES, size=64, seed=5)


def runner_loader(ann_file, classes=SHAPE_CLASSES):
    """mmdet's CocoDataset built from a config dict by TunedRunner.build_dataloader."""
    return TunedRunner.build_dataloader(dict(
        batch_size=1, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=False),
        dataset=dict(type='CocoDataset', ann_file=ann_file, data_prefix=dict(img=''),
                     metainfo=dict(classes=classes), return_classes=True, test_mode=True,
                     pipeline=[])))


# ---- datasets ----------------------------------------------------------------------------
@pytest.mark.parametrize('order', ORDERS)
def test_runner_built_coco_dataset_labels_follow_the_class_names(shapes, tmp_path, order,
                                                                 monkeypatch):
    from mmdet.datasets import CocoDataset
    from mmdet.datasets.api_wrappers import COCO
    other = reorder(shapes, str(tmp_path / 'other.json'), order)
    lines = logged(monkeypatch)
    assert boxes_by_name(runner_loader(shapes).dataset) == truth(shapes)
    assert not lines  # the file's order agrees: nothing to say
    assert boxes_by_name(runner_loader(other).dataset) == truth(shapes)
    assert len(lines) == 1 and other in lines[0] and 'by name' in lines[0]
    # scoped to the runner's build: mmdet's class is left as it is (no patch at import)
    assert CocoDataset.COCOAPI is COCO


@pytest.mark.parametrize('order', ORDERS)
def test_synthetic_shapes_labels_follow_the_class_names(tmp_path, order):
    from mmdet_sdpt.datasets import SHAPES
    transfer = ('ball', 'box', 'cone', 'plus')
    for root in ('a', 'b'):
        for split in ('train', 'val', 'test'):  # every split: the dataset then draws none
            make_shapes_dataset(str(tmp_path / root / 'transfer'), split, 3, transfer, SHAPES,
                                size=64, seed=3)
    test_b = str(tmp_path / 'b' / 'transfer' / 'annotations' / 'test.json')
    reorder(test_b, test_b, order)
    a, b = (SyntheticShapesDataset(data_root=str(tmp_path / r), part='transfer', split='test',
                                   pipeline=[], test_mode=True) for r in ('a', 'b'))
    assert boxes_by_name(a) == boxes_by_name(b) == truth(test_b)
    assert b.get_data_info(0)['text'] == transfer  # the prompt GLIP/GDINO read: classes


def odinw_file(root, name, split, gt):
    """Write ``gt`` where ODinWDataset / ODinWCocoMetric read ``name``'s ``split``."""
    from mmdet_sdpt.evaluation import odinw_ann_file
    path = odinw_ann_file(name, split, str(root) + '/')
    os.makedirs(osp.dirname(path), exist_ok=True)
    json.dump(gt, open(path, 'w'))
    return path


def shellfish_gt(seed=4):
    """make_gt_and_dets' ground truth and detections, its categories (non-contiguous ids)
    named as ODinW's ShellfishOpenImages classes."""
    gt, dets = make_gt_and_dets(seed)
    names = ODinWDataset(name='ShellfishOpenImages', pipeline=[], lazy_init=True).metainfo[
        'classes']
    for cat, name in zip(gt['categories'], names):
        cat['name'] = name
    return gt, dets, names


@pytest.mark.parametrize('order', ORDERS)
def test_odinw_dataset_labels_follow_the_class_names(tmp_path, order):
    gt, _, names = shellfish_gt()
    original = odinw_file(tmp_path / 'a', 'ShellfishOpenImages', 'train', gt)
    other = reorder(original, odinw_file(tmp_path / 'b', 'ShellfishOpenImages', 'train', gt),
                    order)
    a, b = (ODinWDataset(name='ShellfishOpenImages', split='train', data_root=str(r) + '/',
                         pipeline=[]) for r in (tmp_path / 'a', tmp_path / 'b'))
    assert a.metainfo['classes'] == b.metainfo['classes'] == names
    assert boxes_by_name(a) == boxes_by_name(b) == truth(other)


# ---- metrics -----------------------------------------------------------------------------
def evaluate(metric, dets, classes):
    metric.dataset_meta = dict(classes=classes)
    metric.process({}, data_samples(dets))
    return metric.evaluate(size=len(dets))['coco/bbox_mAP']


@pytest.mark.parametrize('order', ORDERS)
def test_runner_built_coco_metric_maps_labels_by_name(tmp_path, order):
    from mmdet.datasets.api_wrappers import COCO
    from mmdet.evaluation.metrics import coco_metric
    gt, dets = make_gt_and_dets(4)
    original = str(tmp_path / 'gt.json')
    json.dump(gt, open(original, 'w'))
    other = reorder(original, str(tmp_path / 'other.json'), order)
    runner = TunedRunner.__new__(TunedRunner)  # build_evaluator reads nothing of the runner
    aps, cat_ids = [], []
    for path in (original, other):
        [metric] = runner.build_evaluator(dict(type='CocoMetric', metric='bbox',
                                               ann_file=path)).metrics
        aps.append(evaluate(metric, dets, tuple(c['name'] for c in gt['categories'])))
        cat_ids.append(metric.cat_ids)
    assert aps[0] == aps[1] == round(cocoeval_stats(original, dets)[0], 3) > 0.1
    assert cat_ids == [CAT_IDS, CAT_IDS]  # label i -> the id of the category named classes[i]
    assert coco_metric.COCO is COCO  # mmdet's module is left as it is after the build


@pytest.mark.parametrize('order', ORDERS)
def test_odinw_metric_maps_labels_by_name(tmp_path, order):
    from mmdet_sdpt.evaluation import ODinWCocoMetric
    gt, dets, names = shellfish_gt()
    original = odinw_file(tmp_path / 'a', 'ShellfishOpenImages', 'test', gt)
    reorder(original, odinw_file(tmp_path / 'b', 'ShellfishOpenImages', 'test', gt), order)
    aps = [evaluate(ODinWCocoMetric(name='ShellfishOpenImages', split='test',
                                    data_root=str(r) + '/'), dets, names)
           for r in (tmp_path / 'a', tmp_path / 'b')]
    assert aps[0] == aps[1] == round(cocoeval_stats(original, dets)[0], 3) > 0.1


# ---- files whose order agrees: unchanged ---------------------------------------------------
def test_shapeworld_labels_and_metric_ids_are_unchanged(tmp_path, monkeypatch):
    """ShapeWorld's (and ODinW's) files list their categories in classes order: labels and
    metric category ids are what mmdet's file-order mapping gave, so AP is unchanged."""
    from mmdet.datasets import CocoDataset
    from mmdet.datasets.api_wrappers import COCO
    from mmdet_sdpt.evaluation import ODinWCocoMetric
    monkeypatch.setenv('SHAPEWORLD_SCALE', '0.1')
    lines = logged(monkeypatch)
    root = str(tmp_path / 'sw')
    ours = ODinWDataset(name='Aerial', split='test', suite='shapeworld', data_root=root,
                        test_mode=True, pipeline=[])
    classes = ours.metainfo['classes']
    mmdets = CocoDataset(ann_file=ours.ann_file, metainfo=dict(classes=classes),
                         data_prefix=dict(img=ours.data_prefix['img']),
                         test_mode=True, pipeline=[])  # mmdet's own mapping (file order)
    assert [ours.get_data_info(k)['instances'] for k in range(len(ours))] == [
        mmdets.get_data_info(k)['instances'] for k in range(len(mmdets))]
    assert any(ours.get_data_info(k)['instances'] for k in range(len(ours)))
    metric = ODinWCocoMetric(name='Aerial', split='test', suite='shapeworld', data_root=root)
    assert metric._coco_api.get_cat_ids(cat_names=classes) == COCO(
        ours.ann_file).get_cat_ids(cat_names=classes)
    assert not lines


# ---- a class naming no category, or several: one clear error -------------------------------
def test_a_class_the_file_lacks_is_named(shapes):
    with pytest.raises(ClassOrderError) as err:
        runner_loader(shapes, classes=('circle', 'hexagon', 'triangle'))
    msg = str(err.value)
    assert '\n' not in msg and shapes in msg and "'hexagon'" in msg
    assert 'metainfo.classes' in msg  # the fix


def test_a_name_two_categories_share_is_named(shapes, tmp_path):
    def duplicate(cats):
        return cats + [dict(id=99, name='square')]
    other = reorder(shapes, str(tmp_path / 'dup.json'), duplicate)
    for build in (runner_loader,
                  lambda path: NameOrderedCOCO(path).get_cat_ids(cat_names=SHAPE_CLASSES)):
        with pytest.raises(ClassOrderError) as err:
            build(other)
        msg = str(err.value)
        assert '\n' not in msg and other in msg and "'square' (ids 2, 99)" in msg


def test_the_odinw_dataset_names_a_missing_class(tmp_path):
    gt, _, names = shellfish_gt()
    gt['categories'] = gt['categories'][:2]  # 'Shrimp' gone
    path = odinw_file(tmp_path, 'ShellfishOpenImages', 'valid', gt)
    with pytest.raises(ClassOrderError, match=r"'Shrimp' name no category") as err:
        ODinWDataset(name='ShellfishOpenImages', split='valid', data_root=str(tmp_path) + '/',
                     pipeline=[])
    assert path in str(err.value)


# ---- end to end: the demo's test tool on the reversed file --------------------------------
@pytest.mark.slow
def test_demo_test_tool_gives_the_same_ap_on_the_reversed_file(tmp_path):
    """tools/test.py on the demo config (TunedRunner; the committed base, zero-shot): the
    transfer test images with their file's categories reversed give the same box AP.
    (Before: SDPT adapter 0.706 -> 0.187 on the full split; see the README.)"""
    import re

    from mmdet_sdpt.datasets import DEMO_PARTS, SHAPES
    from tests.helpers import DEMO_CONFIG, run_tool
    a = tmp_path / 'a' / 'transfer'
    for split, num in (('train', 1), ('val', 1), ('test', 30)):  # 30 of the test images
        make_shapes_dataset(str(a), split, num, DEMO_PARTS['transfer']['classes'], SHAPES,
                            seed=DEMO_PARTS['transfer']['splits'][split][1])
    shutil.copytree(a, tmp_path / 'b' / 'transfer')
    test_b = str(tmp_path / 'b' / 'transfer' / 'annotations' / 'test.json')
    reorder(test_b, test_b, 'reversed')
    aps = []
    for root in ('a', 'b'):
        out = run_tool('test.py', DEMO_CONFIG, '--zero-shot', '--work-dir',
                       str(tmp_path / f'work_{root}'), '--cfg-options',
                       f'test_dataloader.dataset.data_root={tmp_path / root}')
        assert out.returncode == 0, out.stderr[-3000:]
        aps.append(float(re.findall(r'coco/bbox_mAP: ([0-9.]+)', out.stdout + out.stderr)[-1]))
    assert aps[0] == aps[1] > 0.2, aps
