"""Domain-aware SDPT (Fed-DPT's shared + per-domain prompts on SDPT): a site trains the
shared rows and its own domain's rows only and keeps its domain's key; at test time an image
takes the prompts of the domain whose key its features match."""
import pytest
import torch

from mmdet_sdpt.models.domain_sdpt import DomainPrototypeTokens
from tests.helpers import backward_once, head_outputs, make_batch

TUNER = dict(type='DomainAwareSDPT', domains=['A', 'B', 'C'], num_shared=2, num_domain=3)


def _modules(model):
    return [m for m in model.modules() if isinstance(m, DomainPrototypeTokens)]


def test_a_site_trains_the_shared_rows_and_its_own_domain_only(build_tuned):
    model = build_tuned(dict(TUNER, train_domain='B'))
    grads = backward_once(model)
    rows = [n for n in grads if n.endswith('.domain_tokens')]
    assert rows and all(n.replace('domain_tokens', 'tokens') in grads for n in rows)
    for name in rows:
        per_domain = grads[name].abs().flatten(1).sum(1)
        assert per_domain[1] > 0 and per_domain[0] == 0 and per_domain[2] == 0


def test_a_site_keeps_its_domain_key_while_it_trains(build_tuned):
    model = build_tuned(dict(TUNER, train_domain='C'))
    inputs, samples = make_batch(num_images=2)
    with torch.no_grad():
        head_outputs(model, inputs, samples)  # eval: no key moves
    assert all(float(m.key_counts.sum()) == 0 for m in _modules(model))
    model.train()
    with torch.no_grad():
        head_outputs(model, inputs, samples)
    for m in _modules(model):
        assert m.key_counts.tolist() == [0.0, 0.0, 2.0]
        assert m.domain_keys[2].norm() > 0 and m.domain_keys[:2].abs().sum() == 0


def test_an_image_takes_the_prompts_of_the_domain_its_features_match(build_tuned):
    """Keys set so that an image matches domain A's: the mixed prompts equal A's own (a
    site's view, train_domain='A'), not B's."""
    inputs, samples = make_batch(num_images=1)
    mixed = build_tuned(TUNER)
    seen = {}

    def capture(module, args, kwargs):
        seen[id(module)] = args[0].detach().float().mean(1)[0]

    handles = [m.register_forward_pre_hook(capture, with_kwargs=True) for m in
               [mod for mod in mixed.modules() if hasattr(mod, 'sdpt')]]
    with torch.no_grad():
        head_outputs(mixed, inputs, samples)
    for h in handles:
        h.remove()
    attns = [mod for mod in mixed.modules() if hasattr(mod, 'sdpt')]
    with torch.no_grad():
        for attn in attns:
            m = attn.sdpt
            m.domain_keys[0] = seen[id(attn)]
            m.domain_keys[1] = -seen[id(attn)]
            m.key_counts[:2] = 1.0  # C has no key: never chosen
            m.domain_tokens[1] += 3.0  # B's rows far from A's
        got = head_outputs(mixed, inputs, samples)
    state = mixed.state_dict()
    for domain, expect_equal in (('A', True), ('B', False)):
        own = build_tuned(dict(TUNER, train_domain=domain))
        own.load_state_dict(state)
        with torch.no_grad():
            ref = head_outputs(own, inputs, samples)
        same = all(torch.allclose(a, b, atol=1e-4) for a, b in zip(got, ref))
        assert same == expect_equal, domain


def test_a_site_of_another_domain_is_refused_with_the_fix(build_tuned):
    with pytest.raises(ValueError, match=r"'D' is not one of the tuner's domains.*FED_DOMAINS"):
        build_tuned(dict(TUNER, train_domain='D'))
