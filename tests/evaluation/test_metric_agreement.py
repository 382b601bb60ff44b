"""mmdet's metrics, fed through their process/evaluate API, agree with the reference
evaluators run directly (pycocotools' COCOeval, lvis' LVISEval), and the average that
tools/collect_results.py prints is the mean of the per-dataset APs.

Boxes and scores are generated on float32-exact grids (multiples of 1/4 px, 1/4096) with
distinct scores, so both paths see the same numbers and rank detections the same way.
"""
import csv
import importlib.util
import json
import os.path as osp
import statistics

import numpy as np
import pytest
import torch

import mmdet_sdpt  # noqa: F401  (np.float for lvis)
from tests.conftest import ROOT
from tests.helpers import write_test_result

DATASETS = {'alpha': 1, 'beta': 2, 'gamma': 3}  # name: generator seed
CAT_IDS, CLASSES = [1, 3, 7], ('cat', 'dog', 'fish')  # non-contiguous ids


def make_gt_and_dets(seed, num_images=12, size=200, max_dets=60, lvis=False):
    """A COCO (or LVIS) ground-truth dict and detections: jittered copies of most boxes,
    some duplicates, false positives; [(img_id, xyxy (N,4), scores, labels)]."""
    rng = np.random.default_rng(seed)
    cat_ids = list(range(1, 7)) if lvis else CAT_IDS
    images, anns, dets = [], [], []
    q = lambda a: np.round(np.asarray(a, dtype=np.float64) * 4) / 4  # noqa: E731
    for img_id in range(1, num_images + 1):
        images.append(dict(id=img_id, width=size, height=size, file_name=f'{img_id}.jpg'))
        boxes, labels = [], []
        for _ in range(int(rng.integers(1, 6))):
            w, h = q(rng.uniform(12, 90, 2))
            x, y = q(rng.uniform(0, size - w)), q(rng.uniform(0, size - h))
            label = int(rng.integers(len(cat_ids)))
            anns.append(dict(id=len(anns) + 1, image_id=img_id, category_id=cat_ids[label],
                             bbox=[float(x), float(y), float(w), float(h)],
                             area=float(w * h), iscrowd=0))
            if rng.random() < 0.85:  # detected, more or less well
                jitter = q(rng.normal(0, 0.12 * min(w, h), 4))
                boxes.append([x + jitter[0], y + jitter[1], x + w + jitter[2], y + h + jitter[3]])
                labels.append(label if rng.random() < 0.9 else int(rng.integers(len(cat_ids))))
        for _ in range(int(rng.integers(0, 6))):  # false positives
            x, y = q(rng.uniform(0, size - 40, 2))
            boxes.append([x, y, x + q(rng.uniform(10, 40)), y + q(rng.uniform(10, 40))])
            labels.append(int(rng.integers(len(cat_ids))))
        xyxy = np.clip(np.asarray(boxes, dtype=np.float64).reshape(-1, 4), 0, size)
        dets.append((img_id, xyxy[:max_dets], labels[:max_dets]))
    # distinct float32-exact scores across the whole dataset
    total = sum(len(d[1]) for d in dets)
    scores = (rng.permutation(total) + 1) / 4096.0
    out, start = [], 0
    for img_id, xyxy, labels in dets:
        out.append((img_id, xyxy, scores[start:start + len(xyxy)], np.asarray(labels)))
        start += len(xyxy)
    if lvis:
        freq = ['r', 'r', 'c', 'c', 'f', 'f']
        cats = [{'id': c, 'name': f'thing{c}', 'frequency': freq[c - 1], 'synonyms': [], 'def': ''}
                for c in cat_ids]
        for img in images:
            present = {a['category_id'] for a in anns if a['image_id'] == img['id']}
            img['neg_category_ids'] = [c for c in cat_ids if c not in present][:3]
            img['not_exhaustive_category_ids'] = []
        for a in anns:
            a.pop('iscrowd')
    else:
        cats = [dict(id=c, name=n) for c, n in zip(cat_ids, CLASSES)]
    return dict(images=images, annotations=anns, categories=cats), out


