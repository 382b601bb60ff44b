"""SDPT on a tiny Grounding DINO: one tuner, no per-detector copy of it."""
import pytest
import torch
from mmdet.models.utils.vlfuse_helper import BiMultiHeadAttention

from mmdet_sdpt.adapter import (AdapterMismatchError, atomic_save, load_adapter,
                                to_adapter_checkpoint)
from mmdet_sdpt.models.sdpt import prompt_modules
from tests.helpers import make_batch, total_loss


def _predict(model, inputs, samples):
    import copy
    with torch.no_grad():
        out = model.predict(inputs, copy.deepcopy(samples))
    return [torch.cat([o.pred_instances.bboxes, o.pred_instances.scores[:, None]], 1)
            for o in out]


def test_fusion_layers_are_found_with_their_dims(build_tiny_gdino):
    model = build_tiny_gdino()
    assert model.tuner.prompted == ['encoder.fusion_layers.0.attn',
                                    'encoder.fusion_layers.1.attn']
    for m in prompt_modules(model):
        assert m.tokens.shape == (4, 256)  # the tiny model's fusion embed_dim


def test_zero_layers_reproduce_the_plain_model_bit_for_bit(build_tiny_gdino, tiny_gdino_cfg):
    import copy

    from mmdet.registry import MODELS
    cfg = copy.deepcopy(tiny_gdino_cfg.model)
    torch.manual_seed(0)
    plain = MODELS.build(dict(type=cfg.pop('detector_type'), **{
        k: v for k, v in cfg.items() if k not in ('type', 'tuner', 'base_checkpoint')})).eval()
    plain.init_weights()  # as mmengine's runner does (and TunedDetector at build)
    # frozen like the tuned model: torch's nn.MultiheadAttention (Grounding DINO's text
    # layers) takes another kernel when no weight requires grad, ~1e-7 apart
    plain.requires_grad_(False)
    tuned = build_tiny_gdino(tuner=dict(layers=[]))
    tuned.load_state_dict(plain.state_dict())
    tuned.train()  # nothing trains: only the detector itself reports training mode
    assert [n for n, m in tuned.named_modules() if m.training] == ['']
    tuned.eval()
    inputs, samples = make_batch(shapes=[(128, 128), (96, 112)])
    for a, b in zip(_predict(tuned, inputs, samples), _predict(plain, inputs, samples)):
        assert torch.equal(a, b)


def test_only_prompts_train_and_all_get_gradients(build_tiny_gdino):
    model = build_tiny_gdino()
    model.train()
    inputs, samples = make_batch(shapes=[(128, 128), (96, 112)])
    total_loss(model, inputs, samples).backward()
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {n for n, _ in model.named_parameters() if '.sdpt.' in n}
    assert {n for n, p in model.named_parameters() if p.grad is not None} == trainable
    assert all(p.grad.abs().sum() > 0 for m in prompt_modules(model) for p in m.parameters())


def test_both_masks_are_extended_by_k_visible_entries(build_tiny_gdino):
    model = build_tiny_gdino()
    seen = []
    for m in model.modules():
        if isinstance(m, BiMultiHeadAttention):  # runs after SDPT's insertion
            m.register_forward_pre_hook(
                lambda mod, a, kw: seen.append((a[0].shape[1], a[1].shape[1],
                                                kw['attention_mask_v'].clone(),
                                                kw['attention_mask_l'].clone())),
                with_kwargs=True)
    inputs, samples = make_batch(shapes=[(128, 128), (96, 112)])  # padding in image 2
    _predict(model, inputs, samples)
    assert len(seen) == 2
    for n_v, n_l, mask_v, mask_l in seen:
        assert mask_v.dtype == mask_l.dtype == torch.bool  # Grounding DINO: True = padding
        assert mask_v.shape == (2, n_v) and mask_l.shape == (2, n_l)
        assert not mask_v[:, -4:].any() and not mask_l[:, -4:].any()  # prompts: visible
        assert mask_v[1, :-4].any() and not mask_v[0, :-4].any()  # the real padding kept


def test_mask_variant_has_no_effect_in_mmdet_33_grounding_dino(build_tiny_gdino):
    """mmdet 3.3's BiMultiHeadAttention turns Grounding DINO's bool text mask into an
    all-True tensor (masked_fill on a bool), so the text mask does nothing there and the
    paper/reference choice cannot matter. If this fails, mmdet fixed it: the reference
    variant then masks the text-side prompts as it does in GLIP."""
    paper = build_tiny_gdino(tuner=dict(mask='paper'))
    reference = build_tiny_gdino(tuner=dict(mask='reference'))
    inputs, samples = make_batch(shapes=[(128, 128), (96, 112)])
    for a, b in zip(_predict(paper, inputs, samples), _predict(reference, inputs, samples)):
        assert torch.equal(a, b)


def test_adapter_round_trip_and_refusal_of_a_glip_base(build_tiny_gdino, build_tiny,
                                                        tmp_path):
    trained = build_tiny_gdino(seed=0)
    path = str(tmp_path / 'gdino_sdpt.pth')
    atomic_save(to_adapter_checkpoint(trained, {'state_dict': trained.state_dict()}), path)
    fresh = build_tiny_gdino(seed=0)  # same base weights (seed), then other prompts
    with torch.no_grad():
        for m in prompt_modules(fresh):
            m.tokens.zero_()
    load_adapter(fresh, path)
    assert all(torch.equal(a, b) for a, b in zip(trained.state_dict().values(),
                                                 fresh.state_dict().values()))
    glip = build_tiny()
    with pytest.raises(AdapterMismatchError):
        load_adapter(glip, path)
