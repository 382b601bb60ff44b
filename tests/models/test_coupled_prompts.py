"""MaPLe, UPT and MuDPT at SDPT's insertion point on the tiny GLIP (2 fusion layers,
v_dim 256, l_dim 64) and the tiny Grounding DINO: one property per test, over the three."""
import pytest
import torch
from mmdet.models.utils.vlfuse_helper import BiMultiHeadAttention

from mmdet_sdpt.models.coupled_prompts import (UPT, MaPLe, MaPLePrompts, MuDPT,
                                               MuDPTPrompts, UPTPrompts)
from mmdet_sdpt.models.sdpt import prompt_modules
from tests.helpers import head_outputs, make_batch, total_loss
from tests.helpers import assert_reproduces, backward_once, trainable_names

K = 4
TUNERS = {
    'MaPLe': dict(type='MaPLe', num_tokens=K),
    'UPT': dict(type='UPT', num_tokens=K, dim=32, num_heads=2),
    'MuDPT': dict(type='MuDPT', num_tokens=K, bottleneck=8),
}
MODULE = {'MaPLe': 'maple', 'UPT': 'upt', 'MuDPT': 'mudpt'}
# each method's tensors in one prompted layer of the tiny GLIP (v_dim 256, l_dim 64)
SHAPES = {
    'MaPLe': {'text_tokens': (K, 64), 'coupling.weight': (256, 64), 'coupling.bias': (256, )},
    'UPT': {'tokens': (K, 32), 'block.self_attn.in_proj_weight': (96, 32),
            'block.self_attn.in_proj_bias': (96, ), 'block.self_attn.out_proj.weight': (32, 32),
            'block.self_attn.out_proj.bias': (32, ), 'block.linear1.weight': (32, 32),
            'block.linear1.bias': (32, ), 'block.linear2.weight': (32, 32),
            'block.linear2.bias': (32, ), 'block.norm1.weight': (32, ),
            'block.norm1.bias': (32, ), 'block.norm2.weight': (32, ),
            'block.norm2.bias': (32, ), 'image_head.weight': (256, 32),
            'image_head.bias': (256, ), 'text_head.weight': (64, 32),
            'text_head.bias': (64, )},
    'MuDPT': {'image_tokens': (K, 256), 'text_tokens': (K, 64), 't2v.0.weight': (8, 64),
              't2v.0.bias': (8, ), 't2v.2.weight': (256, 8), 't2v.2.bias': (256, ),
              'v2t.0.weight': (8, 256), 'v2t.0.bias': (8, ), 'v2t.2.weight': (64, 8),
              'v2t.2.bias': (64, )},
}
# a knob each checkpoint must match (another value changes the tensors' shapes)
METHODS = list(TUNERS)


@pytest.fixture(scope='module')
def tuned(build_tuned):
    """One tiny GLIP per method, built once for the module; tests leave them unchanged."""
    cache = {}

    def get(method):
        if method not in cache:
            cache[method] = build_tuned(TUNERS[method])
        return cache[method]

    return get


def _seen(model, num_images=1):
    """Lengths and text-mask of every fusion attention's inputs (after the insertion), and
    the head outputs."""
    seen, handles = [], []
    for m in model.modules():
        if isinstance(m, BiMultiHeadAttention):
            handles.append(m.register_forward_pre_hook(lambda mod, a, kw: seen.append(
                (a[0].shape[1], a[1].shape[1], kw['attention_mask_l'].clone())),
                with_kwargs=True))
    try:
        inputs, samples = make_batch(num_images=num_images)
        with torch.no_grad():
            outs = head_outputs(model, inputs, samples)
    finally:
        for h in handles:
            h.remove()
    return seen, outs


@pytest.mark.parametrize('method', METHODS)
def test_one_module_per_fusion_layer_holds_all_that_trains(tuned, plain_glip, method):
    model = tuned(method)
    name = MODULE[method]
    assert model.tuner.module_name == name and model.tuner.method == method
    layers = model.tuner.prompted
    assert layers == model.tuner.fusion_layers and len(layers) == 2
    expected = {f'{p}.{name}.{t}': s for p in layers for t, s in SHAPES[method].items()}
    params = dict(model.named_parameters())
    assert trainable_names(model) == set(expected)
    assert {n: tuple(params[n].shape) for n in expected} == expected
    assert all(model.tuner.owns(n) for n in expected)
    base = [n for n, _ in plain_glip.named_parameters()]
    assert [n for n, _ in model.named_parameters() if not model.tuner.trainable(n)] == base
    assert len(prompt_modules(model)) == 2


