"""What every tuner provides, in the spirit of peft's ``inject_adapter_in_model``.

A tuner is built from config (``TUNERS`` registry) and has three duties:

- ``inject(detector)``: add its own parameters as submodules of the modules it attaches to
  and route their forward through it, leaving the base detector's parameter names intact;
- ``trainable(name)``: which parameter names train (the freeze and the checkpoint filter);
- ``describe(detector)``: what a tuned checkpoint must match to be loaded on a model.

and may answer what the infrastructure asks of it: ``prototype_sites`` (``init='prototype'``),
and, on the modules it adds (``models/tuner_module.py``), what a served bank keeps.
"""
import contextlib
import hashlib
from typing import Dict, List, Optional, Sequence

import torch
from torch import nn

from .tuner_module import is_tuner_module


class BaseTuner:
    """Base class of tuners. Subclasses set ``method`` and implement ``inject``."""

    method = ''
    # True for tuners that train base tensors (linear probe, BitFit, full fine-tuning): each
    # checkpoint is then a model of its own, never an adapter to switch on one base
    tunes_base_tensors = False

    def inject(self, detector: nn.Module) -> None:
        raise NotImplementedError

    def trainable(self, name: str) -> bool:
        """Whether the parameter (or buffer) ``name`` of the detector is tuned."""
        raise NotImplementedError

    def describe(self, detector: nn.Module) -> dict:
        """The tuner's structure, as recorded in and checked against checkpoints."""
        return dict(method=self.method)

    # paths of the modules the tuner injected (set when it is attached to a detector)
    owned_prefixes: tuple = ()

    def owns(self, name: str) -> bool:
        """Whether ``name`` is a tensor the tuner added (absent from the base detector),
        as opposed to a base tensor that trains (linear probe, BitFit, full tuning)."""
        return any(name.startswith(p + '.') for p in self.owned_prefixes)

    @staticmethod
    def switchable_modules(detector: nn.Module) -> List[nn.Module]:
        """The tuner modules with an ``enabled`` flag (SDPT and the other prompts, VPT,
        LoRA, language prompts): switched off, each computes nothing."""
        return [m for m in detector.modules() if is_tuner_module(m) and hasattr(m, 'enabled')]

    @contextlib.contextmanager
    def disabled(self, detector: nn.Module):
        """Context in which the detector computes what its base computes (zero-shot).

        Tuners that add modules switch them off (``switchable_modules``). For tuners that
        train base tensors (linear probe, BitFit, full) this holds only while those tensors
        are untouched, i.e. before tuning."""
        modules = self.switchable_modules(detector)
        before = [m.enabled for m in modules]
        for m in modules:
            m.enabled = False
        try:
            yield
        finally:
            for m, enabled in zip(modules, before):
                m.enabled = enabled

    def prototype_sites(self, detector: nn.Module, sources: Optional[Sequence[str]] = None):
        """[``PrototypeSite``] (``models/prototype_guard.py``): each token tensor that
        ``init='prototype'`` sets and the module whose input features give its k-means
        prototypes (``PrototypeInitHook``), in forward order."""
        raise NotImplementedError(
            f"init='prototype' needs {type(self).__name__}.prototype_sites(detector, sources): "
            'the token tensors to set and where their features are read (SDPT and VPT '
            'implement it).')

    def fingerprint_names(self, detector: nn.Module) -> List[str]:
        """Names of frozen tensors hashed into the base fingerprint.

        Eight frozen parameters spread evenly over the model: cheap to hash, and two
        different trainings of the same architecture share none of them.
        """
        names = [n for n, _ in detector.named_parameters() if not self.trainable(n)]
        if not names:
            return []
        step = max(1, len(names) // 8)
        return names[::step][:8] + [names[-1]]

    def base_identity(self, detector: nn.Module) -> dict:
        """Identity of the base model: its class and a hash of a few frozen tensors."""
        params = dict(detector.named_parameters())
        digest = hashlib.sha256()
        for name in sorted(set(self.fingerprint_names(detector))):
            tensor = params[name].detach().float().cpu().contiguous()
            digest.update(name.encode())
            digest.update(str(tuple(tensor.shape)).encode())
            digest.update(tensor.numpy().tobytes())
        return dict(detector=type(detector).__name__, fingerprint=digest.hexdigest()[:16])

    def adapter_state_dict(self, state_dict: Dict[str, torch.Tensor]) -> dict:
        """The tuned entries of a full state dict."""
        return {k: v for k, v in state_dict.items() if self.trainable(k)}

    def __repr__(self) -> str:
        fields = ', '.join(f'{k}={v!r}' for k, v in vars(self).items() if not k.startswith('_'))
        return f'{type(self).__name__}({fields})'
