"""PRE: Prompt learning with a Reparameterization Encoder (Pham et al., 2023, arXiv
2309.07760), as text-side prompts of the fusion attention of GLIP / Grounding DINO.

CoOp learns text prompt vectors directly; PRE learns input embeddings E and trains the
prompt as the output of a small encoder, ``T = encoder(E)``, which eases the optimisation.
The paper's encoder is a BiLSTM with a residual connection; ours is a residual bottleneck
MLP (cheaper, no recurrence over only K tokens)::

    T = E + W_up gelu(W_down E + b_down) + b_up          (K, l_dim) per prompted layer

T is appended to the text stream given to the fusion attention, exactly where SDPT's
text-side prompts go (the K rows are cut from the output again). T depends on nothing but
trained tensors, so after training the encoder *folds* away: ``fold_checkpoint`` turns a
PRE adapter checkpoint into one of plain text prompts, ``<attention>.sdpt.text_tokens``,
which loads on ``SDPT(projection='none', streams=['text'])`` with the same K, layers and
mask, and computes the same outputs (tested bit for bit on one device)::

    python tools/fold_pre.py work_dirs/pre/iter_N.pth pre_folded.pth
"""
import copy
import torch
from mmdet.models.utils.vlfuse_helper import BiMultiHeadAttention
from torch import Tensor, nn
from torch.nn import functional as F

from ..registry import TUNERS
from .sdpt import SDPT, UnifiedPrototypeTokens, _initialised

FOLDED_TUNER = 'SDPT'  # the tuner a folded PRE checkpoint loads on


def reparameterize(embeddings: Tensor, down_weight: Tensor, down_bias: Tensor,
                   up_weight: Tensor, up_bias: Tensor) -> Tensor:
    """The text prompt T = E + up(gelu(down(E))), in fp32: the one function that both the
    training forward and the fold call, so the folded prompt is the same number."""
    with torch.autocast(device_type=embeddings.device.type, enabled=False):
        e = embeddings.float()
        hidden = F.gelu(F.linear(e, down_weight.float(), down_bias.float()))
        return e + F.linear(hidden, up_weight.float(), up_bias.float())


class ReparameterizedTextPrompts(UnifiedPrototypeTokens):
    """PRE's text-side prompt of one fusion layer: embeddings E (K, l_dim) and a residual
    bottleneck encoder (``down``: l_dim -> hidden, ``up``: hidden -> l_dim, nn.Linear's
    default initialisation). Attached as ``<attention>.pre``."""

    def __init__(self, num_tokens: int, attn: BiMultiHeadAttention, hidden: int = 64,
                 init: str = 'uniform', mask: str = 'paper'):
        self._l_dim, self._hidden = attn.l_dim, hidden
        super().__init__(num_tokens, attn.embed_dim, init, mask, streams=('text',))

    def init_tokens(self, embed_dim: int, init: str) -> None:
        embeddings = torch.empty(self.num_tokens, self._l_dim)
        self.embeddings = nn.Parameter(_initialised(embeddings, init))
        self.down = nn.Linear(self._l_dim, self._hidden)
        self.up = nn.Linear(self._hidden, self._l_dim)

    def text_prompt(self) -> Tensor:
        """T (K, l_dim), fp32."""
        return reparameterize(self.embeddings, self.down.weight, self.down.bias,
                              self.up.weight, self.up.bias)

    def prompts_for(self, attn: BiMultiHeadAttention):
        return None, self.text_prompt()

    @torch.no_grad()
    def fold(self) -> Tensor:
        """The constant text prompt this module inserts: SDPT's ``text_tokens``."""
        return self.text_prompt().detach().clone()


