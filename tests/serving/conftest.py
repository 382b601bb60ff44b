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


# the tuners served besides SDPT, on the tiny GLIP: name -> tuner config
SERVED_TUNERS = dict(
    language_prompt=dict(type='LanguagePromptV2'),
    mudpt=dict(type='MuDPT', num_tokens=4),
    maple=dict(type='MaPLe', num_tokens=4),
    # LoRA in every place it goes: fusion attention, Swin's windows, BERT
    lora=dict(type='LoRA', targets=['fusion', 'visual', 'text'], rank=4),
    vpt=dict(type='VPT', num_tokens=4),  # VPT-deep: every Swin block, shifted windows too
    sep=dict(type='SEP', num_tokens=4, sources=['image', 'text']),  # prompts per image
    new_tuner=dict(type='TextPrefixTokens', num_tokens=4),  # projects/new_tuner's, as is
    # Fed-DPT-style prompts: each image mixes the domains' tokens by its own features
    domain_sdpt=dict(type='DomainAwareSDPT', domains=['A', 'B'], num_shared=2, num_domain=2),
    # Self-TPT's text context: each image's caption gets its own adapter's context in BERT
    self_tpt=dict(type='SelfTPT', num_tokens=4),
)


@pytest.fixture(scope='module')
def served(request, tiny_cfg, base_checkpoint, tmp_path_factory):
    """``served(name)`` -> (cfg, {adapter name: path}): 'glip' (SDPT), 'gdino', or a name of
    SERVED_TUNERS on the tiny GLIP, each built once per test module."""
    built = {}

    def get(name):
        if name in ('glip', 'gdino'):
            return request.getfixturevalue(name)
        if name not in built:
            import projects.new_tuner.prefix_tokens  # noqa: F401  registers TextPrefixTokens
            built[name] = tuned_glip_with_adapters(
                tiny_cfg, base_checkpoint, tmp_path_factory.mktemp(name), SERVED_TUNERS[name])
        return built[name]

    return get
