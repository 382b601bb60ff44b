"""SPT-style prototype initialisation (init='prototype') of VPT and SDPT tokens, and the
hook that runs it on a fresh start only."""
import copy
import types

import pytest
import torch
from mmengine.dataset import pseudo_collate
from mmengine.runner.checkpoint import load_state_dict

from mmdet_sdpt.engine.prototype_init import (PrototypeInitHook, kmeans, prototype_init,
                                              training_batches)
from tests.helpers import make_batch, total_loss

VPT_PROTO = dict(type='VPT', num_tokens=4, init='prototype')
SDPT_PROTO = dict(type='SDPT', num_tokens=4, init='prototype')
CONVERGED = 100  # k-means steps enough to converge on these few features


def batches(n=2, seeds=(0, 1)):
    """What the train dataloader yields: per-image tensors and their data samples."""
    out = []
    for seed in seeds:
        inputs, samples = make_batch(num_images=n, seed=seed)
        out.append(dict(inputs=list(inputs), data_samples=samples))
    return out


def tokens_of(model):
    return {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}


def capture_inputs(modules, run, batch_list, num_images):
    """{module index: (n, c)} the inputs each module sees for the first ``num_images``
    images, read with hooks of the test's own, prompts disabled."""
    feats = {i: [] for i in range(len(modules))}
    state = dict(take=0)

    def hook(i):
        def fn(module, args, output):
            feats[i].append(run.select(args, output)[:state['take']].flatten(0, -2))
        return fn

    handles = [m.register_forward_hook(hook(i)) for i, m in enumerate(modules)]
    seen = 0
    try:
        for batch in batch_list:
            state['take'] = min(len(batch['data_samples']), num_images - seen)
            if state['take'] <= 0:
                break
            run(batch)
            seen += state['take']
    finally:
        for h in handles:
            h.remove()
    return {i: torch.cat(f) for i, f in feats.items()}


def loss_runner(model, select):
    """``run(batch)``: the model's loss on a dataloader batch; ``run.select(args, output)``
    picks the features a capture hook keeps (capture_inputs)."""
    def run(batch):
        d = model.data_preprocessor(batch, False)
        model.loss(d['inputs'], d['data_samples'])
    run.select = select
    return run


def assert_centroids_of(tokens, feats):
    """Every token is the mean of the features nearest to it (a k-means fixed point)."""
    assign = torch.cdist(feats, tokens).argmin(dim=1)
    for j in range(tokens.size(0)):
        assert (assign == j).any()
        assert torch.allclose(tokens[j], feats[assign == j].mean(0), atol=1e-4)


def test_kmeans_finds_separated_clusters_deterministically():
    g = torch.Generator().manual_seed(0)
    means = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    x = torch.cat([m + torch.randn(50, 2, generator=g) for m in means])
    centers = kmeans(x, 3, iters=CONVERGED, seed=0)
    assert torch.equal(centers, kmeans(x, 3, iters=CONVERGED, seed=0))
    # the blobs are far apart: each centre is one blob's mean
    blob_means = sorted(x[i * 50:(i + 1) * 50].mean(0).tolist() for i in range(3))
    assert torch.allclose(torch.tensor(sorted(centers.tolist())), torch.tensor(blob_means),
                          atol=1e-5)
    assert_centroids_of(centers, x)
    with pytest.raises(ValueError, match='at least k=3'):
        kmeans(x[:2], 3)


def test_vpt_tokens_become_prototypes_of_each_blocks_input_tokens(build_tuned):
    model = build_tuned(VPT_PROTO)
    data = batches()
    # num_images=3 of two batches of 2: the second batch counts once
    prototype_init(model, data, num_images=3, iters=CONVERGED, seed=0,
                   tokens_per_image=None)
    blocks = [model.get_submodule(p) for p in model.tuner.prompted]

    def run(batch):
        model.extract_feat(model.data_preprocessor(batch, False)['inputs'])
    run.select = lambda args, output: args[0]  # norm1's input: the block's tokens

    with torch.no_grad(), model.tuner.disabled(model):
        feats = capture_inputs([b.norm1 for b in blocks], run, data, num_images=3)
    assert feats[0].shape == (3 * 32 * 32, 32)  # 128 px: 32 x 32 tokens of width 32
    for i, block in enumerate(blocks):
        tokens = block.attn.w_msa.vpt.tokens.detach()
        assert torch.allclose(tokens, kmeans(feats[i], 4, CONVERGED, seed=0), atol=1e-6)
        assert_centroids_of(tokens, feats[i])
    assert model.tuner.needs_prototype_init is False


