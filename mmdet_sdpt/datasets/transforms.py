from typing import Optional, Sequence

import numpy as np
from mmcv.transforms import BaseTransform
from mmdet.registry import TRANSFORMS


@TRANSFORMS.register_module()
class ShuffleClassPrompt(BaseTransform):
    """Shuffle the order of the class names GLIP is prompted with, per image, and remap the
    box labels; optionally add negative class names that are not in the image.

    A detector always prompted with the classes in one order learns positions, not words
    (renamed classes then keep working "zero-shot"): GLIP's and MM-GDINO's training
    pipelines shuffle, and so does ours.

    Args:
        negatives (list[str]): pool of extra class names, some of which are appended (never
            labelled) to each prompt.
        max_negatives (int): at most this many negatives per image.
    """

    def __init__(self, negatives: Optional[Sequence[str]] = None, max_negatives: int = 0):
        self.negatives = tuple(negatives or ())
        self.max_negatives = max_negatives

    def transform(self, results: dict) -> dict:
        text = list(results['text'])
        pool = [n for n in self.negatives if n not in text]
        if pool and self.max_negatives:
            count = np.random.randint(0, min(self.max_negatives, len(pool)) + 1)
            text += list(np.random.choice(pool, count, replace=False))
        order = np.random.permutation(len(text))
        new_index = np.argsort(order)  # old position -> new position
        results['text'] = tuple(text[i] for i in order)
        labels = results.get('gt_bboxes_labels')
        if labels is not None:
            results['gt_bboxes_labels'] = new_index[labels].astype(labels.dtype)
        return results
