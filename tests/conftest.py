"""Shared fixtures: a tiny GLIP from random weights, a local tiny BERT, generated data.

Nothing here touches the network: the BERT is written to a temp dir with a generated
vocabulary, the images are drawn by mmdet_sdpt.datasets.make_shapes_dataset.
"""
import copy
import os
import os.path as osp
import warnings

import pytest
import torch

warnings.filterwarnings('ignore')
ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
TINY_CONFIG = osp.join(ROOT, 'configs', 'sdpt', 'tiny-glip_shapes.py')
TINY_GDINO_CONFIG = osp.join(ROOT, 'configs', 'sdpt', 'tiny-gdino_shapes.py')
CLASSES = ('circle', 'square', 'triangle')


@pytest.fixture(scope='session')
def tiny_env(tmp_path_factory):
    """Environment of the tiny config: a BERT dir and a generated shapes dataset."""
    from mmdet_sdpt.datasets import make_shapes_dataset
    from mmdet_sdpt.utils import make_tiny_bert
    root = tmp_path_factory.mktemp('tiny')
    env = dict(TINY_BERT_DIR=make_tiny_bert(str(root / 'bert'), [' '.join(CLASSES)]),
               SHAPES_ROOT=str(root / 'shapes'))
    make_shapes_dataset(env['SHAPES_ROOT'], 'train', 8, seed=1)
    make_shapes_dataset(env['SHAPES_ROOT'], 'val', 4, seed=2)
    os.environ.update(env)
    return env


@pytest.fixture(scope='session')
def tiny_cfg(tiny_env):
    import mmdet_sdpt  # noqa: F401
    from mmdet.utils import register_all_modules
    from mmengine.config import Config
    register_all_modules()
    return Config.fromfile(TINY_CONFIG)


def _builder(model_cfg):
    from mmdet.registry import MODELS

    def build(seed=0, tuner=None, **overrides):
        cfg = copy.deepcopy(model_cfg)
        if tuner is not None:
            cfg.tuner.update(tuner)
        cfg.update(overrides)
        torch.manual_seed(seed)
        return MODELS.build(cfg).eval()

    return build


@pytest.fixture(scope='session')
def build_tiny(tiny_cfg):
    """build_tiny(seed=0, tuner=None, **model_overrides) -> a tuned tiny GLIP, eval mode;
    ``tuner`` is merged into the config's SDPT settings."""
    return _builder(tiny_cfg.model)


@pytest.fixture(scope='session')
def tiny_gdino_cfg(tiny_env):
    from mmengine.config import Config
    return Config.fromfile(TINY_GDINO_CONFIG)


@pytest.fixture(scope='session')
def build_tiny_gdino(tiny_gdino_cfg):
    """Like build_tiny, for the tiny Grounding DINO."""
    return _builder(tiny_gdino_cfg.model)


@pytest.fixture(scope='session')
def base_checkpoint(build_tiny, tmp_path_factory):
    """A full base checkpoint of the tiny GLIP (random weights, seed 0), prompts excluded."""
    model = build_tiny(seed=0)
    state = {k: v for k, v in model.state_dict().items() if '.sdpt.' not in k}
    path = str(tmp_path_factory.mktemp('base') / 'tiny_glip_base.pth')
    torch.save({'state_dict': state, 'meta': {}}, path)
    return path


@pytest.fixture(scope='session')
def gdino_base_checkpoint(build_tiny_gdino, tmp_path_factory):
    """A full base checkpoint of the tiny Grounding DINO (random weights, seed 0)."""
    model = build_tiny_gdino(seed=0)
    state = {k: v for k, v in model.state_dict().items() if '.sdpt.' not in k}
    path = str(tmp_path_factory.mktemp('gdino_base') / 'tiny_gdino_base.pth')
    torch.save({'state_dict': state, 'meta': {}}, path)
    return path


