"""SEP (self-enhanced prompts) on the tiny GLIP and the tiny Grounding DINO."""
import pytest
import torch
from mmdet.models.utils.vlfuse_helper import BiMultiHeadAttention

from mmdet_sdpt.models.sep import SEP, SelfEnhancedPrompts, pooled_tokens
from tests.helpers import head_outputs, make_batch, total_loss
from tests.helpers import assert_reproduces, backward_once, trainable_names

K = 4
SEP_CFG = dict(type='SEP', num_tokens=K, num_selected=8, dim=32, heads=4)


@pytest.fixture(scope='module')
def sep(build_tuned):
    return build_tuned(SEP_CFG)


def _modules(model):
    return [m for m in model.modules() if isinstance(m, SelfEnhancedPrompts)]


@torch.no_grad()
def _enhance(model, seed=5):
    """Give the token fusion a non-zero output layer, so the prompts depend on the image."""
    g = torch.Generator().manual_seed(seed)
    for m in _modules(model):
        out = m.fusion.out
        out.weight.copy_(torch.randn(out.weight.shape, generator=g) * 0.5)


def _outputs(model, num_images=1):
    inputs, samples = make_batch(num_images=num_images)
    with torch.no_grad():
        return head_outputs(model, inputs, samples)


def test_modules_and_trainable_count(sep, plain_glip):
    assert sep.tuner.prompted == plain_glip.tuner.fusion_layers  # every fusion layer
    assert [n for n, _ in sep.named_parameters() if not sep.tuner.trainable(n)] == \
        [n for n, _ in plain_glip.named_parameters()]
    names = trainable_names(sep)
    assert all('.sep.' in n for n in names)
    d = 256  # the tiny model's fusion embed_dim
    # per layer: K x D tokens + q, k, v (D x dim, no bias) + out (dim x D + D)
    assert sum(p.numel() for n, p in sep.named_parameters() if n in names) == \
        2 * (K * d + 4 * d * 32 + d)
    meta = sep.tuner.describe(sep)
    assert (meta['method'], meta['num_selected'], meta['sources'], meta['dim'],
            meta['heads']) == ('SEP', 8, ['image'], 32, 4)


def test_untrained_sep_computes_exactly_what_sdpt_computes(sep, build_tuned):
    # The zero-initialised output layer makes P' = P + 0 = P exactly: with the same tokens
    # and base, SEP's prompts, and so the outputs, are SDPT's bit for bit. One image runs
    # the very same (K, D) @ pinv product as SDPT; a batch runs one (B K, D) product whose
    # rows come out bit-equal too (CPU BLAS here; another BLAS could differ in the last bit)
    sdpt = build_tuned(dict(type='SDPT', num_tokens=K), seed=7)
    state = {k.replace('.sep.', '.sdpt.'): v for k, v in sep.state_dict().items()
             if '.sep.fusion.' not in k}
    sdpt.load_state_dict(state)  # strict: every base tensor and the tokens
    for num_images in (1, 2):
        for a, b in zip(_outputs(sep, num_images), _outputs(sdpt, num_images)):
            assert torch.equal(a, b)


def test_enhancement_changes_the_output_and_disabled_gives_the_base(sep, plain_glip):
    before = _outputs(sep)
    try:
        _enhance(sep)
        after = _outputs(sep)
        assert max((a - b).abs().max().item() for a, b in zip(before, after)) > 1e-4
        with sep.tuner.disabled(sep):
            for a, b in zip(_outputs(sep), _outputs(plain_glip)):
                assert torch.equal(a, b)
    finally:
        with torch.no_grad():
            for m in _modules(sep):
                m.fusion.out.weight.zero_()


def test_zero_tokens_reproduce_frozen_glip_bit_for_bit(build_tuned, plain_glip):
    model = build_tuned(dict(SEP_CFG, num_tokens=0))
    assert not _modules(model) and not trainable_names(model)
    assert_reproduces(model, plain_glip)


