"""Many adapters on one frozen base: loaded once, chosen per call and per image.

``AdapterBank(model)`` loads adapter checkpoints (adapter-only or full ones of
``tools/train.py``) onto a built tuned detector, each checked against the model first
(``check_adapter_checkpoint``: tuner, K, layers, base fingerprint, finite values). The base
weights and the model's own tuner tensors are never written: each servable tuner module
keeps a *bank* (``module.bank[name]``: one row per adapter) beside its tensors, and a
forward inside ``bank.choice(names)`` gathers every image's rows (``models.adapter_choice``).

What a bank holds:

- prompt modules whose prompts depend on their own tensors only (SDPT on any layers and
  either mask, its ablation without the inverse projection, MaPLe, UPT, MuDPT, PRE): the
  prompts each adapter appends to the image and text streams, computed once when the
  adapter loads (a copy of the module with the adapter's tensors), so a served forward
  gathers them and computes no projection;
- language_prompt_v2's text offset: the adapter's offset itself;
- Self-TPT's text context: each image's caption (GLIP encodes one per image) gets its
  adapter's context spliced into BERT's input;
- LoRA's A and B of every adapted Linear (fusion, Swin, BERT): a served forward applies
  each image's own low-rank update (batched matrix products) to the base Linear's output;
- VPT's tokens of every Swin block: each image's windows attend to its own prompts;
- SEP's tokens and token-fusion weights: its prompts depend on the image, so a served
  forward computes each image's from that image's adapter tensors (batched products).

Threads: the choice is kept per thread, and the bank serialises calls of the model's
tokenizers (``ThreadSafeTokenizer``): a fast tokenizer sets its padding and truncation on
itself on every call, so two requests tokenizing at once fail with "RuntimeError: Already
borrowed" (huggingface/tokenizers#537). Only tokenizing waits; the forwards run at once.

Refused at ``AdapterBank(model)``, with the reason: linear probe, BitFit and full
fine-tuning tune base tensors (switching them rewrites the base: serve their merged
checkpoints as separate models); a tuner module that keeps nothing per adapter (it names no
``bank_names`` and answers no ``bank_rows``: ``models/tuner_module.py``).
"""
import threading
from typing import Dict, List, Optional, Sequence, Union

import torch
from torch import Tensor, nn

from .adapter import check_adapter_checkpoint, get_tuner, unwrap
from .checkpoint import load_checkpoint_file
from .constants import ZERO_SHOT
from .models.adapter_choice import adapter_choice
from .models.tuner_module import bank_rows, banked, is_tuner_module


class NotServableError(TypeError):
    """The model's tuner cannot switch adapters per call without touching the base."""


class ThreadSafeTokenizer:
    """A Hugging Face tokenizer whose calls run one at a time (see the module's docstring);
    everything else is the tokenizer's own."""

    def __init__(self, tokenizer) -> None:
        self.__dict__.update(_tokenizer=tokenizer, _lock=threading.RLock())

    def __call__(self, *args, **kwargs):
        with self._lock:
            return self._tokenizer(*args, **kwargs)

    def __getattr__(self, name: str):
        value = getattr(self._tokenizer, name)
        if not callable(value):
            return value

        def locked(*args, **kwargs):
            with self._lock:
                return value(*args, **kwargs)
        return locked

    def __setattr__(self, name: str, value) -> None:
        setattr(self._tokenizer, name, value)

    def __len__(self) -> int:
        return len(self._tokenizer)

    def __reduce__(self):  # pickle and deepcopy: the tokenizer, with a lock of its own
        return ThreadSafeTokenizer, (self._tokenizer, )


def guard_tokenizers(model: nn.Module) -> None:
    """Wrap every ``tokenizer`` attribute of ``model``'s modules in a
    ``ThreadSafeTokenizer`` (once)."""
    for module in model.modules():
        tokenizer = module.__dict__.get('tokenizer')
        if callable(tokenizer) and not isinstance(tokenizer, (ThreadSafeTokenizer, nn.Module)):
            module.tokenizer = ThreadSafeTokenizer(tokenizer)


