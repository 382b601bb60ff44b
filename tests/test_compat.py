"""Compatibility steps (mmdet_sdpt.compat): each fails when the upstream cause changes."""
import json

import numpy as np

import mmdet_sdpt.compat as compat


def test_lvis_evaluation_runs_with_current_numpy(tmp_path):
    from lvis import LVIS, LVISEval, LVISResults
    assert np.float is float  # numpy >= 1.24 dropped it; lvis 0.5.3 still calls it
    cats = [dict(id=i, name=n, frequency=f, synset=n, image_count=1, instance_count=1)
            for i, (n, f) in enumerate([('cat', 'r'), ('dog', 'c'), ('cow', 'f')], 1)]
    images = [dict(id=i, width=64, height=64, neg_category_ids=[],
                   not_exhaustive_category_ids=[], coco_url=f'{i}.jpg') for i in (1, 2)]
    anns = [dict(id=1, image_id=1, category_id=1, bbox=[4, 4, 20, 20], area=400),
            dict(id=2, image_id=2, category_id=3, bbox=[10, 10, 30, 30], area=900)]
    gt_file = tmp_path / 'lvis.json'
    json.dump(dict(images=images, annotations=anns, categories=cats), open(gt_file, 'w'))
    dets = [dict(image_id=1, category_id=1, bbox=[4, 4, 20, 20], score=0.9),
            dict(image_id=2, category_id=3, bbox=[40, 40, 10, 10], score=0.8)]
    gt = LVIS(str(gt_file))
    evaluator = LVISEval(gt, LVISResults(gt, dets), 'bbox')
    evaluator.run()
    assert 0.4 < evaluator.results['AP'] < 0.6  # one of two objects found exactly
    assert abs(evaluator.results['APr'] - 1.0) < 1e-6 and evaluator.results['APf'] == 0.0


def test_numpy_alias_is_only_restored_when_missing():
    assert compat.lvis_numpy_compat() is False  # already restored at import
