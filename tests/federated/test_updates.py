"""What travels in a federation and how the server checks it, without a network: the
adapter's tensors survive the wire exactly, and an update that does not fit the global
adapter is rejected, naming the site and the reason."""
import pytest
import torch

from mmdet_sdpt.federated.settings import settings, site_domain
from mmdet_sdpt.federated.site import ProximalTerm
from mmdet_sdpt.federated.updates import RejectedUpdate, check_update, to_arrays, to_state

META = dict(tuner=dict(method='SDPT', num_tokens=4), base=dict(detector='GLIP',
                                                                fingerprint='abc'))


def _state(seed=0):
    g = torch.Generator().manual_seed(seed)
    return {'b.sdpt.tokens': torch.randn(4, 8, generator=g),
            'a.sdpt.tokens': torch.randn(4, 8, generator=g)}


def test_the_tensors_survive_the_wire_exactly_in_one_key_order():
    state = _state()
    back = to_state(to_arrays(state))
    assert list(back) == sorted(state)
    assert all(torch.equal(back[k], state[k]) for k in state)
    half = {k: v.half() for k, v in state.items()}  # a site training in fp16 sends fp32
    assert all(v.dtype == torch.float32 for v in to_state(to_arrays(half)).values())


@pytest.mark.parametrize('change, reason', [
    (lambda s, m: s.__setitem__('a.sdpt.tokens', s['a.sdpt.tokens'] * float('nan')),
     r'site X \(node 7\) sent NaN/inf in 1 tensors'),
    (lambda s, m: s.__setitem__('a.sdpt.tokens', torch.zeros(2, 8)),
     r'site X \(node 7\) sent tensors of other shapes.*\(2, 8\) vs \(4, 8\)'),
    (lambda s, m: s.pop('b.sdpt.tokens'), r'missing \[\'b.sdpt.tokens\'\]'),
    (lambda s, m: m['base'].__setitem__('fingerprint', 'zzz'),
     r'is on base .*zzz.*the site must load the federation\'s base checkpoint'),
    (lambda s, m: m['tuner'].__setitem__('num_tokens', 8),
     r'tunes another setting .*num_tokens\': 8'),
])
def test_an_update_that_does_not_fit_is_rejected_naming_the_site(change, reason):
    state, meta = _state(1), dict(tuner=dict(META['tuner']), base=dict(META['base']))
    check_update(state, meta, _state(0), META, 'site X (node 7)')  # as sent: accepted
    change(state, meta)
    with pytest.raises(RejectedUpdate, match=reason):
        check_update(state, meta, _state(0), META, 'site X (node 7)')


def test_settings_merge_in_order_and_refuse_unknown_keys():
    s = settings({'local-iters': 5, 'domains': 'A,B,C'}, {'partition-id': 2},
                 defaults=dict(rounds=9))
    assert (s['local_iters'], s['rounds'], site_domain(s)) == (5, 9, 'C')
    assert site_domain(settings({'domains': 'A,B'}, {'domain': 'Z'})) == 'Z'
    with pytest.raises(KeyError, match="unknown federation setting 'local-iter'.*local-iters"):
        settings({'local-iter': 5})
    with pytest.raises(KeyError, match="--node-config \"domain="):
        site_domain(settings({}, {}))


def test_fedprox_adds_the_proximal_gradient():
    """FedProx's term mu/2 ||w - w_global||^2: its gradient mu (w - w_global) is added to
    the task's, anchored where the round's training starts."""
    w = torch.nn.Parameter(torch.tensor([1.0, 2.0]))
    model = torch.nn.Module()
    model.w = w
    runner = type('R', (), {'model': model})()
    hook = ProximalTerm(mu=0.5)
    hook.before_train(runner)
    with torch.no_grad():
        w.add_(torch.tensor([2.0, -4.0]))  # moved away from the global values
    (w * torch.tensor([1.0, 1.0])).sum().backward()
    assert torch.allclose(w.grad, torch.tensor([1.0 + 0.5 * 2.0, 1.0 + 0.5 * -4.0]))
    hook.after_train(runner)
    w.grad = None
    w.sum().backward()
    assert torch.equal(w.grad, torch.ones(2))  # gone after the round
