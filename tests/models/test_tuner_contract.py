"""The contract every tuner keeps, one suite over all of them (projects/new_tuner's too):
an adapter checkpoint holds exactly the tuned tensors and loads back bit for bit on a fresh
model; a checkpoint made with another setting is refused, naming the difference; zero-shot
(``tuner.disabled``) computes what the base computes, whatever the tensors learned. Serving
(a mixed batch equals each image alone with its adapter) is the same kind of suite in
tests/serving/test_inferencer.py."""
import pytest
import torch

from mmdet_sdpt.adapter import AdapterMismatchError, load_adapter
from tests.helpers import assert_same_state_and_outputs, head_outputs, make_batch, trainable_names

K = 4
# name: (tuner config, another setting: (tuner keys, model keys merged into the tiny GLIP's
# model config), the error naming the difference)
CONTRACT = {
    'SDPT': (dict(type='SDPT', num_tokens=K), (dict(num_tokens=2), {}),
             r'num_tokens=4 \(checkpoint\) vs num_tokens=2 \(model\)'),
    'MaPLe': (dict(type='MaPLe', num_tokens=K), (dict(num_tokens=2), {}),
              r'another MaPLe setting.*num_tokens=4 \(checkpoint\) vs num_tokens=2 \(model\)'),
    'UPT': (dict(type='UPT', num_tokens=K, dim=32, num_heads=2), (dict(dim=16), {}),
            r'another UPT setting.*dim=32 \(checkpoint\) vs dim=16 \(model\)'),
    'MuDPT': (dict(type='MuDPT', num_tokens=K, bottleneck=8), (dict(bottleneck=4), {}),
              r'another MuDPT setting.*bottleneck=8 \(checkpoint\) vs bottleneck=4 \(model\)'),
    'PRE': (dict(type='PRE', num_tokens=K, hidden=16), (dict(num_tokens=2), {}),
            r'another PRE setting.*num_tokens=4 \(checkpoint\) vs num_tokens=2 \(model\)'),
    'SEP': (dict(type='SEP', num_tokens=K, num_selected=8, dim=32, heads=4),
            (dict(num_selected=4), {}),
            r'num_selected=8 \(checkpoint\) vs num_selected=4 \(model\)'),
    'VPT': (dict(type='VPT', num_tokens=K), (dict(num_tokens=8), {}),
            r'another VPT setting.*num_tokens=4 \(checkpoint\) vs num_tokens=8 \(model\)'),
    'LoRA': (dict(type='LoRA', targets=['fusion', 'visual', 'text'], rank=8, alpha=16),
             (dict(rank=4), {}),
             r'another LoRA setting.*rank=8 \(checkpoint\) vs rank=4 \(model\)'),
    'language_prompt_v2': (dict(type='LanguagePromptV2'),
                           ({}, dict(language_model=dict(max_tokens=128))),
                           r'another language_prompt_v2 setting.*max_tokens=256'),
    'BitFit': (dict(type='BitFit'), (dict(parts=['bbox_head']), {}),
               r'another BitFit setting.*parts='),
    'LinearProbe': (dict(type='LinearProbe'), (dict(type='SDPT', num_tokens=K), {}),
                    r'is a linear_prob checkpoint: .*a model of its own, not an adapter'),
    'full': (dict(type='FullFineTuning'), (dict(type='SDPT', num_tokens=K), {}),
             r'is a full checkpoint: .*a model of its own, not an adapter'),
    'DomainAwareSDPT': (dict(type='DomainAwareSDPT', domains=['A', 'B'], num_shared=2,
                             num_domain=2), (dict(domains=['A', 'B', 'C']), {}),
                        r"domains=\['A', 'B'\] \(checkpoint\) vs domains=\['A', 'B', 'C'\]"),
    'SelfTPT': (dict(type='SelfTPT', num_tokens=K), (dict(num_tokens=2), {}),
                r'another SelfTPT setting.*num_tokens=4 \(checkpoint\) vs num_tokens=2'),
    'new_tuner': (dict(type='TextPrefixTokens', num_tokens=K), (dict(num_tokens=2), {}),
                  r'num_tokens=4 \(checkpoint\) vs num_tokens=2 \(model\)'),
}
NAMES = list(CONTRACT)


@pytest.fixture(scope='module', autouse=True)
def _project_tuner():
    import projects.new_tuner.prefix_tokens  # noqa: F401  registers TextPrefixTokens


@pytest.mark.parametrize('name', NAMES)
def test_adapter_round_trip_is_exact(name, build_tuned, base_checkpoint, trained_adapter):
    tuner = CONTRACT[name][0]
    trained, path = trained_adapter(tuner)
    saved = set(torch.load(path, weights_only=False)['state_dict'])
    # the tuned tensors: every trained parameter, and the buffers of a whole-model tuner
    assert saved == {n for n in trained.state_dict() if trained.tuner.trainable(n)}
    assert trainable_names(trained) <= saved
    fresh = build_tuned(tuner, seed=2, base_checkpoint=base_checkpoint)
    load_adapter(fresh, path)
    assert_same_state_and_outputs(trained, fresh)


@pytest.mark.parametrize('name', NAMES)
def test_an_adapter_of_another_setting_is_refused(name, build_tuned, tiny_cfg,
                                                  base_checkpoint, trained_adapter):
    tuner, (other_tuner, other_model), error = CONTRACT[name]
    _, path = trained_adapter(tuner)
    overrides = {key: dict(tiny_cfg.model[key], **value) for key, value in other_model.items()}
    other = build_tuned(dict(tuner, **other_tuner), base_checkpoint=base_checkpoint,
                        **overrides)
    with pytest.raises(AdapterMismatchError, match=error):
        load_adapter(other, path)


@pytest.mark.parametrize('name', NAMES)
def test_zero_shot_computes_what_the_base_computes(name, build_tuned, base_checkpoint,
                                                   trained_adapter):
    tuner = CONTRACT[name][0]
    from mmdet_sdpt.registry import TUNERS
    base = build_tuned(dict(type='SDPT', num_tokens=0), base_checkpoint=base_checkpoint)
    if TUNERS.get(tuner['type']).tunes_base_tensors:
        # a base tensor that trained is the base no more: zero-shot is the untouched model
        model = build_tuned(tuner, base_checkpoint=base_checkpoint)
    else:
        model, _ = trained_adapter(tuner)  # its own tensors moved: they must not act
        assert any(p.requires_grad and p.abs().sum() > 0 for p in model.parameters())
    inputs, samples = make_batch(num_images=1)
    with torch.no_grad(), model.tuner.disabled(model):
        for x, y in zip(head_outputs(model, inputs, samples),
                        head_outputs(base, inputs, samples)):
            assert torch.equal(x, y)


def test_the_suite_covers_every_registered_tuner():
    from mmdet_sdpt.registry import TUNERS
    covered = {CONTRACT[n][0]['type'] for n in NAMES}
    ours = {k for k, v in TUNERS.module_dict.items() if v.__module__.startswith('mmdet_sdpt.')}
    assert ours <= covered, ours - covered
