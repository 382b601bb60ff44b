"""LinearProbe (GLIP's linear_prob) on the tiny GLIP: what trains, gradients, checkpoints."""
import pytest
import torch

from tests.helpers import backward_once, trainable_names

PROBE = dict(type='LinearProbe')
# GLIP's whitelist in mmdet names, written out (not derived from the tuner under test)
EXPECTED = {
    'bbox_head.head.bbox_pred.weight', 'bbox_head.head.bbox_pred.bias',
    'bbox_head.head.centerness.weight', 'bbox_head.head.centerness.bias',
    'bbox_head.head.dot_product_projection_text.weight',
    'bbox_head.head.dot_product_projection_text.bias',
    'bbox_head.head.log_scale', 'bbox_head.head.bias_lang', 'bbox_head.head.bias0',
}


@pytest.fixture(scope='module')
def probe(build_tuned):
    return build_tuned(PROBE)


def test_trainable_set_is_glips_whitelist(probe, plain_glip):
    assert trainable_names(probe) == EXPECTED
    # nothing injected: the tuned model has exactly the frozen GLIP's tensors
    assert [n for n, _ in probe.named_parameters()] == \
        [n for n, _ in plain_glip.named_parameters()]


def test_tiny_trainable_count(probe):
    # tiny GLIP: feat_channels 256, one prior per location, lang_dim 64
    count = sum(p.numel() for p in probe.parameters() if p.requires_grad)
    assert count == (256 * 4 + 4) + (256 + 1) + (64 * 256 + 256) + 1 + 64 + 1 == 17_991


def test_only_the_probe_receives_gradients(probe):
    grads = backward_once(probe)
    assert set(grads) == EXPECTED
    assert all(g.abs().sum() > 0 for g in grads.values())


def test_probe_starts_from_the_base_checkpoints_head(build_tuned, base_checkpoint):
    state = torch.load(base_checkpoint)['state_dict']
    model = build_tuned(PROBE, seed=5, base_checkpoint=base_checkpoint)
    for name in sorted(EXPECTED):
        assert torch.equal(model.state_dict()[name], state[name]), name
