"""A web page for looking at adapters: one image, the class names, zero-shot and any
loaded adapters drawn side by side, with the boxes' scores.

    python tools/webui.py            # the demo's base and adapter (make webui)

The page (Gradio, as GLIP, Grounding DINO and mmdet's projects ship their demos) runs every
chosen column in one forward of ``TunedInferencer``: a mixed batch whose images each name
their own adapter (zero-shot images as a group of their own). It runs offline: no analytics,
no share link, system fonts. Its one endpoint, ``/detect``, is also an API
(``gradio_client.Client(url).predict(image, texts, columns, score_thr, api_name='/detect')``).
"""
import os
import threading
from typing import List, Optional, Sequence, Tuple

os.environ.setdefault('GRADIO_ANALYTICS_ENABLED', 'False')  # before gradio is imported

import numpy as np  # noqa: E402
from mmdet.visualization import DetLocalVisualizer  # noqa: E402

from .visualization.drawing import draw_detections, phrases_of  # noqa: E402

ZERO_SHOT = 'zero-shot'
COLUMNS = ['column', 'class', 'score', 'x1', 'y1', 'x2', 'y2']


class AdapterPage:
    """The page's logic (``detect``) and its layout (``build``) over one ``TunedInferencer``.

    Args:
        inferencer (TunedInferencer): the base with its adapters loaded.
        texts (str): the class names the page starts with.
        examples (list[str]): image files offered as examples; the first is detected when
            the page opens.
        score_thr (float): the threshold the page starts with.
        min_side (int): small images are drawn enlarged until their longer side is this.
    """

    def __init__(self, inferencer, texts: str = '', examples: Sequence[str] = (),
                 score_thr: float = 0.3, min_side: int = 320) -> None:
        self.inferencer = inferencer
        self.texts = texts
        self.examples = list(examples)
        self.score_thr = score_thr
        self.min_side = min_side
        self.columns = [ZERO_SHOT] + list(inferencer.adapters)
        self._visualizer = DetLocalVisualizer(name=f'webui-{id(self)}')
        self._lock = threading.Lock()  # one visualizer: one drawing at a time

    def detect(self, image: Optional[np.ndarray], texts: str, columns: Sequence[str],
               score_thr: float) -> Tuple[List[Tuple[np.ndarray, str]], List[list], str]:
        """Boxes of ``image`` (RGB) for ``texts`` under each of ``columns``.

        Returns the drawn images with their captions, one row per box (column, class,
        score, box) and a one-line summary."""
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
        image = np.ascontiguousarray(image[..., :3])
        bgr = np.ascontiguousarray(image[..., ::-1])  # mmdet reads arrays as BGR
        adapters = [None if c == ZERO_SHOT else c for c in columns]
        prompt = ' . '.join(classes)
        samples = self.inferencer([bgr] * len(columns), texts=prompt, adapter=adapters,
                                  batch_size=len(columns),
                                  return_datasamples=True)['predictions']
        scale = max(1.0, self.min_side / max(image.shape[:2]))
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
        return drawn, rows, f'Boxes with score >= {score_thr:g}: ' + ', '.join(counts)

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
                    image = gr.Image(label='image', type='numpy', image_mode='RGB',
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
            run.click(self.detect, inputs, outputs, api_name='detect')
            if self.examples:  # the page opens on the first example, already detected
                page.load(self._first_example, [texts, columns, score_thr],
                          [image, gallery, table, summary], api_name=False)
        return page

    def _first_example(self, texts, columns, score_thr):
        import mmcv
        image = mmcv.imread(self.examples[0], channel_order='rgb')
        return (image, *self.detect(image, texts, columns, score_thr))


def launch(page, host: str = '127.0.0.1', port: Optional[int] = None, block: bool = True):
    """Serve ``page`` (built) on ``host:port`` offline; returns its local URL."""
    import gradio as gr
    theme = gr.themes.Default(font=['ui-sans-serif', 'system-ui', 'sans-serif'],
                              font_mono=['ui-monospace', 'monospace'])
    _, url, _ = page.launch(server_name=host, server_port=port, share=False, quiet=True,
                            prevent_thread_lock=not block, theme=theme, ssr_mode=False,
                            footer_links=['api'])
    return url
