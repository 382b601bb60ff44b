"""Self-TPT for a grounding detector (Efficient Test-Time Prompt Tuning, arXiv 2408.05775,
adapted to GLIP's BERT).

What is Self-TPT's: learnable text context; stage 1 trains it on source data with the task
loss plus a *contrastive prompt task* (CPT: views of a class made by putting the class name
at the front, middle or end of the learnable context, plus a hand-made template; the other
classes are the negatives) and a *gradient-matching* loss (1 - cos between the CPT gradient
and an EMA of the task gradient); stage 2 adapts the context to new class names with CPT
alone (no images, no labels), once, so inference costs what the base costs.

What is adapted for detection: the context is ``num_tokens`` learnable embeddings inserted
after BERT's [CLS] in every caption GLIP encodes and cut from BERT's outputs (so GLIP's
token positions, and its class-to-token maps, are untouched); a class feature is the BERT
output averaged over the class name's tokens; the task loss is GLIP's detection loss; the
CPT views and the hand-made template ("a photo of a {name}.") are encoded by the same BERT
with the context spliced in at their places.
"""
import types
from typing import List, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.attention import SDPBackend, sdpa_kernel

from ..registry import TUNERS
from .adapter_choice import chosen, switched_off
from .base_tuner import BaseTuner
from .tuner_module import TunerModule

ATTACH = 'language_model'
NAME = 'self_tpt'
TEMPLATE = 'a photo of a {}.'


def _bert(language_model: nn.Module) -> nn.Module:
    # mmdet's BertModel -> language_backbone.body (BertEncoder) -> model (HF BertModel)
    return language_model.language_backbone.body.model


class TextContext(TunerModule):
    """``num_tokens`` learnable input embeddings of the language model (the context).

    Attached as ``language_model.self_tpt``; hooks on the HF BERT splice the context after
    [CLS] of every sequence the detector encodes and cut it from the outputs."""

    # served per image (mmdet_sdpt.serving): GLIP's predict encodes one caption per image,
    # so each row of BERT's input takes its own image's context
    bank_names = ('context', )

    def __init__(self, num_tokens: int, hidden: int, init_std: float = 0.02):
        super().__init__()
        self.context = nn.Parameter(torch.randn(num_tokens, hidden) * init_std)
        self.enabled = True

    @property
    def num_tokens(self) -> int:
        return self.context.size(0)

    def before(self, bert: nn.Module, args, kwargs):
        """forward pre-hook on the HF BERT: input ids -> embeddings with the context in."""
        if switched_off(self) or self.num_tokens == 0:
            return None
        input_ids = kwargs.pop('input_ids', None)
        if input_ids is None:
            input_ids = args[0]
        mask = kwargs.get('attention_mask')
        if mask is not None and mask.dim() != 2:
            raise NotImplementedError('Self-TPT context needs a 2-D text mask (GLIP); '
                                      "Grounding DINO's sub-sentence masks are not supported")
        words = bert.embeddings.word_embeddings(input_ids)
        rows = chosen(self, 'context')  # (B, K, H): each image's adapter, or None
        if rows is None:
            ctx = self.context.to(words.dtype).expand(words.size(0), -1, -1)
        elif rows.size(0) != words.size(0):
            raise RuntimeError(f'{rows.size(0)} images chose adapters but the language model '
                               f'encodes {words.size(0)} captions: a served Self-TPT needs one '
                               'caption per image (GLIP\'s predict)')
        else:
            ctx = rows.to(words.dtype)
        kwargs['inputs_embeds'] = torch.cat([words[:, :1], ctx, words[:, 1:]], dim=1)
        if mask is not None:
            kwargs['attention_mask'] = torch.cat(
                [mask[:, :1], mask.new_ones(mask.size(0), self.num_tokens), mask[:, 1:]], 1)
        for key in ('position_ids', 'token_type_ids'):
            if kwargs.get(key) is not None:
                raise NotImplementedError(f'Self-TPT context: explicit {key} are not supported')
        return (), kwargs

    def after(self, bert: nn.Module, args, kwargs, output):
        """forward hook: the context rows cut from every output sequence."""
        if switched_off(self) or self.num_tokens == 0:
            return None
        k = self.num_tokens

        def cut(x: Tensor) -> Tensor:
            return torch.cat([x[:, :1], x[:, 1 + k:]], dim=1)

        output.last_hidden_state = cut(output.last_hidden_state)
        if output.hidden_states is not None:
            output.hidden_states = tuple(cut(h) for h in output.hidden_states)
        return output

    def extra_repr(self) -> str:
        return f'num_tokens={self.num_tokens}'


