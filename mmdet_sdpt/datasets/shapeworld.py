"""ShapeWorld: a generated world of coloured shapes, with a base part to pretrain the tiny
bases on and a suite of target datasets in GLIP's ODinW layout (``suites.py``).

No detection images can be downloaded here or in CI. The world draws PNG images of shapes
(16 shape names, 4 colour words) on varied backgrounds, and writes COCO files whose category
names are the phrases a detector is prompted with. What a dataset tests is said by its spec
(:data:`SHAPEWORLD_DATASETS`): which shapes and colours its classes are, which unlabelled
distractors share the images, object sizes and counts, and an image style (a domain shift).

Everything is deterministic: a split is a function of its spec and seed. A split is written
once, on first use, under a lock (parallel runs may ask for it at the same moment): images
first, each written atomically, then the annotation file, atomically; the annotation file
marks a complete split.
"""
import fcntl
import hashlib
import io
import json
import math
import os
import os.path as osp
from contextlib import contextmanager
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from ..utils.atomic_io import atomic_write
from .transforms import NEGATIVE_POOLS

# The base part: shapes and colours the tiny bases are pretrained on.
BASE_SHAPES = ('circle', 'square', 'triangle', 'cross', 'star', 'diamond')
# Shapes the bases never see.
NOVEL_SHAPES = ('hexagon', 'heart', 'arrow', 'crescent', 'ring', 'semicircle', 'trapezoid',
                'octagon', 'pentagon', 'bolt')
SHAPES = BASE_SHAPES + NOVEL_SHAPES
COLOURS = {'red': (215, 45, 40), 'green': (45, 185, 65), 'blue': (55, 95, 230),
           'yellow': (230, 205, 45)}
# Words for known shapes the bases never read (the "new words" transfer).
SYNONYMS = {'circle': 'ball', 'square': 'box', 'triangle': 'cone', 'cross': 'plus',
            'star': 'spark', 'diamond': 'kite'}
# Names appended to pretraining prompts that no image holds ("captions with distractor
# words"); none of them names anything in the world.
DISTRACTOR_WORDS = ('tree', 'car', 'dog', 'house', 'cloud', 'person', 'boat', 'chair',
                    'bird', 'cup', 'lamp', 'book')
NEGATIVE_POOLS['shapeworld'] = DISTRACTOR_WORDS  # ShuffleClassPrompt(negatives='shapeworld')
ANN_NAME = 'annotations_without_background.json'  # GLIP's ODinW file name


def world_words() -> Tuple[str, ...]:
    """Every word the world's prompts can hold: what the tiny BERT's vocabulary needs."""
    return SHAPES + tuple(COLOURS) + tuple(SYNONYMS.values()) + DISTRACTOR_WORDS


# --------------------------------------------------------------------------------------
# Drawing: every shape is a mask in its box; the box annotated is the mask's tight box.

def _regular(n: int, rotation: float = -math.pi / 2, radius: float = 0.5):
    return [(0.5 + radius * math.cos(rotation + 2 * math.pi * i / n),
             0.5 + radius * math.sin(rotation + 2 * math.pi * i / n)) for i in range(n)]


def _star(points: int = 5, inner: float = 0.2):
    return [(0.5 + (0.5 if i % 2 == 0 else inner) * math.cos(-math.pi / 2 + math.pi * i / points),
             0.5 + (0.5 if i % 2 == 0 else inner) * math.sin(-math.pi / 2 + math.pi * i / points))
            for i in range(2 * points)]


def _heart():
    t = np.linspace(0, 2 * math.pi, 40, endpoint=False)
    x = 16 * np.sin(t)**3
    y = -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
    x = (x - x.min()) / (x.max() - x.min())
    y = (y - y.min()) / (y.max() - y.min())
    return list(zip(x.tolist(), y.tolist()))


