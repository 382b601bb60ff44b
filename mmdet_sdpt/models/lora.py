"""LoRA (Hu et al., ICLR 2022) on chosen nn.Linear layers of a GLIP, as peft does it.

Each adapted Linear keeps its own weight and bias, under its own names. A ``lora`` submodule
(``lora_A``: in -> r, kaiming-uniform; ``lora_B``: r -> out, zeros) is attached to it, and a
forward hook adds ``lora_B(lora_A(dropout(x))) * alpha / r`` to the Linear's output. With
``lora_B`` = 0 (its initialisation) the model computes exactly what the frozen model does.

Targets (the reference SDPT code's LoRA baselines: visual / text / cross-attention):

- 'fusion': the six Linears of every mmdet ``BiMultiHeadAttention`` (v_proj, l_proj,
  values_v_proj, values_l_proj, out_v_proj, out_l_proj);
- 'visual': the Swin backbone's window attention, ``qkv`` and ``proj`` of each ``WindowMSA``;
- 'text': query / key / value of every self-attention of the language model's BERT
  (``language_model`` only: the BERT layers inside GLIP's head are not adapted).
"""
import math
from typing import Dict, List, Sequence

from mmdet.models.backbones.swin import WindowMSA
from mmdet.models.utils.vlfuse_helper import BiMultiHeadAttention
import torch
from torch import Tensor, nn
from transformers.models.bert.modeling_bert import BertSelfAttention

from ..registry import TUNERS
from .base_tuner import BaseTuner
from .adapter_choice import chosen, switched_off
from .tuner_module import TunerModule

NAME = 'lora'  # the adapter's attribute on each adapted Linear
TARGETS = {
    'fusion': (BiMultiHeadAttention, ('v_proj', 'l_proj', 'values_v_proj', 'values_l_proj',
                                      'out_v_proj', 'out_l_proj')),
    'visual': (WindowMSA, ('qkv', 'proj')),
    'text': (BertSelfAttention, ('query', 'key', 'value')),
}
SCOPE = {'text': 'language_model.', 'visual': 'backbone.'}  # where a target is looked for


class LoRAAdapter(TunerModule):
    """``B A x * alpha / r`` for one frozen Linear (in -> out); trains (dropout on) while
    the Linear it is attached to is frozen."""

    def __init__(self, in_features: int, out_features: int, rank: int, alpha: float,
                 dropout: float = 0.0):
        super().__init__()
        self.lora_A = nn.Linear(in_features, rank, bias=False)
        self.lora_B = nn.Linear(rank, out_features, bias=False)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.scaling = alpha / rank
        self.enabled = True  # False: the Linear computes what the base computes
        # peft's init: A as nn.Linear's default, B zero, so the update B A starts at 0
        nn.init.kaiming_uniform_(self.lora_A.weight, a=math.sqrt(5))
        nn.init.zeros_(self.lora_B.weight)

    bank_names = ('lora_A.weight', 'lora_B.weight')  # served per image (mmdet_sdpt.serving)

    def hook(self, linear: nn.Linear, args: tuple, output: Tensor) -> Tensor:
        """forward hook of the adapted Linear: its output plus the low-rank update (each
        image's own when a served model chose an adapter per image)."""
        if switched_off(self):
            return None
        x = self.dropout(args[0].to(self.lora_A.weight.dtype))
        a, b = chosen(self, 'lora_A.weight'), chosen(self, 'lora_B.weight')
        update = self.lora_B(self.lora_A(x)) if a is None else per_image_update(x, a, b)
        return output + (update * self.scaling).to(output.dtype)

    def extra_repr(self) -> str:
        return f'scaling={self.scaling}'


def per_image_update(x: Tensor, a: Tensor, b: Tensor) -> Tensor:
    """``B_i A_i x`` for the rows of ``x`` (N, ..., in) of image i, given each image's
    ``a`` (B, r, in) and ``b`` (B, out, r). The Linears LoRA adapts see their images along
    the first dim, B of them (fusion, BERT) or each image's Swin windows in a row (N = B x
    windows: ``window_partition`` keeps an image's windows together)."""
    n, images = x.size(0), a.size(0)
    if n % images:
        raise RuntimeError(f'LoRA per image: {n} rows for {images} images')
    if n != images:
        a, b = a.repeat_interleave(n // images, 0), b.repeat_interleave(n // images, 0)
    flat = x.reshape(n, -1, x.size(-1))
    update = torch.bmm(torch.bmm(flat, a.transpose(1, 2)), b.transpose(1, 2))
    return update.reshape(*x.shape[:-1], b.size(1))


def lora_targets(detector: nn.Module, targets: Sequence[str]) -> Dict[str, nn.Linear]:
    """Paths -> Linears adapted for ``targets``, in the detector's module order."""
    found = {}
    for name, module in detector.named_modules():
        for target in targets:
            owner_type, children = TARGETS[target]
            if isinstance(module, owner_type) and (name + '.').startswith(
                    SCOPE.get(target, '')):
                for child in children:
                    linear = getattr(module, child, None)
                    if isinstance(linear, nn.Linear):
                        found[f'{name}.{child}'] = linear
    return found


@TUNERS.register_module()
class LoRA(BaseTuner):
    """Low-rank adapters on the Linears of ``targets``; everything else frozen.

    Args:
        targets (list[str]): any of 'fusion', 'visual', 'text' (see the module docstring).
        rank (int): r, the adapters' inner width.
        alpha (float): the update is scaled by alpha / r.
        dropout (float): dropout on the adapters' input while training (not recorded in
            checkpoints: it does not change what a trained adapter computes).
    """

    method = 'LoRA'

    def __init__(self, targets: Sequence[str] = ('fusion', ), rank: int = 8,
                 alpha: float = 16, dropout: float = 0.0):
        if isinstance(targets, str):
            targets = (targets, )
        unknown = [t for t in targets if t not in TARGETS]
        if unknown or not targets:
            raise ValueError(f'LoRA targets must be a non-empty subset of {list(TARGETS)}, '
                             f'got {list(targets)}')
        if rank < 1:
            raise ValueError(f'LoRA rank must be >= 1, got {rank}')
        self.targets = sorted(set(targets))
        self.rank = int(rank)
        self.alpha = alpha
        self.dropout = dropout
        self._adapted: List[str] = []  # paths of the adapted Linears, found at inject

    @property
    def adapted(self) -> List[str]:
        return list(self._adapted)

    def inject(self, detector: nn.Module) -> None:
        linears = lora_targets(detector, self.targets)
        missing = [t for t in self.targets if not lora_targets(detector, [t])]
        if missing:
            raise ValueError(f'LoRA targets {missing}: {type(detector).__name__} has no such '
                             'layers (fusion: BiMultiHeadAttention, visual: Swin WindowMSA, '
                             "text: the language model's BERT self-attention)")
        for linear in linears.values():
            adapter = LoRAAdapter(linear.in_features, linear.out_features, self.rank,
                                  self.alpha, self.dropout).to(linear.weight.device)
            linear.add_module(NAME, adapter)
            linear.register_forward_hook(adapter.hook)
        self._adapted = list(linears)

    def trainable(self, name: str) -> bool:
        return f'.{NAME}.lora_A.' in name or f'.{NAME}.lora_B.' in name

    def describe(self, detector: nn.Module) -> dict:
        dims = {p: [detector.get_submodule(p).in_features,
                    detector.get_submodule(p).out_features] for p in self.adapted}
        return dict(method=self.method, targets=list(self.targets), rank=self.rank,
                    alpha=self.alpha, layers=list(self.adapted), dims=dims)