@TUNERS.register_module()
class SelfTPT(BaseTuner):
    """Self-TPT's text context on GLIP's BERT (see the module docstring).

    Args:
        num_tokens (int): context tokens.
        cpt_weight (float): weight of the contrastive prompt task in stage 1 (0: the task
            loss alone, the "without CPT" ablation).
        gm_weight (float): weight of the gradient-matching loss in stage 1 (0: off).
        gm_momentum (float): EMA momentum of the task gradient.
        temperature (float): of CPT's contrastive loss.
        template (str): the hand-made view.
    """

    method = 'SelfTPT'

    def __init__(self, num_tokens: int = 4, cpt_weight: float = 1.0, gm_weight: float = 1.0,
                 gm_momentum: float = 0.9, temperature: float = 0.07,
                 template: str = TEMPLATE):
        self.num_tokens = int(num_tokens)
        self.cpt_weight, self.gm_weight = float(cpt_weight), float(gm_weight)
        self.gm_momentum, self.temperature = float(gm_momentum), float(temperature)
        self.template = template
        self._ema: Optional[Tensor] = None
        self.last_cosine: Optional[float] = None  # cos(CPT grad, task grad) of the last step

    def inject(self, detector: nn.Module) -> None:
        lm = getattr(detector, ATTACH, None)
        if lm is None or not hasattr(lm, 'tokenizer'):
            raise ValueError(f'SelfTPT needs a detector with mmdet\'s BertModel as `{ATTACH}`; '
                             f'{type(detector).__name__} has none.')
        bert = _bert(lm)
        module = TextContext(self.num_tokens, bert.config.hidden_size)
        lm.add_module(NAME, module)
        bert.register_forward_pre_hook(module.before, with_kwargs=True)
        bert.register_forward_hook(module.after, with_kwargs=True)
        original = detector.loss
        tuner = self

        def loss(det, inputs, data_samples):
            losses = original(inputs, data_samples)
            if det.training and tuner.cpt_weight > 0 and not switched_off(module):
                losses.update(tuner.stage1_terms(det, losses, data_samples))
            return losses

        detector.loss = types.MethodType(loss, detector)

    def trainable(self, name: str) -> bool:
        return name.startswith(f'{ATTACH}.{NAME}.')

    def describe(self, detector: nn.Module) -> dict:
        return dict(method=self.method, num_tokens=self.num_tokens,
                    hidden=int(self.context(detector).size(1)), module=f'{ATTACH}.{NAME}')

    # -- the contrastive prompt task ---------------------------------------------------
    @staticmethod
    def context(detector: nn.Module) -> nn.Parameter:
        return getattr(detector, ATTACH).get_submodule(NAME).context

    def class_features(self, detector: nn.Module, names: Sequence[str]) -> Tensor:
        """(N, 4, H): each class's features in the views [CLS] context name [SEP] (the
        name at the end), [CLS] name context [SEP] (front), [CLS] context[:K/2] name
        context[K/2:] [SEP] (middle) and the hand-made template, each the BERT output
        averaged over the name's tokens."""
        lm = getattr(detector, ATTACH)
        module = lm.get_submodule(NAME)
        tok, bert = lm.tokenizer, _bert(lm)
        embed = bert.embeddings.word_embeddings
        ctx = module.context
        half = module.num_tokens // 2
        device = ctx.device

        def words(ids):
            return embed(torch.tensor(ids, dtype=torch.long, device=device)).to(ctx.dtype)

        cls, sep = words([tok.cls_token_id]), words([tok.sep_token_id])
        views = []  # (pieces, name span)
        for name in names:
            ids = tok(name, add_special_tokens=False)['input_ids']
            w, n = words(ids), len(ids)
            k = module.num_tokens
            views.append(([cls, ctx, w, sep], (1 + k, 1 + k + n)))  # end
            views.append(([cls, w, ctx, sep], (1, 1 + n)))  # front
            views.append(([cls, ctx[:half], w, ctx[half:], sep],
                          (1 + half, 1 + half + n)))  # middle
            template = tok(self.template.format(name))['input_ids']
            start = _find(template, ids)
            views.append(([words(template)], (start, start + n)))  # hand-made
        seqs = [torch.cat(pieces) for pieces, _ in views]
        length = max(x.size(0) for x in seqs)
        inputs = torch.stack([F.pad(x, (0, 0, 0, length - x.size(0))) for x in seqs])
        mask = torch.zeros(len(seqs), length, dtype=torch.long, device=device)
        for i, x in enumerate(seqs):
            mask[i, :x.size(0)] = 1
        was, module.enabled = module.enabled, False  # the context is in place already
        try:
            # the math attention kernel: gradient matching differentiates CPT's gradient
            # (the fused CPU kernels have no double backward)
            with sdpa_kernel([SDPBackend.MATH]):
                hidden = bert(inputs_embeds=inputs, attention_mask=mask).last_hidden_state
        finally:
            module.enabled = was
        feats = [hidden[i, s:e].mean(0) for i, (_, (s, e)) in enumerate(views)]
        return torch.stack(feats).view(len(names), 4, -1)

    def cpt_loss(self, detector: nn.Module, names: Sequence[str]) -> Tensor:
        """Supervised contrastive loss over the classes' views: the other views of a class
        are its positives, every view of another class a negative."""
        feats = F.normalize(self.class_features(detector, names).float(), dim=-1)
        n, v, _ = feats.shape
        z = feats.reshape(n * v, -1)
        labels = torch.arange(n, device=z.device).repeat_interleave(v)
        logits = z @ z.t() / self.temperature
        self_mask = torch.eye(n * v, dtype=torch.bool, device=z.device)
        logits = logits.masked_fill(self_mask, float('-inf'))
        positive = (labels[:, None] == labels[None]) & ~self_mask
        log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)
        return -(log_prob.masked_fill(~positive, 0).sum(1) / positive.sum(1)).mean()

    def stage1_terms(self, detector: nn.Module, losses: dict, data_samples) -> dict:
        names = list(dict.fromkeys(n for s in data_samples for n in s.text))
        if len(names) < 2:
            return {}
        ctx = self.context(detector)
        cpt = self.cpt_loss(detector, names)
        terms = dict(loss_cpt=self.cpt_weight * cpt)
        task = sum(v.sum() if isinstance(v, Tensor) else sum(x.sum() for x in v)
                   for k, v in losses.items() if 'loss' in k)
        g_task, = torch.autograd.grad(task, ctx, retain_graph=True)
        if self._ema is None or self._ema.shape != g_task.shape:
            self._ema = g_task.detach().clone()
        else:
            self._ema.mul_(self.gm_momentum).add_(g_task.detach(), alpha=1 - self.gm_momentum)
        g_cpt, = torch.autograd.grad(cpt, ctx, create_graph=self.gm_weight > 0)
        cosine = F.cosine_similarity(g_cpt.flatten(), self._ema.flatten(), dim=0)
        self.last_cosine = float(cosine.detach())
        # logged with the losses (not summed: no 'loss' in its name): Self-TPT's premise,
        # that CPT's gradient points where the task's does, measured every step
        terms['cos_cpt_task'] = cosine.detach()
        if self.gm_weight > 0:
            terms['loss_gm'] = self.gm_weight * (1 - cosine)
        return terms


def _find(seq: List[int], sub: List[int]) -> int:
    for i in range(len(seq) - len(sub) + 1):
        if seq[i:i + len(sub)] == sub:
            return i
    raise ValueError('the class name is not in its template')
