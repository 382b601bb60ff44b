import numpy as np
import pytest

from mmdet_sdpt.datasets import ShuffleClassPrompt

NAMES = tuple(f'class{i}' for i in range(30))


def _results(labels):
    return dict(text=NAMES, gt_bboxes_labels=np.array(labels, dtype=np.int64))


@pytest.mark.parametrize('kwargs', [{}, dict(max_classes=5), dict(max_classes=2),
                                    dict(negatives=['foo', 'bar'], max_negatives=2)])
def test_each_box_keeps_its_class_name(kwargs):
    np.random.seed(0)
    labels = [3, 17, 3, 29]
    for _ in range(20):
        out = ShuffleClassPrompt(**kwargs)(_results(labels))
        assert [out['text'][i] for i in out['gt_bboxes_labels']] == [NAMES[i] for i in labels]


def test_order_changes_between_images():
    np.random.seed(0)
    orders = {ShuffleClassPrompt()(_results([0]))['text'] for _ in range(5)}
    assert len(orders) > 1


def test_max_classes_keeps_present_ones_and_fills_with_absent():
    np.random.seed(0)
    out = ShuffleClassPrompt(max_classes=5)(_results([3, 17]))
    assert len(out['text']) == 5 and {'class3', 'class17'} <= set(out['text'])
    out = ShuffleClassPrompt(max_classes=1)(_results([3, 17]))
    assert sorted(out['text']) == ['class17', 'class3']  # present classes always stay
