"""SPT-style prototype initialisation of prompt tokens (``init='prototype'``).

Self-Prompt Tuning (Wang et al., "Revisiting the Power of Prompt for Visual Tuning", ICML
2024) starts each prompt from a *prototype of the downstream tokens* at the place the prompt
lives: the k-means centroids of the token features a few training images give there. Each
tuner says where (its ``prototype_sites``, one ``PrototypeSite`` per token tensor); for the
two that implement it:

- VPT (``mmdet_sdpt/models/vpt.py``): per prompted Swin block, the block's input tokens
  (``norm1``'s input). The prompts pass through the frozen ``norm1`` themselves, so they live
  in its input space; centroids of its output would be layer-normed twice.
- SDPT (``mmdet_sdpt/models/sdpt.py``): per prompted fusion layer, the aligned space D of its
  ``BiMultiHeadAttention``: ``v_proj(visual tokens)`` (default when the image stream is
  prompted; the image-side inverse projection then maps each token back to exactly the
  centroid of the visual tokens) and/or ``l_proj(text tokens)``, padding excluded (the
  attention's masks, hence a pre-hook on the attention rather than on ``v_proj``). Without
  the inverse projection (``projection='none'``) the image- and text-side tokens start from
  centroids of the visual and the text tokens.

The features come from the frozen model with every prompt disabled (so earlier prompted
layers do not shape later ones), under ``torch.no_grad``, in eval mode; a forward stops as
soon as every prompted place has been seen. At most ``tokens_per_image`` tokens per image and
place are kept (a random subset, seeded): GLIP-T at 800 px has ~66K tokens per image in its
first Swin stage. k-means (k-means++ seeding, then Lloyd steps until no assignment changes,
at most ``iters``) runs on CPU in fp32, deterministic for a seed.

``PrototypeInitHook`` does it before the first iteration of a fresh start only: when the
tuned tokens were loaded from a checkpoint (``--resume``, ``load_from`` an adapter) they
are kept. That is read from the tuner's ``needs_prototype_init`` flag
(``mmdet_sdpt/models/prototype_guard.py``): set by the tuner at build time, cleared by any
load of a state dict that holds all the tuned tensors (mmengine loads checkpoints before it
calls ``before_train``) and by this initialisation. A model that trains with the flag still
set stops with an error naming this hook.

The hook reads ``num_images`` images drawn at random (seeded: the hook's seed, else the
runner's) from the training set, through the training pipeline, and keeps the global random
states as they were, so training sees the data it would have seen without it.
Distributed: every rank computes the prototypes from the same images (the runner's seed is
shared by all ranks, so any collective op inside the forward finds every rank there), then
every tuned token tensor is broadcast from rank 0, so all ranks start from bit-identical
tokens whatever the devices' float noise.
"""
import contextlib
import random
from typing import Dict, Iterable, Iterator, List, Optional, Sequence

import numpy as np
import torch
from mmdet.registry import HOOKS
from mmengine.dist import broadcast
from mmengine.hooks import Hook
from mmengine.logging import print_log
from torch import Tensor, nn

from ..adapter import get_tuner, unwrap
from ..models.prototype_guard import PrototypeSite, needs_prototype_init

class _AllSeen(Exception):
    """Raised by the last capture hook of a forward: nothing further is needed."""


def prototype_sites(detector: nn.Module,
                    sources: Optional[Sequence[str]] = None) -> List[PrototypeSite]:
    """The places whose token prototypes initialise the tuner's tokens, in forward order:
    the tuner's own answer (``BaseTuner.prototype_sites``)."""
    return get_tuner(detector).prototype_sites(detector, sources)


