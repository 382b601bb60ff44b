"""The suite registry and the generated ShapeWorld suite: layout, determinism, class order,
concurrent first use, and the same ODinW classes reading it."""
import json
import multiprocessing as mp
import os
import os.path as osp

import numpy as np
import pytest

from mmdet_sdpt.datasets import get_suite, odinw_suite, register_suite, suite_names
from mmdet_sdpt.datasets.shapeworld import (ANN_NAME, COLOURS, SHAPES, SHAPEWORLD_DATASETS,
                                            make_shapeworld, shape_mask, world_words)


def test_registry_has_mmdet_odinw_and_shapeworld():
    assert {'odinw13', 'odinw35', 'shapeworld'} <= set(suite_names())
    assert len(odinw_suite('odinw13')) == 13
    sw = get_suite('shapeworld')
    assert len(sw.datasets) >= 8 and set(sw.datasets) <= set(sw.entries)
    assert all(sw.retention[d] == 'BaseShapes' for d in sw.datasets)
    assert all(sw.description[d] for d in sw.datasets)
    with pytest.raises(ValueError, match='unknown suite .nope.; known: .*shapeworld'):
        get_suite('nope')
    with pytest.raises(KeyError, match='already registered'):
        register_suite('odinw13')(lambda: None)


def test_the_world_has_enough_concepts_for_transfers_to_differ():
    assert len(SHAPES) >= 8 and len(COLOURS) >= 4
    classes = {d: SHAPEWORLD_DATASETS[d]['classes'] for d in get_suite('shapeworld').datasets}
    assert max(len(c) for c in classes.values()) >= 15  # a many-class dataset
    assert min(len(c) for c in classes.values()) == 1  # a one-class dataset
    assert any(' ' in name for c in classes.values() for name in c)  # colour + shape phrases
    # every prompt word is a whole word of the ShapeWorld BERT (never [UNK] or pieces)
    vocab = set(open(osp.join(osp.dirname(__file__), '..', '..', 'assets', 'shapeworld',
                              'tiny_bert', 'vocab.txt')).read().split())
    assert set(world_words()) <= vocab
    for shape in SHAPES:  # every shape draws, and differently from every other
        assert shape_mask(shape, 32).sum() > 50
    masks = {s: shape_mask(s, 32) for s in SHAPES}
    assert len({m.tobytes() for m in masks.values()}) == len(SHAPES)


def test_splits_are_written_in_glip_layout_deterministically(tmp_path):
    a, b = str(tmp_path / 'a'), str(tmp_path / 'b')
    for root in (a, b):
        make_shapeworld(root, ['ColourBinding', 'Aerial'], ['valid'], scale=0.1)
    for name in ('ColourBinding', 'Aerial'):
        fa, fb = (osp.join(r, name, 'valid', ANN_NAME) for r in (a, b))
        coco = json.load(open(fa))
        assert open(fa).read() == open(fb).read()
        # categories in the classes' order (the prompt's order), ids 1..N
        assert [c['name'] for c in coco['categories']] == list(
            SHAPEWORLD_DATASETS[name]['classes'])
        assert [c['id'] for c in coco['categories']] == list(range(1, len(
            coco['categories']) + 1))
        assert coco['info']['scale'] == 0.1 and coco['annotations']
        for img in coco['images']:
            assert open(osp.join(a, name, 'valid', img['file_name']), 'rb').read() == open(
                osp.join(b, name, 'valid', img['file_name']), 'rb').read()
        sizes = [ann['bbox'][2] for ann in coco['annotations']]
        if name == 'Aerial':  # small objects in large images
            assert coco['images'][0]['width'] == 192 and max(sizes) < 20
    with pytest.raises(ValueError, match='generated at scale 0.1, not 1.0'):
        make_shapeworld(a, ['Aerial'], ['valid'], scale=1.0)