@TUNERS.register_module()
class PRE(SDPT):
    """PRE's reparameterised text prompts at every prompted fusion layer.

    Args:
        num_tokens (int): K, text prompt tokens per prompted fusion layer.
        layers ('all' | list[int]): prompted fusion layers, as SDPT's.
        init (str): initialisation of the embeddings E, as SDPT's tokens.
        mask (str): 'paper' (image queries see the text prompts) or 'reference' (masked
            out, as the SDPT authors' code: text-only prompts are then inert).
        hidden (int): bottleneck width of the reparameterisation encoder.
    """

    method = 'PRE'
    module_name = 'pre'

    def __init__(self, num_tokens: int = 8, layers='all', init: str = 'uniform',
                 mask: str = 'paper', hidden: int = 64):
        super().__init__(num_tokens, layers, init, mask, streams=('text',), projection='none')
        if hidden < 1:
            raise ValueError(f'PRE hidden must be >= 1, got {hidden}')
        self.hidden = int(hidden)

    def make_prompts(self, attn: BiMultiHeadAttention,
                     index: int) -> ReparameterizedTextPrompts:
        return ReparameterizedTextPrompts(self.num_tokens, attn, self.hidden, self.init,
                                          self.mask)

    def describe(self, detector: nn.Module) -> dict:
        return dict(super().describe(detector), hidden=self.hidden)

    def folded_tuner(self) -> dict:
        """The tuner config a folded checkpoint of this tuner loads on."""
        return folded_tuner_cfg(self.num_tokens, self.layers, self.mask)

    def fold(self, detector: nn.Module) -> dict:
        """The folded adapter checkpoint of ``detector`` (see :func:`fold_checkpoint`)."""
        from ..adapter import to_adapter_checkpoint
        checkpoint = to_adapter_checkpoint(detector, {'state_dict': detector.state_dict(),
                                                      'meta': {}})
        return fold_checkpoint(checkpoint)


def folded_tuner_cfg(num_tokens: int, layers, mask: str) -> dict:
    """``model.tuner`` of the config that loads a folded PRE checkpoint."""
    return dict(type=FOLDED_TUNER, num_tokens=num_tokens, layers=layers, mask=mask,
                streams=['text'], projection='none')


def fold_checkpoint(checkpoint: dict) -> dict:
    """A PRE adapter checkpoint -> the adapter checkpoint of plain text prompts.

    Each prompted layer's ``<attn>.pre.{embeddings, down.*, up.*}`` become
    ``<attn>.sdpt.text_tokens`` = T, the prompt PRE inserts there. ``meta['adapter']``
    then describes ``SDPT(projection='none', streams=['text'])`` with PRE's K, layers,
    mask and dims, on the same base (the fingerprint carries over: the same base tensors),
    and records ``folded_from='PRE'`` and the PRE description (``unfolded``). Only the
    state dict and meta are kept: a folded checkpoint is for testing and deployment, not
    for resuming PRE's training.
    """
    meta = copy.deepcopy((checkpoint.get('meta') or {}))
    adapter = meta.get('adapter')
    if adapter is None or adapter['tuner'].get('method') != PRE.method:
        found = adapter['tuner'].get('method') if adapter else 'no meta["adapter"]'
        raise ValueError(f'not a PRE adapter checkpoint ({found}): nothing to fold')
    tuner = adapter['tuner']
    state = checkpoint['state_dict']
    folded = {}
    for path in tuner['layers']:
        p = f'{path}.{PRE.module_name}.'
        folded[f'{path}.{SDPT.module_name}.text_tokens'] = reparameterize(
            state[p + 'embeddings'], state[p + 'down.weight'], state[p + 'down.bias'],
            state[p + 'up.weight'], state[p + 'up.bias']).detach().clone()
    plain = {k: v for k, v in tuner.items() if k != 'hidden'}  # SDPT's describe()
    plain.update(method=FOLDED_TUNER, streams=['text'], projection='none')
    meta['adapter'] = dict(adapter, tuner=plain, folded_from=PRE.method, unfolded=tuner)
    return {'state_dict': folded, 'meta': meta}