@pytest.mark.parametrize('method', METHODS)
def test_no_tokens_or_no_layers_reproduce_the_frozen_glip_bit_for_bit(build_tuned,
                                                                      plain_glip, method):
    for empty in (dict(num_tokens=0), dict(layers=[])):
        model = build_tuned(dict(TUNERS[method], **empty))
        assert model.tuner.prompted == [] and not trainable_names(model)
        assert_reproduces(model, plain_glip)


@pytest.mark.parametrize('method', METHODS)
def test_both_streams_lengthen_by_k_and_prompts_act(tuned, plain_glip, method):
    plain_seen, plain_outs = _seen(plain_glip)
    seen, outs = _seen(tuned(method))
    assert [(v - K, t - K, m.shape[1] - K) for v, t, m in seen] == [
        (v, t, m.shape[1]) for v, t, m in plain_seen]
    assert all(torch.all(m[:, -K:] == 1) for _, _, m in seen)  # paper mask: visible
    assert [o.shape for o in outs] == [o.shape for o in plain_outs]
    diff = max((a - b).abs().max().item() for a, b in zip(outs, plain_outs))
    assert diff > 1e-4


@pytest.mark.parametrize('method', METHODS)
def test_disabled_gives_the_base_outputs(tuned, plain_glip, method):
    model = tuned(method)
    inputs, samples = make_batch(num_images=1)
    with torch.no_grad(), model.tuner.disabled(model):
        for a, b in zip(head_outputs(model, inputs, samples),
                        head_outputs(plain_glip, inputs, samples)):
            assert torch.equal(a, b)
    assert all(m.enabled for m in prompt_modules(model))


@pytest.mark.parametrize('method', METHODS)
def test_only_the_tuner_trains_and_every_tensor_gets_a_gradient(tuned, method):
    model = tuned(method)
    grads = backward_once(model)
    assert set(grads) == trainable_names(model)
    for name, grad in grads.items():
        if method == 'MuDPT' and ('.t2v.0.' in name or '.v2t.0.' in name):
            # the links' input Linears: dL/dW1 passes through the zero output Linear,
            # so it is exactly 0 at step 0 (they move after the output Linears' first step)
            assert torch.all(grad == 0), name
        else:
            assert grad.abs().sum() > 0, name


def test_maple_image_prompts_are_the_coupling_of_the_text_prompts(tuned):
    model = tuned('MaPLe')
    for path in model.tuner.prompted:
        attn = model.get_submodule(path)
        image, text = attn.maple.prompts_for(attn)
        assert torch.equal(text, attn.maple.text_tokens)
        assert torch.allclose(image, attn.maple.coupling(attn.maple.text_tokens), atol=1e-6)
        assert image.dtype == text.dtype == torch.float32


def test_upt_derives_both_streams_from_one_unified_prompt(tuned):
    model = tuned('UPT')
    attn = model.get_submodule(model.tuner.prompted[0])
    upt = attn.upt
    with torch.no_grad():
        image, text = upt.prompts_for(attn)
        u = upt.block(upt.tokens[None])[0]
        assert torch.allclose(image, upt.image_head(u), atol=1e-5)
        assert torch.allclose(text, upt.text_head(u), atol=1e-5)
        # the self-attention mixes the rows: moving one row of U moves every prompt row
        saved = upt.tokens.clone()
        try:
            upt.tokens[0].add_(1.0)
            moved_image, moved_text = upt.prompts_for(attn)
        finally:
            upt.tokens.copy_(saved)
        assert (moved_image - image).abs().amax(dim=1).min() > 0
        assert (moved_text - text).abs().amax(dim=1).min() > 0


def test_fresh_mudpt_is_the_independent_dual_prompt_ablation_bit_for_bit(tuned, build_tiny):
    mudpt = tuned('MuDPT')
    dual = build_tiny(seed=0, tuner=dict(num_tokens=K, projection='none'))
    with torch.no_grad():
        for path in mudpt.tuner.prompted:
            ours, theirs = mudpt.get_submodule(path).mudpt, dual.get_submodule(path).sdpt
            assert all(torch.all(link[-1].weight == 0) and torch.all(link[-1].bias == 0)
                       for link in (ours.t2v, ours.v2t))
            theirs.image_tokens.copy_(ours.image_tokens)
            theirs.text_tokens.copy_(ours.text_tokens)
    inputs, samples = make_batch(num_images=1)
    with torch.no_grad():
        for a, b in zip(head_outputs(mudpt, inputs, samples), head_outputs(dual, inputs, samples)):
            assert torch.equal(a, b)


