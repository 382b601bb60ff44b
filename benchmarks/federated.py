"""Federated dual prompts on ShapeWorld: what a site gains by federating, and what it costs.

Per client domain (each site holds one ShapeWorld dataset, K shots of one seed), test box AP
of the tiny GLIP with
  (a) zero-shot: the base alone;
  (b) local only: SDPT trained on the site's own data, rounds x local iterations;
  (c) federated, shared prompts: SDPT, FedAvg (Flower's simulation, tools/federated.py);
  (d) federated, domain-aware prompts: DomainAwareSDPT (Fed-DPT's shared + per-domain rows),
      tested as a model that is not told the domain (each image mixes the domains by its
      features); (d, own) the same adapter with the site's own domain rows;
  (e) centralized: SDPT on the sites' pooled data, sites x rounds x local iterations (the
      same gradient steps as the whole federation): the upper bound;
plus the bytes a round sends and the rounds the federation needs to reach 90% of the
centralized AP (mean over the domains, on test: a figure to read, nothing is selected on it).
Every method trains from the same initial tensors, at the same rate (the leaderboard's SDPT
choice), constant, no validation, the last state tested.

    python benchmarks/federated.py                       # the whole benchmark, resumable
    python benchmarks/federated.py --collect-only        # tables from what is there

Each finished piece (a test, a federation's round) is kept in the work root; a stopped run
goes on where it stopped. Writes benchmarks/results/federated.{json,md} and docs/federated.md's
block between ``<!-- federated:begin -->`` and ``<!-- federated:end -->``.
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)

from dataclasses import dataclass  # noqa: E402
from typing import Sequence  # noqa: E402

from mmengine.config import Config  # noqa: E402

from mmdet_sdpt.federated.site import Site  # noqa: E402
from benchmarks.pieces import Pieces, write_outputs  # noqa: E402
from mmdet_sdpt.utils.environ import environ  # noqa: E402

SHARED = 'configs/federated/tiny-glip_shapeworld_fedavg.py'
DOMAIN_AWARE = 'configs/federated/tiny-glip_shapeworld_domain.py'
BEGIN, END = '<!-- federated:begin -->', '<!-- federated:end -->'
AP = 'coco/bbox_mAP'


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--domains', nargs='+', default=['Thermal', 'Aerial', 'Synonyms', 'Crowded'])
    p.add_argument('--rounds', type=int, default=10)
    p.add_argument('--local-iters', type=int, default=30)
    p.add_argument('--shot', type=int, default=3)
    p.add_argument('--seed', type=int, default=3)
    p.add_argument('--work-root', default=osp.join(ROOT, 'work_dirs', 'federated_benchmark'))
    p.add_argument('--out', default=osp.join(ROOT, 'benchmarks', 'results', 'federated'))
    p.add_argument('--readme', default=osp.join(ROOT, 'docs', 'federated.md'))
    p.add_argument('--collect-only', action='store_true')
    return p.parse_args(argv)


class Bench(Pieces):
    def __init__(self, args):
        super().__init__(args.work_root)
        self.args = args
        os.environ['FED_DOMAINS'] = ','.join(args.domains)

    # -- the pieces --------------------------------------------------------------------
    def site(self, domain, config=SHARED, tag='', kind=None, **kwargs):
        return (kind or Site)(osp.join(ROOT, config), domain,
                              osp.join(self.root, tag or 'eval', domain),
                              shot=self.args.shot, seed=self.args.seed,
                              domains=self.args.domains, **kwargs)

    def initial(self, config=SHARED):
        """The tensors every method starts from: the federation's (the server's seed)."""
        from mmdet_sdpt.adapter import adapter_meta, get_tuner
        from mmdet_sdpt.federated.server import build_model
        model = build_model(osp.join(ROOT, config), self.args.domains[0],
                            dict(shot=self.args.shot, seed=self.args.seed,
                                 domains=self.args.domains))
        return get_tuner(model).adapter_state_dict(model.state_dict()), adapter_meta(model)

    def test(self, domain, state, meta, config=SHARED, **kwargs):
        metrics, _ = self.site(domain, config, **kwargs).evaluate(state, meta, 0, split='test')
        return round(float(metrics[AP]), 4)

    def zero_shot(self, domain):
        return self.test(domain, None, None, cfg_options={'model.zero_shot': True})

    def local(self, domain):
        state, meta = self.initial()
        iters = self.args.rounds * self.args.local_iters
        result = self.site(domain, tag='local').train(state, meta, 1, iters)
        return self.test(domain, result.state, result.meta)

    def centralized(self):
        state, meta = self.initial()
        iters = len(self.args.domains) * self.args.rounds * self.args.local_iters
        pooled = self.site(self.args.domains[0], tag='centralized', kind=PooledSite,
                           pool=tuple(self.args.domains))
        result = pooled.train(state, meta, 1, iters)
        return {d: self.test(d, result.state, result.meta) for d in self.args.domains}

    def federate(self, name, config):
        work_dir = osp.join(self.root, name)
        done = osp.join(work_dir, 'federation.json')
        if osp.exists(done) and len(json.load(open(done))['rounds']) >= self.args.rounds:
            return work_dir
        cmd = [sys.executable, osp.join(ROOT, 'tools', 'federated.py'), osp.join(ROOT, config),
               '--clients', *self.args.domains, '--rounds', str(self.args.rounds),
               '--local-iters', str(self.args.local_iters), '--fraction-evaluate', '0',
               '--shot', str(self.args.shot), '--seed', str(self.args.seed),
               '--work-dir', work_dir, '--cpus-per-client', str(os.cpu_count() or 1)]
        if osp.exists(done):
            cmd.append('--resume')
        print('[federate]', ' '.join(cmd), flush=True)
        with open(osp.join(self.root, f'{name}.log'), 'a') as log:
            subprocess.run(cmd, check=True, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                           env=dict(os.environ, OMP_NUM_THREADS='1'))
        return work_dir

    def round_state(self, work_dir, r):
        import torch
        checkpoint = torch.load(osp.join(work_dir, f'round_{r}.pth'), weights_only=True)
        return checkpoint['state_dict'], checkpoint['meta']['adapter']

    def run(self):
        a, d = self.args, self.args.domains
        for domain in d:
            self.cached(f'zero-shot/{domain}', lambda: self.zero_shot(domain))
        for domain in d:
            self.cached(f'local/{domain}', lambda: self.local(domain))
        self.cached('centralized', self.centralized)
        for name, config, kwargs in (('fedavg', SHARED, {}),
                                     ('domain-aware', DOMAIN_AWARE, dict(own_domain=False))):
            work_dir = self.federate(name, config)
            for r in range(1, a.rounds + 1):
                for domain in d:
                    self.cached(f'{name}/round_{r}/{domain}', lambda: self.test(
                        domain, *self.round_state(work_dir, r), config=config, **kwargs))
            if name == 'domain-aware':
                for domain in d:
                    self.cached(f'{name}-own/round_{a.rounds}/{domain}', lambda: self.test(
                        domain, *self.round_state(work_dir, a.rounds), config=config))
            record = json.load(open(osp.join(work_dir, 'federation.json')))
            self.cache[f'{name}/record'] = [
                dict(round=x['round'], bytes_up=x['bytes_up'], bytes_down=x['bytes_down'],
                     sites=x['sites'], rejected=len(x['rejected']), failed=len(x['failed']))
                for x in record['rounds']]
            self.save()


@dataclass
class PooledSite(Site):
    """Centralized tuning: one site holding every domain of ``pool``'s training split (each
    image keeps its own dataset's class names as its prompt)."""
    pool: Sequence[str] = ()

    def round_config(self, round_dir, adapter, iters=0, seed=0):
        cfg = super().round_config(round_dir, adapter, iters, seed)
        datasets = []
        for domain in self.pool:
            with environ(dict(self.env(), ODINW_DATASET=domain)):
                datasets.append(Config.fromfile(self.config).train_dataloader.dataset)
        cfg.train_dataloader.dataset = dict(type='ConcatDataset', datasets=datasets,
                                            ignore_keys=['classes', 'palette'])
        return cfg