@torch.no_grad()
def kmeans(features: Tensor, k: int, iters: int = 10, seed: int = 0) -> Tensor:
    """k centroids of ``features`` (n, c): k-means++ seeding, then Lloyd steps until no
    assignment changes (at most ``iters``). On CPU in fp32: deterministic for a seed.
    An empty cluster keeps its centre."""
    x = features.detach().float().cpu()
    n = x.size(0)
    if n < k:
        raise ValueError(f'k-means needs at least k={k} features, got {n}')
    g = torch.Generator().manual_seed(seed)
    centers = x[torch.randint(n, (1, ), generator=g)]
    d2 = _sq_dist(x, centers)[:, 0]
    for _ in range(1, k):  # k-means++: the next centre with probability ~ squared distance
        total = d2.sum()
        pick = (torch.multinomial(d2 / total, 1, generator=g) if total > 0 else
                torch.randint(n, (1, ), generator=g))
        centers = torch.cat([centers, x[pick]])
        d2 = torch.minimum(d2, _sq_dist(x, x[pick])[:, 0])
    assign = None
    for _ in range(iters):
        new = _sq_dist(x, centers).argmin(dim=1)
        if assign is not None and torch.equal(new, assign):
            break  # converged: every centre is the mean of the features nearest to it
        assign = new
        sums = torch.zeros_like(centers).index_add_(0, assign, x)
        counts = torch.bincount(assign, minlength=k)
        filled = counts > 0
        centers[filled] = sums[filled] / counts[filled, None].float()
    return centers


def _sq_dist(x: Tensor, c: Tensor) -> Tensor:
    return ((x * x).sum(1, keepdim=True) - 2 * x @ c.t() + (c * c).sum(1)[None]).clamp_min(0)


@torch.no_grad()
def collect_prototype_features(model: nn.Module, data_batches: Iterable[dict],
                               num_images: int = 16, tokens_per_image: Optional[int] = 256,
                               sources: Optional[Sequence[str]] = None,
                               seed: int = 0) -> Dict[str, Tensor]:
    """{token tensor name: (n, c) features} from the first ``num_images`` images of
    ``data_batches`` (dataloader batches), read by the frozen model with prompts disabled."""
    detector = unwrap(model)
    tuner = get_tuner(detector)
    sites = prototype_sites(detector, sources)
    if not sites:
        raise ValueError(f'{type(tuner).__name__} has no prompt tokens to initialise (K = 0?)')
    g = torch.Generator().manual_seed(seed)
    features = {s.name: [] for s in sites}
    state = dict(take=0, seen=set())

    def capture(site):
        def hook(module, args, kwargs):
            per_image = [[] for _ in range(state['take'])]
            for tokens, valid, project in site.streams(args, kwargs):
                for b in range(state['take']):
                    rows = tokens[b] if valid is None else tokens[b][valid[b]]
                    if tokens_per_image is not None and rows.size(0) > tokens_per_image:
                        rows = rows[torch.randperm(rows.size(0), generator=g)[
                            :tokens_per_image].to(rows.device)]
                    per_image[b].append(project(rows) if project is not None else rows)
            features[site.name].extend(torch.cat(f).float().cpu() for f in per_image)
            state['seen'].add(site.name)
            if len(state['seen']) == len(sites):
                raise _AllSeen
        return hook

    was_training = detector.training
    handles = [s.module.register_forward_pre_hook(capture(s), with_kwargs=True, prepend=True)
               for s in sites]
    count = 0
    try:
        detector.train(False)
        with tuner.disabled(detector):
            for batch in data_batches:
                if count >= num_images:
                    break
                data = detector.data_preprocessor(batch, False)
                state['take'] = min(len(data['data_samples']), num_images - count)
                state['seen'] = set()
                try:
                    detector._run_forward(data, mode='loss')
                except _AllSeen:
                    pass
                count += state['take']
    finally:
        for h in handles:
            h.remove()
        detector.train(was_training)
    if count == 0:
        raise ValueError('prototype init got no training images')
    return {name: torch.cat(f) for name, f in features.items()}


@torch.no_grad()
def prototype_init(model: nn.Module, data_batches: Iterable[dict], num_images: int = 16,
                   iters: int = 10, seed: int = 0, tokens_per_image: Optional[int] = 256,
                   sources: Optional[Sequence[str]] = None) -> Dict[str, Tensor]:
    """Set every prompt token tensor of ``model``'s tuner (SDPT, VPT) to the k-means
    centroids (k = K) of the features at its place on the first ``num_images`` images;
    returns {token tensor name: centroids} and clears ``needs_prototype_init``."""
    detector = unwrap(model)
    features = collect_prototype_features(detector, data_batches, num_images,
                                          tokens_per_image, sources, seed)
    params = dict(detector.named_parameters())
    centroids = {}
    for name, feats in features.items():
        tokens = params[name]
        centroids[name] = kmeans(feats, tokens.size(0), iters, seed)
        tokens.copy_(centroids[name].to(tokens))
    get_tuner(detector).needs_prototype_init = False
    return centroids


