"""The prefix cache (``model.prefix_cache``): a cached step computes what an uncached step
computes, on the tiny GLIP and the tiny Grounding DINO; hits, misses, bytes and LRU
eviction are counted; tuners that train anything before the cut are refused."""
import copy
import os.path as osp

import pytest
import torch

from mmdet_sdpt.adapter import load_checks_off
from mmdet_sdpt.prefix_cache import (PrefixCacheError, attach_prefix_cache,
                                            sample_key)
from tests.helpers import ROOT, make_batch, total_loss

LAST = dict(num_tokens=4, layers=[-1])  # SDPT in the last fusion layer
ALL = dict(num_tokens=4, layers='all')


def _pair(build, tuner, **cache):
    """Two models with the same weights; the second one cached."""
    plain, cached = build(seed=0, tuner=tuner), build(seed=0, tuner=tuner)
    attach_prefix_cache(cached, **cache)
    return plain, cached


def _step(model, inputs, samples, seed=0):
    """Training-mode loss and the tuned tensors' gradients (the model left as it was)."""
    model.train()
    try:
        torch.manual_seed(seed)  # Grounding DINO draws its denoising queries
        loss = total_loss(model, inputs, samples)
        loss.backward()
        grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
        return loss.detach(), grads
    finally:
        model.eval()
        model.zero_grad(set_to_none=True)


def _predict(model, inputs, samples):
    with torch.no_grad():
        out = model.predict(inputs, copy.deepcopy(samples))
    return [torch.cat([o.pred_instances.bboxes, o.pred_instances.scores[:, None],
                       o.pred_instances.labels[:, None].float()], 1) for o in out]


def _assert_same_step(a, b):
    (loss_a, grads_a), (loss_b, grads_b) = a, b
    assert torch.equal(loss_a, loss_b)
    assert grads_a.keys() == grads_b.keys() and grads_a
    for name in grads_a:
        assert torch.equal(grads_a[name], grads_b[name]), name


@pytest.fixture(scope='module')
def glip_last(build_tiny):
    return _pair(build_tiny, LAST)


@pytest.mark.parametrize('tuner, cut', [(LAST, 3), (ALL, 0)])
def test_glip_cut_is_the_first_tuned_tower_block(build_tiny, tuner, cut):
    _, cached = _pair(build_tiny, tuner)
    assert cached.prefix_cache.family.cut == cut


@pytest.mark.parametrize('tuner', [LAST, ALL], ids=['last', 'all'])
def test_glip_cached_steps_equal_uncached_bit_for_bit(build_tiny, tuner):
    plain, cached = _pair(build_tiny, tuner)
    inputs, samples = make_batch(shapes=[(128, 128), (96, 112)])
    reference = _step(plain, inputs, samples)
    _assert_same_step(_step(cached, inputs, samples), reference)  # misses
    assert cached.prefix_cache.stats()['misses'] == 2
    _assert_same_step(_step(cached, inputs, samples), reference)  # hits
    assert cached.prefix_cache.stats()['hits'] == 2


def test_glip_tokens_after_training_equal_uncached_with_a_resume(build_tiny):
    """SGD on the same batches with and without the cache, the cache emptied half-way (a
    resumed run starts with an empty one): the same tokens, bit for bit."""
    plain, cached = _pair(build_tiny, LAST)
    batches = [make_batch(seed=s) for s in (0, 1)] * 3
    for model in (plain, cached):
        opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.5)
        for i, (inputs, samples) in enumerate(batches):
            if i == 3 and model is cached:
                model.prefix_cache.clear()
            model.train()
            total_loss(model, inputs, samples).backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
        model.eval()
    stats = cached.prefix_cache.stats()
    assert (stats['hits'], stats['misses']) == (4, 8)
    tuned = [n for n, p in plain.named_parameters() if p.requires_grad]
    state_p, state_c = plain.state_dict(), cached.state_dict()
    assert all(torch.equal(state_p[n], state_c[n]) for n in tuned)


def test_glip_predict_cached_equals_uncached(glip_last):
    plain, cached = glip_last
    inputs, samples = make_batch(seed=5, shapes=[(128, 128), (96, 112)])
    reference = _predict(plain, inputs, samples)
    for _ in range(2):  # miss, then hit
        for x, y in zip(_predict(cached, inputs, samples), reference):
            assert torch.equal(x, y)


def test_hits_misses_and_bytes_are_counted(build_tiny):
    _, cached = _pair(build_tiny, LAST)
    inputs, samples = make_batch()
    _predict(cached, inputs, samples)
    stats = cached.prefix_cache.stats()
    assert (stats['hits'], stats['misses'], stats['entries']) == (0, 2, 2)
    assert stats['bytes'] > 0
    _predict(cached, inputs, samples)
    stats = cached.prefix_cache.stats()
    assert (stats['hits'], stats['misses'], stats['hit_rate']) == (2, 2, 0.5)
    # training ('loss') and validation ('predict') keep their own entries
    _step(cached, inputs, samples)
    assert cached.prefix_cache.stats()['entries'] == 4


