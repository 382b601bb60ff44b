"""A deterministic grounding-detection dataset of named shapes, in COCO format.

No public detection images can be had in tests or CI: this draws small PNG images with 1-3
shapes each (random colour, size, filled or hollow) on varied backgrounds (noise, stripes,
gradients), and writes a COCO json whose category names are the phrases GLIP is prompted
with. ``classes[i]`` names ``shapes[i]``, so the same pictures can be named with other words
(the demo's vocabulary transfer).
"""
import json
import os
import os.path as osp
from typing import Sequence

import numpy as np
from mmdet.datasets import CocoDataset
from mmdet.registry import DATASETS
from PIL import Image, ImageDraw

from .class_order import NameOrderedCOCO

SHAPES = ('circle', 'square', 'triangle', 'cross')


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    kind = rng.integers(3)
    if kind == 0:  # dark noise
        return rng.integers(0, 90, size=(size, size, 3)).astype(np.uint8)
    low, high = rng.integers(0, 110, size=(2, 3))
    if kind == 1:  # stripes of random period and orientation
        period = int(rng.integers(6, 20))
        yy, xx = np.mgrid[:size, :size]
        phase = (xx if rng.integers(2) else yy) // (period // 2) % 2
        img = np.where(phase[..., None] == 1, low, high)
    else:  # a linear gradient between two dark colours
        t = np.linspace(0, 1, size)[None, :, None] if rng.integers(2) else np.linspace(
            0, 1, size)[:, None, None]
        img = low * (1 - t) + high * t + np.zeros((size, size, 3))
    noise = rng.integers(-12, 13, size=(size, size, 3))
    return np.clip(img + noise, 0, 255).astype(np.uint8)


def _draw(draw: ImageDraw.ImageDraw, shape: str, box, colour, hollow: bool) -> None:
    x0, y0, x1, y1 = box
    style = dict(outline=colour, width=max(2, (x1 - x0) // 8)) if hollow else dict(fill=colour)
    if shape == 'circle':
        draw.ellipse(box, **style)
    elif shape == 'square':
        draw.rectangle(box, **style)
    elif shape == 'triangle':
        draw.polygon([((x0 + x1) / 2, y0), (x1, y1), (x0, y1)], **style)
    elif shape == 'cross':
        w = (x1 - x0) / 3
        draw.polygon([(x0 + w, y0), (x1 - w, y0), (x1 - w, y0 + w), (x1, y0 + w),
                      (x1, y1 - w), (x1 - w, y1 - w), (x1 - w, y1), (x0 + w, y1),
                      (x0 + w, y1 - w), (x0, y1 - w), (x0, y0 + w), (x0 + w, y0 + w)],
                     **style)
    else:
        raise ValueError(f'unknown shape {shape!r}; known: {SHAPES}')


def make_shapes_dataset(root: str, split: str, num_images: int,
                        classes: Sequence[str] = SHAPES[:3], shapes: Sequence[str] = None,
                        size: int = 128, seed: int = 0) -> str:
    """Write ``root/<split>/*.png`` and ``root/annotations/<split>.json`` (atomically).

    ``classes[i]`` is the name of ``shapes[i]`` (default: the shape's own name).
    Returns the annotation file's path.
    """
    shapes = tuple(shapes or classes)
    if len(shapes) != len(classes):
        raise ValueError('classes and shapes must pair up one to one')
    rng = np.random.default_rng(seed)
    os.makedirs(osp.join(root, split), exist_ok=True)
    os.makedirs(osp.join(root, 'annotations'), exist_ok=True)
    images, annotations = [], []
    for img_id in range(1, num_images + 1):
        img = Image.fromarray(_background(rng, size))
        draw = ImageDraw.Draw(img)
        for _ in range(int(rng.integers(1, 4))):
            label = int(rng.integers(len(shapes)))
            side = int(rng.integers(size // 6, size // 2.5))
            x0, y0 = (int(v) for v in rng.integers(0, size - side, size=2))
            colour = tuple(int(c) for c in rng.integers(120, 256, size=3))
            _draw(draw, shapes[label], (x0, y0, x0 + side, y0 + side), colour,
                  hollow=bool(rng.random() < 0.3))
            annotations.append(dict(id=len(annotations) + 1, image_id=img_id,
                                    category_id=label + 1, bbox=[x0, y0, side, side],
                                    area=side * side, iscrowd=0))
        file_name = f'{img_id:05d}.png'
        img.save(osp.join(root, split, file_name))
        images.append(dict(id=img_id, file_name=file_name, width=size, height=size))
    categories = [dict(id=i + 1, name=name) for i, name in enumerate(classes)]
    ann_file = osp.join(root, 'annotations', f'{split}.json')
    tmp = ann_file + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(dict(images=images, annotations=annotations, categories=categories), f)
    os.replace(tmp, ann_file)
    return ann_file


# The demo's two parts: a base vocabulary to pretrain on, and a transfer vocabulary of
# new words for the same shapes (a vocabulary transfer: zero-shot cannot know the words).
DEMO_PARTS = {
    'base': dict(classes=SHAPES, splits=dict(train=(2000, 11), val=(60, 12))),
    'transfer': dict(classes=('ball', 'box', 'cone', 'plus'),
                     splits=dict(train=(200, 21), val=(50, 22), test=(100, 23))),
}


def make_demo_data(root: str, parts=('base', 'transfer')) -> None:
    """Generate the demo's data under ``root/<part>`` where missing (deterministic)."""
    for part in parts:
        spec = DEMO_PARTS[part]
        for split, (num, seed) in spec['splits'].items():
            if not osp.isfile(osp.join(root, part, 'annotations', f'{split}.json')):
                make_shapes_dataset(osp.join(root, part), split, num, spec['classes'],
                                    SHAPES, seed=seed)


@DATASETS.register_module()
class SyntheticShapesDataset(CocoDataset):
    """One split of the demo data (``make_demo_data``), generated on first use.

    Args:
        data_root (str): the demo data folder (holding ``base/`` and ``transfer/``).
        part (str): 'base' or 'transfer'.
        split (str): 'train', 'val' or (transfer) 'test'.
    """
    COCOAPI = NameOrderedCOCO  # labels follow the classes by name (class_order.py)

    def __init__(self, data_root: str, part: str, split: str, **kwargs):
        if part not in DEMO_PARTS or split not in DEMO_PARTS[part]['splits']:
            raise KeyError(f'no demo split {part}/{split}; have '
                           f'{ {p: list(s["splits"]) for p, s in DEMO_PARTS.items()} }')
        make_demo_data(data_root, (part, ))
        kwargs.setdefault('return_classes', True)
        super().__init__(
            data_root=osp.join(data_root, part),
            metainfo=dict(classes=DEMO_PARTS[part]['classes']),
            ann_file=f'annotations/{split}.json', data_prefix=dict(img=f'{split}/'),
            **kwargs)