def test_sdpt_tokens_become_prototypes_of_the_aligned_visual_tokens(build_tuned):
    model = build_tuned(SDPT_PROTO)
    data = batches(seeds=(0, ))
    prototype_init(model, data, num_images=2, iters=CONVERGED, seed=1, tokens_per_image=None)
    attns = [model.get_submodule(p) for p in model.tuner.prompted]

    # v_proj(visual tokens), the aligned space, beside the visual tokens themselves
    run = loss_runner(model, lambda args, output: torch.cat([output, args[0]], dim=-1))

    with torch.no_grad(), model.tuner.disabled(model):
        both = capture_inputs([a.v_proj for a in attns], run, data, num_images=2)
    assert len(attns) == 2 and both[0].shape == (2 * (16 * 16 + 8 * 8 + 4 * 4 + 2 * 2 + 1),
                                                 256 + 256)
    for i, attn in enumerate(attns):
        feats, visual = both[i].split(256, dim=-1)
        tokens = attn.sdpt.tokens.detach()
        assert torch.allclose(tokens, kmeans(feats, 4, CONVERGED, seed=1), atol=1e-5)
        assert_centroids_of(tokens, feats)
        # v_proj is injective (v_dim <= D): the image-side prompts X_v are exactly the
        # centroids of the visual tokens themselves
        assign = torch.cdist(feats, tokens).argmin(dim=1)
        with torch.no_grad():
            x_v = attn.sdpt.project(attn.v_proj, 'v_proj')
        for j in range(4):
            assert torch.allclose(x_v[j], visual[assign == j].mean(0), atol=1e-3)


def test_a_tuner_of_ones_own_answers_where_its_prototypes_come_from(build_tuned):
    """projects/new_tuner: its keys become prototypes of the text features they meet (the
    module's first call per forward, real tokens only), through its prototype_sites alone."""
    import projects.new_tuner.prefix_tokens  # noqa: F401  registers TextPrefixTokens
    model = build_tuned(dict(type='TextPrefixTokens', num_tokens=4, init='prototype'))
    assert model.tuner.needs_prototype_init
    data = batches(seeds=(0, ))
    prototype_init(model, data, num_images=2, iters=CONVERGED, seed=0, tokens_per_image=None)
    module = model.language_model.prefix_tokens
    seen = []
    handle = module.register_forward_pre_hook(
        lambda m, args: seen.append(args[0][args[1].bool()]) if not seen else None)
    try:
        with torch.no_grad(), model.tuner.disabled(model):
            d = model.data_preprocessor(data[0], False)
            model.loss(d['inputs'], d['data_samples'])
    finally:
        handle.remove()
    feats = seen[0]
    assert feats.size(1) == module.keys.size(1)
    assert torch.allclose(module.keys.detach(), kmeans(feats, 4, CONVERGED, seed=0), atol=1e-5)
    assert_centroids_of(module.keys.detach(), feats)
    assert torch.all(module.values == 0) and model.tuner.needs_prototype_init is False


def test_a_tuner_without_prototype_sites_names_what_to_implement(build_tuned):
    model = build_tuned(dict(type='LoRA', targets=['fusion']))
    with pytest.raises(NotImplementedError, match=r'LoRA\.prototype_sites'):
        prototype_init(model, batches())


def test_sdpt_without_inverse_takes_each_side_from_its_own_stream(build_tuned):
    model = build_tuned(dict(SDPT_PROTO, projection='none'))
    data = batches(seeds=(0, ))
    prototype_init(model, data, num_images=2, iters=CONVERGED, seed=0, tokens_per_image=None)
    attns = [model.get_submodule(p) for p in model.tuner.prompted]

    run = loss_runner(model, lambda args, output: args[0])  # the raw visual / text tokens

    masks = []  # GLIP pads the text to max_tokens: its text mask (1 = token) says where

    def keep_mask(module, args, kwargs):
        masks.append(kwargs['attention_mask_l'][:2].flatten() != 0)

    handle = attns[0].register_forward_pre_hook(keep_mask, with_kwargs=True)
    with torch.no_grad(), model.tuner.disabled(model):
        feats = capture_inputs([m for a in attns for m in (a.v_proj, a.l_proj)], run, data,
                               num_images=2)
    handle.remove()
    assert 0 < masks[0].sum() < masks[0].numel()
    for i, attn in enumerate(attns):
        assert_centroids_of(attn.sdpt.image_tokens.detach(), feats[2 * i])
        assert_centroids_of(attn.sdpt.text_tokens.detach(), feats[2 * i + 1][masks[0]])