def test_the_key_holds_image_text_order_and_shape():
    inputs, samples = make_batch()
    key = sample_key('loss', inputs[0], samples[0])
    assert key == sample_key('loss', inputs[0].clone(), copy.deepcopy(samples[0]))
    assert key != sample_key('predict', inputs[0], samples[0])
    assert key != sample_key('loss', inputs[0].flip(-1), samples[0])  # a flip
    other = copy.deepcopy(samples[0])
    other.set_metainfo(dict(text=tuple(reversed(other.text))))  # class order
    assert key != sample_key('loss', inputs[0], other)
    other = copy.deepcopy(samples[0])
    other.set_metainfo(dict(img_shape=(100, 128)))
    assert key != sample_key('loss', inputs[0], other)


def test_lru_evicts_the_least_recently_used_within_max_bytes(build_tiny):
    probe = build_tiny(seed=0, tuner=LAST)
    attach_prefix_cache(probe)
    inputs, samples = make_batch()
    _predict(probe, inputs[:1], samples[:1])
    entry = probe.prefix_cache.stats()['bytes']
    _, cached = _pair(build_tiny, LAST, max_bytes=int(entry * 1.5))
    _predict(cached, inputs, samples)  # stores 0, then 1 evicts 0
    stats = cached.prefix_cache.stats()
    assert (stats['entries'], stats['evictions'], stats['bytes']) == (1, 1, entry)
    _predict(cached, inputs[1:], samples[1:])
    _predict(cached, inputs[:1], samples[:1])
    stats = cached.prefix_cache.stats()
    assert (stats['hits'], stats['misses']) == (1, 3)


def test_an_entry_larger_than_the_cache_is_used_not_kept(build_tiny, glip_last):
    plain, _ = glip_last
    _, cached = _pair(build_tiny, LAST, max_bytes=1)
    inputs, samples = make_batch()
    for x, y in zip(_predict(cached, inputs, samples), _predict(plain, inputs, samples)):
        assert torch.equal(x, y)
    assert cached.prefix_cache.stats()['entries'] == 0


def test_a_partial_hit_matches_within_float_noise(glip_last):
    """A sample stored from another batch, beside one that misses (computed as a batch of
    one): equal to the uncached step up to batched kernels' float noise (the prefix
    computes each sample independently of the others)."""
    plain, cached = glip_last
    cached.prefix_cache.clear()
    a, b = make_batch(seed=11), make_batch(seed=12)
    _step(cached, *a)  # stores a's two samples
    inputs, samples = torch.cat([a[0][1:], b[0][:1]]), [a[1][1], b[1][0]]
    hits = cached.prefix_cache.stats()['hits']
    loss_c, grads_c = _step(cached, inputs, samples)
    assert cached.prefix_cache.stats()['hits'] == hits + 1
    loss_p, grads_p = _step(plain, inputs, samples)
    torch.testing.assert_close(loss_c, loss_p, rtol=1e-5, atol=1e-6)
    for name in grads_p:
        torch.testing.assert_close(grads_c[name], grads_p[name], rtol=1e-4, atol=1e-6)


def test_fp16_storage_stays_close_and_deterministic(build_tiny, glip_last):
    plain, _ = glip_last
    _, cached = _pair(build_tiny, LAST, dtype='float16')
    inputs, samples = make_batch(seed=3)
    loss_p, _ = _step(plain, inputs, samples)
    miss, hit = _step(cached, inputs, samples), _step(cached, inputs, samples)
    _assert_same_step(miss, hit)  # rounded for the miss as for the hit
    torch.testing.assert_close(miss[0], loss_p, rtol=1e-3, atol=1e-4)


def test_new_base_weights_empty_the_cache(build_tiny):
    plain, cached = _pair(build_tiny, LAST)
    inputs, samples = make_batch()
    _predict(cached, inputs, samples)
    other = build_tiny(seed=7, tuner=LAST).state_dict()
    for model in (plain, cached):
        with load_checks_off(model):  # another base, on purpose
            model.load_state_dict(other)
    for x, y in zip(_predict(cached, inputs, samples), _predict(plain, inputs, samples)):
        assert torch.equal(x, y)
    assert cached.prefix_cache.stats()['hits'] == 0


def test_a_deep_copy_gets_an_empty_cache_of_its_own(glip_last):
    plain, cached = glip_last
    inputs, samples = make_batch(seed=4)
    _predict(cached, inputs, samples)
    twin = copy.deepcopy(cached)
    assert twin.prefix_cache is not cached.prefix_cache
    assert twin.prefix_cache.family.detector is twin and len(twin.prefix_cache.store) == 0
    for x, y in zip(_predict(twin, inputs, samples), _predict(plain, inputs, samples)):
        assert torch.equal(x, y)
    assert twin.prefix_cache.stats()['misses'] == 2


