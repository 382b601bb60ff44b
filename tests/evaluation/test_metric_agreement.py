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

import mmdet_sdpt  # noqa: F401  (np.float for lvis)
from tests.helpers import ROOT
from tests.helpers import (CAT_IDS, METRIC_CLASSES, as_results, coco_metric, cocoeval_stats,
                           data_samples, make_gt_and_dets, write_test_result)

DATASETS = {'alpha': 1, 'beta': 2, 'gamma': 3}  # name: generator seed


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
                   categories=[dict(id=c, name=n) for c, n in zip(CAT_IDS, METRIC_CLASSES)]),
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
