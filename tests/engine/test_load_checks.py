"""Every load of a tuned model's state dict is checked (``check_loaded_state_dict``, a
load pre-hook of the detector), whoever loads it: mmengine's runner (tools/test.py),
``init_detector``, ``DetInferencer``, ``model.load_state_dict``. A checkpoint without the
tuned tensors, of another model, for another K or base, or with NaN in it, stops the load
with one error saying what it is and what to pass; zero-shot is a mode of its own."""
import copy

import pytest
import torch

from mmdet_sdpt.adapter import AdapterMismatchError, to_adapter_checkpoint
from tests.helpers import TINY_CONFIG, adapter_file, run_tool


def _cfg(tiny_cfg, base_checkpoint, **tuner):
    cfg = copy.deepcopy(tiny_cfg)
    cfg.model.base_checkpoint = base_checkpoint
    cfg.model.tuner.update(tuner)
    return cfg


def _last_line(out):
    return [line for line in out.stderr.splitlines() if line.strip()][-1]


def test_test_tool_refuses_the_base_checkpoint_and_names_zero_shot(tiny_env, base_checkpoint,
                                                                   tmp_path):
    out = run_tool('test.py', TINY_CONFIG, base_checkpoint, '--work-dir', str(tmp_path),
                   '--cfg-options', f'model.base_checkpoint={base_checkpoint}')
    assert out.returncode != 0
    last = _last_line(out)
    assert 'AdapterMismatchError' in last and base_checkpoint in last
    assert 'is a checkpoint of the base detector' in last and '--zero-shot' in last
    assert 'coco/bbox_mAP' not in out.stdout + out.stderr


def test_zero_shot_is_an_explicit_mode_of_the_test_tool(tiny_env, base_checkpoint, tmp_path):
    out = run_tool('test.py', TINY_CONFIG, '--zero-shot', '--work-dir', str(tmp_path),
                   '--cfg-options', f'model.base_checkpoint={base_checkpoint}')
    assert out.returncode == 0, out.stderr[-3000:]
    log = out.stdout + out.stderr
    assert 'zero-shot, the SDPT tuner is switched off' in log and 'coco/bbox_mAP' in log


def test_test_tool_refuses_a_checkpoint_of_another_detector(tiny_env, base_checkpoint,
                                                            gdino_base_checkpoint, tmp_path):
    out = run_tool('test.py', TINY_CONFIG, gdino_base_checkpoint, '--work-dir',
                   str(tmp_path), '--cfg-options', f'model.base_checkpoint={base_checkpoint}')
    assert out.returncode != 0
    last = _last_line(out)
    assert 'is not a checkpoint of this model' in last and gdino_base_checkpoint in last


def test_zero_shot_equals_the_tuner_switched_off(build_tiny, base_checkpoint):
    from tests.helpers import head_outputs, make_batch
    tuned = build_tiny(seed=1, base_checkpoint=base_checkpoint)
    zero_shot = build_tiny(seed=1, base_checkpoint=base_checkpoint, zero_shot=True)
    inputs, samples = make_batch(num_images=1)
    with torch.no_grad(), tuned.tuner.disabled(tuned):
        expected = head_outputs(tuned, inputs, samples)
    with torch.no_grad():
        got = head_outputs(zero_shot, inputs, samples)
    assert all(torch.equal(a, b) for a, b in zip(expected, got))


def test_a_zero_shot_model_refuses_an_adapter(build_tiny, base_checkpoint, tmp_path):
    from mmengine.runner import load_checkpoint
    path = adapter_file(build_tiny(seed=1, base_checkpoint=base_checkpoint), tmp_path / 'a.pth')
    zero_shot = build_tiny(seed=1, base_checkpoint=base_checkpoint, zero_shot=True)
    with pytest.raises(AdapterMismatchError, match='zero_shot=True.*drop --zero-shot'):
        load_checkpoint(zero_shot, path, map_location='cpu')


