"""The web page (``mmdet_sdpt.webui``, ``tools/webui.py``): its ``/detect`` API served for
real on a local port and called through ``gradio_client``, its errors, its limits (pixels
checked before decoding, upload bytes, a bounded queue that answers "busy", class names
past the token cap named), and the headless browser script (skipped, saying so, where no
chromium is installed)."""
import copy
import os
import os.path as osp
import re
import resource
import socket
import subprocess
import sys
import threading
import time

import mmcv
import numpy as np
import pytest

from tests.helpers import (LONG, LONG_CLASSES, ROOT, TEXT, TINY_CONFIG, cut_by_bert,
                           random_images)

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
    mmcv.imwrite(random_images(1, seed=7)[0], image)
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


def _huge_png(path):
    """9000 x 9000 pixels of 1 bit: ~10 KB on disk, 81 megapixels (243 MB as RGB) decoded."""
    from PIL import Image
    Image.new('1', (9000, 9000)).save(path, optimize=True)
    assert os.path.getsize(path) < 20_000
    return str(path)


def _bad_files(folder):
    empty, text = folder / 'empty.png', folder / 'notes.png'
    empty.write_bytes(b'')
    text.write_text('not an image, whatever its name says\n')
    return str(empty), str(text)


def _never_decoded(monkeypatch):
    """Decoding any image's pixels (PIL's ``ImageFile.load``) fails the test."""
    from PIL import ImageFile

    def load(self, *args, **kwargs):
        raise AssertionError(f'{self.size} pixels were decoded')
    monkeypatch.setattr(ImageFile.ImageFile, 'load', load)


def _peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_the_page_api_draws_each_column_from_one_mixed_batch(page, tmp_path, monkeypatch):
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
        # one endpoint: the page's first-example load is private, not an API named '/False'
        assert list(client.view_api(print_info=False,
                                    return_format='dict')['named_endpoints']) == ['/detect']
        gallery, table, summary = client.predict(handle_file(image), TEXT,
                                                 ['b', 'zero-shot', 'a'], thr,
                                                 api_name='/detect')
        with pytest.raises(Exception, match='Type the class names'):
            client.predict(handle_file(image), ' . ', ['a'], 0.2, api_name='/detect')
        with pytest.raises(Exception, match="Choose among"):
            client.predict(handle_file(image), TEXT, [], 0.2, api_name='/detect')
        # the page's limits, through its API: a 10 KB PNG of 81 megapixels is refused from
        # its header (nothing decoded, no memory taken), empty and non-image files are named
        huge = _huge_png(tmp_path / 'huge.png')
        empty, text = _bad_files(tmp_path)
        with monkeypatch.context() as m:
            _never_decoded(m)
            rss, start = _peak_rss_mb(), time.perf_counter()
            with pytest.raises(Exception, match=r"'huge.png' is 9000x9000 pixels \(81 "
                               r'megapixels\); this server takes at most 40 megapixels'):
                client.predict(handle_file(huge), TEXT, ['a'], 0.2, api_name='/detect')
            took, grew = time.perf_counter() - start, _peak_rss_mb() - rss
            with pytest.raises(Exception, match=r"'empty.png' is empty \(0 bytes\)"):
                client.predict(handle_file(empty), TEXT, ['a'], 0.2, api_name='/detect')
            with pytest.raises(Exception, match=r"'notes.png' is not an image"):
                client.predict(handle_file(text), TEXT, ['a'], 0.2, api_name='/detect')
        assert took < 5.0 and grew < 100, (took, grew)  # unchecked: 52 s and 11 GB
        # class names past BERT's cap: the summary names those never read
        _, long_table, long_summary = client.predict(handle_file(image), LONG, ['a'], thr,
                                                     api_name='/detect')
    finally:
        app.close()
    lm = page.inferencer.model.language_model
    cut = cut_by_bert(lm.tokenizer, lm.max_tokens, LONG_CLASSES)
    assert cut and '**Warning:**' in long_summary and 'Warning' not in summary
    assert re.findall(r"'(\w+)'", long_summary.split('**Warning:**')[1]) == cut
    assert f'{lm.max_tokens}-token cap' in long_summary
    assert not {r[1] for r in long_table['data']} & set(cut)
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


