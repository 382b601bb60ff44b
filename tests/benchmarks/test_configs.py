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

from tests.helpers import FEWSHOT_CFG, ROOT

LVIS_CFG = osp.join(ROOT, 'configs', 'sdpt', 'glip_t_lvis.py')
FEWSHOT_CFGS = [osp.join(ROOT, 'configs', 'sdpt', f'{d}_odinw_fewshot.py')
                for d in ('glip_t', 'glip_l', 'gdino_t', 'mm-gdino_t')] + [
    osp.join(ROOT, 'configs', 'baselines', m, 'glip_t_odinw_fewshot.py')
    for m in ('full', 'language_prompt_v2', 'linear_prob')]
SW_CFGS = [osp.join(ROOT, 'configs', 'sdpt', 'tiny-glip_shapeworld.py'),
           osp.join(ROOT, 'configs', 'sdpt', 'tiny-gdino_shapeworld.py'),
           osp.join(ROOT, 'configs', 'baselines', 'lora', 'tiny-glip_shapeworld.py')]


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

    from tests.helpers import make_gt_and_dets
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
    train = cfg.train_dataloader.dataset.dataset  # inside GLIP's copies per epoch
    assert (train.type, train.name, train.shot, train.seed) == (
        'ODinWFewShotDataset', 'Raccoon', 5, 300)
    assert (cfg.odinw_shot, cfg.odinw_seed) == (5, 300)
    assert cfg.work_dir == './work_dirs/glip_t_odinw_fewshot/Raccoon/shot5_seed300'
    # valid and test splits are glip_t_odinw.py's
    assert cfg.val_dataloader.dataset.split == 'valid'
    assert cfg.test_dataloader.dataset.split == 'test'
    assert cfg.test_dataloader.dataset.type == 'ODinWDataset'


SCHEDULES = [(1, 8, 3, 8), (3, 4, 3, 8), (5, 2, 3, 8), (10, 1, 3, 8), (0, 1, 2, 4)]


def _check_schedule(cfg, shot, copies, lr_patience, stop_patience, max_epochs):
    train = cfg.train_dataloader.dataset
    assert (train.type, train.times, train.dataset.shot) == ('RepeatDataset', copies, shot)
    assert train.dataset.type == 'ODinWFewShotDataset'
    assert cfg.train_dataloader.sampler.type == 'DefaultSampler'  # epochs that end
    assert (cfg.train_cfg.type, cfg.train_cfg.max_epochs, cfg.train_cfg.val_interval) == (
        'EpochBasedTrainLoop', max_epochs, 1)
    plateau, = cfg.param_scheduler  # no warmup
    assert (plateau.type, plateau.monitor, plateau.rule, plateau.factor, plateau.patience,
            plateau.min_value) == ('ReduceOnPlateauLR', 'coco/bbox_mAP', 'greater', 0.1,
                                   lr_patience, 1e-6)
    stop = [h for h in cfg.custom_hooks if 'EarlyStopping' in h.type]
    assert len(stop) == 1 and (stop[0].patience, stop[0].min_delta) == (stop_patience, 0)
    assert stop[0].type == 'ResumableEarlyStoppingHook'  # its count survives a resume
    assert 'RunCostHook' in [h.type for h in cfg.custom_hooks]
    assert cfg.default_hooks.checkpoint.save_best == 'coco/bbox_mAP'
    assert cfg.default_hooks.checkpoint.by_epoch


@pytest.mark.parametrize('config', FEWSHOT_CFGS, ids=lambda c: osp.relpath(c, ROOT))
@pytest.mark.parametrize('shot,copies,lr_patience,stop_patience', SCHEDULES)
def test_fewshot_config_follows_glips_schedule(config, shot, copies, lr_patience,
                                               stop_patience, monkeypatch):
    """benchmarks/glip_fewshot_protocol.md: 200 epochs of the K-shot split repeated, a
    validation each, plateau LR x0.1, early stopping on strictly worse AP, no warmup; the
    same for every detector's and every method's ODinW few-shot config."""
    monkeypatch.setenv('ODINW_SHOT', str(shot))
    cfg = Config.fromfile(config)
    _check_schedule(cfg, shot, copies, lr_patience, stop_patience, 200)
    assert cfg.train_dataloader.batch_size == 1  # x 4 GPUs: GLIP's total batch of 4
    assert f'shot{shot}_seed3' in cfg.work_dir


