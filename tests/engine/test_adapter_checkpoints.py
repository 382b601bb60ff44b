"""Adapter-only checkpoints: what they hold, exact round trips, and refusals that name the fix."""
import copy

import pytest
import torch

from mmdet_sdpt.adapter import (AdapterMismatchError, atomic_save, load_adapter,
                                to_adapter_checkpoint)
from mmdet_sdpt.models.tuned_detector import BaseCheckpointError
from tests.helpers import head_outputs, make_batch


def _tuned(build_tiny, base_checkpoint, seed=1, **tuner):
    return build_tiny(seed=seed, tuner=tuner or None, base_checkpoint=base_checkpoint)


def _adapter_file(model, path):
    ckpt = to_adapter_checkpoint(model, {'state_dict': model.state_dict(), 'meta': {}})
    atomic_save(ckpt, str(path))
    return str(path)


def test_base_checkpoint_is_loaded_at_build(build_tiny, base_checkpoint):
    state = torch.load(base_checkpoint)['state_dict']
    model = _tuned(build_tiny, base_checkpoint, seed=5)  # other seed, same base weights
    for k, v in model.state_dict().items():
        if '.sdpt.' not in k:
            assert torch.equal(v, state[k]), k


def test_missing_base_checkpoint_names_the_fix(build_tiny, tmp_path):
    with pytest.raises(BaseCheckpointError, match='not found.*model.base_checkpoint='):
        build_tiny(base_checkpoint=str(tmp_path / 'nope.pth'))


def test_base_checkpoint_of_another_model_is_refused(build_tiny, tmp_path):
    other = build_tiny(tuner=dict(num_tokens=0))
    state = {k: v for k, v in other.state_dict().items() if 'dyhead_tower.0' not in k}
    torch.save({'state_dict': state}, tmp_path / 'partial.pth')
    with pytest.raises(BaseCheckpointError, match='lacks .* tensors.*strict_base=False'):
        build_tiny(base_checkpoint=str(tmp_path / 'partial.pth'))


def test_adapter_file_holds_only_the_tuned_tensors_and_meta(build_tiny, base_checkpoint,
                                                            tmp_path):
    model = _tuned(build_tiny, base_checkpoint)
    ckpt = torch.load(_adapter_file(model, tmp_path / 'a.pth'), weights_only=False)
    assert set(ckpt['state_dict']) == {n for n, _ in model.named_parameters() if '.sdpt.' in n}
    meta = ckpt['meta']['adapter']
    assert meta['tuner']['method'] == 'SDPT' and meta['tuner']['num_tokens'] == 4
    assert meta['tuner']['dims'] and meta['base']['detector'] == 'GLIP'
    assert len(meta['base']['fingerprint']) == 16


def test_adapter_round_trip_is_exact(build_tiny, base_checkpoint, tmp_path):
    trained = _tuned(build_tiny, base_checkpoint, seed=1)
    path = _adapter_file(trained, tmp_path / 'a.pth')
    fresh = _tuned(build_tiny, base_checkpoint, seed=2)  # other prompts before loading
    load_adapter(fresh, path)
    for (n, a), (_, b) in zip(trained.state_dict().items(), fresh.state_dict().items()):
        assert torch.equal(a, b), n
    inputs, samples = make_batch()
    with torch.no_grad():
        for a, b in zip(head_outputs(trained, inputs, samples),
                        head_outputs(fresh, inputs, samples)):
            assert torch.equal(a, b)


def test_adapter_for_another_k_is_refused(build_tiny, base_checkpoint, tmp_path):
    path = _adapter_file(_tuned(build_tiny, base_checkpoint, num_tokens=4), tmp_path / 'a.pth')
    other = _tuned(build_tiny, base_checkpoint, num_tokens=6)
    with pytest.raises(AdapterMismatchError, match=r'num_tokens=4 \(checkpoint\) vs num_tokens=6 \(model\).*Fix'):
        load_adapter(other, path)