@contextlib.contextmanager
def _random_state_kept():
    """Reading a few training batches draws from the global RNGs (augmentations, prompt
    shuffling): restore them, so training sees what it would have seen without it."""
    states = random.getstate(), np.random.get_state(), torch.get_rng_state()
    try:
        yield
    finally:
        random.setstate(states[0])
        np.random.set_state(states[1])
        torch.set_rng_state(states[2])


def training_batches(dataloader, num_images: int, seed: int) -> Iterator[dict]:
    """Batches of ``num_images`` training images drawn at random (seeded) from the
    dataloader's dataset, through its pipeline and collate function.

    Not ``iter(dataloader)``: mmengine's ``InfiniteSampler`` hands every iterator the same
    index generator, so a second iterator steals the training loop's indices (and closing it
    ends them for good).
    """
    dataset = dataloader.dataset
    order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed))
    order = order[:num_images].tolist()
    size = dataloader.batch_size or 1
    for start in range(0, len(order), size):
        yield dataloader.collate_fn([dataset[i] for i in order[start:start + size]])


@HOOKS.register_module()
class PrototypeInitHook(Hook):
    """Before training, on a fresh start: prompt tokens of a tuner built with
    ``init='prototype'`` (SDPT, VPT) := k-means prototypes of the features at their place
    on ``num_images`` training images (see the module docstring).

    Args:
        num_images (int): training images read: a seeded random draw from the train
            dataloader's dataset, through its pipeline, in its batch size.
        iters (int): at most this many k-means (Lloyd) steps.
        seed (int, optional): k-means and subsampling seed; default: the runner's seed.
        tokens_per_image (int, optional): tokens kept per image and place (None: all).
        sources (list[str], optional): SDPT: 'image' and/or 'text' (see prototype_sites).
    """

    priority = 'ABOVE_NORMAL'  # before hooks that evaluate or log at before_train

    def __init__(self, num_images: int = 16, iters: int = 10, seed: Optional[int] = None,
                 tokens_per_image: Optional[int] = 256,
                 sources: Optional[Sequence[str]] = None):
        self.num_images = num_images
        self.iters = iters
        self.seed = seed
        self.tokens_per_image = tokens_per_image
        self.sources = sources

    def before_train(self, runner) -> None:
        model = unwrap(runner.model)
        tuner = get_tuner(model)
        if getattr(tuner, 'init', None) != 'prototype':
            print_log(f'PrototypeInitHook: {type(tuner).__name__} was not built with '
                      "init='prototype': nothing to do", logger='current', level=30)
            return
        if not needs_prototype_init(model):
            print_log('PrototypeInitHook: the tuned tokens were loaded from a checkpoint '
                      '(resume or load_from): kept as loaded', logger='current')
            return
        seed = self.seed if self.seed is not None else getattr(runner, 'seed', 0)
        names = [s.name for s in prototype_sites(model, self.sources)]
        # every rank reads the same images (the seed is shared), so a collective op in the
        # forward finds all ranks there; rank 0's result then overrides float noise
        with _random_state_kept():
            prototype_init(model, training_batches(runner.train_dataloader, self.num_images,
                                                   seed),
                           self.num_images, self.iters, seed, self.tokens_per_image,
                           self.sources)
        params = dict(model.named_parameters())
        for name in names:  # every rank ends with rank 0's tokens, bit for bit
            broadcast(params[name].data, src=0)
        tuner.needs_prototype_init = False
        print_log(f'PrototypeInitHook: {len(names)} token tensors of {type(tuner).__name__} '
                  f'set to k-means prototypes of {self.num_images} training images '
                  f'(seed {seed})', logger='current')