def data_samples(dets):
    return [dict(img_id=img_id, ori_shape=(200, 200),
                 pred_instances=dict(bboxes=torch.tensor(xyxy, dtype=torch.float32),
                                     scores=torch.tensor(scores, dtype=torch.float32),
                                     labels=torch.tensor(labels, dtype=torch.int64)))
            for img_id, xyxy, scores, labels in dets]


def as_results(dets, cat_ids):
    return [dict(image_id=img_id, category_id=cat_ids[int(l)], score=float(s),
                 bbox=[float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])])
            for img_id, xyxy, scores, labels in dets for b, s, l in zip(xyxy, scores, labels)]


def coco_metric(ann_file, dets):
    from mmdet.evaluation import CocoMetric
    metric = CocoMetric(ann_file=ann_file, metric='bbox')
    metric.dataset_meta = dict(classes=CLASSES)
    samples = data_samples(dets)
    for i in range(0, len(samples), 4):  # batches of 4, as a dataloader would
        metric.process({}, samples[i:i + 4])
    return metric.evaluate(size=len(samples))


def cocoeval_stats(ann_file, dets, max_dets=None):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    gt = COCO(ann_file)
    evaluator = COCOeval(gt, gt.loadRes(as_results(dets, CAT_IDS)), 'bbox')
    if max_dets is not None:
        evaluator.params.maxDets = max_dets
    evaluator.evaluate()
    evaluator.accumulate()
    evaluator.summarize()
    return evaluator.stats


@pytest.fixture(scope='module')
def coco_sets(tmp_path_factory):
    root = tmp_path_factory.mktemp('coco_eval')
    sets = {}
    for name, seed in DATASETS.items():
        gt, dets = make_gt_and_dets(seed)
        path = str(root / f'{name}.json')
        json.dump(gt, open(path, 'w'))
        sets[name] = (path, dets)
    return sets


def test_coco_metric_equals_cocoeval_per_dataset(coco_sets):
    aps = []
    for name, (ann_file, dets) in coco_sets.items():
        ours = coco_metric(ann_file, dets)
        stats = cocoeval_stats(ann_file, dets)
        # mmdet rounds to 3 decimals; COCOeval's default (COCO's 100 detections per
        # image) equals mmdet's (100/300/1000) here: no image has 100 detections
        for i, key in enumerate(['mAP', 'mAP_50', 'mAP_75', 'mAP_s', 'mAP_m', 'mAP_l']):
            assert ours[f'coco/bbox_{key}'] == round(stats[i], 3), (name, key)
        aps.append(stats[0])
    assert len(set(round(a, 3) for a in aps)) == len(aps) and 0.2 < min(aps) < max(aps) < 0.95


