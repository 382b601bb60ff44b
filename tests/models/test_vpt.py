"""VPT in the tiny GLIP's Swin backbone (depths 1-1-1-1, widths 32-64-128-256), one
property per test."""
import pytest
import torch
from mmdet.models.backbones.swin import SwinBlock
from torch import nn

from mmdet_sdpt.models.vpt import VPT, SwinPromptTokens, attach_prompts
from tests.helpers import head_outputs, make_batch
from tests.helpers import assert_reproduces, backward_once, trainable_names

VPT_CFG = dict(type='VPT', num_tokens=4)
BLOCKS = [f'backbone.stages.{i}.blocks.0' for i in range(4)]
WIDTHS = [32, 64, 128, 256]


@pytest.fixture(scope='module')
def vpt(build_tuned):
    return build_tuned(dict(VPT_CFG, dropout=0.1))


def _prompts(model):
    return [m for m in model.modules() if isinstance(m, SwinPromptTokens)]


def _max_diff(a, b):
    return max((x - y).abs().max().item() for x, y in zip(a, b))


def test_deep_prompts_sit_in_every_swin_block_and_base_names_stay(vpt, plain_glip):
    assert vpt.tuner.prompted == BLOCKS
    assert trainable_names(vpt) == {f'{b}.attn.w_msa.vpt.tokens' for b in BLOCKS}
    params = dict(vpt.named_parameters())
    assert [params[f'{b}.attn.w_msa.vpt.tokens'].shape for b in BLOCKS] == [
        (4, w) for w in WIDTHS]
    base = [n for n, _ in plain_glip.named_parameters()]
    assert [n for n, _ in vpt.named_parameters() if not vpt.tuner.trainable(n)] == base
    described = vpt.tuner.describe(vpt)
    assert described['num_tokens'] == 4 and described['deep'] is True
    assert described['dims'] == {b: [w, w // 32] for b, w in zip(BLOCKS, WIDTHS)}


def test_shallow_prompts_only_the_first_block(build_tuned):
    shallow = build_tuned(dict(VPT_CFG, deep=False))
    assert shallow.tuner.prompted == BLOCKS[:1] and len(_prompts(shallow)) == 1
    assert trainable_names(shallow) == {f'{BLOCKS[0]}.attn.w_msa.vpt.tokens'}


def test_k0_injects_nothing_and_reproduces_frozen_glip(build_tuned, plain_glip):
    model = build_tuned(dict(VPT_CFG, num_tokens=0))
    assert not _prompts(model) and not trainable_names(model)
    assert_reproduces(model, plain_glip)


def test_hook_chain_with_zero_prompts_reproduces_frozen_glip_bit_for_bit(build_tuned,
                                                                         plain_glip):
    # the three hooks active in every block, over K = 0 prompt keys: joint softmax over
    # N + 0 columns and an empty prompt share must leave every number as it was
    model = build_tuned(dict(VPT_CFG, num_tokens=0))
    for path in BLOCKS:
        attach_prompts(model.get_submodule(path), 0)
    assert len(_prompts(model)) == 4
    assert_reproduces(model, plain_glip)


def _reference_attention(w_msa, norm, prompts, x, mask):
    """W-MSA over [patch tokens; prompt tokens] written out: prompts as keys and values of
    every window, with zero relative-position bias and no mask on their columns."""
    b, n, c = x.shape
    h, k = w_msa.num_heads, prompts.size(0)
    weight, bias = w_msa.qkv.weight, w_msa.qkv.bias
    q, key, value = (x @ weight.t() + bias).split(c, dim=-1)
    _, key_p, value_p = (norm(prompts) @ weight.t() + bias).split(c, dim=-1)
    keys = torch.cat([key, key_p.expand(b, k, c)], dim=1)  # (b, N + K, C)
    values = torch.cat([value, value_p.expand(b, k, c)], dim=1)

    def heads(t):
        return t.reshape(b, t.size(1), h, c // h).transpose(1, 2)

    logits = heads(q) * w_msa.scale @ heads(keys).transpose(-2, -1)  # (b, h, N, N + K)
    rel = w_msa.relative_position_bias_table[w_msa.relative_position_index.view(-1)]
    rel = rel.view(n, n, h).permute(2, 0, 1)
    logits = logits + nn.functional.pad(rel, (0, k))[None]
    windows = mask.size(0)
    logits = (logits.view(b // windows, windows, h, n, n + k) +
              nn.functional.pad(mask, (0, k))[None, :, None]).view(b, h, n, n + k)
    out = (logits.softmax(-1) @ heads(values)).transpose(1, 2).reshape(b, n, c)
    return w_msa.proj(out)


def test_hook_chain_equals_attention_over_patch_and_prompt_tokens():
    torch.manual_seed(0)
    block = SwinBlock(embed_dims=32, num_heads=4, feedforward_channels=64, window_size=4,
                      shift=True).eval()
    w_msa = block.attn.w_msa
    with torch.no_grad():
        w_msa.relative_position_bias_table.normal_()  # a bias that matters
        block.norm1.weight.normal_(1.0, 0.2)
        block.norm1.bias.normal_(0.0, 0.2)
    prompts = attach_prompts(block, num_tokens=5)
    x = torch.randn(6, 16, 32)  # 2 images x 3 windows of 4 x 4 tokens
    mask = torch.zeros(3, 16, 16)
    mask[1:, :8, 8:] = mask[1:, 8:, :8] = -100.0  # shifted-window style
    with torch.no_grad():
        expected = _reference_attention(w_msa, block.norm1, prompts.tokens, x, mask)
        assert torch.allclose(w_msa(x, mask=mask), expected, atol=1e-5)
        assert torch.allclose(w_msa(x), _reference_attention(
            w_msa, block.norm1, prompts.tokens, x, torch.zeros(1, 16, 16)), atol=1e-5)
        prompts.enabled = False  # and the base attention without them
        base = _reference_attention(w_msa, block.norm1, prompts.tokens[:0], x, mask)
        assert torch.allclose(w_msa(x, mask=mask), base, atol=1e-5)
        assert (expected - base).abs().max() > 1e-2  # the prompts are not negligible


def test_prompts_change_the_output(vpt, plain_glip):
    inputs, samples = make_batch(num_images=1)
    with torch.no_grad():
        assert _max_diff(head_outputs(vpt, inputs, samples),
                         head_outputs(plain_glip, inputs, samples)) > 1e-4


def test_only_prompts_train_and_all_get_gradients(vpt):
    grads = backward_once(vpt)  # training mode: prompt dropout 0.1 on
    assert set(grads) == trainable_names(vpt)
    for name, grad in grads.items():
        assert grad.abs().sum() > 0, name


def test_disabled_gives_the_base_whatever_the_prompts_learned(vpt, plain_glip):
    inputs, samples = make_batch(num_images=1)
    with torch.no_grad(), vpt.tuner.disabled(vpt):
        for a, b in zip(head_outputs(vpt, inputs, samples),
                        head_outputs(plain_glip, inputs, samples)):
            assert torch.equal(a, b)
    assert all(m.enabled for m in _prompts(vpt))  # back on after the block


def test_batch_of_two_padded_images_equals_each_alone(vpt):
    # 120 px -> 30 x 30 tokens in the first stage: Swin pads them to 35 x 35 (windows of 7)
    inputs, samples = make_batch(num_images=2, size=120)
    with torch.no_grad():
        both = head_outputs(vpt, inputs, samples)
        for i in range(2):
            alone = head_outputs(vpt, inputs[i:i + 1], samples[i:i + 1])
            assert _max_diff([t[i:i + 1] for t in both], alone) < 1e-4


def test_bad_settings_and_detectors_without_swin_are_refused():
    with pytest.raises(ValueError, match='init must be one of'):
        VPT(init='xavier')
    with pytest.raises(ValueError, match='num_tokens must be >= 0'):
        VPT(num_tokens=-1)
    with pytest.raises(ValueError, match='needs a Swin backbone'):
        VPT().inject(nn.Sequential(nn.Linear(2, 2)))