@pytest.mark.parametrize('config', SW_CFGS, ids=osp.basename)
@pytest.mark.parametrize('shot,copies,lr_patience,stop_patience', SCHEDULES)
def test_shapeworld_configs_take_the_same_schedule_scaled(config, shot, copies, lr_patience,
                                                           stop_patience, monkeypatch):
    """The ShapeWorld configs: GLIP's schedule with at most 60 epochs, batch 2; the first
    leaderboard's short schedule only when asked for (SW_SCHEDULE=short)."""
    monkeypatch.setenv('ODINW_SHOT', str(shot))
    monkeypatch.delenv('SW_SCHEDULE', raising=False)
    cfg = Config.fromfile(config)
    _check_schedule(cfg, shot, copies, lr_patience, stop_patience, 60)
    assert cfg.train_dataloader.batch_size == 2
    monkeypatch.setenv('SW_SCHEDULE', 'short')
    short = Config.fromfile(config)
    assert short.train_cfg.type == 'IterBasedTrainLoop' and short.param_scheduler == []
    assert not [h for h in short.custom_hooks if 'EarlyStopping' in h.type]


@pytest.mark.parametrize('method,lr,weight_decay,keys', [
    ('full', 1e-4, 0.05, {'language_model': 0.1, 'bias': 2.0}),
    ('language_prompt_v2', 0.05, 0.25, {}),
    ('linear_prob', 1e-4, 0.05, {'bias': 2.0})])
def test_fewshot_baselines_keep_glips_recipes(method, lr, weight_decay, keys):
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'baselines', method,
                                   'glip_t_odinw_fewshot.py'))
    assert (cfg.optim_wrapper.optimizer.lr, cfg.optim_wrapper.optimizer.weight_decay) == (
        lr, weight_decay)
    custom = cfg.optim_wrapper.get('paramwise_cfg', {}).get('custom_keys', {})
    assert {k: v['lr_mult'] for k, v in custom.items()} == keys
    assert cfg.method == method


def test_fewshot_config_refuses_a_shot_glip_has_no_schedule_for(monkeypatch):
    monkeypatch.setenv('ODINW_SHOT', '2')
    with pytest.raises(AssertionError, match='shots 1, 3, 5, 10 and 0'):
        Config.fromfile(FEWSHOT_CFG)


def scaled_schedule(base_checkpoint, work_dir, max_epochs, resume_hook=True):
    """The few-shot config's schedule parts on the tiny GLIP, its budget scaled: the split
    repeated twice, a validation each epoch, the plateau at patience 0, the stop at patience
    1 where any validation not 10 AP points above the best counts as worse (so epoch 1 is
    the best and the run stops after epoch 2)."""
    from tests.helpers import TINY_CONFIG
    glip = Config.fromfile(FEWSHOT_CFG)
    cfg = Config.fromfile(TINY_CONFIG)
    cfg.model.base_checkpoint = base_checkpoint
    cfg.train_dataloader.dataset = dict(type='RepeatDataset', times=2,
                                        dataset=cfg.train_dataloader.dataset)
    cfg.train_dataloader.sampler = glip.train_dataloader.sampler  # epochs that end
    cfg.log_processor = dict(by_epoch=True)
    cfg.train_cfg = dict(glip.train_cfg, max_epochs=max_epochs)
    cfg.param_scheduler = [dict(glip.param_scheduler[0], patience=0)]
    stop, = [h for h in glip.custom_hooks if h.type == 'ResumableEarlyStoppingHook']
    again = [h for h in glip.custom_hooks if h.type == 'ValidateResumedEpochHook']
    cfg.custom_hooks = cfg.custom_hooks + [dict(stop, patience=1, min_delta=10.0)] + (
        again if resume_hook else [])
    cfg.default_hooks.checkpoint = dict(glip.default_hooks.checkpoint)
    cfg.work_dir = str(work_dir)
    return cfg


def test_glips_schedule_runs_under_the_tuned_runner(tiny_env, base_checkpoint, tmp_path):
    """The split repeated, a validation each epoch, the plateau lowering the learning rate,
    early stopping ending the run before max_epochs, the stop recorded in cost.json."""
    from mmdet_sdpt.engine import build_runner
    cfg = scaled_schedule(base_checkpoint, tmp_path, max_epochs=6)
    runner = build_runner(cfg)
    start_lr = cfg.optim_wrapper.optimizer.lr
    runner.train()
    cost = json.load(open(tmp_path / 'cost.json'))
    assert cost['stopped_early'] and cost['epochs'] == 2 < cost['max_epochs'] == 6
    assert [v['epoch'] for v in cost['validations']] == [1, 2]
    repeated = runner.train_dataloader.dataset
    assert len(repeated) == 2 * len(repeated.dataset)
    assert runner.optim_wrapper.get_lr()['lr'][0] < start_lr  # the plateau lowered it
    assert [v['lr'] for v in cost['validations']] == [start_lr, start_lr]  # what each trained at
    assert any(f.startswith('best_coco_bbox_mAP_epoch_') for f in os.listdir(tmp_path))


