"""A web page for looking at adapters: one image, the class names, zero-shot and any
loaded adapters drawn side by side, with the boxes' scores.

    python tools/webui.py            # the demo's base and adapter (make webui)

The page (Gradio, as GLIP, Grounding DINO and mmdet's projects ship their demos) runs every
chosen column in one forward of ``TunedInferencer``: a mixed batch whose images each name
their own adapter (zero-shot images as a group of their own). It runs offline: no analytics,
no share link, system fonts. Its one endpoint, ``/detect``, is also an API
(``gradio_client.Client(url).predict(handle_file(image), texts, columns, score_thr,
api_name='/detect')``).

One request cannot stall it:

- uploads over ``max_upload_bytes`` are refused by the server as they arrive (Gradio's
  ``max_file_size``); the image input hands ``detect`` the uploaded file, not pixels, and
  ``detect`` reads its header first (``input_checks.read_image``): an empty file, a file
  that is not an image and an image over ``max_pixels`` get an error naming the problem,
  before any pixel is decoded; the pictures are drawn at most ``max_side`` pixels long;
- requests run ``concurrency`` at a time; at most ``queue_size`` wait, and the next one is
  answered at once that the page is busy (HTTP 503; the page says "This application is
  currently busy. Please try again.", ``gradio_client`` raises ``QueueError``);
- class names past the text encoder's token cap are named in a warning (on the page and in
  the summary line).
"""
import base64
import os
import threading
import types
from typing import List, Optional, Sequence, Tuple, Union

os.environ.setdefault('GRADIO_ANALYTICS_ENABLED', 'False')  # before gradio is imported

import numpy as np  # noqa: E402
from mmdet.visualization import DetLocalVisualizer  # noqa: E402

from .constants import ZERO_SHOT  # noqa: E402
from .input_checks import (DEFAULT_MAX_BYTES, DEFAULT_MAX_PIXELS, ImageRefused,  # noqa: E402
                           megapixels, read_image)
from .visualization.drawing import draw_detections, phrases_of  # noqa: E402

COLUMNS = ['column', 'class', 'score', 'x1', 'y1', 'x2', 'y2']
BUSY = ('The page is busy: {waiting} requests are waiting, the most it queues. '
        'Try again in a few seconds.')


