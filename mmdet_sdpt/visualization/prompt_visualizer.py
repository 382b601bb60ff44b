"""Boxes named by each sample's own prompt.

A grounding detector's labels index the class names of the sample's prompt (its ``text``),
which ``ShuffleClassPrompt`` reorders (and trims, and extends with negatives) per image;
mmdet's ``DetLocalVisualizer`` names labels by ``dataset_meta['classes']`` (the dataset's
order), so mmdet's ``browse_dataset.py`` drew shuffled samples with wrong names.
``PromptVisualizer`` (``visualizer=dict(type='PromptVisualizer')``, set in every tuned
config) names them by the sample's text when it is a tuple of names, and is mmdet's
visualizer otherwise.
"""
from typing import Optional

import numpy as np
from mmdet.registry import VISUALIZERS
from mmdet.visualization import DetLocalVisualizer


@VISUALIZERS.register_module()
class PromptVisualizer(DetLocalVisualizer):
    """``DetLocalVisualizer`` naming labels by the sample's prompt (``metainfo['text']``)."""

    def add_datasample(self, name: str, image: np.ndarray, data_sample=None, *args,
                       **kwargs) -> None:
        text = data_sample.metainfo.get('text') if data_sample is not None else None
        if not (isinstance(text, (tuple, list)) and text):
            return super().add_datasample(name, image, data_sample, *args, **kwargs)
        meta = self.dataset_meta
        palette: Optional[object] = (meta or {}).get('palette')
        if isinstance(palette, (list, tuple)) and len(palette) < len(text):
            palette = 'random'  # the prompt holds more names than the dataset's palette
        self.dataset_meta = dict(meta or {}, classes=tuple(text), palette=palette)
        try:
            return super().add_datasample(name, image, data_sample, *args, **kwargs)
        finally:
            self.dataset_meta = meta


def side_by_side(panels, gap: int = 8) -> np.ndarray:
    """RGB panels of one height side by side, ``gap`` white columns apart (the demo's and
    tools/infer.py's comparison pictures)."""
    white = np.full((panels[0].shape[0], gap, 3), 255, dtype=np.uint8)
    return np.concatenate([p for panel in panels for p in (panel, white)][:-1], axis=1)
