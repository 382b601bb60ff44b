"""The Flower ``ServerApp``: Flower's own strategies (``FedAvg``, ``FedProx``) with what a
federation of adapters needs around them:

- every update is checked before it is averaged (:func:`.updates.check_update`: keys,
  shapes, NaN/inf, tuner setting, base fingerprint); a rejected site is named in the log and
  the round goes on with the others, as it does when a site fails or drops out;
- domain-aware prompts (a tuner that declares ``per_domain_tensor``): the shared tensors are
  averaged, each domain's rows are taken from the sites of that domain only;
- after every round the global adapter is written as a normal adapter checkpoint
  (``WORK_DIR/round_N.pth``, atomically) with ``federation.json`` (who took part, who was
  rejected and why, bytes sent, losses, valid AP), so ``tools/test.py``, ``TunedInferencer``
  and a restarted server (``resume=true``) all start from it.
"""
import json
import os
import os.path as osp
import time
from typing import Dict, Iterable, List, Optional

import torch
from flwr.app import ArrayRecord, ConfigRecord, Message, MetricRecord
from flwr.serverapp import Grid, ServerApp
from flwr.serverapp.strategy import FedAvg, FedProx
from mmengine.logging import MMLogger

from ..adapter import adapter_meta, atomic_save, get_tuner
from ..checkpoint import load_checkpoint_file
from ..utils.atomic_io import atomic_write
from .settings import domains, resolve, settings, site_options
from .site import Site
from .updates import (META, SITE, RejectedUpdate, check_update, dump_meta, load_meta,
                      payload_bytes, to_arrays, to_state)

RECORD = 'federation.json'


def build_model(config: str, domain: str, options: dict):
    """The federation's model (the server's copy of the base, with the tuner's initial
    tensors), built from the config as a site builds it."""
    from mmdet.registry import MODELS
    from mmengine.registry import init_default_scope

    import mmdet_sdpt  # noqa: F401  registers the tuners and TunedDetector
    cfg = Site(config, domain, '', **options).round_config('', None)
    init_default_scope('mmdet')
    torch.manual_seed(int(options.get('seed', 0)))
    return MODELS.build(cfg.model)


