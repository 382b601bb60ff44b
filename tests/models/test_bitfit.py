"""BitFit on the tiny GLIP: exactly the bias terms train, and the parts knob counts."""
import pytest

from mmdet_sdpt.models import BitFit
from tests.helpers import backward_once, trainable_names

BITFIT = dict(type='BitFit')
PARTS = ('backbone', 'neck', 'bbox_head', 'language_model')


def _biases(model, parts=PARTS):
    return {n for n, _ in model.named_parameters()
            if n.endswith('.bias') and n.split('.')[0] in parts}


@pytest.fixture(scope='module')
def bitfit(build_tuned):
    return build_tuned(BITFIT)


@pytest.fixture(scope='module')
def head_only(build_tuned):
    return build_tuned(dict(type='BitFit', parts=['bbox_head']))


def test_trainable_set_is_every_bias(bitfit, plain_glip):
    biases = _biases(plain_glip)
    assert trainable_names(bitfit) == biases
    # the four default parts are the whole tiny GLIP: no bias is left out
    assert biases == {n for n, _ in plain_glip.named_parameters() if n.endswith('.bias')}
    # GLIP's logit-bias tensors are not '*.bias' terms (they belong to the linear probe)
    assert not {'bbox_head.head.bias_lang', 'bbox_head.head.bias0'} & trainable_names(bitfit)
    assert [n for n, _ in bitfit.named_parameters()] == \
        [n for n, _ in plain_glip.named_parameters()]  # nothing injected


def test_parts_choose_whose_biases_train(head_only, plain_glip):
    assert trainable_names(head_only) == _biases(plain_glip, ('bbox_head', ))


def test_only_biases_receive_gradients(bitfit):
    grads = backward_once(bitfit)
    assert set(grads) == trainable_names(bitfit)
    # every part's biases learn (one tensor alone may not: softmax ignores a key bias)
    for part in PARTS:
        assert sum(g.abs().sum() for n, g in grads.items() if n.startswith(part)) > 0, part


def test_unknown_part_is_refused(plain_glip):
    with pytest.raises(ValueError, match=r"\['backbon'\] are not parts"):
        BitFit(parts=['backbon', 'neck']).inject(plain_glip)
    with pytest.raises(ValueError, match='at least one part'):
        BitFit(parts=[])
