"""What the README says about deployment: a merged checkpoint (tools/merge_adapter.py) is
the adapter in the tuned config, and only the base in a stock mmdet GLIP."""
import copy
import inspect
import os.path as osp
import subprocess
import sys

import numpy as np

from tests.helpers import (ROOT, TEXT, TINY_CONFIG, assert_same_preds, preds_of,
                           random_images)


def _stock_glip(model_cfg):
    """mmdet's GLIP of the tuned config's architecture, without the tuner."""
    from mmdet.registry import MODELS

    from mmdet_sdpt.models.tuned_detector import TunedDetector
    from mmdet_sdpt.registry import POST_BUILD
    ours = set(inspect.signature(TunedDetector).parameters) - {'detector_cfg'}
    cfg = {k: copy.deepcopy(v) for k, v in model_cfg.items() if k not in ours | {'type'}}
    detector = MODELS.build(dict(type=model_cfg['detector_type'], **cfg))
    for edit in model_cfg.get('post_build', ()):  # the tiny architecture, not tuning
        POST_BUILD.build(edit)(detector)
    return detector


def test_a_merged_checkpoint_needs_the_tuned_config(glip, tmp_path):  # noqa: F811
    from mmdet.apis import DetInferencer
    from mmengine.runner import load_checkpoint

    from mmdet_sdpt.inferencer import TunedInferencer
    cfg, paths = glip
    merged = str(tmp_path / 'merged.pth')
    res = subprocess.run(
        [sys.executable, osp.join(ROOT, 'tools', 'merge_adapter.py'), TINY_CONFIG,
         paths['a'], merged, '--cfg-options',
         f'model.base_checkpoint={cfg.model.base_checkpoint}'],
        capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    infer = TunedInferencer(copy.deepcopy(cfg), adapters=paths, device='cpu')
    images = random_images(2, seed=3)
    tuned = preds_of(infer(images, texts=TEXT, adapter='a', batch_size=2))
    zero = preds_of(infer(images, texts=TEXT, batch_size=2))
    # the adapter moves the (random) model's scores: the checks below tell it from the base
    gap = max(np.abs(t[1] - z[1]).max() if len(t[1]) == len(z[1]) else np.inf
              for t, z in zip(tuned, zero))
    assert gap > 1e-4
    # the tuned config loads the merged file alone (no base checkpoint): the adapter
    alone = copy.deepcopy(cfg)
    alone.model.base_checkpoint = None
    stock_api = DetInferencer(model=alone, weights=merged, device='cpu', show_progress=False)
    assert_same_preds(
        preds_of(stock_api(images, texts=TEXT, custom_entities=True, batch_size=2)), tuned,
        atol=gap / 10)
    # a stock GLIP drops the prompts (unexpected keys, a warning): the base, zero-shot
    stock = _stock_glip(cfg.model)
    load_checkpoint(stock, merged, map_location='cpu', strict=False)
    infer.model = stock.eval()
    assert_same_preds(preds_of(infer(images, texts=TEXT, batch_size=2)), zero, atol=gap / 10)