@pytest.mark.parametrize('api', ['init_detector', 'DetInferencer'])
def test_mmdet_apis_refuse_an_adapter_for_another_k(api, tiny_cfg, base_checkpoint,
                                                    build_tiny, tmp_path):
    from mmdet.apis import DetInferencer, init_detector
    path = adapter_file(build_tiny(seed=1, base_checkpoint=base_checkpoint), tmp_path / 'k4.pth')
    cfg = _cfg(tiny_cfg, base_checkpoint, num_tokens=6)
    with pytest.raises(AdapterMismatchError, match=r'num_tokens=4 \(checkpoint\) vs '
                       r'num_tokens=6 \(model\)') as err:
        if api == 'init_detector':
            init_detector(cfg, path, device='cpu')
        else:
            DetInferencer(model=cfg, weights=path, device='cpu', show_progress=False)
    assert path in str(err.value)


def test_init_detector_refuses_an_adapter_tuned_on_another_base(tiny_cfg, base_checkpoint,
                                                                build_tiny, tmp_path):
    from mmdet.apis import init_detector
    other_base = build_tiny(seed=7)  # random weights: another base
    path = adapter_file(other_base, tmp_path / 'other.pth')
    with pytest.raises(AdapterMismatchError, match='tuned on base.*model.base_checkpoint'):
        init_detector(_cfg(tiny_cfg, base_checkpoint), path, device='cpu')


def test_init_detector_serves_a_fitting_adapter(tiny_cfg, base_checkpoint, build_tiny,
                                                tmp_path):
    from mmdet.apis import init_detector
    trained = build_tiny(seed=1, base_checkpoint=base_checkpoint)
    path = adapter_file(trained, tmp_path / 'a.pth')
    served = init_detector(_cfg(tiny_cfg, base_checkpoint), path, device='cpu')
    for name, value in trained.state_dict().items():
        assert torch.equal(served.state_dict()[name], value), name


def test_non_finite_adapters_are_refused_on_load_and_never_written(build_tiny,
                                                                   base_checkpoint, tmp_path):
    from mmdet_sdpt import load_adapter
    from mmengine.runner import load_checkpoint
    trained = build_tiny(seed=1, base_checkpoint=base_checkpoint)
    path = adapter_file(trained, tmp_path / 'a.pth')
    checkpoint = torch.load(path)
    name = next(iter(checkpoint['state_dict']))
    checkpoint['state_dict'][name][0, 0] = float('nan')
    torch.save(checkpoint, tmp_path / 'nan.pth')
    fresh = build_tiny(seed=2, base_checkpoint=base_checkpoint)
    for load in (load_adapter, lambda m, p: load_checkpoint(m, p, map_location='cpu')):
        with pytest.raises(AdapterMismatchError, match='non-finite.*diverged'):
            load(fresh, str(tmp_path / 'nan.pth'))
    with torch.no_grad():
        dict(trained.named_parameters())[name].fill_(float('inf'))
    with pytest.raises(RuntimeError, match='not saving a checkpoint.*NaN/inf'):
        to_adapter_checkpoint(trained, {'state_dict': trained.state_dict(), 'meta': {}})


def test_base_tensor_tuners_refuse_the_base_checkpoint_as_tuned(tiny_cfg, base_checkpoint,
                                                                tmp_path):
    """Linear probe's tuned tensors are base tensors, so names cannot tell a base checkpoint
    from a tuned one; their values can."""
    from mmdet.registry import MODELS
    from mmengine.runner import load_checkpoint
    cfg = _cfg(tiny_cfg, base_checkpoint)
    cfg.model.tuner = dict(type='LinearProbe')
    linear = MODELS.build(cfg.model)
    with pytest.raises(AdapterMismatchError, match="base's own values.*--zero-shot"):
        load_checkpoint(linear, base_checkpoint, map_location='cpu')
    path = adapter_file(linear, tmp_path / 'probe.pth')  # moved, as training would
    load_checkpoint(linear, path, map_location='cpu')