def test_prototypes_are_deterministic_for_a_seed(build_tuned):
    made = {}
    for name, seed in (('a', 0), ('b', 0), ('c', 5)):
        model = build_tuned(VPT_PROTO, seed=7)  # the same placeholders and base each time
        prototype_init(model, batches(), num_images=4, seed=seed, tokens_per_image=64)
        made[name] = tokens_of(model)
    assert all(torch.equal(made['a'][k], made['b'][k]) for k in made['a'])
    assert any(not torch.equal(made['a'][k], made['c'][k]) for k in made['a'])


def test_training_on_placeholders_is_refused_until_initialised(build_tuned):
    model = build_tuned(VPT_PROTO)
    assert model.tuner.needs_prototype_init is True
    model.train()
    try:
        with pytest.raises(RuntimeError, match="PrototypeInitHook"):
            total_loss(model, *make_batch(num_images=1))
        prototype_init(model, batches(), num_images=2)
        total_loss(model, *make_batch(num_images=1)).backward()
    finally:
        model.eval()


def _loader():
    """The parts of a train dataloader the hook reads: dataset, collate, batch size."""
    dataset = [dict(inputs=batch['inputs'][i], data_samples=batch['data_samples'][i])
               for batch in batches(seeds=(0, 1, 2)) for i in range(2)]
    return types.SimpleNamespace(dataset=dataset, collate_fn=pseudo_collate, batch_size=2)


def _runner(model, **kw):
    return types.SimpleNamespace(model=model, train_dataloader=_loader(), seed=0, **kw)


def test_hook_sets_prototypes_on_a_fresh_start(build_tuned):
    model, twin = build_tuned(SDPT_PROTO), build_tuned(SDPT_PROTO)
    PrototypeInitHook(num_images=3, seed=3).before_train(_runner(model))
    # the same 3 of the 6 images, drawn with the same seed
    prototype_init(twin, training_batches(_loader(), 3, seed=3), num_images=3, seed=3)
    assert model.tuner.needs_prototype_init is False
    expected, got = tokens_of(twin), tokens_of(model)
    assert all(torch.equal(expected[k], got[k]) for k in expected)


def test_hook_keeps_tokens_loaded_from_a_checkpoint(build_tuned, base_checkpoint):
    model = build_tuned(VPT_PROTO, base_checkpoint=base_checkpoint)
    assert model.tuner.needs_prototype_init is True  # the base holds no prompts
    saved = {k: torch.randn_like(v) for k, v in tokens_of(model).items()}
    load_state_dict(model, copy.deepcopy(saved))  # what mmengine's resume / load_from do
    assert model.tuner.needs_prototype_init is False
    PrototypeInitHook(num_images=2).before_train(_runner(model, _resume=True))
    got = tokens_of(model)
    assert all(torch.equal(saved[k], got[k]) for k in saved)


def test_hook_does_nothing_for_other_inits(build_tuned):
    model = build_tuned(dict(VPT_PROTO, init='uniform'))
    before = tokens_of(model)
    PrototypeInitHook(num_images=2).before_train(_runner(model))
    assert all(torch.equal(before[k], v) for k, v in tokens_of(model).items())


def test_runner_resume_keeps_the_checkpoint_tokens(tiny_env, base_checkpoint, tmp_path):
    from mmengine.config import Config
    from mmengine.runner import Runner

    from tests.helpers import TINY_CONFIG

    def runner(resume):
        cfg = Config.fromfile(TINY_CONFIG)
        cfg.model.base_checkpoint = base_checkpoint
        cfg.model.tuner = dict(VPT_PROTO)
        cfg.custom_hooks.append(dict(type='PrototypeInitHook', num_images=2))
        cfg.train_cfg.update(max_iters=1, val_interval=100)
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
        cfg.default_hooks.checkpoint.interval = 1
        cfg.work_dir, cfg.resume = str(tmp_path), resume
        return Runner.from_cfg(cfg)

    fresh = runner(False)
    placeholders = tokens_of(fresh.model)
    fresh.train()
    trained = tokens_of(fresh.model)
    assert all(not torch.equal(placeholders[k], trained[k]) for k in trained)
    resumed = runner(True)  # max_iters 1 reached: before_train runs, no step follows
    resumed.train()
    assert resumed.iter == 1
    got = tokens_of(resumed.model)
    assert all(torch.equal(trained[k], got[k]) for k in trained)
