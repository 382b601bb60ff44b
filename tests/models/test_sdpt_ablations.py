"""SDPT's ablations: single-stream unified tokens, dual prompts without the inverse
projection, and the reference README's trainable set."""
import torch
from mmdet.models.utils.vlfuse_helper import BiMultiHeadAttention

from mmdet_sdpt.models.sdpt import IndependentDualPrompts, prompt_modules
from tests.helpers import head_outputs, make_batch, total_loss


def _lengths(model):
    seen = []
    for m in model.modules():
        if isinstance(m, BiMultiHeadAttention):
            m.register_forward_pre_hook(lambda mod, a, kw: seen.append(
                (a[0].shape[1], a[1].shape[1], kw['attention_mask_l'].shape[1])),
                with_kwargs=True)
    inputs, samples = make_batch()
    with torch.no_grad():
        outs = head_outputs(model, inputs, samples)
    return seen, outs


def test_image_only_prompts_leave_the_text_stream_alone(build_tiny):
    plain_seen, plain_outs = _lengths(build_tiny(tuner=dict(num_tokens=0)))
    seen, outs = _lengths(build_tiny(tuner=dict(streams=['image'])))
    assert [(v - 4, t, m) for v, t, m in seen] == plain_seen
    assert [o.shape for o in outs] == [o.shape for o in plain_outs]
    assert not all(torch.equal(a, b) for a, b in zip(outs, plain_outs))


def test_text_only_prompts_leave_the_image_stream_alone(build_tiny):
    plain_seen, _ = _lengths(build_tiny(tuner=dict(num_tokens=0)))
    seen, _ = _lengths(build_tiny(tuner=dict(streams=['text'])))
    assert [(v, t - 4, m - 4) for v, t, m in seen] == plain_seen


def test_dual_prompts_without_inverse_projection_train_both_sides(build_tiny):
    model = build_tiny(tuner=dict(projection='none'))
    modules = prompt_modules(model)
    assert modules and all(isinstance(m, IndependentDualPrompts) for m in modules)
    shapes = {n: tuple(p.shape) for n, p in model.named_parameters() if p.requires_grad}
    assert sorted(set(shapes.values())) == [(4, 64), (4, 256)]  # (K, l_dim), (K, v_dim)
    model.train()
    inputs, samples = make_batch()
    total_loss(model, inputs, samples).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0
               for m in modules for p in m.parameters())
    assert model.tuner.describe(model)['projection'] == 'none'


def test_reference_recipe_trains_the_head_but_not_fusion_or_trunk(build_tiny):
    recipe = [r'bbox_head\.head\.dyhead_tower\.\d+\.(dyconvs|attnconv|relu)\.',
              r'bbox_head\.head\.(bbox_pred|centerness|dot_product_projection_text)\.']
    model = build_tiny(tuner=dict(extra_trainable=recipe))
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert any('.dyconvs.' in n for n in trainable) and any('bbox_pred' in n for n in trainable)
    assert not any(n.startswith(('backbone', 'neck', 'language_model')) or '.b_attn.' in n
                   and '.sdpt.' not in n for n in trainable)
    # base tensors that train still come from the base, and are not the tuner's own
    assert not any(model.tuner.owns(n) for n in trainable if '.sdpt.' not in n)