def test_coco_metric_ap50_and_ap75_count_up_to_1000_detections(tmp_path):
    """CocoMetric sets COCOeval's maxDets to (100, 300, 1000). pycocotools' summarize()
    takes mAP at 100 detections (hard-coded) but mAP_50, mAP_75 and mAP_s/m/l at
    maxDets[2] = 1000, per image and class. COCO's protocol (maxDets 1, 10, 100) takes all
    at 100. So mmdet's mAP is COCO's, but its mAP_50/75/s/m/l exceed COCO's once an image
    has more than 100 detections of one class (GLIP's test_cfg keeps 100 per image)."""
    box = lambda i: [float(20 * (i % 9)), float(20 * (i // 9)), 15.0, 15.0]  # noqa: E731
    images, anns, dets = [], [], []
    for img_id in range(1, 42):  # 40 images of 3 found cats, one with 10 cats and 120 FPs
        images.append(dict(id=img_id, width=200, height=200, file_name=f'{img_id}.jpg'))
        n = 3 if img_id <= 40 else 10
        gt = [box(i) for i in range(n)]
        anns += [dict(id=len(anns) + i + 1, image_id=img_id, category_id=1, bbox=b,
                      area=225.0, iscrowd=0) for i, b in enumerate(gt)]
        xyxy = [[x, y, x + w, y + h] for x, y, w, h in gt]
        scores = [0.5 + (3 * img_id + i) / 4096 for i in range(n)]
        if img_id == 41:  # the crowded image: its cats rank below 120 false positives
            xyxy += [[190.0, 190.0, 199.0, 199.0]] * 120
            scores = [0.1 + i / 4096 for i in range(n)] + [0.3 + i / 4096 for i in range(120)]
        dets.append((img_id, np.array(xyxy), np.array(scores), np.zeros(len(xyxy), int)))
    path = str(tmp_path / 'gt.json')
    json.dump(dict(images=images, annotations=anns,
                   categories=[dict(id=c, name=n) for c, n in zip(CAT_IDS, CLASSES)]),
              open(path, 'w'))
    ours = coco_metric(path, dets)
    mmdet_way = cocoeval_stats(path, dets, max_dets=[100, 300, 1000])
    coco_protocol = cocoeval_stats(path, dets)  # the 10 cats of image 41 are cut off
    assert ours['coco/bbox_mAP'] == round(mmdet_way[0], 3) == round(coco_protocol[0], 3)
    assert ours['coco/bbox_mAP_50'] == round(mmdet_way[1], 3)
    assert ours['coco/bbox_mAP_50'] - coco_protocol[1] > 0.02
    assert ours['coco/bbox_mAP_50'] > ours['coco/bbox_mAP'] + 0.02  # yet every box is exact


def test_collect_results_average_is_the_mean_of_the_per_dataset_aps(coco_sets, tmp_path,
                                                                    capsys):
    direct = {}
    for name, (ann_file, dets) in coco_sets.items():
        write_test_result(str(tmp_path / 'work_dirs' / name), coco_metric(ann_file, dets))
        direct[name] = round(cocoeval_stats(ann_file, dets)[0], 3)
    spec = importlib.util.spec_from_file_location(
        'collect_results', osp.join(ROOT, 'tools', 'collect_results.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    capsys.readouterr()
    out = str(tmp_path / 'results')
    assert tool.main([str(tmp_path / 'work_dirs'), '--suite', 'none', '--out', out]) == 0
    rows = {r['dataset']: r for r in csv.DictReader(open(out + '.csv'))}
    expected = statistics.fmean(direct.values())
    assert float(rows['average']['mean']) == pytest.approx(expected, abs=1e-12)
    assert {k: float(rows[k]['mean']) for k in direct} == direct
    assert f'**{100 * expected:.1f}**' in capsys.readouterr().out


def lvis_direct(gt_path, results, topk=10000):
    from lvis import LVIS, LVISEval, LVISResults
    gt = LVIS(gt_path)
    by_cat = {}
    for r in results:
        by_cat.setdefault(r['category_id'], []).append(r)
    kept = [r for anns in by_cat.values()
            for r in sorted(anns, key=lambda r: r['score'], reverse=True)[:topk]]
    evaluator = LVISEval(gt, LVISResults(gt, kept, max_dets=-1), iou_type='bbox')
    evaluator.params.max_dets = -1  # FixedAP: no per-image cap, a per-class top-k
    evaluator.run()
    return dict(evaluator.results)


@pytest.mark.parametrize('topk', [10000, 3])
def test_lvis_fixed_ap_metric_equals_lvis_eval(tmp_path, topk):
    from mmdet.registry import METRICS
    from mmdet.utils import register_all_modules
    register_all_modules()
    gt, dets = make_gt_and_dets(11, num_images=16, lvis=True)
    path = str(tmp_path / 'lvis.json')
    json.dump(gt, open(path, 'w'))
    # built as configs/sdpt/glip_t_lvis.py's evaluator is (not exported by mmdet.evaluation)
    metric = METRICS.build(dict(type='LVISFixedAPMetric', ann_file=path, topk=topk))
    samples = data_samples(dets)
    for i in range(0, len(samples), 4):
        metric.process({}, samples[i:i + 4])
    ours = metric.evaluate(size=len(samples))
    direct = lvis_direct(path, as_results(dets, list(range(1, 7))), topk=topk)
    keys = ['AP', 'AP50', 'AP75', 'APr', 'APc', 'APf']
    for key in keys:
        assert 0.0 <= ours[f'lvis_fixed_ap/{key}'] <= 1.0, key
        assert ours[f'lvis_fixed_ap/{key}'] == pytest.approx(direct[key], abs=1e-12), key
    # FixedAP keeps the top-k detections of each class over the whole dataset
    assert ours['lvis_fixed_ap/AP'] > 0.2 if topk == 10000 else ours['lvis_fixed_ap/AP'] < 0.1
