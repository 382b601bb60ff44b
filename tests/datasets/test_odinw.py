import json
import os

import pytest

from mmdet_sdpt.datasets import ODinWDataset, odinw_suite


def test_suites_come_from_mmdets_configs():
    assert len(odinw_suite('odinw13')) == 13 and len(odinw_suite('odinw35')) == 35
    assert odinw_suite('odinw13')['AerialMaritimeDrone']['metainfo']['classes'] == (
        'boat', 'car', 'dock', 'jetski', 'lift')


def _coco(path, classes, with_image=True):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    images = [dict(id=1, file_name='a.jpg', width=10, height=10)] if with_image else []
    anns = [dict(id=1, image_id=1, category_id=1, bbox=[1, 1, 5, 5], area=25, iscrowd=0)]
    json.dump(dict(images=images, annotations=anns if with_image else [],
                   categories=[dict(id=i + 1, name=c) for i, c in enumerate(classes)]),
              open(path, 'w'))


@pytest.mark.parametrize('name,split,ann,prefix', [
    ('AerialMaritimeDrone', 'train', 'AerialMaritimeDrone/large/train/'
     'annotations_without_background.json', 'AerialMaritimeDrone/large/train/'),
    ('pistols', 'test', 'pistols/export/test_annotations_without_background.json',
     'pistols/export/'),
])
def test_split_layout_follows_glip(tmp_path, name, split, ann, prefix):
    classes = odinw_suite('odinw13')[name]['metainfo']['classes']
    _coco(str(tmp_path / ann), classes)
    ds = ODinWDataset(name=name, split=split, data_root=str(tmp_path) + '/', pipeline=[])
    assert ds.metainfo['classes'] == classes and len(ds) == 1
    assert ds[0]['img_path'] == str(tmp_path / prefix / 'a.jpg')
    assert ds[0]['text'] == classes  # GLIP prompts with the class names


def test_unknown_dataset_names_the_known_ones():
    with pytest.raises(KeyError, match='Raccoon'):
        ODinWDataset(name='Racoon', pipeline=[], lazy_init=True)