def test_data_drawn_by_an_older_spec_is_named_not_used(tmp_path, monkeypatch):
    root = str(tmp_path / 'sw')
    make_shapeworld(root, ['Aerial'], ['valid'], scale=0.1)
    make_shapeworld(root, ['Aerial'], ['valid'], scale=0.1)  # the same spec: used as is
    monkeypatch.setitem(SHAPEWORLD_DATASETS, 'Aerial',
                        dict(SHAPEWORLD_DATASETS['Aerial'], size=256))  # the spec changes
    with pytest.raises(ValueError, match=r'another version of .*Aerial spec.*delete .*Aerial'):
        make_shapeworld(root, ['Aerial'], ['valid'], scale=0.1)
    monkeypatch.setitem(SHAPEWORLD_DATASETS, 'Aerial',  # a new description draws the same
                        dict(SHAPEWORLD_DATASETS['Aerial'], size=192, shift='reworded'))
    make_shapeworld(root, ['Aerial'], ['valid'], scale=0.1)


def _generate(root):
    make_shapeworld(root, ['OneClass'], ['valid'], scale=0.2)


def test_parallel_first_use_writes_each_split_once(tmp_path):
    root = str(tmp_path / 'sw')
    ctx = mp.get_context('spawn')
    procs = [ctx.Process(target=_generate, args=(root, )) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    folder = osp.join(root, 'OneClass', 'valid')
    coco = json.load(open(osp.join(folder, ANN_NAME)))
    assert sorted(os.listdir(folder)) == sorted([ANN_NAME] + [
        i['file_name'] for i in coco['images']])  # no temporaries, nothing twice


def test_odinw_classes_read_the_generated_suite(tmp_path, monkeypatch):
    import mmdet_sdpt  # noqa: F401
    from mmdet_sdpt.datasets import ODinWDataset
    from mmdet_sdpt.datasets.fewshot import ODinWFewShotDataset
    from mmdet_sdpt.evaluation import ODinWCocoMetric
    monkeypatch.setenv('SHAPEWORLD_SCALE', '0.1')
    root = str(tmp_path / 'sw')
    ds = ODinWDataset(name='Thermal', split='test', suite='shapeworld', data_root=root,
                      test_mode=True, pipeline=[])
    assert ds.metainfo['classes'] == SHAPEWORLD_DATASETS['Thermal']['classes'] and len(ds)
    from PIL import Image
    pixels = np.asarray(Image.open(ds[0]['img_path']))
    assert (pixels[..., 0] == pixels[..., 1]).all()  # the thermal style: grey
    metric = ODinWCocoMetric(name='Thermal', split='test', suite='shapeworld', data_root=root)
    assert sorted(metric._coco_api.imgs) == sorted(i['id'] for i in json.load(open(
        osp.join(root, 'Thermal', 'test', ANN_NAME)))['images'])
    # a K-shot split is sampled on first use (GLIP's sampler), beside the train file
    few = ODinWFewShotDataset(name='Synonyms', shot=1, seed=3, suite='shapeworld',
                              data_root=root, pipeline=[])
    path = osp.join(root, 'Synonyms', 'train', 'fewshot_train_shot1_seed3.json')
    assert osp.isfile(path) and len(few) == len(json.load(open(path))['images'])
    full = ODinWFewShotDataset(name='Synonyms', shot=0, seed=3, suite='shapeworld',
                               data_root=root, pipeline=[])
    assert len(full) > len(few)  # shot 0: the whole train split
    # the retention entry and the colour view of the base part
    base = ODinWDataset(name='BaseColours', split='valid', suite='shapeworld', data_root=root,
                        test_mode=True, pipeline=[])
    assert base.metainfo['classes'] == tuple(COLOURS)


def test_a_lazy_build_writes_no_data(tmp_path, monkeypatch):
    """Serving reads the classes of a config's test set with lazy_init: nothing is written
    until the data are loaded."""
    import mmdet_sdpt  # noqa: F401
    from mmdet_sdpt.datasets import ODinWDataset
    monkeypatch.setenv('SHAPEWORLD_SCALE', '0.1')
    root = tmp_path / 'sw'
    ds = ODinWDataset(name='Thermal', split='test', suite='shapeworld', data_root=str(root),
                      test_mode=True, pipeline=[], lazy_init=True)
    assert ds.metainfo['classes'] == SHAPEWORLD_DATASETS['Thermal']['classes']
    assert not root.exists()
    ds.full_init()
    assert len(ds) and osp.isfile(osp.join(str(root), 'Thermal', 'test', ANN_NAME))
