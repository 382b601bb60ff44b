"""A deterministic grounding-detection dataset of coloured shapes, in COCO format.

No public detection images can be had in tests or CI: this writes small PNG images with
1-3 named shapes each on a noisy background, and a COCO json whose category names are the
class phrases GLIP is prompted with.
"""
import json
import os
import os.path as osp
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw

SHAPES = ('circle', 'square', 'triangle')


def _draw(draw: ImageDraw.ImageDraw, shape: str, box, colour) -> None:
    x0, y0, x1, y1 = box
    if shape == 'circle':
        draw.ellipse(box, fill=colour)
    elif shape == 'square':
        draw.rectangle(box, fill=colour)
    elif shape == 'triangle':
        draw.polygon([((x0 + x1) / 2, y0), (x1, y1), (x0, y1)], fill=colour)
    else:
        raise ValueError(f'unknown shape {shape!r}; known: {SHAPES}')


def make_shapes_dataset(root: str, split: str, num_images: int,
                        classes: Sequence[str] = SHAPES, shapes: Sequence[str] = None,
                        size: int = 128, seed: int = 0) -> str:
    """Write ``root/<split>/*.png`` and ``root/annotations/<split>.json``.

    ``classes[i]`` is the name of ``shapes[i]`` (default: the shape's own name), so the same
    pictures can be named with other words. Returns the annotation file's path.
    """
    shapes = tuple(shapes or classes)
    if len(shapes) != len(classes):
        raise ValueError('classes and shapes must pair up one to one')
    rng = np.random.default_rng(seed)
    os.makedirs(osp.join(root, split), exist_ok=True)
    os.makedirs(osp.join(root, 'annotations'), exist_ok=True)
    images, annotations = [], []
    for img_id in range(1, num_images + 1):
        background = rng.integers(0, 80, size=(size, size, 3), dtype=np.uint8)
        img = Image.fromarray(background)
        draw = ImageDraw.Draw(img)
        for _ in range(int(rng.integers(1, 4))):
            label = int(rng.integers(len(shapes)))
            side = int(rng.integers(size // 6, size // 2.5))
            x0, y0 = (int(v) for v in rng.integers(0, size - side, size=2))
            colour = tuple(int(c) for c in rng.integers(120, 256, size=3))
            _draw(draw, shapes[label], (x0, y0, x0 + side, y0 + side), colour)
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