_POLYGONS = {
    'square': [(0, 0), (1, 0), (1, 1), (0, 1)],
    'triangle': [(0.5, 0), (1, 1), (0, 1)],
    'cross': [(1 / 3, 0), (2 / 3, 0), (2 / 3, 1 / 3), (1, 1 / 3), (1, 2 / 3), (2 / 3, 2 / 3),
              (2 / 3, 1), (1 / 3, 1), (1 / 3, 2 / 3), (0, 2 / 3), (0, 1 / 3), (1 / 3, 1 / 3)],
    'star': _star(),
    'diamond': [(0.5, 0), (1, 0.5), (0.5, 1), (0, 0.5)],
    'hexagon': _regular(6, 0),
    'heart': _heart(),
    'arrow': [(0, 0.35), (0.55, 0.35), (0.55, 0.1), (1, 0.5), (0.55, 0.9), (0.55, 0.65),
              (0, 0.65)],
    'trapezoid': [(0.25, 0.2), (0.75, 0.2), (1, 0.8), (0, 0.8)],
    'octagon': _regular(8, math.pi / 8),
    'pentagon': _regular(5),
    'bolt': [(0.55, 0), (0.15, 0.55), (0.45, 0.55), (0.3, 1), (0.85, 0.4), (0.55, 0.4),
             (0.75, 0)],
}


def shape_mask(shape: str, side: int, rotation: float = 0.0) -> np.ndarray:
    """A boolean ``side`` x ``side`` mask of ``shape`` (rotated by ``rotation`` degrees)."""
    big = side * 4  # drawn 4x and reduced: smooth edges at small sizes
    img = Image.new('L', (big, big), 0)
    draw = ImageDraw.Draw(img)
    full = (0, 0, big - 1, big - 1)
    if shape == 'circle':
        draw.ellipse(full, fill=255)
    elif shape == 'ring':
        draw.ellipse(full, fill=255)
        draw.ellipse((big * 0.24, big * 0.24, big * 0.76, big * 0.76), fill=0)
    elif shape == 'crescent':
        draw.ellipse(full, fill=255)
        draw.ellipse((big * 0.3, -big * 0.05, big * 1.25, big * 0.9), fill=0)
    elif shape == 'semicircle':
        draw.pieslice((0, big * 0.25, big - 1, big * 1.25), 180, 360, fill=255)
    elif shape in _POLYGONS:
        draw.polygon([(x * (big - 1), y * (big - 1)) for x, y in _POLYGONS[shape]], fill=255)
    else:
        raise ValueError(f'unknown shape {shape!r}; known: {SHAPES}')
    if rotation:
        img = img.rotate(rotation, resample=Image.BILINEAR)
    return np.asarray(img.resize((side, side), Image.BILINEAR)) > 127