def _served_modules(model: nn.Module) -> Dict[str, nn.Module]:
    """{path: module} of the tuner modules a bank serves: those that say they are
    ``banked`` (``models/tuner_module.py``)."""
    return {path: m for path, m in model.named_modules() if is_tuner_module(m) and banked(m)}


class AdapterBank:
    """The adapters served on one tuned detector (see the module's docstring).

    Args:
        model: a built tuned detector (``TunedDetector``) with its base loaded.
        adapters: {name: checkpoint path or loaded checkpoint}, added in order.
    """

    def __init__(self, model: nn.Module, adapters: Optional[Dict[str, object]] = None):
        self.model = unwrap(model)
        tuner = get_tuner(self.model)
        tuned = [n for n, p in self.model.named_parameters() if p.requires_grad]
        base = [n for n in tuned if not tuner.owns(n)]
        if base:
            raise NotServableError(
                f'{tuner.method} tunes base tensors (e.g. {base[:2]}): its adapters cannot be '
                'switched without rewriting the base weights. Serve each tuned checkpoint as '
                'a model of its own (tools/merge_adapter.py), or tune with SDPT.')
        self.modules = _served_modules(self.model)
        prefixes = tuple(f'{path}.' for path in self.modules)
        unserved = [n for n in tuned if not n.startswith(prefixes)]
        if unserved:
            raise NotServableError(
                f'{tuner.method}: {len(unserved)} tuned tensors (e.g. {unserved[:2]}) belong '
                'to modules whose effect is not kept per adapter (a tuner module serves per '
                'image when it names its bank_names, or answers bank_rows, and reads them '
                'with models.adapter_choice.chosen: models/tuner_module.py). Load one adapter into '
                'the model instead (mmdet_sdpt.load_adapter).')
        guard_tokenizers(self.model)
        self.names: List[str] = []
        for module in self.modules.values():
            module.bank = {}
        for name, checkpoint in (adapters or {}).items():
            self.add(name, checkpoint)

    def add(self, name: str, checkpoint: Union[str, dict]) -> None:
        """Check ``checkpoint`` against the model and add its tensors as row ``name``."""
        if not name or name == ZERO_SHOT:
            raise ValueError(f'an adapter needs a name other than {name!r}')
        if name in self.names:
            raise KeyError(f'adapter {name!r} is already loaded')
        source = f'adapter {name!r} ({checkpoint})' if isinstance(
            checkpoint, str) else f'adapter {name!r}'
        if isinstance(checkpoint, str):
            checkpoint = load_checkpoint_file(checkpoint, map_location='cpu')
        check_adapter_checkpoint(self.model, checkpoint, source)  # raises on any mismatch
        state = checkpoint.get('state_dict', checkpoint)
        for path, module in self.modules.items():
            parent = self.model.get_submodule(path.rsplit('.', 1)[0])
            device = next(module.parameters()).device
            for slot, row in bank_rows(module, state, f'{path}.', parent).items():
                row = row.detach().to(device)[None]
                stack = module.bank.get(slot)
                module.bank[slot] = row if stack is None else torch.cat([stack, row])
        self.names.append(name)

    def rows(self, names: Sequence[str]) -> Tensor:
        """Bank rows of adapter ``names`` (one per image)."""
        unknown = sorted({n for n in names if n not in self.names})
        if unknown:
            raise KeyError(f'no adapter {unknown} is loaded; loaded: {self.names}')
        return torch.tensor([self.names.index(n) for n in names], dtype=torch.long)

    def choice(self, names: Union[None, str, Sequence[Optional[str]]], batch: int = 1):
        """The context of a forward of ``batch`` images under ``names``: None (zero-shot),
        one adapter name, or one name per image (all adapters, or all None)."""
        if names is None or isinstance(names, str):
            names = [names] * batch
        names = list(names)
        if all(n is None for n in names):
            return adapter_choice(ZERO_SHOT)
        if any(n is None for n in names):
            raise ValueError('a batch mixes zero-shot and adapter images: run them as two '
                             'batches (TunedInferencer groups them)')
        return adapter_choice(self.rows(names))

    def nbytes(self) -> int:
        """Bytes the banks hold (every loaded adapter's tensors)."""
        return sum(t.numel() * t.element_size() for m in self.modules.values()
                   for t in m.bank.values())
