"""``AdversarialTestHook``: the test loop scores the model on attacked images, each batch
attacked as it comes (mmengine's ``TestLoop`` and the config's evaluator as they are).

attack:
    'adaptive': PGD on the detection loss through the model being tested, its tuned prompts
        in the loop (white box, end to end);
    'transfer': the same PGD against the zero-shot base, its images given to the model;
    'feature': AdvPT's prompt-free feature attack against the base's backbone+neck.
The base is built from the config with ``zero_shot=True`` (its own base checkpoint). The
prefix cache is switched off for the test: a cache keyed by image would give an attacked
image its clean features.
"""
import torch
from mmdet.registry import HOOKS
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from .attacks import detection_loss, feature_kl, frozen_base, pgd

ATTACKS = ('adaptive', 'transfer', 'feature')


@HOOKS.register_module()
class AdversarialTestHook(Hook):
    priority = 'VERY_LOW'

    def __init__(self, attack: str = 'adaptive', eps: float = 8.0, steps: int = 10,
                 seed: int = 0):
        if attack not in ATTACKS:
            raise ValueError(f'attack={attack!r}: one of {ATTACKS}')
        self.attack, self.eps, self.steps, self.seed = attack, float(eps), int(steps), seed
        self._base = None
        self._saved = None  # the model's own test_step while the hook's replaces it

    def _model(self, runner):
        return runner.model.module if is_model_wrapper(runner.model) else runner.model

    def before_test(self, runner) -> None:
        model = self._model(runner)
        if runner.cfg.model.get('prefix_cache') is not None:
            raise RuntimeError('an adversarial test needs model.prefix_cache=None (a cache '
                               'keyed by image gives an attacked image its clean features): '
                               'tools/robust_test.py sets it')
        if self.attack != 'adaptive' and self.eps > 0:
            self._base = frozen_base(runner.cfg.model, next(model.parameters()).device)
        generator = torch.Generator().manual_seed(self.seed)
        hook = self

        def test_step(data):
            data = model.data_preprocessor(data, False)
            inputs, samples = data['inputs'], data['data_samples']
            if hook.eps > 0:
                attacker = model if hook.attack == 'adaptive' else hook._base
                with torch.enable_grad():
                    objective = (feature_kl(attacker, inputs) if hook.attack == 'feature' else
                                 detection_loss(attacker, samples))
                    inputs = pgd(attacker, inputs, samples, objective, hook.eps, hook.steps,
                                 generator=generator)
            return model._run_forward(dict(inputs=inputs, data_samples=samples),
                                      mode='predict')

        self._saved = model.test_step
        model.test_step = test_step

    def after_test(self, runner) -> None:
        model = self._model(runner)
        if self._saved is not None:
            model.test_step = self._saved
            self._saved = None
        self._base = None
