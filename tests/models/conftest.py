"""Fixtures and helpers for the baseline tuners: the tiny GLIP with its tuner *replaced*
(``build_tiny`` merges into SDPT's tuner dict), adapter files, exact comparisons."""
import copy

import pytest
import torch

from mmdet_sdpt.adapter import atomic_save, load_checks_off, to_adapter_checkpoint
from tests.conftest import head_outputs, make_batch, total_loss


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


def trainable_names(model):
    return {n for n, p in model.named_parameters() if p.requires_grad}


def save_adapter(model, path):
    """What tools/train.py saves: the tuned tensors and meta['adapter'], written atomically."""
    ckpt = to_adapter_checkpoint(model, {'state_dict': model.state_dict(), 'meta': {}})
    atomic_save(ckpt, str(path))
    return str(path)


@torch.no_grad()
def randomise_tuned(model, seed=3):
    """Give the tuned tensors values no freshly built model has (as training would)."""
    g = torch.Generator().manual_seed(seed)
    for p in model.parameters():
        if p.requires_grad:
            p.add_(torch.randn(p.shape, generator=g) * 0.1)


def assert_same_state_and_outputs(a, b):
    """Two models hold the same tensors and compute the same head outputs, bit for bit."""
    state_a, state_b = a.state_dict(), b.state_dict()
    assert list(state_a) == list(state_b)
    for name, value in state_a.items():
        assert torch.equal(value, state_b[name]), name
    inputs, samples = make_batch(num_images=1)
    with torch.no_grad():
        for x, y in zip(head_outputs(a, inputs, samples), head_outputs(b, inputs, samples)):
            assert torch.equal(x, y)


def assert_reproduces(tuned, plain):
    """``tuned`` (in training mode: its own modules train, frozen ones stay in eval) computes
    the frozen ``plain`` model's head outputs bit for bit, on the same base weights."""
    with load_checks_off(tuned):  # the base's weights alone, on purpose
        result = tuned.load_state_dict(plain.state_dict(), strict=False)
    assert not result.unexpected_keys
    tuned.train()
    try:
        inputs, samples = make_batch(num_images=1)
        with torch.no_grad():
            for x, y in zip(head_outputs(tuned, inputs, samples),
                            head_outputs(plain, inputs, samples)):
                assert torch.equal(x, y)
    finally:
        tuned.eval()


def backward_once(model):
    """One training-mode loss.backward() on one image; returns {name: grad} of the tensors
    that got one and leaves the model in eval mode with no gradients."""
    model.train()
    try:
        total_loss(model, *make_batch(num_images=1)).backward()
        return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    finally:
        model.eval()
        model.zero_grad(set_to_none=True)