class AdapterPage:
    """The page's logic (``detect``) and its layout (``build``) over one ``TunedInferencer``.

    Args:
        inferencer (TunedInferencer): the base with its adapters loaded.
        texts (str): the class names the page starts with.
        examples (list[str]): image files offered as examples; the first is detected when
            the page opens.
        score_thr (float): the threshold the page starts with.
        min_side (int): small images are drawn enlarged until their longer side is this.
        max_side (int): large images are drawn shrunk until their longer side is this.
        max_pixels (int): the most pixels (width x height) an image may have; checked from
            its header, before decoding (None: no cap).
        max_upload_bytes (int): the largest upload the server takes (None: no cap).
        concurrency (int): how many requests run at once.
        queue_size (int): how many requests may wait; the next is answered "busy".
    """

    def __init__(self, inferencer, texts: str = '', examples: Sequence[str] = (),
                 score_thr: float = 0.3, min_side: int = 320, max_side: int = 1280,
                 max_pixels: Optional[int] = DEFAULT_MAX_PIXELS,
                 max_upload_bytes: Optional[int] = DEFAULT_MAX_BYTES,
                 concurrency: int = 2, queue_size: int = 10) -> None:
        if concurrency < 1 or queue_size < 0 or min_side > max_side:
            raise ValueError(f'need concurrency >= 1, queue_size >= 0 and min_side <= '
                             f'max_side; got concurrency={concurrency}, queue_size='
                             f'{queue_size}, min_side={min_side}, max_side={max_side}')
        self.inferencer = inferencer
        self.texts = texts
        self.examples = list(examples)
        self.score_thr = score_thr
        self.min_side = min_side
        self.max_side = max_side
        self.max_pixels = max_pixels
        self.max_upload_bytes = max_upload_bytes
        self.concurrency = concurrency
        self.queue_size = queue_size
        self.columns = [ZERO_SHOT] + list(inferencer.adapters)
        self._visualizer = DetLocalVisualizer(name=f'webui-{id(self)}')
        self._lock = threading.Lock()  # one visualizer: one drawing at a time

    def detect(self, image: Union[None, str, bytes, np.ndarray], texts: str,
               columns: Sequence[str], score_thr: float
               ) -> Tuple[List[Tuple[np.ndarray, str]], List[list], str]:
        """Boxes of ``image`` (an image file's path or bytes, or an RGB array) for ``texts``
        under each of ``columns``.

        Returns the drawn images with their captions, one row per box (column, class,
        score, box) and a one-line summary (with the warning of class names past the
        token cap, if any)."""
        import gradio as gr
        if image is None:
            raise gr.Error('Upload an image or pick an example first.')
        classes = phrases_of(texts or '')
        if not classes:
            raise gr.Error("Type the class names, separated by ' . ' (e.g. 'ball . box').")
        unknown = sorted(set(columns or []) - set(self.columns))
        columns = [c for c in self.columns if c in (columns or [])]  # the page's order
        if unknown or not columns:
            raise gr.Error(f'Choose among {self.columns}' +
                           (f'; {unknown} is not loaded.' if unknown else '.'))
        image = self._pixels(image)
        bgr = np.ascontiguousarray(image[..., ::-1])  # mmdet reads arrays as BGR
        adapters = [None if c == ZERO_SHOT else c for c in columns]
        prompt = ' . '.join(classes)
        warning = self.prompt_warning(prompt)
        if warning:
            gr.Warning(warning)
        samples = self.inferencer([bgr] * len(columns), texts=prompt, adapter=adapters,
                                  batch_size=len(columns),
                                  return_datasamples=True)['predictions']
        longer = max(image.shape[:2])  # drawn enlarged to min_side, shrunk to max_side
        scale = (self.min_side / longer if longer < self.min_side else
                 self.max_side / longer if longer > self.max_side else 1.0)
        drawn, rows, counts = [], [], []
        with self._lock:
            for column, sample in zip(columns, samples):
                picture = draw_detections(image, sample, classes, score_thr, scale,
                                          visualizer=self._visualizer)
                pred = sample.pred_instances
                keep = (pred.scores >= score_thr).nonzero().flatten().tolist()
                for i in keep:
                    box = [round(float(v), 1) for v in pred.bboxes[i]]
                    rows.append([column, classes[int(pred.labels[i])],
                                 round(float(pred.scores[i]), 3), *box])
                drawn.append((picture, f'{column}: {len(keep)} boxes'))
                counts.append(f'{column} {len(keep)}')
        summary = f'Boxes with score >= {score_thr:g}: ' + ', '.join(counts)
        return drawn, rows, summary + (f'\n\n**Warning:** {warning}' if warning else '')

    def _pixels(self, image) -> np.ndarray:
        """The RGB pixels of ``image`` (a file's path or bytes: checked from its header
        before decoding; or an array), or ``gr.Error`` naming what is wrong."""
        import gradio as gr
        if isinstance(image, np.ndarray):
            if image.ndim != 3 or image.shape[2] < 3:
                raise gr.Error(f'Expected an RGB image, got an array of shape {image.shape}.')
            height, width = image.shape[:2]
            if self.max_pixels is not None and height * width > self.max_pixels:
                raise gr.Error(f'The image is {width}x{height} pixels '
                               f'({megapixels(width * height)} megapixels); this server '
                               f'takes at most {megapixels(self.max_pixels)} megapixels: '
                               'downscale it first.', print_exception=False)
            return np.ascontiguousarray(image[..., :3])
        try:
            return read_image(image, self.max_pixels, self.max_upload_bytes,
                              name='The file' if isinstance(image, bytes) else None)
        except ImageRefused as e:
            raise gr.Error(str(e), print_exception=False) from None  # no traceback

    def prompt_warning(self, prompt: str) -> str:
        """The warning of the class names of ``prompt`` past the token cap ('' if none)."""
        check = getattr(self.inferencer, 'check_prompt', None)
        return check(prompt).message if check is not None else ''

    def build(self):
        """The page (a ``gradio.Blocks``), not launched."""
        import gradio as gr
        with gr.Blocks(title='mmdet-sdpt: adapters side by side',
                       analytics_enabled=False) as page:
            gr.Markdown('## mmdet-sdpt: one frozen base, its adapters side by side\n'
                        "Upload or pick an image, type the class names separated by ' . ', "
                        'choose zero-shot and any loaded adapters.')
            with gr.Row():
                with gr.Column(scale=1):
                    image = checked_image(self.max_upload_bytes, label='image',
                                          sources=['upload', 'clipboard'])
                    texts = gr.Textbox(label="class names (separated by ' . ')",
                                       value=self.texts)
                    columns = gr.CheckboxGroup(self.columns, value=self.columns,
                                               label='zero-shot and adapters')
                    score_thr = gr.Slider(0.0, 1.0, value=self.score_thr, step=0.05,
                                          label='score threshold')
                    run = gr.Button('Detect', variant='primary')
                    if self.examples:
                        gr.Examples(self.examples, inputs=image)
                with gr.Column(scale=2):
                    gallery = gr.Gallery(label='detections', columns=len(self.columns),
                                         object_fit='contain', height='auto',
                                         elem_id='detections')
                    summary = gr.Markdown(elem_id='summary')
                    table = gr.Dataframe(headers=COLUMNS, label='boxes', interactive=False)
            inputs, outputs = [image, texts, columns, score_thr], [gallery, table, summary]
            # both events run under one limit: at most `concurrency` detections at once
            run.click(self.detect, inputs, outputs, api_name='detect', concurrency_id='detect')
            if self.examples:  # the page opens on the first example, already detected
                page.load(self._first_example, [texts, columns, score_thr],
                          [image, gallery, table, summary], api_visibility='private',
                          concurrency_id='detect')
        page.queue(max_size=self.queue_size, default_concurrency_limit=self.concurrency)
        _answer_busy(page)
        page.max_upload_bytes = self.max_upload_bytes  # launch() passes it on
        return page

    def _first_example(self, texts, columns, score_thr):
        image = self._pixels(self.examples[0])
        return (image, *self.detect(image, texts, columns, score_thr))