@pytest.mark.parametrize('resume_hook', [True, False], ids=['with', 'without'])
def test_a_resumed_run_validates_its_checkpoint_epoch_first(tiny_env, base_checkpoint,
                                                            tmp_path, resume_hook):
    """epoch_1.pth is written before epoch 1's validation: resumed from it, the run
    validates epoch 1 first and stops after epoch 2 as uninterrupted; without
    ValidateResumedEpochHook the stop counts from epoch 2 and the run trains a third."""
    from mmdet_sdpt.engine import build_runner
    first = build_runner(scaled_schedule(base_checkpoint, tmp_path, max_epochs=1,
                                         resume_hook=resume_hook))
    first.train()  # as if killed after epoch 1's checkpoint
    cfg = scaled_schedule(base_checkpoint, tmp_path, max_epochs=6, resume_hook=resume_hook)
    cfg.resume, cfg.load_from = True, str(tmp_path / 'epoch_1.pth')
    resumed = build_runner(cfg)
    validated = []
    real = resumed.val_loop.run

    def run():
        validated.append(resumed.epoch)
        return real()
    resumed.val_loop.run = run
    resumed.train()
    if resume_hook:
        assert validated == [1, 2] and resumed.epoch == 2  # as the uninterrupted run
    else:
        assert validated == [2, 3] and resumed.epoch == 3


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
    assert type(dataset).__name__ == 'RepeatDataset' and dataset.times == 8  # 1-shot: 8
    assert len(dataset.dataset) == len(written['images']) < len(images)
    first = written['images'][0]['file_name']
    assert dataset.get_data_info(0)['img_path'] == str(folder / first)
    assert dataset.metainfo['classes'] == classes


# ---- GLIP-L rows (configs/sdpt/glip_l_*.py) and the Grounding DINO LVIS rows ----
GLIP_L_PARAMS = 430_401_824  # benchmarks/param_count.py --config configs/sdpt/glip_l_coco.py
SDPT = osp.join(ROOT, 'configs', 'sdpt')
GLIP_L_ROWS = {'coco': 'glip_l_coco.py', 'odinw': 'glip_l_odinw.py', 'lvis': 'glip_l_lvis.py'}
GDINO_LVIS = {  # ours: (mmdet's zero-shot mini-LVIS config, our COCO row of the same model)
    'gdino_t_lvis.py': (
        'grounding_dino/lvis/grounding_dino_swin-t_pretrain_zeroshot_mini-lvis.py',
        'gdino_t_coco.py'),
    'mm-gdino_t_lvis.py': (
        'mm_grounding_dino/lvis/grounding_dino_swin-t_pretrain_zeroshot_mini-lvis.py',
        'mm-gdino_t_coco.py'),
}


def _without(d, *keys):
    return {k: v for k, v in _no_scope(d.to_dict() if hasattr(d, 'to_dict') else d).items()
            if k not in keys}


def test_glip_l_model_is_mmdets_glip_l_with_our_changes_only():
    ours = Config.fromfile(osp.join(SDPT, 'glip_l_coco.py'))
    theirs = _mmdet_config('glip/glip_atss_swin-l_fpn_dyhead_16xb2_ms-2x_funtune_coco.py')
    assert (ours.model.type, ours.model.detector_type) == ('TunedDetector', 'GLIP')
    assert _without(ours.model, 'type', 'detector_type', 'tuner', 'base_checkpoint',
                    'bbox_head', 'language_model') == _without(theirs.model, 'type',
                                                               'bbox_head', 'language_model')
    assert _without(ours.model.bbox_head, 'use_checkpoint', 'lang_model_name') == _without(
        theirs.model.bbox_head, 'use_checkpoint', 'lang_model_name')
    assert ours.model.bbox_head.num_dyhead_blocks == 8
    assert theirs.model.bbox_head.use_checkpoint and not ours.model.bbox_head.use_checkpoint
    assert theirs.load_from.startswith('https://') and ours.load_from is None
    assert not ours.model.backbone.get('init_cfg')  # nothing to download at init


def test_glip_l_rows_share_one_model_and_the_glip_t_rows_data(monkeypatch):
    monkeypatch.setenv('GLIP_L_CKPT', '/models/glip_l.pth')
    monkeypatch.setenv('ODINW_DATASET', 'Raccoon')
    rows = {k: Config.fromfile(osp.join(SDPT, v)) for k, v in GLIP_L_ROWS.items()}
    model = rows['coco'].model
    assert model.base_checkpoint == '/models/glip_l.pth'
    assert rows['odinw'].model == model  # the exact GLIP-L, inherited or overridden
    assert _without(rows['lvis'].model, 'test_cfg') == _without(model, 'test_cfg')
    for row in ('odinw', 'lvis'):
        glip_t = Config.fromfile(osp.join(SDPT, f'glip_t_{row}.py'))
        for key in ('train_dataloader', 'val_dataloader', 'test_dataloader', 'val_evaluator',
                    'test_evaluator', 'default_hooks', 'train_cfg', 'optim_wrapper'):
            assert rows[row][key] == glip_t[key], (row, key)
    assert rows['odinw'].work_dir == './work_dirs/glip_l_odinw/Raccoon'
    assert rows['odinw'].train_dataloader.dataset.name == 'Raccoon'


