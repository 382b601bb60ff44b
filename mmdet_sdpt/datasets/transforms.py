from typing import Dict, Optional, Sequence, Tuple, Union

import numpy as np
from mmcv.transforms import BaseTransform
from mmdet.registry import TRANSFORMS


# Named pools of negative names, so a config can say ``negatives='shapeworld'`` (configs
# cannot import them); generated worlds register theirs here.
NEGATIVE_POOLS: Dict[str, Tuple[str, ...]] = {}


@TRANSFORMS.register_module()
class ShuffleClassPrompt(BaseTransform):
    """Shuffle the order of the class names GLIP is prompted with, per image, and remap the
    box labels; optionally keep only some of the absent classes, or add negative names.

    A detector always prompted with the classes in one order learns positions, not words
    (renamed classes then keep working "zero-shot"): GLIP's and MM-GDINO's training
    pipelines shuffle, and so does ours. With many classes (LVIS: 1,203 names, far past the
    256 tokens GLIP's BERT reads) ``max_classes`` keeps every class present in the image
    plus randomly chosen absent ones up to that many names.

    Args:
        max_classes (int, optional): at most this many names per prompt (the image's own
            classes are always kept).
        negatives (list[str] | str): pool of extra class names, some of which are appended
            (never labelled) to each prompt, or the name of a pool in ``NEGATIVE_POOLS``
            (e.g. 'shapeworld': its distractor words).
        max_negatives (int): at most this many of them per image.
    """

    def __init__(self, max_classes: Optional[int] = None,
                 negatives: Union[Sequence[str], str, None] = None, max_negatives: int = 0):
        self.max_classes = max_classes
        if isinstance(negatives, str):
            if negatives not in NEGATIVE_POOLS:
                raise KeyError(f'no negative pool {negatives!r}; known: '
                               f'{sorted(NEGATIVE_POOLS)} (or pass a list of names)')
            negatives = NEGATIVE_POOLS[negatives]
        self.negatives = tuple(negatives or ())
        self.max_negatives = max_negatives

    def transform(self, results: dict) -> dict:
        text = list(results['text'])
        labels = results.get('gt_bboxes_labels')
        keep = list(range(len(text)))
        if self.max_classes is not None and len(text) > self.max_classes:
            present = sorted(set(labels.tolist())) if labels is not None else []
            absent = np.setdiff1d(np.arange(len(text)), present)
            room = max(self.max_classes - len(present), 0)
            keep = present + list(np.random.choice(absent, min(room, len(absent)),
                                                   replace=False))
        names = [text[i] for i in keep]
        pool = [n for n in self.negatives if n not in names]
        if pool and self.max_negatives:
            count = np.random.randint(0, min(self.max_negatives, len(pool)) + 1)
            names += list(np.random.choice(pool, count, replace=False))
        order = np.random.permutation(len(names))
        results['text'] = tuple(names[i] for i in order)
        if labels is not None:
            # old label -> its position in ``keep`` -> its position after the shuffle
            new_position = np.empty(len(names), dtype=np.int64)
            new_position[order] = np.arange(len(names))
            kept_at = {old: new_position[i] for i, old in enumerate(keep)}
            results['gt_bboxes_labels'] = np.array(
                [kept_at[int(label)] for label in labels], dtype=labels.dtype)
        return results
