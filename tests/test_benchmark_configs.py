"""configs/sdpt/glip_t_lvis.py and glip_t_odinw_fewshot.py load and point where they
should: the LVIS test side equals mmdet's zero-shot mini-LVIS config, and the few-shot
config reads the very file tools/fewshot_sample.py writes, for both ODinW layouts."""
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
from mmengine.config import Config

from tests.conftest import ROOT

LVIS_CFG = osp.join(ROOT, 'configs', 'sdpt', 'glip_t_lvis.py')
FEWSHOT_CFG = osp.join(ROOT, 'configs', 'sdpt', 'glip_t_odinw_fewshot.py')


def _mmdet_config(name):
    import mmdet
    return Config.fromfile(osp.join(osp.dirname(mmdet.__file__), '.mim', 'configs', name))


def _no_scope(obj):
    if isinstance(obj, dict):
        return {k: _no_scope(v) for k, v in obj.items() if k != '_scope_'}
    if isinstance(obj, (list, tuple)):
        return [_no_scope(v) for v in obj]
    return obj


def test_lvis_test_side_is_mmdets_zero_shot_mini_lvis():
    ours = Config.fromfile(LVIS_CFG)
    theirs = _mmdet_config(
        'glip/lvis/glip_atss_swin-t_bc_fpn_dyhead_pretrain_zeroshot_mini-lvis.py')
    assert ours.model.test_cfg == theirs.model.test_cfg
    assert ours.model.test_cfg.max_per_img == 300 and ours.model.test_cfg.chunked_size == 40
    for key in ('val_dataloader', 'test_dataloader'):
        assert _no_scope(ours[key].dataset) == _no_scope(theirs[key].dataset), key
    for key in ('val_evaluator', 'test_evaluator'):
        assert _no_scope(ours[key]) == _no_scope(theirs[key]), key
    assert ours.test_evaluator.type == 'LVISFixedAPMetric'
    assert ours.default_hooks.checkpoint.save_best == 'lvis_fixed_ap/AP'


def test_lvis_trains_on_lvis_v1_train(monkeypatch):
    monkeypatch.setenv('LVIS_ROOT', '/datasets/coco/')
    cfg = Config.fromfile(LVIS_CFG)
    train = cfg.train_dataloader.dataset
    assert (train.type, train.data_root, train.ann_file) == (
        'LVISV1Dataset', '/datasets/coco/', 'annotations/lvis_v1_train.json')
    assert train.return_classes and train.pipeline == cfg.train_pipeline
    assert cfg.test_evaluator.ann_file.startswith('/datasets/coco/annotations/lvis_v1_minival')


def test_lvis_dataset_and_metric_build_from_the_config(tmp_path, monkeypatch):
    from mmdet.registry import DATASETS, METRICS
    from mmdet.utils import register_all_modules

    from tests.evaluation.test_metric_agreement import make_gt_and_dets
    register_all_modules()
    gt, _ = make_gt_and_dets(3, num_images=3, lvis=True)
    for img in gt['images']:
        img['coco_url'] = f'http://images.cocodataset.org/val2017/{img["id"]:012d}.jpg'
    os.makedirs(tmp_path / 'annotations')
    json.dump(gt, open(tmp_path / 'annotations' / 'lvis_v1_minival_inserted_image_name.json',
                       'w'))
    monkeypatch.setenv('LVIS_ROOT', str(tmp_path) + '/')
    cfg = Config.fromfile(LVIS_CFG)
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    assert len(dataset) == 3
    assert dataset.get_data_info(0)['img_path'] == str(tmp_path / 'val2017' / '000000000001.jpg')
    assert len(dataset.metainfo['classes']) == 1203  # GLIP prompts LVIS v1's class names
    metric = METRICS.build(cfg.test_evaluator)
    assert sorted(metric.cat_ids) == [c['id'] for c in gt['categories']]


def test_fewshot_config_selects_shot_seed_and_work_dir(monkeypatch):
    monkeypatch.setenv('ODINW_DATASET', 'Raccoon')
    monkeypatch.setenv('ODINW_SHOT', '5')
    monkeypatch.setenv('ODINW_SEED', '300')
    cfg = Config.fromfile(FEWSHOT_CFG)
    train = cfg.train_dataloader.dataset
    assert (train.type, train.name, train.shot, train.seed) == (
        'ODinWFewShotDataset', 'Raccoon', 5, 300)
    assert (cfg.odinw_shot, cfg.odinw_seed) == (5, 300)
    assert cfg.work_dir == './work_dirs/glip_t_odinw_fewshot/Raccoon/shot5_seed300'
    # valid and test splits are glip_t_odinw.py's
    assert cfg.val_dataloader.dataset.split == 'valid'
    assert cfg.test_dataloader.dataset.split == 'test'
    assert cfg.test_dataloader.dataset.type == 'ODinWDataset'


@pytest.mark.parametrize('name,train_dir', [
    ('AerialMaritimeDrone', 'AerialMaritimeDrone/large/train'),  # <folder>/train/...
    ('pistols', 'pistols/export'),  # export layout: train_annotations_... in the folder
])
def test_fewshot_config_reads_the_file_the_sampler_writes(name, train_dir, tmp_path,
                                                          monkeypatch):
    import mmdet_sdpt  # noqa: F401
    from mmdet.registry import DATASETS
    from mmdet.utils import register_all_modules

    from mmdet_sdpt.datasets import odinw_suite
    register_all_modules()
    classes = odinw_suite('odinw13')[name]['metainfo']['classes']
    folder = tmp_path / train_dir
    os.makedirs(folder)
    images = [dict(id=i, file_name=f'{i}.jpg', width=64, height=64) for i in range(1, 13)]
    anns = [dict(id=i, image_id=i, category_id=1 + i % len(classes), bbox=[1, 1, 20, 20],
                 area=400, iscrowd=0) for i in range(1, 13)]
    train_json = folder / ('annotations_without_background.json' if name != 'pistols'
                           else 'train_annotations_without_background.json')
    json.dump(dict(images=images, annotations=anns,
                   categories=[dict(id=i + 1, name=c) for i, c in enumerate(classes)]),
              open(train_json, 'w'))
    res = subprocess.run([sys.executable, osp.join(ROOT, 'tools', 'fewshot_sample.py'),
                          str(train_json), '--shots', '1', '--seeds', '30'],
                         capture_output=True, text=True, cwd=ROOT,
                         env=dict(os.environ, PYTHONWARNINGS='ignore'))
    assert res.returncode == 0, res.stderr[-2000:]
    written = json.load(open(folder / 'fewshot_train_shot1_seed30.json'))

    monkeypatch.setenv('ODINW_DATASET', name)
    monkeypatch.setenv('ODINW_ROOT', str(tmp_path) + '/')
    monkeypatch.setenv('ODINW_SHOT', '1')
    monkeypatch.setenv('ODINW_SEED', '30')
    cfg = Config.fromfile(FEWSHOT_CFG)
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    assert len(dataset) == len(written['images']) < len(images)
    first = written['images'][0]['file_name']
    assert dataset.get_data_info(0)['img_path'] == str(folder / first)
    assert dataset.metainfo['classes'] == classes