def test_adapter_for_other_layers_or_mask_is_refused(build_tiny, base_checkpoint, tmp_path):
    path = _adapter_file(_tuned(build_tiny, base_checkpoint), tmp_path / 'a.pth')
    for tuner in (dict(layers=[0]), dict(mask='reference')):
        with pytest.raises(AdapterMismatchError, match='was tuned with'):
            load_adapter(_tuned(build_tiny, base_checkpoint, **tuner), path)


def test_adapter_for_another_base_is_refused_unless_allowed(build_tiny, base_checkpoint,
                                                            tmp_path):
    path = _adapter_file(_tuned(build_tiny, base_checkpoint), tmp_path / 'a.pth')
    other_base = build_tiny(seed=7)  # random weights: another base
    with pytest.raises(AdapterMismatchError, match='tuned on base.*model.base_checkpoint'):
        load_adapter(other_base, path)
    with pytest.warns(UserWarning, match='Loading anyway'):
        load_adapter(other_base, path, allow_base_mismatch=True)
    tokens = torch.load(path, weights_only=False)['state_dict']
    for name, value in tokens.items():
        assert torch.equal(other_base.state_dict()[name], value)


def test_atomic_save_leaves_no_partial_file(tmp_path):
    class Unpicklable:
        def __reduce__(self):
            raise RuntimeError('boom')

    target = tmp_path / 'x.pth'
    atomic_save({'a': 1}, str(target))
    with pytest.raises(RuntimeError, match='boom'):
        atomic_save({'a': Unpicklable()}, str(target))
    assert torch.load(target) == {'a': 1}
    assert [p.name for p in tmp_path.iterdir()] == ['x.pth']


def test_adapter_only_load_reports_no_missing_base_tensors(build_tiny, base_checkpoint):
    from mmengine.runner.checkpoint import load_state_dict
    model = _tuned(build_tiny, base_checkpoint)
    adapter = {k: v for k, v in model.state_dict().items() if '.sdpt.' in k}
    messages = []
    import mmengine.runner.checkpoint as ckpt_mod
    orig = ckpt_mod.print_log
    ckpt_mod.print_log = lambda msg, **kw: messages.append(msg)
    try:
        load_state_dict(model, copy.deepcopy(adapter))
    finally:
        ckpt_mod.print_log = orig
    assert messages == []
    # a prompt tensor missing: the load stops, naming it
    with pytest.raises(AdapterMismatchError, match=r'lacks 1 of the SDPT tensors.*tower\.3'):
        load_state_dict(model, {k: v for k, v in adapter.items() if 'tower.0' in k})


@pytest.mark.parametrize('builder', ['build_tiny', 'build_tiny_gdino'])
def test_runner_init_weights_keeps_the_base_weights(builder, request, base_checkpoint,
                                                    gdino_base_checkpoint):
    """mmengine's runner calls init_weights() after the build; Grounding DINO's
    re-initialises its transformer unconditionally there."""
    base = base_checkpoint if builder == 'build_tiny' else gdino_base_checkpoint
    model = request.getfixturevalue(builder)(seed=3, base_checkpoint=base)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.init_weights()
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_a_checkpoint_of_another_method_is_named_for_what_it_is(build_tiny, base_checkpoint):
    """A full fine-tuning (or linear probe, BitFit) checkpoint is a model of its own; another
    method's adapter needs its own config: both said in one line, not as field differences."""
    from mmdet_sdpt.adapter import adapter_meta, check_adapter_meta
    model = _tuned(build_tiny, base_checkpoint)
    meta = adapter_meta(model)
    for method in ('full', 'linear_prob', 'BitFit'):
        with pytest.raises(AdapterMismatchError, match=f'is a {method} checkpoint: {method} '
                           "trains the base's own tensors.*a model of its own, not an adapter "
                           'for this SDPT model.*tools/test.py THAT_CONFIG CHECKPOINT'):
            check_adapter_meta(model, dict(meta, tuner=dict(method=method)))
    lora = dict(meta, tuner=dict(method='LoRA', rank=4, targets=['q']))
    with pytest.raises(AdapterMismatchError, match='holds a LoRA adapter, but this model tunes '
                       'with SDPT. Fix: load it with a LoRA config'):
        check_adapter_meta(model, lora)
