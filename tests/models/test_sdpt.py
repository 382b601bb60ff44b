"""SDPT on a tiny GLIP built from random weights: the method's properties, one per test."""
import copy

import pytest
import torch
from mmdet.models.utils.vlfuse_helper import BiMultiHeadAttention
from torch import nn

from mmdet_sdpt.models.sdpt import (SDPT, UnifiedPrototypeTokens,
                                    prompt_modules, round_trip_error)
from tests.helpers import head_outputs, make_batch, total_loss


def _attentions(model):
    return [m for m in model.modules() if isinstance(m, BiMultiHeadAttention)]


# -- the inverse projection ------------------------------------------------------------
def test_inverse_projection_maps_p_onto_the_projection_image():
    torch.manual_seed(0)
    linear = nn.Linear(16, 64)  # d = 16 < D = 64, as v_proj / l_proj
    prompts = UnifiedPrototypeTokens(5, 64)
    x_hat = prompts.project(linear, 'v_proj')
    assert x_hat.shape == (5, 16)
    # independent construction of the orthogonal projector onto the image of W
    q, _ = torch.linalg.qr(linear.weight.detach().double())
    p, b = prompts.tokens.detach().double(), linear.bias.detach().double()
    expected = (p - b) @ q @ q.t() + b
    assert torch.allclose(linear(x_hat).double(), expected, atol=1e-4)
    assert not torch.allclose(linear(x_hat), prompts.tokens, atol=1e-2)  # d < D: not P


def test_inverse_projection_is_exact_for_p_in_the_image():
    torch.manual_seed(1)
    linear = nn.Linear(16, 64)
    prompts = UnifiedPrototypeTokens(5, 64)
    with torch.no_grad():  # P = b + z W^T lies in the image of v_proj
        prompts.tokens.copy_(linear(torch.randn(5, 16)))
    assert torch.allclose(linear(prompts.project(linear, 'v_proj')), prompts.tokens,
                          atol=1e-4)


def test_pinv_is_cached_and_refreshed_when_weights_are_loaded(monkeypatch):
    calls = []
    real = torch.linalg.pinv
    monkeypatch.setattr(torch.linalg, 'pinv', lambda a: calls.append(1) or real(a))
    linear = nn.Linear(8, 32)
    prompts = UnifiedPrototypeTokens(3, 32)
    first = prompts.project(linear, 'v_proj')
    assert torch.equal(prompts.project(linear, 'v_proj'), first) and len(calls) == 1
    other = nn.Linear(8, 32)
    linear.load_state_dict(other.state_dict())  # in-place copy: same storage, new version
    refreshed = prompts.project(linear, 'v_proj')
    assert len(calls) == 2
    expected = (prompts.tokens - other.bias) @ real(other.weight.t())
    assert torch.allclose(refreshed, expected, atol=1e-5)


def test_pinv_is_fp32_under_autocast():
    linear = nn.Linear(8, 32)
    prompts = UnifiedPrototypeTokens(3, 32)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = prompts.project(linear, 'v_proj')
    assert out.dtype == torch.float32


def test_round_trip_error_is_reported_per_side(build_tiny):
    errors = round_trip_error(build_tiny())
    # each side keeps only the part of P in its projection's image (d < D)
    assert set(errors) == {'image', 'text'} and all(0 < e < 1.0 for e in errors.values())


# -- insertion into mmdet's BiMultiHeadAttention --------------------------------------
def test_tokens_are_read_from_each_attention_module(build_tiny):
    model = build_tiny(tuner=dict(num_tokens=3))
    attns = _attentions(model)
    assert len(attns) == 2 and all(a.sdpt.tokens.shape == (3, a.embed_dim) for a in attns)
    assert attns[0].embed_dim == 256  # the tiny GLIP's rebuilt fusion, not mmdet's 2048