def test_images_are_checked_from_their_header_before_any_pixel_is_decoded(page, tmp_path,
                                                                          monkeypatch):
    import gradio as gr

    from mmdet_sdpt.webui import AdapterPage
    page, image = page
    huge = _huge_png(tmp_path / 'huge.png')
    empty, text = _bad_files(tmp_path)
    with monkeypatch.context() as m:
        _never_decoded(m)
        start = time.perf_counter()
        with pytest.raises(gr.Error, match=r"'huge.png' is 9000x9000 pixels \(81 megapixels\); "
                           'this server takes at most 40 megapixels: downscale it first'):
            page.detect(huge, TEXT, ['a'], 0.3)
        assert time.perf_counter() - start < 1.0
        with pytest.raises(gr.Error, match=r'The file is 9000x9000 pixels'):
            page.detect(open(huge, 'rb').read(), TEXT, ['a'], 0.3)  # a data: URL's bytes
        with pytest.raises(gr.Error, match=r"'empty.png' is empty \(0 bytes\): upload an "
                           'image file'):
            page.detect(empty, TEXT, ['a'], 0.3)
        with pytest.raises(gr.Error, match=r"'notes.png' is not an image \(37 bytes that no "
                           'image format reads\)'):
            page.detect(text, TEXT, ['a'], 0.3)
    # truncated: the header reads, the pixels do not
    broken = tmp_path / 'broken.png'
    broken.write_bytes(open(image, 'rb').read()[:2000])
    with pytest.raises(gr.Error, match=r"'broken.png' could not be decoded .*truncated"):
        page.detect(str(broken), TEXT, ['a'], 0.3)
    # the caps are the page's settings; a path is read as the array it holds
    small = AdapterPage(page.inferencer, max_pixels=100 * 100, max_upload_bytes=10**6)
    with pytest.raises(gr.Error, match=r'128x128 pixels \(0.0164 megapixels\); this server '
                       'takes at most 0.01 megapixels'):
        small.detect(image, TEXT, ['a'], 0.3)
    with pytest.raises(gr.Error, match='128x128 pixels'):
        small.detect(mmcv.imread(image, channel_order='rgb'), TEXT, ['a'], 0.3)
    tiny = AdapterPage(page.inferencer, max_upload_bytes=1000)
    with pytest.raises(gr.Error, match=r"'example.png' is \d+ bytes; this server takes images "
                       'of at most 1000 bytes'):
        tiny.detect(image, TEXT, ['a'], 0.3)
    rgb = mmcv.imread(image, channel_order='rgb')
    by_path, by_array = page.detect(image, TEXT, ['a'], 0.0), page.detect(rgb, TEXT, ['a'], 0.0)
    assert by_path[1] == by_array[1] and by_path[2] == by_array[2]
    # the image input hands detect the upload's path (or a data: URL's bytes), undecoded
    import base64

    from gradio.data_classes import ImageData

    from mmdet_sdpt.webui import checked_image
    component = checked_image(max_bytes=30_000)
    assert component.get_block_name() == 'image'  # the page draws it as gr.Image
    assert not osp.exists(osp.join(ROOT, 'mmdet_sdpt', 'webui.pyi'))  # no stub written
    with monkeypatch.context() as m:
        _never_decoded(m)
        assert component.preprocess(ImageData(path=huge, orig_name='huge.png')) == huge
        twin = copy.deepcopy(component)  # as Gradio copies components per session
        assert twin.preprocess(ImageData(path=huge, orig_name='huge.png')) == huge
        data = open(huge, 'rb').read()
        url = 'data:image/png;base64,' + base64.b64encode(data).decode()
        assert component.preprocess(ImageData(url=url)) == data
        url = 'data:image/png;base64,' + base64.b64encode(b'0' * 40_000).decode()
        with pytest.raises(gr.Error, match='The image is 40000 bytes; this server takes images of '
                           'at most 30000 bytes'):
            component.preprocess(ImageData(url=url))
    # the page opens on its first example, read through the same checks
    shown, *opened = page._first_example(TEXT, ['a'], 0.0)
    assert np.array_equal(shown, rgb) and opened[1:] == list(by_path[1:])