def _background(rng: np.random.Generator, size: Tuple[int, int], clutter: int) -> np.ndarray:
    h, w = size
    kind = rng.integers(4)
    low, high = rng.integers(0, 110, size=(2, 3))
    if kind == 0:  # dark noise
        img = rng.integers(0, 90, size=(h, w, 3)).astype(np.float64)
    elif kind == 1:  # stripes of random period and orientation
        period = int(rng.integers(6, 20))
        yy, xx = np.mgrid[:h, :w]
        phase = (xx if rng.integers(2) else yy) // (period // 2) % 2
        img = np.where(phase[..., None] == 1, low, high).astype(np.float64)
    elif kind == 2:  # a linear gradient between two dark colours
        t = (np.linspace(0, 1, w)[None, :, None] if rng.integers(2) else
             np.linspace(0, 1, h)[:, None, None])
        img = low * (1 - t) + high * t + np.zeros((h, w, 3))
    else:  # a checkerboard
        cell = int(rng.integers(8, 24))
        yy, xx = np.mgrid[:h, :w]
        img = np.where(((xx // cell + yy // cell) % 2)[..., None] == 1, low,
                       high).astype(np.float64)
    img += rng.integers(-12, 13, size=(h, w, 3))
    pil = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(pil)
    for _ in range(clutter):  # grey strokes: texture, not objects
        x0, y0 = rng.integers(0, w), rng.integers(0, h)
        x1, y1 = x0 + rng.integers(-w // 6, w // 6), y0 + rng.integers(-h // 6, h // 6)
        grey = int(rng.integers(60, 140))
        draw.line((int(x0), int(y0), int(x1), int(y1)), fill=(grey, grey, grey),
                  width=int(rng.integers(1, 3)))
    return np.asarray(pil)


def _style(img: np.ndarray, spec: dict, rng: np.random.Generator) -> np.ndarray:
    """The spec's image style: None, or 'thermal' (grey; ``invert``, ``blur`` radius and
    ``noise`` std from the spec)."""
    style = spec.get('style')
    if style is None:
        return img
    if style == 'thermal':  # grey, blurred and noisy (inverted): a sensor-domain shift
        grey = img.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
        grey = 255 - grey if spec['invert'] else grey
        pil = Image.fromarray(np.clip(grey, 0, 255).astype(np.uint8))
        grey = np.asarray(pil.filter(ImageFilter.GaussianBlur(spec['blur']))).astype(
            np.float64)
        grey += rng.normal(0, spec['noise'], size=grey.shape)
        return np.repeat(np.clip(grey, 0, 255).astype(np.uint8)[..., None], 3, axis=2)
    raise ValueError(f'unknown image style {style!r}')


def _colour(rng: np.random.Generator, name: str) -> np.ndarray:
    return np.clip(np.array(COLOURS[name]) + rng.integers(-25, 26, size=3), 0, 255)


def draw_image(rng: np.random.Generator, spec: dict):
    """One image of ``spec`` (see :data:`SHAPEWORLD_DATASETS`): ``(HxWx3 uint8, objects)``,
    each object ``(class index or None, shape, colour, [x, y, w, h])``."""
    h = w = int(spec.get('size', 128))
    img = _background(rng, (h, w), int(rng.integers(*spec.get('clutter', (0, 1)))))
    img = img.astype(np.float64)
    things = spec['things']  # class index -> (shape, colour or None)
    distractors = spec.get('distractors', ())
    lo, hi = spec.get('count', (1, 4))
    objects = []
    occupied = np.zeros((h, w), dtype=bool)
    picks = [(int(rng.integers(len(things))), None) for _ in range(int(rng.integers(lo, hi)))]
    if distractors:
        dlo, dhi = spec.get('distractor_count', (0, 3))
        picks += [(None, int(rng.integers(len(distractors))))
                  for _ in range(int(rng.integers(dlo, dhi)))]
    order = rng.permutation(len(picks))
    for i in order:
        label, d = picks[i]
        shape, colour = things[label] if label is not None else distractors[d]
        colour = colour or list(COLOURS)[int(rng.integers(len(COLOURS)))]
        side = int(rng.integers(*spec.get('side', (18, 52))))
        if side >= min(h, w):
            side = min(h, w) - 1
        mask = shape_mask(shape, side, float(rng.uniform(-15, 15)) if spec.get(
            'rotate', True) and shape not in ('circle', 'ring') else 0.0)
        hollow = shape not in ('circle', 'ring', 'crescent') and rng.random() < spec.get(
            'hollow', 0.2)
        if hollow:  # an outline: the mask minus its erosion
            width = max(2, side // 8) * 2 + 1
            inner = np.asarray(Image.fromarray(mask.astype(np.uint8) * 255).filter(
                ImageFilter.MinFilter(width))) > 127
            mask = mask & ~inner
        for _ in range(20):  # a place where the object is at most a quarter hidden
            x0, y0 = (int(v) for v in rng.integers(0, [w - side + 1, h - side + 1]))
            covered = (occupied[y0:y0 + side, x0:x0 + side] & mask).sum()
            if covered <= spec.get('overlap', 0.0) * mask.sum():
                break
        ys, xs = np.nonzero(mask)
        if len(ys) == 0:
            continue
        region = img[y0:y0 + side, x0:x0 + side]
        region[mask] = _colour(rng, colour)
        occupied[y0:y0 + side, x0:x0 + side] |= mask
        box = [x0 + int(xs.min()), y0 + int(ys.min()), int(xs.max() - xs.min() + 1),
               int(ys.max() - ys.min() + 1)]
        objects.append((label, shape, colour, box))
    img = _style(np.clip(img, 0, 255).astype(np.uint8), spec, rng)
    # objects drawn later may hide earlier ones: keep those still mostly visible
    visible = []
    for k, obj in enumerate(objects):
        later = np.zeros((h, w), dtype=bool)
        for other in objects[k + 1:]:
            x, y, bw, bh = other[3]
            later[y:y + bh, x:x + bw] = True
        x, y, bw, bh = obj[3]
        if later[y:y + bh, x:x + bw].mean() <= 0.5:
            visible.append(obj)
    return img, visible


# --------------------------------------------------------------------------------------
# The datasets. ``things``: class i is shape ``things[i][0]`` in colour ``things[i][1]``
# (None: any colour), named ``classes[i]``; ``distractors``: unlabelled (shape, colour).

def _things(shapes, colour=None):
    return tuple((s, colour) for s in shapes)


def _splits(train: int, seed: int) -> dict:
    """A suite dataset's splits: ``train`` images (enough for 10 shots of every class),
    valid 20, test 40; seeds ``seed``1, 2, 3."""
    return dict(train=(train, seed * 10 + 1), valid=(20, seed * 10 + 2),
                test=(40, seed * 10 + 3))


# ColourBinding's pairs (shape, colour): classes, and the crossed pairs left unlabelled
_BOUND = (('circle', 'red'), ('square', 'blue'), ('triangle', 'green'), ('circle', 'blue'),
          ('square', 'green'), ('triangle', 'red'))
_UNBOUND = (('circle', 'green'), ('square', 'red'), ('triangle', 'blue'))
BASE_SPEC = dict(classes=BASE_SHAPES, things=_things(BASE_SHAPES), count=(1, 5),
                 side=(16, 52), clutter=(0, 4))
SHAPEWORLD_DATASETS: Dict[str, dict] = {
    # the base part (pretraining data of the tiny bases, and their retention test)
    'BaseShapes': dict(BASE_SPEC, shift='the base vocabulary and images (retention)',
                       splits=dict(train=(3000, 101), valid=(100, 102), test=(40, 103)),
                       views=dict(colours=dict(classes=tuple(COLOURS)))),
    # the suite
    'Synonyms': dict(
        shift='new words for known shapes', classes=tuple(SYNONYMS.values()),
        things=_things(SYNONYMS), splits=_splits(200, 20)),
    'NovelShapes': dict(
        shift='shapes the base never saw, named with words it never read',
        classes=('heart', 'arrow', 'bolt', 'crescent', 'hexagon'),
        things=_things(('heart', 'arrow', 'bolt', 'crescent', 'hexagon')),
        splits=_splits(200, 21)),
    'ColourBinding': dict(
        shift='attribute binding: a colour + shape phrase, only the pair tells the class',
        # 3 shapes x 3 colours: 6 pairs are classes, the other 3 unlabelled look-alikes, so
        # every colour and every shape of a class also appears unlabelled; the shapes go by
        # their new words (a colour word alone, or a shape alone, never tells the class)
        classes=tuple(f'{c} {SYNONYMS[s]}' for s, c in _BOUND),
        things=_BOUND, distractors=_UNBOUND,
        count=(1, 4), distractor_count=(1, 3),
        splits=_splits(200, 22)),
    'Thermal': dict(
        shift='domain shift: grey, blurred, noisy images of known shapes',
        classes=('circle', 'square', 'triangle', 'cross'),
        things=_things(('circle', 'square', 'triangle', 'cross')),
        style='thermal', invert=False, blur=1.6, noise=18,
        splits=_splits(200, 23)),
    'Aerial': dict(
        shift='small objects in large images (aerial-like)', classes=('star', 'diamond',
                                                                      'cross'),
        things=_things(('star', 'diamond', 'cross')), size=192, side=(8, 16),
        count=(3, 8), clutter=(8, 22),
        splits=_splits(200, 24)),
    'ManyClasses': dict(
        shift='many classes (15, PascalVOC-like): known shapes under new words, and new shapes',
        classes=tuple(SYNONYMS.values()) + NOVEL_SHAPES[:9],
        things=_things(BASE_SHAPES + NOVEL_SHAPES[:9]),
        count=(1, 5), splits=_splits(300, 25)),
    'Crowded': dict(
        shift='crowded scenes: many small, overlapping objects',
        classes=('circle', 'square', 'triangle'),
        things=_things(('circle', 'square', 'triangle')), size=160, side=(10, 24),
        count=(12, 26), overlap=0.3, splits=_splits(200, 26)),
    'OneClass': dict(
        shift='one class among look-alike distractors', classes=('ring', ),
        things=_things(('ring', )), count=(1, 3),
        distractors=_things(('circle', 'crescent', 'octagon', 'semicircle')),
        distractor_count=(1, 4), splits=_splits(200, 27)),
}
# the suite's datasets, in order; each names its base-domain test split for retention
SHAPEWORLD_SUITE = ('Synonyms', 'NovelShapes', 'ColourBinding', 'Thermal', 'Aerial',
                    'ManyClasses', 'Crowded', 'OneClass')
RETENTION = 'BaseShapes'


@contextmanager
def _locked(path: str):
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'a') as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _png_bytes(img: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format='PNG')
    return buf.getvalue()


def write_split(folder: str, spec: dict, num_images: int, seed: int,
                info: Optional[dict] = None) -> Dict[str, str]:
    """Draw ``num_images`` images of ``spec`` into ``folder`` with their annotation file
    (``annotations_without_background.json``, categories in ``classes`` order), and one file
    per extra view (``annotations_<view>.json``: the same boxes named by colour). ``info``
    goes into each file's ``info``. Returns {view: annotation file}."""
    rng = np.random.default_rng(seed)
    os.makedirs(folder, exist_ok=True)
    images, objects = [], []
    for img_id in range(1, num_images + 1):
        img, objs = draw_image(rng, spec)
        file_name = f'{img_id:05d}.png'
        atomic_write(osp.join(folder, file_name), _png_bytes(img))
        images.append(dict(id=img_id, file_name=file_name, width=img.shape[1],
                           height=img.shape[0]))
        objects += [(img_id, ) + o for o in objs if o[0] is not None]
    views = {'': (spec['classes'], lambda o: o[1])}
    for view, vspec in spec.get('views', {}).items():
        if view == 'colours':
            views[view] = (vspec['classes'], lambda o: list(COLOURS).index(o[3]))
    written = {}
    # the default view last: its file marks the split complete
    for view, (classes, label_of) in sorted(views.items(), key=lambda kv: kv[0] == ''):
        annotations = [dict(id=i + 1, image_id=o[0], category_id=label_of(o) + 1,
                            bbox=o[4], area=o[4][2] * o[4][3], iscrowd=0)
                       for i, o in enumerate(objects)]
        categories = [dict(id=i + 1, name=n, supercategory='shapeworld')
                      for i, n in enumerate(classes)]
        name = ANN_NAME if not view else f'annotations_{view}.json'
        written[view or 'default'] = atomic_write(
            osp.join(folder, name), json.dumps(dict(
                info=dict(info or {}, generator='mmdet_sdpt.datasets.shapeworld'),
                images=images, annotations=annotations, categories=categories)))
    return written


def _scale(scale: Optional[float]) -> float:
    if scale is None:
        scale = float(os.environ.get('SHAPEWORLD_SCALE', 1.0))
    if not 0 < scale <= 10:
        raise ValueError(f'ShapeWorld scale must be in (0, 10], got {scale}')
    return scale


def spec_id(name: str) -> str:
    """A short hash of what draws dataset ``name`` (its spec, less its description): a split
    records it, so data drawn by an older spec is named rather than silently used."""
    spec = {k: v for k, v in SHAPEWORLD_DATASETS[name].items() if k != 'shift'}
    return hashlib.sha256(repr(sorted(spec.items())).encode()).hexdigest()[:12]


def _check_written(ann_file: str, name: str, scale: float) -> None:
    with open(ann_file) as f:
        info = json.load(f).get('info', {})
    written = info.get('scale', 1.0)
    if written != scale:
        raise ValueError(
            f'{ann_file} was generated at scale {written}, not {scale} '
            f'(SHAPEWORLD_SCALE): use one scale per data root, or another root')
    if info.get('spec') != spec_id(name):
        raise ValueError(
            f'{ann_file} was drawn by another version of ShapeWorld\'s {name} spec '
            f'({info.get("spec") or "unrecorded"}, now {spec_id(name)}): delete '
            f'{osp.dirname(osp.dirname(ann_file))} and it is drawn again on first use')


def make_shapeworld(root: str, names: Sequence[str] = None, splits: Sequence[str] = None,
                    scale: Optional[float] = None) -> None:
    """Write the missing splits of ShapeWorld datasets ``names`` (default: all) under
    ``root/<name>/<split>/`` (deterministic; safe to call from parallel processes).
    ``scale`` (default: env SHAPEWORLD_SCALE, else 1) multiplies the image counts: tests
    use small ones. A split records its scale; asking a root for another scale is an
    error (one scale per root)."""
    scale = _scale(scale)
    for name in names or SHAPEWORLD_DATASETS:
        if name not in SHAPEWORLD_DATASETS:
            raise KeyError(f'no ShapeWorld dataset {name!r}; known: '
                           f'{", ".join(SHAPEWORLD_DATASETS)}')
        spec = SHAPEWORLD_DATASETS[name]
        for split, (num, seed) in spec['splits'].items():
            if splits is not None and split not in splits:
                continue
            folder = osp.join(root, name, split)
            ann_file = osp.join(folder, ANN_NAME)
            if not osp.isfile(ann_file):
                with _locked(osp.join(root, name, f'.{split}.lock')):
                    if not osp.isfile(ann_file):  # else another process wrote it meanwhile
                        write_split(folder, spec, max(1, round(num * scale)), seed,
                                    info=dict(dataset=name, split=split, seed=seed,
                                              scale=scale, spec=spec_id(name)))
            _check_written(ann_file, name, scale)
