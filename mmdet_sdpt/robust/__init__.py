"""Robustness of tuned detectors: L-inf PGD attacks on detection features and losses
(``attacks``), AdvPT's adversarial training set made once, inside a run or for a copy of the
data (``adversarial_set``), an mmengine test hook that scores a model on attacked images
(``hook``); ``tools/make_adversarial.py`` writes an attacked copy of a dataset and
``tools/robust_test.py`` scores a checkpoint."""
from .attacks import detection_loss, feature_kl, pgd  # noqa: F401
from .hook import AdversarialTestHook  # noqa: F401
from .adversarial_set import AdversarialTrainingSetHook, attack_dataset  # noqa: F401
