"""AdvPT's adversarial training set: a dataset's images attacked once against the frozen base
by the prompt-free feature attack (``attacks.feature_kl``; AdvPT's training attack: eps
8/255, 10 steps), written as PNG files beside the originals' relative paths.

- :func:`attack_dataset` does it for a built dataset (``tools/make_adversarial.py`` writes a
  copy of a dataset folder with it);
- :class:`AdversarialTrainingSetHook` does it inside a training run, so AdvPT is one config
  that ``tools/train.py``, ``tools/fewshot_protocol.py`` and the leaderboard run like any
  other method: before training it attacks the run's training images (its K shots) into
  ``<work_dir>/adversarial/`` once (a resumed run reuses them) and the training pipeline
  reads those files instead of the clean ones.
"""
import json
import os
import os.path as osp
import time
from typing import Dict

import torch
from mmcv.transforms import BaseTransform
from mmdet.registry import DATASETS, HOOKS, TRANSFORMS
from mmengine.dataset import pseudo_collate
from mmengine.dist import barrier, broadcast_object_list, is_main_process
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from torch import nn

from ..utils.atomic_io import atomic_write
from .attacks import feature_kl, frozen_base, pgd, to_pixels

MANIFEST = 'manifest.json'


def attack_dataset(model: nn.Module, dataset, src_root: str, out_dir: str, eps: float,
                   steps: int, seed: int = 0, batch_size: int = 4) -> Dict[str, str]:
    """Attack every image of ``dataset`` (built with a test pipeline that keeps each image's
    size) and write it under ``out_dir`` at its path relative to ``src_root``: PNG content
    under its own name (8-bit: the perturbation rounded to whole pixel levels, still within
    eps). Returns {clean path: adversarial path}."""
    import numpy as np
    from PIL import Image
    generator = torch.Generator().manual_seed(seed)
    written = {}
    for start in range(0, len(dataset), batch_size):
        batch = pseudo_collate([dataset[i] for i in
                                range(start, min(len(dataset), start + batch_size))])
        data = model.data_preprocessor(batch, False)
        inputs, samples = data['inputs'], data['data_samples']
        adv = pgd(model, inputs, samples, feature_kl(model, inputs), eps, steps,
                  generator=generator)
        pixels = to_pixels(model, adv)
        for img, sample in zip(pixels, samples):
            h, w = sample.metainfo['img_shape'][:2]
            if (h, w) != tuple(sample.metainfo['ori_shape'][:2]):
                raise ValueError(
                    f'the test pipeline resizes {sample.img_path} ({sample.ori_shape} -> '
                    f'{sample.img_shape}); the attack writes images at their own size: use a '
                    'config whose test pipeline keeps it')
            array = img[:, :h, :w].round().clamp(0, 255).byte().permute(1, 2, 0).cpu().numpy()
            if not getattr(model.data_preprocessor, '_channel_conversion', False):
                array = array[..., ::-1]  # the pipeline's BGR back to RGB for the file
            target = osp.join(out_dir, osp.relpath(sample.img_path, src_root))
            os.makedirs(osp.dirname(target), exist_ok=True)
            # PNG content under the file's own name (the annotations name it; decoders read
            # the format from the content): lossless, unlike a JPEG re-encode
            atomic_write(target, lambda tmp, a=np.ascontiguousarray(array): Image.fromarray(
                a).save(tmp, format='PNG'))
            written[sample.img_path] = target
    return written


def training_images(cfg):
    """The config's training set (under RepeatDataset and the like) as its test pipeline
    loads it: no flip, each image at its own size."""
    train = cfg.train_dataloader.dataset
    while 'dataset' in train and 'pipeline' not in train:
        train = train['dataset']
    return DATASETS.build(dict(train, pipeline=cfg.test_dataloader.dataset.pipeline))


@TRANSFORMS.register_module()
class SwapImagePaths(BaseTransform):
    """``results['img_path']`` replaced where ``paths`` ({clean: other}) names it (put
    before ``LoadImageFromFile``)."""

    def __init__(self, paths: Dict[str, str]):
        self.paths = dict(paths)

    def transform(self, results: dict) -> dict:
        results['img_path'] = self.paths.get(results['img_path'], results['img_path'])
        return results


@HOOKS.register_module()
class AdversarialTrainingSetHook(Hook):
    """Train on the run's training images attacked once by AdvPT's feature attack (see the
    module docstring).

    Args:
        eps (float): L-inf budget, pixel levels of 255 (AdvPT trains at 8).
        steps (int): PGD steps (AdvPT: 10).
        seed (int): of the random start.
        batch_size (int): images attacked at once.
    """
    priority = 'VERY_HIGH'  # before anything reads the training data

    def __init__(self, eps: float = 8.0, steps: int = 10, seed: int = 0, batch_size: int = 4):
        self.eps, self.steps, self.seed = float(eps), int(steps), int(seed)
        self.batch_size = int(batch_size)

    def _setting(self) -> dict:
        return dict(eps=self.eps, steps=self.steps, seed=self.seed, attack='feature_kl')

    def before_train(self, runner) -> None:
        out_dir = osp.join(runner.work_dir, 'adversarial')
        manifest = osp.join(out_dir, MANIFEST)
        paths = [None]
        if is_main_process():
            found = json.load(open(manifest)) if osp.exists(manifest) else None
            if found and found.get('setting') == self._setting() and all(
                    osp.exists(p) for p in found['paths'].values()):
                paths[0] = found['paths']
                runner.logger.info(f'AdvPT: {len(paths[0])} adversarial training images '
                                   f'reused from {out_dir}')
            else:
                paths[0] = self._attack(runner, out_dir, manifest)
        broadcast_object_list(paths)
        barrier()
        dataset = runner.train_dataloader.dataset
        while not hasattr(dataset, 'pipeline') and hasattr(dataset, 'dataset'):
            dataset = dataset.dataset  # RepeatDataset and the like
        dataset.pipeline.transforms.insert(0, SwapImagePaths(paths[0]))

    def _attack(self, runner, out_dir: str, manifest: str) -> Dict[str, str]:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        base = frozen_base(runner.cfg.model, next(model.parameters()).device)
        dataset = training_images(runner.cfg)
        start = time.time()
        written = attack_dataset(base, dataset, osp.abspath(dataset.data_root), out_dir,
                                 self.eps, self.steps, self.seed, self.batch_size)
        seconds = round(time.time() - start, 1)
        atomic_write(manifest, json.dumps(dict(setting=self._setting(), seconds=seconds,
                                               paths=written), indent=1))
        runner.logger.info(f'AdvPT: {len(written)} training images attacked (feature attack, '
                           f'eps {self.eps:g}/255, {self.steps} steps) in {seconds} s, '
                           f'written under {out_dir}')
        return written