def checked_image(max_bytes: Optional[int] = None, **kwargs):
    """A ``gr.Image`` (same look, same API) whose input is the uploaded file's path, never
    opened or decoded by Gradio (its own preprocessing opens every upload with PIL and fails
    with a generic error on a non-image): ``AdapterPage.detect`` checks it first. A base64
    ``data:`` URL arrives as its bytes (refused undecoded when over ``max_bytes``).

    The instance's ``preprocess`` is replaced: a subclass of ``gr.Image`` would make Gradio
    write a ``.pyi`` stub of this module beside it (its ComponentMeta does, for every
    component class)."""
    import gradio as gr
    image = gr.Image(type='filepath', image_mode=None, **kwargs)
    image.max_bytes = max_bytes
    image.preprocess = types.MethodType(_undecoded, image)
    return image


def _undecoded(image, payload):
    """``checked_image``'s preprocessing: the upload's path, or a data: URL's bytes."""
    import gradio as gr
    if payload is None:
        return None
    if payload.url and payload.url.startswith('data:'):
        encoded = payload.url.partition(',')[2].strip()
        size = len(encoded) * 3 // 4 - encoded[-2:].count('=')
        if image.max_bytes is not None and size > image.max_bytes:
            raise gr.Error(f'The image is {size} bytes; this server takes images of at most '
                           f'{image.max_bytes} bytes.', print_exception=False)
        try:
            return base64.b64decode(encoded)
        except ValueError:
            raise gr.Error('The image is a data: URL that is not base64.',
                           print_exception=False) from None
    if payload.path is None:
        raise gr.Error('Upload an image or pick an example first.', print_exception=False)
    return str(payload.path)


def _answer_busy(page) -> None:
    """When ``page``'s queue is full, answer that the page is busy (HTTP 503 with ``BUSY``)
    instead of Gradio's "Queue is full. Max size is N and size is N"."""
    queue = page._queue
    push = queue.push

    async def push_or_busy(*args, **kwargs):
        ok, detail, state = await push(*args, **kwargs)
        if state == 'queue_full':
            detail = BUSY.format(waiting=len(queue))
        return ok, detail, state

    queue.push = push_or_busy


def launch(page, host: str = '127.0.0.1', port: Optional[int] = None, block: bool = True):
    """Serve ``page`` (built) on ``host:port`` offline, uploads capped at its
    ``max_upload_bytes``; returns its local URL."""
    import gradio as gr
    theme = gr.themes.Default(font=['ui-sans-serif', 'system-ui', 'sans-serif'],
                              font_mono=['ui-monospace', 'monospace'])
    _, url, _ = page.launch(server_name=host, server_port=port, share=False, quiet=True,
                            prevent_thread_lock=not block, theme=theme, ssr_mode=False,
                            footer_links=['api'],
                            max_file_size=getattr(page, 'max_upload_bytes', None))
    return url
