"""L-infinity PGD on a detector's inputs, in pixel units (0-255), with two objectives:

- :func:`feature_kl` — AdvPT's attack moved to detection features: the frozen base's
  backbone+neck features of the perturbed image against those of the clean image, KL
  between their softmaxes over channels at every location (AdvPT: KL between the softmaxes
  of the adversarial and clean CLIP image embeddings). Prompt-free: it never runs the fusion
  or the prompts, so one set of adversarial images serves every method.
- :func:`detection_loss` — the detector's own training loss on the ground truth without
  its box-regression terms (as thu-ml/ares attacks mmdet detectors), run through the whole
  model: with the tuned prompts in the loop it is an adaptive, end-to-end attack; on the
  zero-shot base it makes transfer attacks.

A few lines of PGD on mmdet's own ``extract_feat`` and ``loss`` (no attack library: the
maintained ones expect torchvision's detector API; an adapter would be longer than this).
Random start, step ``1.25 * eps / steps`` (AdvPT's), the perturbation kept inside the
image (never the batch padding) and the pixels inside [0, 255].
"""
import copy
from typing import Callable, Dict, List

import torch
import torch.nn.functional as F
from torch import Tensor, nn

Objective = Callable[[Tensor], Tensor]  # normalized inputs -> scalar to maximize


def frozen_base(model_cfg, device=None) -> nn.Module:
    """The config's zero-shot base (its own base checkpoint, the tuner switched off, no
    prefix cache: a cache keyed by image would give an attacked image its clean features),
    in eval mode: what the prompt-free and transfer attacks run against."""
    from mmdet.registry import MODELS
    base = MODELS.build(dict(model_cfg, zero_shot=True, prefix_cache=None))
    return (base if device is None else base.to(device)).eval()


def _pixel_stats(model: nn.Module):
    pre = model.data_preprocessor
    mean = getattr(pre, 'mean', None)
    std = getattr(pre, 'std', None)
    if mean is None or not getattr(pre, '_enable_normalize', True):
        return None, None
    return mean.view(1, -1, 1, 1), std.view(1, -1, 1, 1)


def image_masks(inputs: Tensor, data_samples) -> Tensor:
    """(B, 1, H, W): 1 inside each image (its ``img_shape``), 0 on the batch padding."""
    mask = torch.zeros(inputs.size(0), 1, *inputs.shape[-2:], device=inputs.device)
    for i, sample in enumerate(data_samples):
        h, w = sample.metainfo['img_shape'][:2]
        mask[i, :, :h, :w] = 1
    return mask


def pgd(model: nn.Module, inputs: Tensor, data_samples, objective: Objective, eps: float,
        steps: int, step_size: float = None, random_start: bool = True,
        generator: torch.Generator = None) -> Tensor:
    """Normalized inputs of the adversarial images: ``objective`` maximized over
    perturbations of at most ``eps`` pixel levels (of 255) per pixel."""
    mean, std = _pixel_stats(model)
    scale = std if std is not None else torch.ones(1, 1, 1, 1, device=inputs.device)
    pixels = inputs.detach() * scale + (mean if mean is not None else 0)
    mask = image_masks(inputs, data_samples)
    step_size = 1.25 * eps / steps if step_size is None else step_size
    delta = torch.zeros_like(pixels)
    if random_start:
        delta = (torch.rand(pixels.shape, generator=generator, device='cpu').to(pixels) * 2
                 - 1) * eps
    delta = ((pixels + delta).clamp(0, 255) - pixels) * mask
    for _ in range(steps):
        delta.requires_grad_(True)
        adv = (pixels + delta - (mean if mean is not None else 0)) / scale
        grad, = torch.autograd.grad(objective(adv), delta)
        with torch.no_grad():
            delta = (delta + step_size * grad.sign()).clamp(-eps, eps)
            delta = ((pixels + delta).clamp(0, 255) - pixels) * mask
    with torch.no_grad():
        return (pixels + delta - (mean if mean is not None else 0)) / scale


def to_pixels(model: nn.Module, inputs: Tensor) -> Tensor:
    """Normalized inputs back to pixel values (0-255, the preprocessor's channel order)."""
    mean, std = _pixel_stats(model)
    if mean is None:
        return inputs
    return inputs * std + mean


def _channel_log_softmax(feats: List[Tensor]) -> List[Tensor]:
    return [F.log_softmax(f.float(), dim=1) for f in feats]


def feature_kl(model: nn.Module, inputs: Tensor) -> Objective:
    """AdvPT's objective on detection features: sum over the neck's levels of the mean (over
    locations) KL(clean || adversarial) of the channel softmaxes; the base's features only
    (``extract_feat``: backbone and neck, no text, no fusion, no prompts)."""
    with torch.no_grad():
        clean = [f.exp() for f in _channel_log_softmax(list(model.extract_feat(inputs)))]

    def objective(adv: Tensor) -> Tensor:
        feats = _channel_log_softmax(list(model.extract_feat(adv)))
        return sum(F.kl_div(a, c, reduction='none').sum(1).mean()
                   for a, c in zip(feats, clean))

    return objective


def detection_loss(model: nn.Module, data_samples) -> Objective:
    """The detector's loss on ``data_samples``' ground truth, box-regression terms left out
    (``loss_bbox``, ``loss_iou``), through the whole model as it is (prompts included)."""

    def objective(adv: Tensor) -> Tensor:
        losses: Dict[str, Tensor] = model.loss(adv, copy.deepcopy(data_samples))
        terms = [v for k, v in losses.items() if 'loss' in k and 'bbox' not in k
                 and 'iou' not in k]
        return sum(t.sum() if isinstance(t, Tensor) else sum(t) for t in terms)

    return objective
