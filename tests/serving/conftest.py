"""The served settings: a tiny detector with a tuner on its base and two adapters trained
apart ('a', 'b'), one fixture per tuner."""
import copy

import pytest
import torch

from tests.helpers import adapter_file, tuned_glip_with_adapters


@pytest.fixture(scope='module')
def glip(tiny_cfg, base_checkpoint, tmp_path_factory):
    """The tiny GLIP's config (SDPT) on its base and two adapters trained apart."""
    return tuned_glip_with_adapters(tiny_cfg, base_checkpoint, tmp_path_factory.mktemp('adapters'),
                                    copy.deepcopy(tiny_cfg.model.tuner))


@pytest.fixture(scope='module')
def gdino(tiny_gdino_cfg, build_tiny_gdino, tmp_path_factory):
    root = tmp_path_factory.mktemp('gdino')
    base = build_tiny_gdino(seed=0)
    path = str(root / 'base.pth')
    torch.save({'state_dict': {k: v for k, v in base.state_dict().items()
                               if not base.tuner.owns(k)}, 'meta': {}}, path)
    cfg = copy.deepcopy(tiny_gdino_cfg)
    cfg.model.base_checkpoint = path
    paths = {name: adapter_file(build_tiny_gdino(seed=seed, base_checkpoint=path),
                                root / f'{name}.pth', scale=0.5)
             for name, seed in (('a', 1), ('b', 2))}
    return cfg, paths


@pytest.fixture(scope='module')
def glip_language_prompt(tiny_cfg, base_checkpoint, tmp_path_factory):
    return tuned_glip_with_adapters(tiny_cfg, base_checkpoint, tmp_path_factory.mktemp('lp'),
                                    dict(type='LanguagePromptV2'))


@pytest.fixture(scope='module')
def glip_mudpt(tiny_cfg, base_checkpoint, tmp_path_factory):
    return tuned_glip_with_adapters(tiny_cfg, base_checkpoint, tmp_path_factory.mktemp('mudpt'),
                                    dict(type='MuDPT', num_tokens=4))


@pytest.fixture(scope='module')
def glip_maple(tiny_cfg, base_checkpoint, tmp_path_factory):
    return tuned_glip_with_adapters(tiny_cfg, base_checkpoint, tmp_path_factory.mktemp('maple'),
                                    dict(type='MaPLe', num_tokens=4))


@pytest.fixture(scope='module')
def glip_lora(tiny_cfg, base_checkpoint, tmp_path_factory):
    """LoRA in every place it goes: fusion attention, Swin's windows, BERT."""
    return tuned_glip_with_adapters(tiny_cfg, base_checkpoint, tmp_path_factory.mktemp('lora'),
                                    dict(type='LoRA', targets=['fusion', 'visual', 'text'], rank=4))


@pytest.fixture(scope='module')
def glip_vpt(tiny_cfg, base_checkpoint, tmp_path_factory):
    """VPT-deep: prompts in every Swin block (shifted windows included)."""
    return tuned_glip_with_adapters(tiny_cfg, base_checkpoint, tmp_path_factory.mktemp('vpt'),
                                    dict(type='VPT', num_tokens=4))


@pytest.fixture(scope='module')
def glip_sep(tiny_cfg, base_checkpoint, tmp_path_factory):
    """SEP: prompts enhanced by each image's own tokens (image and text sources)."""
    return tuned_glip_with_adapters(tiny_cfg, base_checkpoint, tmp_path_factory.mktemp('sep'),
                                    dict(type='SEP', num_tokens=4, sources=['image', 'text']))


@pytest.fixture(scope='module')
def glip_new_tuner(tiny_cfg, base_checkpoint, tmp_path_factory):
    """projects/new_tuner's tuner: served through its own bank_names alone."""
    import projects.new_tuner.prefix_tokens  # noqa: F401  registers TextPrefixTokens
    return tuned_glip_with_adapters(tiny_cfg, base_checkpoint, tmp_path_factory.mktemp('new_tuner'),
                                    dict(type='TextPrefixTokens', num_tokens=4))