class Federation:
    """The server's side of one federation: its model, its record, its rounds on disk."""

    def __init__(self, s: dict):
        self.s = s
        self.work_dir = resolve(s['work_dir'])
        self.domains = domains(s)
        self.config = resolve(s['config'])
        model = build_model(self.config, self.domains[0], site_options(s))
        self.tuner = get_tuner(model)
        self.meta = adapter_meta(model)
        self.state = {k: v.detach().clone()
                      for k, v in self.tuner.adapter_state_dict(model.state_dict()).items()}
        os.makedirs(self.work_dir, exist_ok=True)
        self.logger = MMLogger.get_instance(  # appended to: a resumed server keeps its log
            f'federation_{time.time_ns()}', log_file=osp.join(self.work_dir, 'federation.log'),
            log_level='INFO', file_mode='a')
        self.identity = dict(config=osp.relpath(self.config, resolve('.')),
                             domains=self.domains, tuner=self.meta['tuner'],
                             base=self.meta['base'], strategy=s['strategy'],
                             local_iters=int(s['local_iters']), shot=int(s['shot']),
                             seed=int(s['seed']))
        self.rounds: List[dict] = []
        self._resume()

    # -- the record ----------------------------------------------------------------------
    def _resume(self) -> None:
        path = osp.join(self.work_dir, RECORD)
        if not osp.exists(path):
            return
        with open(path) as f:
            record = json.load(f)
        done = record.get('rounds', [])
        if not done:
            return
        if not _truthy(self.s['resume']):
            raise RuntimeError(
                f'{self.work_dir} holds rounds 1-{len(done)} of a federation. To go on from '
                f'round {len(done)}, pass resume=true (flwr run ... --run-config '
                '"resume=true", or tools/federated.py --resume); to start over, give another '
                'work-dir.')
        theirs = record['identity']
        diff = [k for k in dict.fromkeys(list(theirs) + list(self.identity))
                if theirs.get(k) != self.identity.get(k)]
        if diff:
            raise RuntimeError(
                f'{self.work_dir} holds another federation (it differs in {diff}: '
                f'{ {k: theirs.get(k) for k in diff} } there vs '
                f'{ {k: self.identity.get(k) for k in diff} } now): give another work-dir.')
        checkpoint = load_checkpoint_file(osp.join(self.work_dir, done[-1]['adapter']))
        self.state = {k: v for k, v in checkpoint['state_dict'].items()}
        self.rounds = done
        self.logger.info(f'federation resumed from round {len(done)} ({self.work_dir})')

    @property
    def done_rounds(self) -> int:
        return len(self.rounds)

    def save_round(self, server_round: int, state: Dict[str, torch.Tensor], report: dict):
        name = f'round_{server_round}.pth'
        self.state = state
        atomic_save(dict(state_dict=state, meta=dict(
            adapter=self.meta, federated=dict(round=server_round, sites=report['sites']))),
            osp.join(self.work_dir, name))
        self.rounds = [r for r in self.rounds if r['round'] < server_round]
        self.rounds.append(dict(round=server_round, adapter=name, **report))
        self.write_record()

    def write_record(self) -> None:
        atomic_write(osp.join(self.work_dir, RECORD), json.dumps(
            dict(identity=self.identity, rounds=self.rounds), indent=1))

    # -- what a round does to the tensors ------------------------------------------------
    def check(self, msg: Message) -> str:
        """The replying site's domain; :class:`RejectedUpdate` if its update does not fit."""
        content = msg.content
        config = content.config_records.get('config', ConfigRecord())
        domain = str(config.get(SITE, '?'))
        who = f'site {domain} (node {msg.metadata.src_node_id})'
        meta = load_meta(config[META]) if META in config else None
        arrays = list(content.array_records.values())
        if len(arrays) != 1:
            raise RejectedUpdate(f'{who} sent {len(arrays)} sets of tensors, not 1.')
        check_update(to_state(arrays[0]), meta, self.state, self.meta, who)
        return domain

    def merge_domains(self, averaged: Dict[str, torch.Tensor],
                      replies: List[Message]) -> Dict[str, torch.Tensor]:
        """Domain-aware prompts: row d of a per-domain tensor comes from the sites of domain
        d (weighted by their sample counts), the previous round's row if none took part."""
        per_domain = getattr(self.tuner, 'per_domain_tensor', None)
        if per_domain is None:
            return averaged
        updates = [(m.content['config'][SITE],
                    to_state(next(iter(m.content.array_records.values()))),
                    float(next(iter(m.content.metric_records.values()))['num-examples']))
                   for m in replies]
        merged = dict(averaged)
        for key in [k for k in averaged if per_domain(k)]:
            rows = self.state[key].clone()
            for index, domain in enumerate(self.tuner.domains):
                parts = [(state[key][index], weight) for site, state, weight in updates
                         if site == domain]
                if parts:
                    total = sum(w for _, w in parts)
                    rows[index] = sum(row * (w / total) for row, w in parts)
            merged[key] = rows
        return merged


def _truthy(value) -> bool:
    return str(value).lower() in ('1', 'true', 'yes')


