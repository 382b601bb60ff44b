"""Boxes are named by each sample's own prompt (ShuffleClassPrompt reorders it per image)."""
import numpy as np
import pytest
import torch
from mmdet.structures import DetDataSample
from mmdet.visualization import DetLocalVisualizer
from mmengine.structures import InstanceData

from mmdet_sdpt.visualization import PromptVisualizer


def _sample(text):
    sample = DetDataSample(metainfo=dict(text=text))
    sample.gt_instances = InstanceData(
        bboxes=torch.tensor([[2., 2., 20., 20.], [30., 30., 60., 60.]]),
        labels=torch.tensor([0, 1]))
    return sample


@pytest.mark.parametrize('cls,text,named', [
    (DetLocalVisualizer, ('square', 'circle'), ('circle', 'square')),  # mmdet: wrong names
    (PromptVisualizer, ('square', 'circle'), ('square', 'circle')),
    (PromptVisualizer, 'circle . square', ('circle', 'square')),  # a caption: the dataset's
])
def test_labels_are_named_by_the_samples_prompt(cls, text, named, monkeypatch):
    seen = []
    real = DetLocalVisualizer._draw_instances

    def spy(self, image, instances, classes, palette):
        seen.append(tuple(classes))
        return real(self, image, instances, classes, palette)

    monkeypatch.setattr(DetLocalVisualizer, '_draw_instances', spy)
    vis = cls(name=f'vis_{cls.__name__}_{len(str(text))}')
    meta = dict(classes=('circle', 'square'), palette=[(255, 0, 0), (0, 255, 0)])
    vis.dataset_meta = meta
    vis.add_datasample('x', np.zeros((64, 64, 3), dtype=np.uint8), _sample(text),
                       draw_pred=False)
    assert seen == [named]
    assert vis.dataset_meta is meta  # the dataset's names are back for the next sample


def test_a_prompt_longer_than_the_palette_gets_colours(monkeypatch):
    vis = PromptVisualizer(name='vis_long')
    vis.dataset_meta = dict(classes=('circle', ), palette=[(255, 0, 0)])
    vis.add_datasample('x', np.zeros((64, 64, 3), dtype=np.uint8),
                       _sample(('tree', 'circle')), draw_pred=False)
    assert vis.get_image().shape == (64, 64, 3)
