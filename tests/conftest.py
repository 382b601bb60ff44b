"""Shared fixtures: a tiny GLIP from random weights, a local tiny BERT, generated data, the
tuned tiny GLIP with any tuner, adapter files. Plain helpers live in tests/helpers.py.

Nothing here touches the network: the BERT is written to a temp dir with a generated
vocabulary, the images are drawn by mmdet_sdpt.datasets.make_shapes_dataset.
"""
import copy
import os
import warnings

import pytest
import torch

from tests.helpers import (CLASSES, TINY_CONFIG, TINY_GDINO_CONFIG, _builder, randomise_tuned,
                           save_adapter)

warnings.filterwarnings('ignore')

if os.environ.get('PYTEST_XDIST_WORKER'):  # `make test` runs pytest-xdist workers
    # the machine's cores shared among the workers, not each worker taking all of them
    workers = int(os.environ.get('PYTEST_XDIST_WORKER_COUNT', '1'))
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // workers))


def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist's ``--dist loadgroup`` a test module runs whole in one worker (its
    tests share module-scoped fixtures, and some write files its later tests read); a test
    that names its own ``xdist_group`` (files several modules write) keeps that group."""
    slow_modules = set()
    for item in items:
        if not item.get_closest_marker('xdist_group'):
            item.add_marker(pytest.mark.xdist_group(item.module.__name__))
        if item.get_closest_marker('slow'):
            slow_modules.add(item.module.__name__)
    # modules with slow tests first (a stable sort: each module stays in one piece), so the
    # workers do not end with one of them still running a long module alone
    items.sort(key=lambda item: item.module.__name__ not in slow_modules)


@pytest.fixture(scope='session')
def tiny_env(tmp_path_factory):
    """Environment of the tiny config: a BERT dir and a generated shapes dataset."""
    from mmdet_sdpt.datasets import make_shapes_dataset
    from mmdet_sdpt.utils import make_tiny_bert
    root = tmp_path_factory.mktemp('tiny')
    env = dict(TINY_BERT_DIR=make_tiny_bert(str(root / 'bert'), [' '.join(CLASSES)]),
               SHAPES_ROOT=str(root / 'shapes'))
    make_shapes_dataset(env['SHAPES_ROOT'], 'train', 8, seed=1)
    make_shapes_dataset(env['SHAPES_ROOT'], 'val', 4, seed=2)
    os.environ.update(env)
    return env


@pytest.fixture(scope='session')
def tiny_cfg(tiny_env):
    import mmdet_sdpt  # noqa: F401
    from mmdet.utils import register_all_modules
    from mmengine.config import Config
    register_all_modules()
    return Config.fromfile(TINY_CONFIG)


@pytest.fixture(scope='session')
def build_tiny(tiny_cfg):
    """build_tiny(seed=0, tuner=None, **model_overrides) -> a tuned tiny GLIP, eval mode;
    ``tuner`` is merged into the config's SDPT settings."""
    return _builder(tiny_cfg.model)


@pytest.fixture(scope='session')
def tiny_gdino_cfg(tiny_env):
    from mmengine.config import Config
    return Config.fromfile(TINY_GDINO_CONFIG)


@pytest.fixture(scope='session')
def build_tiny_gdino(tiny_gdino_cfg):
    """Like build_tiny, for the tiny Grounding DINO."""
    return _builder(tiny_gdino_cfg.model)


def _base_file(model, folder) -> str:
    """A full base checkpoint of ``model`` (random weights), its prompts excluded."""
    state = {k: v for k, v in model.state_dict().items() if '.sdpt.' not in k}
    path = str(folder / 'base.pth')
    torch.save({'state_dict': state, 'meta': {}}, path)
    return path


@pytest.fixture(scope='session')
def base_checkpoint(build_tiny, tmp_path_factory):
    """A full base checkpoint of the tiny GLIP (random weights, seed 0)."""
    return _base_file(build_tiny(seed=0), tmp_path_factory.mktemp('base'))


@pytest.fixture(scope='session')
def gdino_base_checkpoint(build_tiny_gdino, tmp_path_factory):
    """A full base checkpoint of the tiny Grounding DINO (random weights, seed 0)."""
    return _base_file(build_tiny_gdino(seed=0), tmp_path_factory.mktemp('gdino_base'))


@pytest.fixture(scope='session')
def build_tuned(tiny_cfg):
    """build_tuned(tuner, seed=0, **model_overrides) -> the tiny GLIP with ``tuner`` as its
    whole tuner config, in eval mode."""
    from mmdet.registry import MODELS

    def build(tuner, seed=0, **overrides):
        cfg = copy.deepcopy(tiny_cfg.model)
        cfg.tuner = dict(tuner)
        cfg.update(overrides)
        torch.manual_seed(seed)
        return MODELS.build(cfg).eval()

    return build


@pytest.fixture(scope='session')
def plain_glip(build_tiny):
    """The frozen tiny GLIP with nothing injected (SDPT with K = 0), seed 0. Shared: tests
    must leave it as they found it."""
    return build_tiny(seed=0, tuner=dict(num_tokens=0))


@pytest.fixture(scope='session')
def trained_adapter(build_tuned, base_checkpoint, tmp_path_factory):
    """trained_adapter(tuner) -> (model, path): the tiny GLIP on the shared base (seed 1),
    its tuned tensors moved as training would, saved adapter-only as tools/train.py does."""
    cache = {}

    def make(tuner):
        key = repr(sorted(tuner.items()))
        if key not in cache:
            model = build_tuned(tuner, seed=1, base_checkpoint=base_checkpoint)
            randomise_tuned(model)
            path = tmp_path_factory.mktemp('adapter') / 'adapter.pth'
            cache[key] = (model, save_adapter(model, path))
        return cache[key]

    return make