def test_prompt_rows_never_leave_the_attention(build_tiny):
    inputs, samples = make_batch()
    seen = {}
    tuned, plain = build_tiny(tuner=dict(num_tokens=4)), build_tiny(tuner=dict(num_tokens=0))

    def record(tag):
        def hook(module, args, kwargs, out):
            seen.setdefault(tag, []).append(
                (kwargs['attention_mask_l'].shape, args[0].shape, out[0].shape, out[1].shape))
        return hook

    for tag, model in (('tuned', tuned), ('plain', plain)):
        for attn in _attentions(model):  # registered after SDPT's own hooks
            attn.register_forward_hook(record(tag), with_kwargs=True)
    with torch.no_grad():
        outs_t, outs_p = (head_outputs(m, inputs, samples) for m in (tuned, plain))
    assert [o.shape for o in outs_t] == [o.shape for o in outs_p]
    for (mask_t, v_t, ov_t, ol_t), (mask_p, v_p, ov_p, ol_p) in zip(seen['tuned'],
                                                                      seen['plain']):
        assert v_t[1] == v_p[1] + 4 and mask_t[1] == mask_p[1] + 4  # K rows went in
        assert ov_t == ov_p and ol_t == ol_p  # and none came out


def test_attention_inputs_are_lengthened_by_k(build_tiny):
    model = build_tiny(tuner=dict(num_tokens=4))
    attn = _attentions(model)[0]
    seen = {}
    attn.register_forward_pre_hook(  # runs after SDPT's insertion
        lambda m, a, kw: seen.update(v=a[0].shape, l=a[1].shape,
                                     mask=kw['attention_mask_l'].clone()), with_kwargs=True)
    inputs, samples = make_batch()
    with torch.no_grad():
        head_outputs(model, inputs, samples)
    n_text = model.language_model.max_tokens
    assert seen['l'][1] == n_text + 4
    assert torch.all(seen['mask'][:, -4:] == 1)  # paper: the prompt rows are visible


def test_zero_layers_reproduce_plain_glip_bit_for_bit(build_tiny, tiny_cfg):
    from mmdet.registry import MODELS

    from mmdet_sdpt.registry import POST_BUILD
    cfg = copy.deepcopy(tiny_cfg.model)
    torch.manual_seed(0)
    plain = MODELS.build(dict(type=cfg.pop('detector_type'),
                              **{k: v for k, v in cfg.items() if k not in (
                                  'type', 'tuner', 'base_checkpoint', 'post_build')}))
    for edit in tiny_cfg.model.post_build:
        POST_BUILD.build(edit)(plain)
    for tuner in (dict(layers=[]), dict(num_tokens=0)):
        tuned = build_tiny(tuner=tuner)
        tuned.load_state_dict(plain.state_dict())
        tuned.train()  # nothing trains: every module stays in eval mode
        plain.eval()
        inputs, samples = make_batch()
        with torch.no_grad():
            for a, b in zip(head_outputs(tuned, inputs, samples),
                            head_outputs(plain, inputs, samples)):
                assert torch.equal(a, b)


def test_prompts_change_the_output(build_tiny):
    inputs, samples = make_batch()
    plain, tuned = build_tiny(tuner=dict(num_tokens=0)), build_tiny(tuner=dict(num_tokens=4))
    with torch.no_grad():
        diff = max((a - b).abs().max().item() for a, b in zip(
            head_outputs(tuned, inputs, samples), head_outputs(plain, inputs, samples)))
    assert diff > 1e-4


# -- training: what trains, what gets gradients, what stays in eval -------------------
def test_only_prompts_require_grad_and_receive_gradients(build_tiny):
    model = build_tiny()
    model.train()
    inputs, samples = make_batch()
    total_loss(model, inputs, samples).backward()
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    with_grad = {n for n, p in model.named_parameters() if p.grad is not None}
    assert trainable == {n for n, _ in model.named_parameters() if '.sdpt.' in n}
    assert with_grad == trainable
    assert all(p.grad.abs().sum() > 0 for n, p in model.named_parameters() if n in trainable)


