"""tools/fewshot_sample.py: GLIP's greedy K-shot sampling on a generated COCO file."""
import importlib.util
import json
import os
import os.path as osp
import subprocess
import sys
from collections import defaultdict

import pytest

from mmdet_sdpt.datasets import make_shapes_dataset
from tests.helpers import ROOT

TOOL = osp.join(ROOT, 'tools', 'fewshot_sample.py')
SHOTS, SEEDS = (1, 3, 5), (3, 30, 300)


def _tool():
    spec = importlib.util.spec_from_file_location('fewshot_sample', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def source(tmp_path_factory):
    root = tmp_path_factory.mktemp('fewshot')
    return make_shapes_dataset(str(root / 'shapes'), 'train', 40, seed=5)


def _images_per_class(coco):
    per_class = defaultdict(set)
    for ann in coco['annotations']:
        per_class[ann['category_id']].add(ann['image_id'])
    return per_class


@pytest.fixture(scope='module')
def written(source, tmp_path_factory):
    out_dir = str(tmp_path_factory.mktemp('fewshot_out'))
    args = [source, '--shots', *map(str, SHOTS), '--seeds', *map(str, SEEDS),
            '--out-dir', out_dir]
    res = subprocess.run([sys.executable, TOOL, *args], capture_output=True, text=True,
                         cwd=ROOT, env=dict(os.environ, PYTHONWARNINGS='ignore'))
    assert res.returncode == 0, res.stderr[-2000:]
    return out_dir, {
        (k, s): json.load(open(osp.join(out_dir, f'fewshot_train_shot{k}_seed{s}.json')))
        for k in SHOTS for s in SEEDS}


def test_every_class_has_k_images_and_the_split_is_a_subset(source, written):
    src = json.load(open(source))
    src_images = {i['id']: i for i in src['images']}
    src_anns = {a['id']: a for a in src['annotations']}
    for (shot, _), split in written[1].items():
        per_class = _images_per_class(split)
        assert {c['id'] for c in split['categories']} == set(per_class)
        assert all(len(imgs) >= shot for imgs in per_class.values())
        assert all(src_images[i['id']] == i for i in split['images'])
        assert all(src_anns[a['id']] == a for a in split['annotations'])
        taken = {i['id'] for i in split['images']}
        # every annotation of a taken image is kept, none of another image
        assert [a for a in src['annotations'] if a['image_id'] in taken] == split['annotations']
        assert split['categories'] == src['categories']


def test_greedy_takes_only_images_a_class_still_needed(written):
    for (shot, _), split in written[1].items():
        per_class = _images_per_class(split)
        # greedy: some class sits at exactly K (the sampling stops once all reach K) and
        # fewer images than a blind K-per-class draw could need
        assert min(len(v) for v in per_class.values()) == shot
        assert len(split['images']) <= shot * len(per_class)


def test_same_seed_same_split_other_seeds_other_picks(source, written, tmp_path):
    out_dir, splits = written
    assert _tool().main([source, '--shots', '3', '--seeds', '30', '--out-dir', str(tmp_path)]) == 0
    again = json.load(open(tmp_path / 'fewshot_train_shot3_seed30.json'))
    assert again == splits[3, 30]
    for shot in SHOTS:
        picks = {frozenset(i['id'] for i in splits[shot, s]['images']) for s in SEEDS}
        assert len(picks) == len(SEEDS), f'{shot}-shot: seeds {SEEDS} picked the same images'


def test_default_output_is_beside_the_source_and_written_atomically(source, monkeypatch):
    replaced = []
    real_replace = os.replace

    def spy(src, dst):
        replaced.append((src, dst))
        assert osp.dirname(src) == osp.dirname(dst) and osp.getsize(src) > 0
        real_replace(src, dst)

    monkeypatch.setattr(os, 'replace', spy)
    assert _tool().main([source, '--shots', '1', '--seeds', '3', '30']) == 0
    folder = osp.dirname(source)
    expected = [osp.join(folder, f'fewshot_train_shot1_seed{s}.json') for s in (3, 30)]
    assert [dst for _, dst in replaced] == expected
    assert all(not osp.exists(tmp) for tmp, _ in replaced)
    assert not [f for f in os.listdir(folder) if 'tmp' in f]


def test_a_class_with_fewer_than_k_images_is_named(source, tmp_path, capsys):
    coco = json.load(open(source))
    coco['categories'].append(dict(id=9, name='hexagon'))
    first = coco['images'][0]['id']
    coco['annotations'].append(dict(id=10_000, image_id=first, category_id=9,
                                    bbox=[1, 1, 5, 5], area=25, iscrowd=0))
    path = tmp_path / 'rare.json'
    path.write_text(json.dumps(coco))
    assert _tool().main([str(path), '--shots', '1', '3', '--seeds', '3']) == 1
    err = capsys.readouterr().err
    assert "'hexagon' (1 image)" in err and 'fewer than 3' in err
    assert 'circle' not in err  # only the short class is named
    assert not (tmp_path / 'fewshot_train_shot3_seed3.json').exists()