def test_glip_l_default_budget_is_about_0_04_percent():
    tuner = Config.fromfile(osp.join(SDPT, 'glip_l_coco.py')).model.tuner
    assert tuner.layers == 'all'  # GLIP-L's 8 fusion layers, D = 2048
    assert 0.00035 < tuner.num_tokens * 8 * 2048 / GLIP_L_PARAMS < 0.00045
    for row in ('odinw', 'lvis'):
        assert Config.fromfile(osp.join(SDPT, GLIP_L_ROWS[row])).model.tuner == tuner


def test_glip_l_lvis_test_side_is_mmdets_glip_l_zero_shot_mini_lvis():
    ours = Config.fromfile(osp.join(SDPT, 'glip_l_lvis.py'))
    theirs = _mmdet_config(
        'glip/lvis/glip_atss_swin-l_fpn_dyhead_pretrain_zeroshot_mini-lvis.py')
    assert ours.model.test_cfg == theirs.model.test_cfg
    assert _no_scope(ours.model.backbone) == _no_scope(theirs.model.backbone)
    # mmdet's fine-tune configs use FPN_DropBlock, its pretrain ones FPN: the same weights
    # (DropBlock has none, and acts in training only; our frozen neck stays in eval mode)
    assert _without(ours.model.neck, 'type') == _without(theirs.model.neck, 'type')
    assert theirs.model.bbox_head.num_dyhead_blocks == ours.model.bbox_head.num_dyhead_blocks
    for key in ('val_dataloader', 'test_dataloader'):
        assert _no_scope(ours[key].dataset) == _no_scope(theirs[key].dataset), key
    for key in ('val_evaluator', 'test_evaluator'):
        assert _no_scope(ours[key]) == _no_scope(theirs[key]), key


@pytest.mark.parametrize('name', sorted(GDINO_LVIS))
def test_gdino_lvis_test_side_is_mmdets_zero_shot_mini_lvis(name):
    ours = Config.fromfile(osp.join(SDPT, name))
    theirs = _mmdet_config(GDINO_LVIS[name][0])
    assert ours.model.test_cfg == theirs.model.test_cfg
    assert ours.model.test_cfg.max_per_img == 300 and ours.model.test_cfg.chunked_size == 40
    for key in ('val_dataloader', 'test_dataloader'):
        assert _no_scope(ours[key].dataset) == _no_scope(theirs[key].dataset), key
    pack = ours.test_dataloader.dataset.pipeline[-1]
    assert 'tokens_positive' in pack.meta_keys  # Grounding DINO's test meta keys
    for key in ('val_evaluator', 'test_evaluator'):
        assert _no_scope(ours[key]) == _no_scope(theirs[key]), key
    assert ours.default_hooks.checkpoint.save_best == 'lvis_fixed_ap/AP'


@pytest.mark.parametrize('name', sorted(GDINO_LVIS))
def test_gdino_lvis_trains_on_lvis_v1_train_with_at_most_40_names(name, monkeypatch):
    from mmcv.transforms import Compose
    from mmdet.utils import register_all_modules

    import mmdet_sdpt  # noqa: F401
    register_all_modules()
    monkeypatch.setenv('LVIS_ROOT', '/datasets/coco/')
    cfg = Config.fromfile(osp.join(SDPT, name))
    coco = Config.fromfile(osp.join(SDPT, GDINO_LVIS[name][1]))
    train = cfg.train_dataloader.dataset
    assert (train.type, train.data_root, train.ann_file) == (
        'LVISV1Dataset', '/datasets/coco/', 'annotations/lvis_v1_train.json')
    assert train.return_classes and train.pipeline == cfg.train_pipeline
    types = [t['type'] for t in cfg.train_pipeline]
    assert types[:3] == ['LoadImageFromFile', 'LoadAnnotations', 'ShuffleClassPrompt']
    assert cfg.train_pipeline[2].max_classes == 40
    assert _no_scope(cfg.train_pipeline[:2] + cfg.train_pipeline[3:]) == _no_scope(
        coco.train_pipeline)  # otherwise the COCO fine-tune pipeline of the same model
    Compose(cfg.train_pipeline)  # every transform is registered
    assert _without(cfg.model, 'test_cfg') == _without(coco.model, 'test_cfg')
    assert cfg.test_evaluator.ann_file.startswith('/datasets/coco/annotations/lvis_v1_minival')