def test_frozen_backbone_neck_and_language_model_build_no_graph(build_tiny):
    model = build_tiny()
    model.train()
    inputs, samples = make_batch()
    feats = model.extract_feat(inputs)
    lang = model.language_model([' . '.join(samples[0].text)])
    assert all(f.grad_fn is None and not f.requires_grad for f in feats)
    assert lang['hidden'].grad_fn is None


def test_frozen_modules_stay_in_eval_mode_after_train(build_tiny):
    model = build_tiny()
    model.train()
    assert model.training
    for name, module in model.named_modules():
        if isinstance(module, UnifiedPrototypeTokens):
            assert module.training, name
        elif name:
            assert not module.training, name


def test_reentrant_checkpointing_starves_the_prompts(build_tiny):
    """Why our configs switch off mmdet's use_checkpoint: with a frozen trunk, reentrant
    activation checkpointing of VLFuse leaves the prompts without gradient."""
    model = build_tiny()
    for m in model.bbox_head.head.dyhead_tower:
        if hasattr(m, 'use_checkpoint'):
            m.use_checkpoint = True
    model.train()
    inputs, samples = make_batch()
    loss = total_loss(model, inputs, samples)
    if loss.requires_grad:
        loss.backward()
    assert all(p.grad is None for m in prompt_modules(model) for p in m.parameters())


def test_batch_of_two_equals_each_image_alone(build_tiny):
    model = build_tiny()
    inputs, samples = make_batch(num_images=2)
    with torch.no_grad():
        both = head_outputs(model, inputs, samples)
        for i in range(2):
            alone = head_outputs(model, inputs[i:i + 1], samples[i:i + 1])
            for a, b in zip(alone, both):
                assert torch.allclose(a[0], b[i], atol=1e-5)


# -- the two mask variants -------------------------------------------------------------
@pytest.mark.parametrize('mask,inert', [('reference', True), ('paper', False)])
def test_reference_mask_makes_text_side_prompts_inert(build_tiny, mask, inert):
    model = build_tiny(tuner=dict(num_tokens=4, mask=mask))
    inputs, samples = make_batch()
    with torch.no_grad():
        before = head_outputs(model, inputs, samples)
        for prompts in prompt_modules(model):  # move only the text-side prompts
            real = prompts.project
            prompts.project = (lambda lin, slot, tokens=None, real=real:
                               real(lin, slot, tokens) + (3.0 if slot == 'l_proj' else 0.0))
        after = head_outputs(model, inputs, samples)
    same = all(torch.equal(a, b) for a, b in zip(before, after))
    assert same == inert


# -- configuration errors ----------------------------------------------------------------
def test_detector_without_fusion_layers_is_refused(build_tiny, tiny_cfg):
    with pytest.raises(ValueError, match=r'fusion layers.*has none.*GLIP-T\(A\)'):
        build_tiny(bbox_head=dict(tiny_cfg.model.bbox_head, early_fuse=False),
                   post_build=[dict(type='DisableDCN')])


def test_out_of_range_layers_are_refused(build_tiny):
    with pytest.raises(ValueError, match='out of range.*2 fusion layers'):
        build_tiny(tuner=dict(layers=[5]))


def test_layer_choice_counts_from_either_end(build_tiny):
    model = build_tiny(tuner=dict(layers=[-1]))
    assert model.tuner.prompted == [model.tuner.fusion_layers[-1]]
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) == 4 * 256


@pytest.mark.parametrize('init', ['uniform', 'normal', 'xavier', 'zeros'])
def test_token_inits(init):
    tokens = UnifiedPrototypeTokens(6, 32, init=init).tokens
    if init == 'zeros':
        assert torch.all(tokens == 0)
    elif init == 'uniform':
        assert tokens.min() >= -1 and tokens.max() <= 1 and tokens.std() > 0.3
    else:
        assert tokens.std() > 0


def test_unknown_options_are_refused():
    with pytest.raises(ValueError, match='mask must be one of'):
        SDPT(mask='visible')
    with pytest.raises(ValueError, match='init must be one of'):
        SDPT(init='kaiming')
