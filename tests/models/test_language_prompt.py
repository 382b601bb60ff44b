"""LanguagePromptV2 (GLIP's language_prompt_v2) on the tiny GLIP, one property per test."""
import pytest
import torch

from tests.helpers import CLASSES, head_outputs, make_batch
from tests.helpers import assert_reproduces, backward_once, trainable_names

LPV2 = dict(type='LanguagePromptV2')
OFFSET = 'language_model.prompt_v2.offset'


@pytest.fixture(scope='module')
def lpv2(build_tuned):
    return build_tuned(LPV2)


def test_offset_is_max_tokens_by_lang_dim_and_zero(lpv2):
    offset = lpv2.language_model.prompt_v2.offset
    assert offset.shape == (lpv2.language_model.max_tokens, 64)  # tiny BERT: hidden 64
    assert torch.all(offset == 0)


def test_zero_offset_reproduces_frozen_glip_bit_for_bit(lpv2, plain_glip):
    assert_reproduces(lpv2, plain_glip)


def test_offset_is_added_to_embedded_and_hidden_per_position(lpv2, plain_glip):
    caption = ' . '.join(CLASSES)
    offset = lpv2.language_model.prompt_v2.offset
    try:
        with torch.no_grad():
            before = plain_glip.language_model([caption])
            offset.normal_()
            after = lpv2.language_model([caption])
        n = after['hidden'].size(1)
        for key in ('embedded', 'hidden'):
            assert torch.allclose(after[key], before[key] + offset[:n], atol=1e-6), key
        assert torch.equal(after['masks'], before['masks'])
    finally:
        with torch.no_grad():
            offset.zero_()


def test_disabled_gives_the_base_whatever_the_offset_learned(lpv2, plain_glip):
    offset = lpv2.language_model.prompt_v2.offset
    inputs, samples = make_batch(num_images=1)
    try:
        with torch.no_grad():
            offset.normal_()
            with lpv2.tuner.disabled(lpv2):
                for a, b in zip(head_outputs(lpv2, inputs, samples),
                                head_outputs(plain_glip, inputs, samples)):
                    assert torch.equal(a, b)
        assert lpv2.language_model.prompt_v2.enabled  # back on after the block
    finally:
        with torch.no_grad():
            offset.zero_()


def test_only_the_offset_trains_and_receives_gradient(lpv2):
    assert trainable_names(lpv2) == {OFFSET}
    grads = backward_once(lpv2)
    assert set(grads) == {OFFSET} and grads[OFFSET].abs().sum() > 0