# -- the tables ------------------------------------------------------------------------
def _mean(values):
    return sum(values) / len(values) if values else float('nan')


def summarize(cache, args) -> dict:
    d, rounds = args.domains, args.rounds
    rows = {}

    def row(name, per_domain):
        if all(x is not None for x in per_domain.values()):
            rows[name] = dict(per_domain, mean=round(_mean(list(per_domain.values())), 4))

    row('(a) zero-shot', {x: cache.get(f'zero-shot/{x}') for x in d})
    row('(b) local only', {x: cache.get(f'local/{x}') for x in d})
    row('(c) federated, shared prompts (FedAvg)',
        {x: cache.get(f'fedavg/round_{rounds}/{x}') for x in d})
    row('(d) federated, domain-aware prompts (mixed per image)',
        {x: cache.get(f'domain-aware/round_{rounds}/{x}') for x in d})
    row('(d) ... with the site\'s own domain rows',
        {x: cache.get(f'domain-aware-own/round_{rounds}/{x}') for x in d})
    central = cache.get('centralized') or {}
    row('(e) centralized (pooled data)', {x: central.get(x) for x in d})
    reach = {}
    for name in ('fedavg', 'domain-aware'):
        curve = [_mean([cache.get(f'{name}/round_{r}/{x}') or 0.0 for x in d])
                 for r in range(1, rounds + 1)
                 if all(f'{name}/round_{r}/{x}' in cache for x in d)]
        target = 0.9 * rows.get('(e) centralized (pooled data)', {}).get('mean', float('nan'))
        hit = [i + 1 for i, v in enumerate(curve) if v >= target]
        reach[name] = dict(curve=[round(v, 4) for v in curve],
                           rounds_to_90=hit[0] if hit else None)
    record = cache.get('fedavg/record') or []
    domain_record = cache.get('domain-aware/record') or []
    sites = len(d)
    bytes_ = {}
    for name, rec in (('shared', record), ('domain-aware', domain_record)):
        if rec:
            per_round = rec[0]['bytes_up'] + rec[0]['bytes_down']
            bytes_[name] = dict(per_round=per_round, per_site_round=per_round // sites)
    base = osp.join(ROOT, 'assets', 'shapeworld', 'tiny-glip_shapeworld_base.pth')
    return dict(rows=rows, reach=reach, bytes=bytes_, domains=d, rounds=rounds,
                local_iters=args.local_iters, shot=args.shot, seed=args.seed,
                base_bytes=osp.getsize(base))


def _kb(n):
    return f'{n / 1024:.1f} KB'


def to_markdown(s: dict) -> str:
    d = s['domains']
    lines = [
        f'Tiny GLIP, {len(d)} sites (one ShapeWorld domain each), {s["shot"]}-shot seed '
        f'{s["seed"]}, {s["rounds"]} rounds x {s["local_iters"]} local iterations (batch 2); '
        'test box AP. Generated by `python benchmarks/federated.py`; one seed, no interval: '
        'differences of a few points are within what a seed moves.', '',
        '| method | ' + ' | '.join(d) + ' | mean |',
        '|---|' + '---:|' * (len(d) + 1)]
    for name, row in s['rows'].items():
        lines.append(f'| {name} | ' + ' | '.join(f'{row[x]:.3f}' for x in d)
                     + f' | **{row["mean"]:.3f}** |')
    lines.append('')
    for name, b in s['bytes'].items():
        lines.append(f'- Bytes per round, {name} prompts: {_kb(b["per_site_round"])} per site '
                     f'(the adapter down and up), {_kb(b["per_round"])} for all {len(d)} sites; '
                     f'the base never travels (the tiny GLIP\'s file: '
                     f'{s["base_bytes"] / 2 ** 20:.1f} MB; GLIP-T\'s: 885 MB, docs/cost.md).')
    for name, r in s['reach'].items():
        label = 'shared' if name == 'fedavg' else 'domain-aware'
        reached = (f'round {r["rounds_to_90"]}' if r['rounds_to_90'] else
                   f'not within {s["rounds"]} rounds')
        lines.append(f'- Rounds to reach 90% of the centralized mean AP ({label}): {reached} '
                     f'(mean AP per round: {", ".join(f"{v:.3f}" for v in r["curve"])}).')
    return '\n'.join(lines) + '\n'


def main(argv=None):
    args = parse_args(argv)
    bench = Bench(args)
    if not args.collect_only:
        bench.run()
    summary = summarize(bench.cache, args)
    write_outputs(args.out, summary, bench.cache, to_markdown(summary), args.readme, BEGIN,
                  END)


if __name__ == '__main__':
    main()