class AdapterStrategy:
    """Mixed into a Flower strategy (``FedAvg``, ``FedProx``): checks, domain rows, rounds
    saved, numbered after the rounds a resumed federation already has."""

    def __init__(self, federation: Federation, **kwargs):
        super().__init__(**kwargs)
        self.federation = federation
        self.offset = federation.done_rounds
        self.report: dict = {}

    def configure_train(self, server_round: int, arrays: ArrayRecord, config: ConfigRecord,
                        grid: Grid) -> Iterable[Message]:
        messages = list(super().configure_train(server_round + self.offset, arrays, config,
                                                grid))
        self.report = dict(sites=[], failed=[], rejected=[], train_loss={},
                           bytes_down=payload_bytes(arrays) * len(messages), bytes_up=0)
        return messages

    def aggregate_train(self, server_round: int, replies: Iterable[Message]):
        fed, log = self.federation, self.federation.logger
        server_round += self.offset
        accepted = []
        for msg in replies:
            if msg.has_error():
                self.report['failed'].append(f'node {msg.metadata.src_node_id}: '
                                             f'{msg.error.reason}')
                log.warning(f'round {server_round}: node {msg.metadata.src_node_id} failed '
                            f'({msg.error.reason}); the round goes on without it')
                continue
            try:
                site = fed.check(msg)
            except RejectedUpdate as e:
                self.report['rejected'].append(str(e))
                log.warning(f'round {server_round}: update rejected: {e}')
                continue
            self.report['bytes_up'] += payload_bytes(next(iter(
                msg.content.array_records.values())))
            self.report['sites'].append(site)
            self.report['train_loss'][site] = float(next(iter(
                msg.content.metric_records.values()))['train-loss'])
            accepted.append(msg)
        arrays, metrics = super().aggregate_train(server_round, accepted)
        if arrays is None:
            log.warning(f'round {server_round}: no update accepted; the adapter stays as it '
                        'was')
            state = fed.state
        else:
            state = fed.merge_domains(to_state(arrays), accepted)
        fed.save_round(server_round, state, self.report)
        log.info(f'round {server_round}: {len(accepted)} sites averaged '
                 f'({", ".join(sorted(self.report["sites"])) or "none"}), '
                 f'{len(self.report["rejected"])} rejected, {len(self.report["failed"])} failed; '
                 f'{self.report["bytes_up"] + self.report["bytes_down"]} bytes sent; adapter '
                 f'{osp.join(fed.work_dir, f"round_{server_round}.pth")}')
        return to_arrays(state), metrics

    def configure_evaluate(self, server_round: int, arrays: ArrayRecord, config: ConfigRecord,
                           grid: Grid) -> Iterable[Message]:
        return super().configure_evaluate(server_round + self.offset, arrays, config, grid)

    def aggregate_evaluate(self, server_round: int,
                           replies: Iterable[Message]) -> Optional[MetricRecord]:
        metrics = super().aggregate_evaluate(server_round, replies)
        fed = self.federation
        if metrics is not None and fed.rounds:
            fed.rounds[-1]['valid_ap'] = float(metrics['valid-ap'])
            fed.write_record()
            fed.logger.info(f'round {server_round + self.offset}: valid AP (mean over sites, '
                            f'weighted by images) {float(metrics["valid-ap"]):.4f}')
        return metrics


class AdapterFedAvg(AdapterStrategy, FedAvg):
    """FedAvg (weighted by the sites' sample counts) of adapter updates."""


class AdapterFedProx(AdapterStrategy, FedProx):
    """FedProx: FedAvg on the server, a proximal term ``proximal-mu`` in every site's
    local objective (:class:`.site.ProximalTerm`)."""


def strategy_of(federation: Federation) -> AdapterStrategy:
    s = federation.s
    n = int(s['min_nodes'])
    common = dict(fraction_train=1.0, fraction_evaluate=float(s['fraction_evaluate']),
                  min_train_nodes=n, min_evaluate_nodes=n, min_available_nodes=n)
    if s['strategy'] == 'fedavg':
        return AdapterFedAvg(federation, **common)
    if s['strategy'] == 'fedprox':
        return AdapterFedProx(federation, proximal_mu=float(s['proximal_mu']), **common)
    raise ValueError(f'strategy={s["strategy"]!r}: fedavg or fedprox')


def run_federation(grid: Grid, s: dict) -> Federation:
    """Run (or go on with) the federation of settings ``s`` on Flower's ``grid``."""
    federation = Federation(s)
    remaining = int(s['rounds']) - federation.done_rounds
    log = federation.logger
    if remaining <= 0:
        log.info(f'the federation has its {s["rounds"]} rounds ({federation.work_dir})')
        return federation
    log.info(f'federation: {federation.meta["tuner"]["method"]} on base '
             f'{federation.meta["base"]}, sites {federation.domains}, rounds '
             f'{federation.done_rounds + 1}-{s["rounds"]}, {s["local_iters"]} local iterations '
             f'each, {s["strategy"]}; {payload_bytes(to_arrays(federation.state))} bytes per '
             'adapter')
    config = ConfigRecord({META: dump_meta(federation.meta),
                           'local-iters': int(s['local_iters'])})
    strategy_of(federation).start(
        grid=grid, initial_arrays=to_arrays(federation.state), num_rounds=remaining,
        timeout=float(s['timeout']), train_config=config,
        evaluate_config=ConfigRecord({META: dump_meta(federation.meta)}))
    return federation


def server_app(defaults: dict = None) -> ServerApp:
    app = ServerApp()

    @app.main()
    def main(grid: Grid, context) -> None:
        run_federation(grid, settings(context.run_config, None, defaults))

    return app


app = server_app()