class _Gated:
    """The inferencer, every call of it waiting for ``gate`` (``started`` says one came)."""

    def __init__(self, inner):
        self.inner, self.started, self.gate = inner, threading.Event(), threading.Event()

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def __call__(self, *args, **kwargs):
        self.started.set()
        assert self.gate.wait(120)
        return self.inner(*args, **kwargs)


def test_a_full_queue_answers_busy_and_uploads_are_capped(page, tmp_path):
    """One request runs (held), one waits, the next is told at once that the page is busy;
    once the held one ends both are served. Uploads over the cap never reach ``detect``."""
    import httpx
    from gradio_client import Client, handle_file
    from gradio_client.utils import QueueError

    from mmdet_sdpt.webui import AdapterPage, launch
    page, image = page
    gated = _Gated(page.inferencer)
    busy_page = AdapterPage(gated, texts=TEXT, score_thr=0.0, concurrency=1, queue_size=1,
                            max_upload_bytes=100_000)
    app = busy_page.build()
    assert (app._queue.max_size, app._queue.default_concurrency_limit) == (1, 1)
    big = tmp_path / 'big.png'  # 192 KB of noise: over the upload cap
    mmcv.imwrite(np.random.default_rng(0).integers(0, 255, (256, 256, 3), np.uint8), str(big))
    url = launch(app, port=_free_port(), block=False)
    try:
        client = Client(url, verbose=False)
        args = (handle_file(image), TEXT, ['a'], 0.0)
        running = client.submit(*args, api_name='/detect')
        assert gated.started.wait(60)
        waiting = client.submit(*args, api_name='/detect')
        deadline = time.monotonic() + 30
        while len(app._queue) < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(app._queue) == 1
        start = time.perf_counter()
        with pytest.raises(QueueError, match='try again'):
            Client(url, verbose=False).predict(*args, api_name='/detect')
        fn = next(i for i, f in app.fns.items() if f.api_name == 'detect')
        answer = httpx.post(url.rstrip('/') + '/gradio_api/queue/join', timeout=10,
                            json=dict(data=[None, TEXT, ['a'], 0.0], fn_index=fn,
                                      session_hash='busy-probe'))
        assert time.perf_counter() - start < 15.0  # at once (the held request waits 120 s)
        assert answer.status_code == 503
        assert answer.json()['detail'] == ('The page is busy: 1 requests are waiting, the '
                                           'most it queues. Try again in a few seconds.')
        gated.gate.set()
        for job in (running, waiting):
            assert job.result(timeout=120)[2].startswith('Boxes with score >= 0')
        # the cap is in the page's config (gradio_client and the browser check it before
        # sending) and the server refuses a larger upload as it arrives
        with pytest.raises(Exception, match='exceeds the maximum file size of 100000 bytes'):
            client.predict(handle_file(str(big)), TEXT, ['a'], 0.0, api_name='/detect')
        with open(big, 'rb') as f:
            upload = httpx.post(url.rstrip('/') + '/gradio_api/upload', timeout=10,
                                files={'files': ('big.png', f, 'image/png')})
        assert upload.status_code == 413
        assert 'maximum allowed size of 100000 bytes' in upload.text
    finally:
        gated.gate.set()
        app.close()


def test_the_launcher_names_the_missing_demo_adapter(tmp_path):
    res = subprocess.run([sys.executable, osp.join(ROOT, 'tools', 'webui.py')],
                         capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert res.returncode != 0 and 'run `make demo` first' in res.stderr


@pytest.mark.slow
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
