"""ODinWCocoMetric: CocoMetric on an ODinW dataset's split, found by name."""
import json
import os

import pytest
from mmengine.config import Config

from mmdet_sdpt.datasets import ODinWDataset, odinw_suite
from mmdet_sdpt.evaluation import odinw_ann_file
from tests.helpers import CAT_IDS, FEWSHOT_CFG, cocoeval_stats, data_samples, make_gt_and_dets


@pytest.mark.parametrize('suite', ['odinw13', 'odinw35'])
def test_ann_file_is_the_one_the_dataset_reads(suite):
    for name in odinw_suite(suite):
        for split in ('train', 'valid', 'test'):
            ds = ODinWDataset(name=name, split=split, suite=suite, data_root='/d/', pipeline=[],
                              lazy_init=True)
            assert odinw_ann_file(name, split, '/d/', suite) == ds.ann_file, (name, split)


def test_fewshot_config_evaluates_the_test_split_like_cocoeval(tmp_path, monkeypatch):
    import mmdet_sdpt  # noqa: F401
    from mmdet.registry import METRICS
    from mmdet.utils import register_all_modules
    register_all_modules()
    name = 'pistols'
    classes = odinw_suite('odinw13')[name]['metainfo']['classes']  # ('pistol',)
    gt, dets = make_gt_and_dets(4)
    gt['categories'] = [dict(id=CAT_IDS[0], name=classes[0])]
    gt['annotations'] = [a for a in gt['annotations'] if a['category_id'] == CAT_IDS[0]]
    dets = [(i, xyxy[labels == 0], s[labels == 0], labels[labels == 0])
            for i, xyxy, s, labels in dets]
    path = tmp_path / 'pistols' / 'export' / 'test_annotations_without_background.json'
    os.makedirs(path.parent)
    json.dump(gt, open(path, 'w'))
    monkeypatch.setenv('ODINW_DATASET', name)
    monkeypatch.setenv('ODINW_ROOT', str(tmp_path) + '/')
    cfg = Config.fromfile(FEWSHOT_CFG)
    assert cfg.val_evaluator.split == 'valid' and cfg.test_evaluator.split == 'test'
    metric = METRICS.build(cfg.test_evaluator)
    assert metric._coco_api is not None  # ground truth from the file, not the samples
    metric.dataset_meta = dict(classes=classes)
    metric.process({}, data_samples(dets))
    ours = metric.evaluate(size=len(dets))
    assert ours['coco/bbox_mAP'] == round(cocoeval_stats(str(path), dets)[0], 3) > 0.2