def test_mudpt_links_couple_the_two_sides_once_trained(tuned):
    attn = next(m for m in tuned('MuDPT').modules() if isinstance(m, BiMultiHeadAttention))
    link = attn.mudpt
    saved = {n: p.clone() for n, p in link.named_parameters()}
    try:
        with torch.no_grad():
            for p in (link.t2v[-1].weight, link.v2t[-1].weight):
                p.normal_(0, 0.1)
            image, text = link.prompts_for(attn)
            assert torch.allclose(image, link.image_tokens + link.t2v(link.text_tokens))
            assert torch.allclose(text, link.text_tokens + link.v2t(link.image_tokens))
            assert not torch.equal(image, link.image_tokens)
    finally:
        with torch.no_grad():
            for n, p in link.named_parameters():
                p.copy_(saved[n])


def test_reference_mask_hides_the_text_side_prompts(build_tuned, plain_glip):
    plain_seen, _ = _seen(plain_glip)
    seen, _ = _seen(build_tuned(dict(TUNERS['MuDPT'], mask='reference')))
    assert len(seen) == len(plain_seen) == 2
    for (_, _, mask), (_, _, plain_mask) in zip(seen, plain_seen):
        assert torch.all(mask[:, -K:] == 0) and torch.equal(mask[:, :-K], plain_mask)


@pytest.mark.parametrize('method', METHODS)
def test_builds_and_trains_on_grounding_dino(build_tiny_gdino, method):
    model = build_tiny_gdino(tuner=TUNERS[method])  # merged into its SDPT dict: K = 4
    assert type(model.tuner).__name__ == method
    modules = prompt_modules(model)
    assert len(modules) == len(model.tuner.fusion_layers) == 2
    assert all(m is model.get_submodule(p).get_submodule(MODULE[method])
               for m, p in zip(modules, model.tuner.prompted))
    model.train()
    try:
        loss = total_loss(model, *make_batch(num_images=1))
        assert torch.isfinite(loss)
        loss.backward()
        assert {n for n, p in model.named_parameters() if p.grad is not None} == \
            trainable_names(model)
    finally:
        model.eval()


@pytest.mark.parametrize('module', [MaPLePrompts, UPTPrompts, MuDPTPrompts])
def test_prompts_stay_fp32_under_autocast(module):
    attn = BiMultiHeadAttention(v_dim=16, l_dim=24, embed_dim=32, num_heads=2)
    prompts = module(3, attn)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        image, text = prompts.prompts_for(attn)
    assert image.shape == (3, 16) and text.shape == (3, 24)
    assert image.dtype == text.dtype == torch.float32


def test_bad_knobs_are_refused():
    with pytest.raises(ValueError, match='num_heads must divide dim'):
        UPT(dim=30, num_heads=4)
    with pytest.raises(ValueError, match='dim must be >= 1'):
        UPT(dim=0)
    with pytest.raises(ValueError, match='bottleneck must be >= 1'):
        MuDPT(bottleneck=0)
    with pytest.raises(ValueError, match='mask must be one of'):
        MaPLe(mask='none')
    for tuner in (MaPLe, UPT, MuDPT):  # SDPT's k-means init fills D-space tokens only
        with pytest.raises(ValueError, match=f'{tuner.method} init must be one of'):
            tuner(init='prototype')
    assert UPT().ffn_dim == 128 and UPT(dim=64).ffn_dim == 64


def test_describe_records_each_methods_knobs(tuned):
    for method, knobs in (('MaPLe', {}), ('UPT', dict(dim=32, num_heads=2, ffn_dim=32)),
                          ('MuDPT', dict(bottleneck=8))):
        model = tuned(method)
        desc = model.tuner.describe(model)
        assert desc['method'] == method and desc['num_tokens'] == K
        assert desc['layers'] == model.tuner.prompted and desc['mask'] == 'paper'
        assert {k: desc[k] for k in knobs} == knobs
        assert not {'projection', 'streams', 'extra_trainable'} & set(desc)
