"""projects/: the worked examples load, and the example tuner keeps the tuner contract
(its tensors alone train, zeros start at the base exactly, adapters round-trip)."""
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config

from tests.helpers import ROOT, head_outputs, make_batch
from tests.helpers import assert_reproduces, backward_once, trainable_names
# the fixtures tests/models/ uses (a conftest reaches only its own folder)

HELMETS = osp.join(ROOT, 'projects', 'custom_dataset', 'sdpt_glip_t_helmets.py')
NEW_TUNER = osp.join(ROOT, 'projects', 'new_tuner', 'config.py')
PREFIX = dict(type='TextPrefixTokens', num_tokens=4)
PREFIX_TENSORS = {'language_model.prefix_tokens.keys', 'language_model.prefix_tokens.values'}


def test_projects_index_names_every_project():
    index = open(osp.join(ROOT, 'projects', 'README.md')).read()
    for name in ('custom_dataset', 'new_tuner'):
        assert f'({name}/' in index
        assert osp.isfile(osp.join(ROOT, 'projects', name, 'README.md'))


def test_custom_dataset_config_loads_from_any_cwd_and_builds_its_dataset(tmp_path,
                                                                         monkeypatch):
    from mmdet.registry import DATASETS
    from mmdet.utils import register_all_modules
    register_all_modules()
    root = tmp_path / 'helmets'
    os.makedirs(root / 'train')
    images = [dict(id=i, file_name=f'{i}.jpg', width=64, height=64) for i in (1, 2)]
    anns = [dict(id=i, image_id=i, category_id=i, bbox=[1, 1, 20, 20], area=400, iscrowd=0)
            for i in (1, 2)]
    cats = [dict(id=1, name='helmet'), dict(id=2, name='person')]
    json.dump(dict(images=images, annotations=anns, categories=cats),
              open(root / 'train.json', 'w'))
    monkeypatch.setenv('HELMETS_ROOT', str(root) + '/')
    monkeypatch.chdir(tmp_path)  # the relative _base_ resolves from the file, not the cwd
    cfg = Config.fromfile(HELMETS)
    assert cfg.model.type == 'TunedDetector' and cfg.model.tuner.type == 'SDPT'
    assert cfg.model.bbox_head.use_checkpoint is False and cfg.load_from is None
    train = cfg.train_dataloader.dataset
    assert train.type == 'CocoDataset' and 'times' not in train  # _delete_: no RepeatDataset
    assert train.pipeline == cfg.train_pipeline
    for split in ('val', 'test'):
        assert cfg[f'{split}_dataloader'].dataset.ann_file == 'val.json'
        assert cfg[f'{split}_dataloader'].dataset.metainfo.classes == ('helmet', 'person')
        assert cfg[f'{split}_evaluator'].ann_file == str(root / 'val.json')
    dataset = DATASETS.build(train)
    assert len(dataset) == 2 and dataset.metainfo['classes'] == ('helmet', 'person')
    info = dataset.get_data_info(0)  # what GLIP is prompted with
    assert info['text'] == ('helmet', 'person') and info['custom_entities']
    assert info['img_path'] == str(root / 'train' / '1.jpg')


def test_new_tuner_config_loads_it_through_custom_imports_alone(tiny_env):
    """A fresh interpreter, run from the repository root, builds the config's model."""
    code = ('import sys; from mmengine.config import Config; '
            'from mmengine.registry import init_default_scope; '
            "cfg = Config.fromfile(sys.argv[1]); init_default_scope('mmdet'); "
            'from mmdet.registry import MODELS; m = MODELS.build(cfg.model); '
            'print(type(m.tuner).__name__, sorted(n for n, p in m.named_parameters() '
            'if p.requires_grad))')
    out = subprocess.run([sys.executable, '-c', code, NEW_TUNER], capture_output=True,
                         text=True, cwd=ROOT, env=dict(os.environ, PYTHONWARNINGS='ignore'))
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == (
        "TextPrefixTokens ['language_model.prefix_tokens.keys', "
        "'language_model.prefix_tokens.values']")
    cfg = Config.fromfile(NEW_TUNER, import_custom_modules=False)
    assert cfg.custom_imports.imports == ['mmdet_sdpt', 'projects.new_tuner.prefix_tokens']
    assert dict(cfg.model.tuner) == dict(type='TextPrefixTokens', num_tokens=8)


@pytest.fixture(scope='module')
def prefix(build_tuned):
    import projects.new_tuner.prefix_tokens  # noqa: F401  registers TextPrefixTokens
    return build_tuned(PREFIX)


def test_only_the_prefix_tokens_train(prefix, plain_glip):
    assert trainable_names(prefix) == PREFIX_TENSORS
    assert prefix.tuner.owned_prefixes == ('language_model.prefix_tokens',)
    lang_dim = prefix.language_model.language_backbone.body.model.config.hidden_size
    params = dict(prefix.named_parameters())
    assert sum(params[n].numel() for n in PREFIX_TENSORS) == 2 * 4 * lang_dim
    base = [n for n, _ in plain_glip.named_parameters()]
    assert [n for n in params if n not in PREFIX_TENSORS] == base
    assert prefix.tuner.describe(prefix) == dict(method='text_prefix_tokens', num_tokens=4,
                                                 lang_dim=lang_dim)


def test_zero_values_reproduce_the_frozen_glip_bit_for_bit(prefix, plain_glip):
    assert torch.all(prefix.language_model.prefix_tokens.values == 0)
    assert_reproduces(prefix, plain_glip)


def test_learned_values_change_the_output_and_disabled_gives_the_base(prefix, plain_glip):
    inputs, samples = make_batch(num_images=1)
    values = prefix.language_model.prefix_tokens.values
    try:
        with torch.no_grad():
            values.normal_(0, 0.5)
            tuned = head_outputs(prefix, inputs, samples)
            base = head_outputs(plain_glip, inputs, samples)
            assert max((a - b).abs().max().item() for a, b in zip(tuned, base)) > 1e-4
            with prefix.tuner.disabled(prefix):
                for a, b in zip(head_outputs(prefix, inputs, samples), base):
                    assert torch.equal(a, b)
    finally:
        with torch.no_grad():
            values.zero_()


def test_values_receive_gradient(prefix):
    grads = backward_once(prefix)
    assert set(grads) == PREFIX_TENSORS
    assert grads['language_model.prefix_tokens.values'].abs().sum() > 0
    # dL/dkeys goes through V = 0: the keys start moving after the values' first step
    assert torch.all(grads['language_model.prefix_tokens.keys'] == 0)