@pytest.mark.parametrize('tuner', [
    dict(type='FullFineTuning'), dict(type='BitFit'), dict(type='LoRA', targets=['visual']),
    dict(type='LoRA', targets=['text']), dict(type='VPT'), dict(type='LanguagePromptV2'),
    dict(type='TextPrefixTokens', num_tokens=4)
], ids=['full', 'bitfit', 'lora-visual', 'lora-text', 'vpt', 'language_prompt_v2',
        'new_tuner'])
def test_tuners_training_the_prefix_are_refused(build_tuned, tuner):
    import projects.new_tuner.prefix_tokens  # noqa: F401  registers TextPrefixTokens
    model = build_tuned(tuner)
    with pytest.raises(PrefixCacheError, match='prefix_cache') as refused:
        attach_prefix_cache(model)
    assert model.tuner.method in str(refused.value)


@pytest.mark.parametrize('tuner, cut', [(dict(type='LoRA', targets=['fusion']), 0),
                                        (dict(type='LinearProbe'), 6)],
                         ids=['lora-fusion', 'linear_probe'])
def test_tuners_after_the_prefix_are_served(build_tuned, tuner, cut):
    model = build_tuned(tuner)
    assert attach_prefix_cache(model).family.cut == cut


def test_linear_probe_cached_step_equals_uncached(build_tuned):
    plain, cached = build_tuned(dict(type='LinearProbe')), build_tuned(dict(type='LinearProbe'))
    attach_prefix_cache(cached)
    inputs, samples = make_batch()
    reference = _step(plain, inputs, samples)
    for _ in range(2):
        _assert_same_step(_step(cached, inputs, samples), reference)


def test_a_prefix_module_in_training_mode_is_refused(glip_last):
    _, cached = glip_last
    cached.backbone.train()
    try:
        with pytest.raises(PrefixCacheError, match='eval mode'):
            _predict(cached, *make_batch())
    finally:
        cached.eval()


# -- Grounding DINO ---------------------------------------------------------------------
@pytest.mark.parametrize('tuner, cut', [(LAST, 1), (ALL, 0)], ids=['last', 'all'])
def test_gdino_cached_steps_equal_uncached_bit_for_bit(build_tiny_gdino, tuner, cut):
    plain, cached = _pair(build_tiny_gdino, tuner)
    assert cached.prefix_cache.family.cut == cut
    inputs, samples = make_batch(shapes=[(128, 128), (96, 112)])  # a padding mask
    reference = _step(plain, inputs, samples)
    _assert_same_step(_step(cached, inputs, samples), reference)
    _assert_same_step(_step(cached, inputs, samples), reference)
    assert cached.prefix_cache.stats()['hits'] == 2
    expected = _predict(plain, inputs, samples)
    for _ in range(2):
        for x, y in zip(_predict(cached, inputs, samples), expected):
            assert torch.equal(x, y)


# -- the config switch ------------------------------------------------------------------
def test_the_config_switch_builds_a_cached_model(build_tiny, build_tuned):
    model = build_tiny(seed=0, tuner=LAST, prefix_cache=dict(max_bytes=2**20, dtype='float16'))
    assert model.prefix_cache.store.max_bytes == 2**20
    assert model.prefix_cache.store.dtype == torch.float16
    assert 'prefix_cache' not in ''.join(model.state_dict())  # no tensors of its own
    with pytest.raises(PrefixCacheError, match='FullFineTuning|full'):
        build_tuned(dict(type='FullFineTuning'), prefix_cache=dict())


def test_a_run_validates_and_trains_through_the_cache(tiny_cfg, base_checkpoint, tmp_path):
    """tools/train.py's runner: training and validation both go through the cache, its
    hit rate is in the log scalars, and the second validation is served from it."""
    from mmdet_sdpt.engine import build_runner
    cfg = copy.deepcopy(tiny_cfg)
    cfg.work_dir = str(tmp_path)
    cfg.model.base_checkpoint = base_checkpoint
    cfg.model.tuner.update(LAST)
    cfg.model.prefix_cache = dict(max_bytes=2**28)
    cfg.train_cfg.update(max_iters=8, val_interval=4)
    cfg.default_hooks.checkpoint.update(interval=8)
    runner = build_runner(cfg)
    runner.train()
    stats = runner.model.prefix_cache.stats()
    assert stats['hits'] + stats['misses'] == 8 * 2 + 2 * 4  # 8 steps of 2, 2 x 4 val images
    assert stats['hits'] >= 4  # the second validation at least
    assert 0 < runner.message_hub.get_scalar('train/prefix_hit_rate').current() <= 1


def test_the_shipped_cached_configs_switch_it_on(tiny_env):
    from mmengine.config import Config
    for name in ('glip_t_odinw_fewshot_cached.py', 'tiny-glip_shapeworld_cached.py'):
        cfg = Config.fromfile(osp.join(ROOT, 'configs', 'sdpt', name))
        assert cfg.model.prefix_cache.max_bytes > 0
        assert cfg.model.tuner.layers == [-1]