def test_only_sep_tensors_train_and_all_get_gradients(sep, trained_adapter):
    grads = backward_once(sep)  # as built: output layer zero
    assert set(grads) == trainable_names(sep)
    for name, grad in grads.items():
        if '.fusion.query.' in name or '.fusion.key.' in name or '.fusion.value.' in name:
            assert torch.all(grad == 0), name  # behind the zero output layer, as LoRA's A
        else:
            assert grad.abs().sum() > 0, name
    trained, _ = trained_adapter(SEP_CFG)  # every tensor moved: all gradients non-zero
    grads = backward_once(trained)
    assert set(grads) == trainable_names(trained)
    assert all(g.abs().sum() > 0 for g in grads.values())


def test_each_image_gets_its_own_prompts(trained_adapter):
    model, _ = trained_adapter(SEP_CFG)
    prompts = []
    handles = [attn.register_forward_pre_hook(  # runs after SEP's insertion
        lambda mod, a, kw: prompts.append(a[0][:, -K:].clone()), with_kwargs=True)
        for attn in model.modules() if isinstance(attn, BiMultiHeadAttention)]
    inputs, samples = make_batch(num_images=2)  # same size: no padding between them
    try:
        with torch.no_grad():
            both = head_outputs(model, inputs, samples)
            assert not torch.allclose(prompts[0][0], prompts[0][1])  # one set per image
            for i in range(2):
                alone = head_outputs(model, inputs[i:i + 1], samples[i:i + 1])
                for a, b in zip(alone, both):
                    assert torch.allclose(a[0], b[i], atol=1e-5)
    finally:
        for handle in handles:
            handle.remove()


def test_text_tokens_can_enhance_the_prompts_too(sep, build_tuned):
    both = build_tuned(dict(SEP_CFG, sources=['image', 'text']))
    both.load_state_dict(sep.state_dict())
    _enhance(sep)
    _enhance(both)
    try:
        assert not all(torch.equal(a, b) for a, b in zip(_outputs(sep), _outputs(both)))
    finally:
        with torch.no_grad():
            for m in _modules(sep):
                m.fusion.out.weight.zero_()


def test_pooling_averages_valid_tokens_per_group():
    tokens = torch.arange(12, dtype=torch.float).view(1, 6, 2)
    valid = torch.tensor([[True, False, True, True, False, False]])
    means, empty = pooled_tokens(tokens, valid, 3)  # groups (0, 1), (2, 3), (4, 5)
    assert torch.equal(means[0, :2], torch.tensor([[0.0, 1.0], [5.0, 6.0]]))
    assert empty.tolist() == [[False, False, True]]
    means, empty = pooled_tokens(tokens, None, 3)
    assert torch.equal(means[0], torch.tensor([[1.0, 2.0], [5.0, 6.0], [9.0, 10.0]]))
    assert not empty.any()


def test_runs_and_trains_on_grounding_dino(build_tiny_gdino):
    model = build_tiny_gdino(tuner=dict(type='SEP', num_tokens=K, dim=32, heads=4,
                                        sources=['image', 'text']))
    assert len(_modules(model)) == 2
    model.train()
    try:  # two sizes: Grounding DINO's image padding mask is in play
        loss = total_loss(model, *make_batch(shapes=[(128, 128), (96, 112)]))
        loss.backward()
        grads = {n for n, p in model.named_parameters() if p.grad is not None}
        assert torch.isfinite(loss) and grads == trainable_names(model)
        assert all('.sep.' in n for n in grads)
    finally:
        model.eval()


def test_unknown_knobs_are_refused():
    with pytest.raises(ValueError, match='sources must be a non-empty subset'):
        SEP(sources=['audio'])
    with pytest.raises(ValueError, match='num_selected must be >= 1'):
        SEP(num_selected=0)
    with pytest.raises(ValueError, match='multiple of heads'):
        SEP(dim=30, heads=4)
