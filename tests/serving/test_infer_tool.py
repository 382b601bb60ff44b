"""tools/infer.py: many adapters of one base from the command line, mmdet's outputs."""
import pytest
import json
import os.path as osp
import re
import subprocess
import sys

import mmcv
import numpy as np

from tests.helpers import (LONG, LONG_CLASSES, ROOT, TEXT, TINY_CONFIG, cut_by_bert,
                           random_images)


def _run(*args):
    return subprocess.run([sys.executable, osp.join(ROOT, 'tools', 'infer.py'), *args],
                          capture_output=True, text=True, cwd=ROOT, timeout=600)


@pytest.mark.slow
def test_the_tool_writes_mmdets_outputs_per_adapter_and_the_comparison(glip, tmp_path):
    from mmdet_sdpt.inferencer import TunedInferencer
    cfg, paths = glip
    images = []
    for i, img in enumerate(random_images(2, seed=5)):
        images.append(str(tmp_path / f'img{i}.png'))
        mmcv.imwrite(img, images[-1])
    out = tmp_path / 'out'
    res = _run(*images, '--config', TINY_CONFIG, '--adapter', f'a={paths["a"]}',
               f'b={paths["b"]}', '--use', 'a', 'b', '--texts', TEXT, '--out-dir', str(out),
               '--compare', '--cfg-options', f'model.base_checkpoint={cfg.model.base_checkpoint}')
    assert res.returncode == 0, res.stderr[-2000:]
    assert 'token cap' not in res.stderr  # a prompt that fits: no warning
    # each image's box count at the threshold; none passing is said, with the way out
    assert re.search(r'img0.png \(a\): (\d+ boxes|no box) at score >= 0.3', res.stdout)
    none = _run(images[1], '--config', TINY_CONFIG, '--texts', TEXT, '--score-thr', '1',
                '--out-dir', str(tmp_path / 'none'), '--cfg-options',
                f'model.base_checkpoint={cfg.model.base_checkpoint}')
    assert none.returncode == 0, none.stderr[-2000:]
    assert re.search(r'img1.png \(zero-shot\): no box at score >= 1 \(best 0\.\d+\): lower '
                     '--score-thr', none.stdout), none.stdout
    helped = _run('--help')
    assert '(default: 0.3)' in helped.stdout and '(default: outputs)' in helped.stdout
    infer = TunedInferencer(cfg, adapters=paths, device='cpu')
    for image, name in zip(images, ('a', 'b')):
        stem = osp.splitext(osp.basename(image))[0]
        pred = json.load(open(out / 'preds' / f'{stem}.json'))
        want = infer([image], texts=TEXT, adapter=name)['predictions'][0]
        assert pred['labels'] == want['labels']
        assert np.allclose(pred['scores'], want['scores'], atol=1e-4)
        assert mmcv.imread(str(out / 'vis' / f'{stem}.png')).shape[:2] == (128, 128)
        compare = mmcv.imread(str(out / 'compare' / f'{stem}.png'))
        assert compare.shape[1] == 3 * 128 + 2 * 8  # zero-shot | a | b
    bad = _run(images[0], '--config', TINY_CONFIG, '--adapter', f'a={paths["a"]}',
               '--use', 'c', '--texts', TEXT, '--out-dir', str(out))
    assert bad.returncode != 0 and "--use names ['c'], not loaded" in bad.stderr
    bad = _run(images[0], '--config', TINY_CONFIG, '--adapter', 'a=missing.pth',
               '--texts', TEXT)
    assert bad.returncode != 0 and "adapter 'a': no checkpoint missing.pth" in bad.stderr


def test_the_tool_prints_the_class_names_past_the_token_cap(glip, tmp_path):  # noqa: F811
    """BERT reads 256 tokens: the classes past them are never detected; the tool says which
    (once, on stderr, whatever the warnings filters) and still writes its outputs."""
    from mmdet_sdpt.inferencer import TunedInferencer
    cfg, paths = glip
    image = str(tmp_path / 'img.png')
    mmcv.imwrite(random_images(1, seed=5)[0], image)
    out = tmp_path / 'out'
    res = subprocess.run(
        [sys.executable, '-W', 'ignore', osp.join(ROOT, 'tools', 'infer.py'), image,
         '--config', TINY_CONFIG, '--adapter', f'a={paths["a"]}', '--texts', LONG,
         '--out-dir', str(out), '--cfg-options',
         f'model.base_checkpoint={cfg.model.base_checkpoint}'],
        capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    lm = TunedInferencer(cfg, device='cpu').model.language_model
    cut = cut_by_bert(lm.tokenizer, lm.max_tokens, LONG_CLASSES)
    lines = [line for line in res.stderr.splitlines() if 'token cap' in line]
    assert len(lines) == 1 and lines[0].startswith('warning: '), res.stderr[-2000:]
    assert f'{len(cut)} of the {len(LONG_CLASSES)} class names' in lines[0]
    assert re.findall(r"'(\w+)'", lines[0]) == cut
    assert osp.isfile(out / 'preds' / 'img.json')
