"""Prompt tokens that wait for their prototype initialisation (``init='prototype'``).

SPT-style initialisation (prototypes of the downstream tokens, see
``mmdet_sdpt/engine/prototype_init.py``) needs training images, so it cannot happen when the
model is built: the tokens get placeholder values there and ``PrototypeInitHook`` replaces
them before the first iteration. Until then the tuner carries ``needs_prototype_init=True``:

- a training-mode forward through the prompts with the flag still set stops with an error
  naming the hook (a config that asks for prototypes but forgot the hook would otherwise train from
  the placeholders without a word);
- loading a state dict that carries every tuned tensor (``--resume``, ``load_from`` an
  adapter, ``load_adapter``) clears it: the tokens then come from that checkpoint.

Where the prototypes are read is the tuner's to say: its ``prototype_sites(detector,
sources)`` returns one :class:`PrototypeSite` per token tensor.
"""
import functools
from typing import Callable, List, Optional, Tuple

from torch import Tensor, nn

from .tuner_module import is_tuner_module

# (tokens (B, L, c), valid (B, L) bool or None, map applied to the kept rows or None)
Stream = Tuple[Tensor, Optional[Tensor], Optional[Callable[[Tensor], Tensor]]]


class PrototypeSite:
    """One tuned token tensor and where its prototypes are read.

    Args:
        name (str): the token tensor's parameter name in the detector.
        tokens (nn.Parameter): (K, c), receives the centroids.
        module (nn.Module): the module whose forward pre-hook sees the features.
        streams (callable): ``(args, kwargs) -> [Stream]``, the features from that call.
    """

    def __init__(self, name: str, tokens: nn.Parameter, module: nn.Module,
                 streams: Callable[[tuple, dict], List[Stream]]):
        self.name, self.tokens, self.module, self.streams = name, tokens, module, streams


def await_prototype_init(tuner, detector: nn.Module) -> None:
    """Mark ``tuner``'s tokens in ``detector`` as waiting for prototypes (its ``inject``,
    after the prompt modules are attached)."""
    tuner.needs_prototype_init = True
    # on the modules holding the prompts, not on the detector: its loss() is often called
    # directly (not through __call__), and these run in every forward that uses prompts
    for module in detector.modules():
        prompts = [c for c in module.children() if is_tuner_module(c)]
        if prompts:
            module.register_forward_pre_hook(
                functools.partial(_refuse_training_on_placeholders, tuner, prompts[0]))
    detector.register_load_state_dict_post_hook(_loaded_tokens_are_final)


def needs_prototype_init(detector: nn.Module) -> bool:
    return bool(getattr(getattr(detector, 'tuner', None), 'needs_prototype_init', False))


def _refuse_training_on_placeholders(tuner, prompts: nn.Module, module: nn.Module,
                                     args) -> None:
    if prompts.training and tuner.needs_prototype_init:
        raise RuntimeError(
            f"{type(tuner).__name__}(init='prototype') trains, but its tokens still hold "
            "placeholders: add dict(type='PrototypeInitHook') to custom_hooks (it sets them "
            'from k-means prototypes of the first training images before the first '
            'iteration), call mmdet_sdpt.engine.prototype_init.prototype_init(model, batches) '
            "in a loop of your own, or choose another init (e.g. init='uniform').")


def _loaded_tokens_are_final(detector: nn.Module, incompatible_keys) -> None:
    tuner = getattr(detector, 'tuner', None)
    if tuner is None:
        return
    tuned = [n for n, _ in detector.named_parameters() if tuner.owns(n)]
    missing = set(incompatible_keys.missing_keys)
    if tuned and not missing.intersection(tuned):
        tuner.needs_prototype_init = False
