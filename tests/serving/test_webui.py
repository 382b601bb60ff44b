"""The web page (``mmdet_sdpt.webui``, ``tools/webui.py``): its ``/detect`` API served for
real on a local port and called through ``gradio_client``, its errors, and the headless
browser script (skipped, saying so, where no chromium is installed)."""
import copy
import os.path as osp
import socket
import subprocess
import sys

import mmcv
import numpy as np
import pytest

from tests.conftest import ROOT, TINY_CONFIG
from tests.serving.test_inferencer import TEXT, _images, glip  # noqa: F401  (fixture)

sys.path.insert(0, osp.join(ROOT, 'tools'))


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.fixture(scope='module')
def page(glip, tmp_path_factory):  # noqa: F811
    from mmdet_sdpt.inferencer import TunedInferencer
    from mmdet_sdpt.webui import AdapterPage
    cfg, paths = glip
    image = str(tmp_path_factory.mktemp('webui') / 'example.png')
    mmcv.imwrite(_images(1, seed=7)[0], image)
    inferencer = TunedInferencer(copy.deepcopy(cfg), adapters=paths, device='cpu')
    return AdapterPage(inferencer, texts=TEXT, examples=[image], score_thr=0.0), image


def _expected(page, image, texts, column, thr):
    """The boxes of ``column`` as the inferencer gives them, each box once."""
    from mmdet_sdpt.visualization.drawing import best_phrase_boxes
    bgr = mmcv.imread(image)
    sample = page.inferencer([bgr], texts=texts, adapter=None if column == 'zero-shot'
                             else column, return_datasamples=True)['predictions'][0]
    pred = best_phrase_boxes(sample.pred_instances)
    return sorted(float(s) for s in pred.scores if s >= thr)


def _path(file):  # gradio_client gives a gallery image as a path or a FileData dict
    return file if isinstance(file, str) else file['path']


def test_the_page_api_draws_each_column_from_one_mixed_batch(page):
    from gradio_client import Client, handle_file

    from mmdet_sdpt.webui import launch
    page, image = page
    # a threshold on the slider's 0.05 grid that keeps some of the random model's boxes
    scores = _expected(page, image, TEXT, 'a', 0.0)
    thr = 0.05 * int(np.median(scores) / 0.05)
    app = page.build()
    url = launch(app, port=_free_port(), block=False)
    try:
        client = Client(url, verbose=False)
        gallery, table, summary = client.predict(handle_file(image), TEXT,
                                                 ['b', 'zero-shot', 'a'], thr,
                                                 api_name='/detect')
        with pytest.raises(Exception, match='Type the class names'):
            client.predict(handle_file(image), ' . ', ['a'], 0.2, api_name='/detect')
        with pytest.raises(Exception, match="Choose among"):
            client.predict(handle_file(image), TEXT, [], 0.2, api_name='/detect')
    finally:
        app.close()
    # one picture per chosen column, in the page's order, enlarged to the page's size
    assert [item['caption'].split(':')[0] for item in gallery] == ['zero-shot', 'a', 'b']
    for item in gallery:
        assert mmcv.imread(_path(item['image'])).shape[:2] == (320, 320)
    rows = table['data']
    assert table['headers'] == ['column', 'class', 'score', 'x1', 'y1', 'x2', 'y2']
    classes = [c.strip() for c in TEXT.split('.')]
    for column in ('zero-shot', 'a', 'b'):
        got = sorted(r[2] for r in rows if r[0] == column)
        want = _expected(page, image, TEXT, column, thr)
        assert len(got) == len(want) and np.allclose(got, want, atol=1e-3), column
        assert f'{column} {len(want)}' in summary
    assert rows and all(r[1] in classes and r[2] >= thr - 1e-3 for r in rows)
    # the adapters act: the columns differ
    assert len({tuple(sorted(r[2] for r in rows if r[0] == c)) for c in ('a', 'b')}) == 2


def test_detect_refuses_what_it_cannot_run(page):
    import gradio as gr
    page, image = page
    rgb = mmcv.imread(image, channel_order='rgb')
    with pytest.raises(gr.Error, match='Upload an image'):
        page.detect(None, TEXT, ['a'], 0.3)
    with pytest.raises(gr.Error, match=r"\['c'\] is not loaded"):
        page.detect(rgb, TEXT, ['a', 'c'], 0.3)
    drawn, rows, summary = page.detect(rgb, 'circle . square', ['a'], 0.0)
    assert len(drawn) == 1 and {r[1] for r in rows} <= {'circle', 'square'}


def test_the_launcher_names_the_missing_demo_adapter(tmp_path):
    res = subprocess.run([sys.executable, osp.join(ROOT, 'tools', 'webui.py')],
                         capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert res.returncode != 0 and 'run `make demo` first' in res.stderr


def test_a_headless_browser_sees_boxes_on_the_page(glip, page, tmp_path):  # noqa: F811
    import webui_screenshot
    if webui_screenshot.find_browser() is None:
        pytest.skip('no chromium and chromedriver installed: the browser check is skipped '
                    '(apt install chromium chromium-driver)')
    cfg, paths = glip
    _, image = page
    out = tmp_path / 'page.png'
    res = subprocess.run(
        [sys.executable, osp.join(ROOT, 'tools', 'webui_screenshot.py'), '--out', str(out),
         '--config', TINY_CONFIG, '--adapter', f'a={paths["a"]}', '--examples', image,
         '--texts', TEXT, '--score-thr', '0.0', '--cfg-options',
         f'model.base_checkpoint={cfg.model.base_checkpoint}'],
        capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    assert 'zero-shot' in res.stdout and f'wrote {out}' in res.stdout
    assert mmcv.imread(str(out)).shape[:2] == (900, 1400)
