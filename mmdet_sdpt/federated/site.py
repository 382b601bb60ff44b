"""A site of a federation: one domain's data, its own copy of the base, the normal mmengine
runner. A round is a runner built from the federation's config for this site's dataset,
loading the global adapter (through the adapter loader, so a global adapter made on another
base or for another tuner setting is refused here too), training the round's local
iterations with the config's own optimizer, hooks and AMP setting, and handing back the
tuner's tensors. Nothing else leaves the site."""
import os
import os.path as osp
from dataclasses import dataclass, field
from typing import Dict, Optional, Sequence, Tuple

import torch
from mmengine.config import Config
from mmengine.hooks import Hook

from ..adapter import adapter_meta, atomic_save, get_tuner, unwrap
from ..utils.environ import environ

# hooks that read validation metrics or checkpoints: a site's round has neither
_ROUND_FREE_HOOKS = ('EarlyStopping', 'ValidateResumedEpoch')


@dataclass
class RoundResult:
    state: Dict[str, torch.Tensor]  # the tuner's tensors after the round
    meta: dict  # this site's adapter meta (tuner, base fingerprint)
    num_examples: int  # images of the site's training split (FedAvg's weight)
    loss: float  # the last logged training loss


class ProximalTerm(Hook):
    """FedProx's local objective: adds ``mu/2 * ||w - w_global||^2`` to the loss of every
    tuned tensor through its gradient (``mu * (w - w_global)``), the global values taken
    when the round's training starts (after the global adapter is loaded)."""
    priority = 'LOW'

    def __init__(self, mu: float):
        self.mu = mu
        self._handles = []

    def before_train(self, runner) -> None:
        for param in unwrap(runner.model).parameters():
            if param.requires_grad:
                anchor = param.detach().clone()
                self._handles.append(param.register_hook(
                    lambda grad, p=param, a=anchor: grad + self.mu * (p.detach() - a)))

    def after_train(self, runner) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()


@dataclass
class Site:
    """One site: ``config`` (the federation's), ``domain`` (its dataset of ``suite``, e.g. a
    ShapeWorld domain), K shots of ``seed``; rounds run in ``work_dir``/round_N.
    ``base_checkpoint`` overrides the config's (the site's own file of the base)."""
    config: str
    domain: str
    work_dir: str
    shot: int = 3
    seed: int = 3
    suite: str = 'shapeworld'
    data_root: Optional[str] = None
    base_checkpoint: Optional[str] = None
    cfg_options: dict = field(default_factory=dict)
    domains: Sequence[str] = ()  # the federation's (domain-aware configs read FED_DOMAINS)
    # domain-aware prompts: the site's own domain's rows (False: every image mixes the
    # domains by its features, as a model that is not told the domain)
    own_domain: bool = True

    def env(self) -> Dict[str, str]:
        env = dict(ODINW_DATASET=self.domain, ODINW_SUITE=self.suite,
                   ODINW_SHOT=str(self.shot), ODINW_SEED=str(self.seed),
                   SW_SCHEDULE='short')  # iteration-based pieces; the loop is set below
        if self.domains:
            env['FED_DOMAINS'] = ','.join(self.domains)
        if self.data_root:
            env['ODINW_ROOT'] = self.data_root
        return env

    def round_config(self, round_dir: str, adapter: str, iters: int = 0,
                     seed: int = 0) -> Config:
        """The config of one round (``iters`` > 0: training; 0: evaluation only)."""
        with environ(self.env()):
            cfg = Config.fromfile(self.config)
        if self.cfg_options:
            cfg.merge_from_dict(self.cfg_options)
        if self.base_checkpoint:
            cfg.model.base_checkpoint = self.base_checkpoint
        if 'domains' in cfg.model.tuner and self.own_domain:  # domain-aware prompts
            cfg.model.tuner.train_domain = self.domain
        cfg.work_dir = round_dir
        cfg.load_from, cfg.resume = adapter, False
        cfg.experiment_name = f'{osp.basename(round_dir)}_{self.domain}_{os.getpid()}'
        cfg.default_hooks.checkpoint = None  # the server keeps the rounds
        if iters:
            # local steps at the config's rate, no plateau, no validation, no stopping:
            # FedAvg's local update
            cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=iters)
            cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
            cfg.param_scheduler = []
            cfg.custom_hooks = [h for h in cfg.get('custom_hooks', [])
                                if not any(k in h['type'] for k in _ROUND_FREE_HOOKS)]
            cfg.randomness = dict(seed=self.seed * 1000 + seed)
            cfg.default_hooks.logger = dict(type='LoggerHook', interval=max(1, iters // 4))
            cfg.log_processor = dict(by_epoch=False)
        return cfg

    def _adapter_file(self, round_dir: str, state: dict, meta: dict) -> str:
        path = osp.join(round_dir, 'global_adapter.pth')
        atomic_save(dict(state_dict=dict(state), meta=dict(adapter=meta)), path)
        return path

    def train(self, state: Dict[str, torch.Tensor], meta: dict, server_round: int,
              iters: int, proximal_mu: float = 0.0) -> RoundResult:
        """One round's local training from the global adapter (``state``, ``meta``)."""
        from ..engine import build_runner
        round_dir = osp.join(self.work_dir, f'round_{server_round}')
        cfg = self.round_config(round_dir, self._adapter_file(round_dir, state, meta),
                                iters, server_round)
        runner = build_runner(cfg)
        if proximal_mu > 0:
            runner.register_hook(ProximalTerm(proximal_mu))
        runner.train()
        model = unwrap(runner.model)
        tuned = get_tuner(model).adapter_state_dict(model.state_dict())
        dataset = runner.train_dataloader.dataset
        dataset = getattr(dataset, 'dataset', dataset)  # a RepeatDataset's images count once
        loss = runner.message_hub.get_scalar('train/loss').current()
        return RoundResult({k: v.detach().cpu() for k, v in tuned.items()},
                           adapter_meta(model), len(dataset), float(loss))

    def evaluate(self, state: Optional[Dict[str, torch.Tensor]], meta: Optional[dict],
                 server_round: int, split: str = 'val') -> Tuple[dict, int]:
        """The global adapter's metrics on this site's ``split`` ('val' or 'test') and the
        number of images it holds (``state`` None: the config's model as built, e.g. the
        base alone with ``cfg_options={'model.zero_shot': True}``)."""
        from ..engine import build_runner
        round_dir = osp.join(self.work_dir, f'round_{server_round}', f'eval_{split}')
        adapter = None if state is None else self._adapter_file(round_dir, state, meta)
        cfg = self.round_config(round_dir, adapter)
        runner = build_runner(cfg)
        metrics = runner.val() if split == 'val' else runner.test()
        loader = runner.val_dataloader if split == 'val' else runner.test_dataloader
        return metrics, len(loader.dataset)
