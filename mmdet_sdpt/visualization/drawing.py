"""One detection picture: a grounding detector's boxes on an RGB image, each box once.

GLIP and Grounding DINO score every phrase of the prompt for every box, so one object comes
back once per phrase; ``draw_detections`` keeps each box once, with its best phrase
(class-agnostic NMS at ``iou``), names labels by the prompt's phrases, and draws on the image
enlarged by ``scale`` (the generated images are small). Used by ``tools/demo.py`` and the
web page (``mmdet_sdpt.webui``).
"""
from typing import Optional, Sequence, Tuple

import mmcv
import numpy as np
from mmcv.ops import nms
from mmdet.visualization import DetLocalVisualizer


def phrases_of(texts: str) -> Tuple[str, ...]:
    """The class phrases of a ``'ball . box . cone'`` prompt, as mmdet's custom entities
    split it."""
    return tuple(p.strip() for p in texts.strip('. ').split('. ') if p.strip())


def best_phrase_boxes(pred_instances, iou: float = 0.7):
    """Each box once, with its best-scoring phrase (class-agnostic NMS)."""
    if len(pred_instances) == 0:
        return pred_instances
    _, keep = nms(pred_instances.bboxes, pred_instances.scores, iou_threshold=iou)
    return pred_instances[keep]


def draw_detections(image: np.ndarray, data_sample, classes: Sequence[str],
                    score_thr: float = 0.3, scale: float = 1.0, iou: float = 0.7,
                    visualizer: Optional[DetLocalVisualizer] = None) -> np.ndarray:
    """``image`` (RGB) with the boxes of ``data_sample`` scoring at least ``score_thr``,
    named by ``classes``; ``data_sample.pred_instances`` is replaced by the boxes kept."""
    data_sample.pred_instances = best_phrase_boxes(data_sample.pred_instances, iou)
    sample = data_sample.clone()
    sample.pred_instances.bboxes = sample.pred_instances.bboxes * scale
    visualizer = visualizer or DetLocalVisualizer()
    visualizer.dataset_meta = dict(classes=tuple(classes), palette='random')
    visualizer.add_datasample('detections', mmcv.imrescale(image, scale), data_sample=sample,
                              draw_gt=False, pred_score_thr=score_thr)
    return visualizer.get_image()
