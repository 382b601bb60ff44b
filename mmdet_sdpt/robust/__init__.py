"""Robustness of tuned detectors: L-inf PGD attacks on detection features and losses
(``attacks``), an mmengine test hook that scores a model on attacked images (``hook``);
AdvPT's adversarial images are made by ``tools/make_adversarial.py`` and scored by
``tools/robust_test.py``."""
from .attacks import detection_loss, feature_kl, pgd  # noqa: F401
from .hook import AdversarialTestHook  # noqa: F401
