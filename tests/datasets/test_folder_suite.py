"""A folder in GLIP's ODinW layout is a suite without code (mmdet_sdpt/datasets/suites.py),
and the preflight names every problem of its data before anything trains
(mmdet_sdpt/datasets/preflight.py)."""
import json
import os
import os.path as osp
import shutil

import pytest

from mmdet_sdpt.datasets import get_suite
from mmdet_sdpt.datasets.preflight import preflight
from mmdet_sdpt.datasets.suites import SuiteError, folder_suite
from tests.helpers import write_folder_suite

ANN = 'annotations_without_background.json'
TWO = {'Kitchen': (('mug', 'plate', 'spoon'), (3, 1, 1)),
       'Garage': (('wrench', 'tyre'), (2, 1, 1)),
       'Household': (('mug', 'wrench'), (1, 1, 1))}


def edit(path, change):
    coco = json.load(open(path))
    change(coco)
    json.dump(coco, open(path, 'w'))


def test_a_folder_is_a_suite_its_folders_datasets_its_files_classes(tmp_path):
    root = write_folder_suite(tmp_path / 'mine', TWO)
    edit(osp.join(root, 'Kitchen', 'train', ANN),  # the file's order, not alphabetical
         lambda c: c['categories'].reverse())
    suite = get_suite(root)
    assert suite.datasets == ('Garage', 'Household', 'Kitchen') and not suite.retention
    assert suite.entries['Kitchen']['metainfo']['classes'] == ('spoon', 'plate', 'mug')
    assert suite.root('data/elsewhere/') == root + '/'  # a folder suite is its own data
    assert preflight(root, shots=[1]) == []
    assert get_suite(root) is suite  # built once


def test_a_suite_file_names_datasets_retention_renames_and_prompts(tmp_path):
    root = write_folder_suite(tmp_path / 'mine', TWO)
    with open(osp.join(root, 'suite.yaml'), 'w') as f:
        f.write('retention: Household\n'
                'renames: {Kitchen: {mug: cup}}\n'
                'prompts: {Kitchen: {spoon: {prefix: "a ", suffix: " on a table"}}}\n')
    suite = folder_suite(root)
    assert suite.datasets == ('Garage', 'Kitchen')  # the retention dataset is not reported
    assert suite.retention == {'Garage': 'Household', 'Kitchen': 'Household'}
    assert suite.entries['Kitchen']['caption_prompt'] == {
        'mug': {'name': 'cup'}, 'spoon': {'prefix': 'a ', 'suffix': ' on a table'}}

    os.remove(osp.join(root, 'suite.yaml'))
    with open(osp.join(root, 'suite.json'), 'w') as f:
        json.dump({'datasets': ['Kitchen'], 'retain': 'Household'}, f)
    with pytest.raises(SuiteError, match=r"unknown keys \['retain'\]; a suite file knows "
                       'datasets, retention'):
        folder_suite(root)
    json.dump({'datasets': ['Kitchen', 'Attic']}, open(osp.join(root, 'suite.json'), 'w'))
    with pytest.raises(SuiteError, match=r"names \['Attic'\], which are not sub-folders"):
        folder_suite(root)


def test_an_unknown_suite_names_the_ways_to_make_one():
    with pytest.raises(SuiteError, match="unknown suite 'kitchen'; known: .*shapeworld. A "
                       'folder in GLIP\'s ODinW layout is a suite without code.*'
                       '--import MODULE'):
        get_suite('kitchen')


def test_the_preflight_names_each_problem_its_file_and_its_fix(tmp_path):
    root = write_folder_suite(tmp_path / 'mine', TWO)
    kitchen = osp.join(root, 'Kitchen')
    edit(osp.join(kitchen, 'valid', ANN),  # a class the suite prompts for, missing here
         lambda c: c.update(categories=c['categories'][:2], annotations=[
             a for a in c['annotations'] if a['category_id'] != 3]))
    edit(osp.join(kitchen, 'test', ANN),  # a category the suite does not name
         lambda c: c['categories'].append(dict(id=9, name='fork')))
    os.remove(osp.join(kitchen, 'train', 'kitchen_train_000.png'))
    shutil.rmtree(osp.join(root, 'Garage', 'valid'))
    found = [str(p) for p in preflight(root, ['Kitchen', 'Garage'], shots=[1, 3])]
    assert len(found) == 5, '\n'.join(found)
    expect = [
        (osp.join(kitchen, 'valid', ANN), "lacks the classes ['spoon'] that the suite "
         'prompts for; fix: add them'),
        (osp.join(kitchen, 'test', ANN), "has categories ['fork'] that the suite does not "
         'name; fix:'),
        (osp.join(kitchen, 'train', ANN), '1 of its 9 images are not in'),
        (osp.join(root, 'Garage', 'train', ANN), "3-shot needs 3 train images of each "
         "class; {'wrench': 2, 'tyre': 2} have fewer; fix: add images of those classes, or "
         'drop shot 3'),
        (osp.join(root, 'Garage', 'valid', ANN), 'missing; fix: put the split there; a '
         'suite is laid out as <folder>/<Name>/train/'),
    ]
    for path, text in expect:
        assert any(line.startswith(path + ': ') and text in line for line in found), \
            (path, text, found)


def test_the_preflight_says_when_the_root_is_one_level_off(tmp_path):
    from mmdet_sdpt.datasets import Suite, register_suite
    from mmdet_sdpt.datasets.suites import _FACTORIES
    root = write_folder_suite(tmp_path / 'mine', {'Kitchen': TWO['Kitchen']})
    entries = folder_suite(root).entries

    @register_suite('kitchen_in_code')
    def _kitchen():
        return Suite(name='kitchen_in_code', default_root=root + '/', entries=entries,
                     datasets=('Kitchen',))
    try:
        assert preflight('kitchen_in_code', data_root=root, shots=[3]) == []
        deep = preflight('kitchen_in_code', data_root=osp.join(root, 'Kitchen'))
        assert len(deep) == 3 and all(
            'the data root is one level too deep; pass ' + root in str(p) for p in deep), deep
        # unpacked one folder deeper: <root>/Kitchen/Kitchen/train/...
        outer = tmp_path / 'outer'
        shutil.copytree(osp.join(root, 'Kitchen'), outer / 'Kitchen' / 'Kitchen')
        shallow = preflight('kitchen_in_code', data_root=str(outer))
        assert len(shallow) == 3 and all(
            'one level too shallow; pass ' + str(outer / 'Kitchen') in str(p)
            for p in shallow), shallow
    finally:
        _FACTORIES.pop('kitchen_in_code')
        get_suite.cache_clear()