def make_batch(num_images=2, size=128, seed=0, text=CLASSES, shapes=None):
    """(inputs, data_samples) as GLIP's loss/predict expect them, with ground truth.
    ``shapes``: each image's (h, w) inside the padded ``size`` x ``size`` batch."""
    from mmdet.structures import DetDataSample
    from mmengine.structures import InstanceData
    g = torch.Generator().manual_seed(seed)
    inputs = torch.rand(num_images, 3, size, size, generator=g) * 255
    shapes = shapes or [(size, size)] * num_images
    samples = []
    for i in range(num_images):
        h, w = shapes[i]
        inputs[i, :, h:, :] = 0
        inputs[i, :, :, w:] = 0
        s = DetDataSample(metainfo=dict(
            img_shape=(h, w), ori_shape=(h, w), pad_shape=(size, size),
            batch_input_shape=(size, size), scale_factor=(1.0, 1.0), text=text,
            custom_entities=True))
        s.gt_instances = InstanceData(bboxes=torch.tensor([[10.0, 12.0, 70.0, 80.0]]),
                                      labels=torch.tensor([i % len(text)]))
        samples.append(s)
    return inputs, samples


def head_outputs(model, inputs, samples):
    """GLIP's raw head outputs (cls logits, boxes, centerness per level), in one list."""
    texts = [s.text for s in samples]
    tokenized, caption, _, _ = model.get_tokens_and_prompts(texts[0], True)
    lang = model.language_model([caption] * len(samples))
    feats = model.extract_feat(inputs)
    outs = model.bbox_head(feats, lang)
    return [t for level in outs for t in level]


def total_loss(model, inputs, samples):
    losses = model.loss(inputs, copy.deepcopy(samples))
    return sum(v for v in losses.values() if isinstance(v, torch.Tensor))


def write_folder_suite(root, datasets=None, size=96, seed=0):
    """A user's data in GLIP's ODinW layout, as a newcomer writes it (nothing generated by
    the package): ``root/<Name>/{train,valid,test}/annotations_without_background.json``
    plus PNGs of filled shapes, categories in the file's id order. ``datasets``: {name:
    (classes, (train, valid, test) images per class)}; default a 3-class Kitchen."""
    import json
    import random

    from PIL import Image, ImageDraw
    datasets = datasets or {'Kitchen': (('mug', 'plate', 'spoon'), (3, 1, 1))}
    rng = random.Random(seed)
    for name, (classes, counts) in datasets.items():
        for split, per_class in zip(('train', 'valid', 'test'), counts):
            folder = osp.join(str(root), name, split)
            os.makedirs(folder, exist_ok=True)
            images, anns = [], []
            for i in range(per_class * len(classes)):
                label = i % len(classes)
                img = Image.new('RGB', (size, size), (rng.randrange(40, 90),) * 3)
                x, y = rng.randrange(4, size // 2), rng.randrange(4, size // 2)
                w = rng.randrange(size // 4, size // 2 - 2)
                shape = [x, y, x + w, y + w]
                colour = ((230, 60, 60), (60, 200, 60), (70, 90, 230))[label % 3]
                (ImageDraw.Draw(img).ellipse if label % 3 == 0 else
                 ImageDraw.Draw(img).rectangle)(shape, fill=colour)
                file_name = f'{name.lower()}_{split}_{i:03d}.png'
                img.save(osp.join(folder, file_name))
                images.append(dict(id=i + 1, file_name=file_name, width=size, height=size))
                anns.append(dict(id=i + 1, image_id=i + 1, category_id=label + 1,
                                 bbox=[x, y, w, w], area=w * w, iscrowd=0))
            with open(osp.join(folder, 'annotations_without_background.json'), 'w') as f:
                json.dump(dict(images=images, annotations=anns,
                               categories=[dict(id=k + 1, name=c, supercategory='none')
                                           for k, c in enumerate(classes)]), f)
    return str(root)
