"""What a module added by a tuner tells the infrastructure about itself.

A tuner (``BaseTuner``) adds its tensors as submodules of the modules it attaches to. Each
such module marks itself with ``is_tuner_module = True``; everything else is asked of the
module or of its tuner, never looked up by class name:

- the zero-shot switch (``BaseTuner.disabled``): a module with an ``enabled`` flag;
- the prefix cache (``mmdet_sdpt.prefix_cache``): the first module, in forward
  order, that holds a tuner module or a trainable tensor is where the frozen prefix ends;
- serving many adapters (``mmdet_sdpt.serving``): :meth:`TunerModule.bank_rows`, the rows
  one adapter adds to the module's banks (by default the tensors named in ``bank_names``),
  read back per image with ``mmdet_sdpt.models.adapter_choice.chosen``;
- prototype initialisation: the tuner's ``prototype_sites`` (``BaseTuner``).

``TunerModule`` gives these defaults; a module of one's own may also set the attributes on
any ``nn.Module`` (duck typing: the functions below read them with defaults).
"""
from typing import Dict, Optional, Tuple

from torch import Tensor, nn


def is_tuner_module(module: nn.Module) -> bool:
    """Whether ``module`` was added by a tuner (its tensors are the tuner's own)."""
    return bool(getattr(module, 'is_tuner_module', False))


class TunerModule(nn.Module):
    """Base of the modules tuners add (see the module docstring)."""

    is_tuner_module = True
    # tensor names kept per adapter when several adapters are served on one base (None:
    # this module is not served per image)
    bank_names: Optional[Tuple[str, ...]] = None

    @property
    def banked(self) -> bool:
        """Whether a served model keeps rows of this module per adapter."""
        return bool(self.bank_names)

    def bank_rows(self, state: Dict[str, Tensor], prefix: str,
                  parent: nn.Module) -> Dict[str, Tensor]:
        """{bank slot: tensor} one adapter adds to this module's banks.

        Args:
            state: the adapter's state dict (detector names).
            prefix: this module's name in the detector, with a trailing dot.
            parent: the module this one is attached to.
        """
        return default_bank_rows(self, state, prefix)


def default_bank_rows(module: nn.Module, state: Dict[str, Tensor],
                      prefix: str) -> Dict[str, Tensor]:
    """The adapter's tensors named in ``module.bank_names``, in the module's dtype."""
    dtype = next(module.parameters()).dtype
    return {n: state[prefix + n].to(dtype) for n in module.bank_names}


def banked(module: nn.Module) -> bool:
    """Whether a served model keeps per-adapter rows of tuner ``module``."""
    value = getattr(module, 'banked', None)
    return bool(getattr(module, 'bank_names', None)) if value is None else bool(value)


def bank_rows(module: nn.Module, state: Dict[str, Tensor], prefix: str,
              parent: nn.Module) -> Dict[str, Tensor]:
    """``module.bank_rows(...)``, or the default for a module that only names its
    ``bank_names``."""
    if hasattr(module, 'bank_rows'):
        return module.bank_rows(state, prefix, parent)
    return default_bank_rows(module, state, prefix)
