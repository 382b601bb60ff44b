"""The demo's learning benchmark: every tuner on the transfer set, same schedule and data.

    python benchmarks/demo_learning.py [--seeds 0 1 2] [--methods sdpt full linear_prob ...]
                                       [--iters 300] [--out work_dirs/demo_learning]
    python benchmarks/demo_learning.py --detector gdino --methods sdpt \
                                       --out work_dirs/demo_learning/gdino
    python benchmarks/demo_learning.py --collect A/results.json B/results.json  # merge

Each method trains from the committed tiny GLIP base (assets/demo; --detector gdino: the
tiny Grounding DINO base, rows named 'gdino: <method>') on the transfer part of
the generated shapes for the same number of iterations and batch size (its own learning
rate, as its config states), then is evaluated on the transfer test split. Prints a
markdown table (AP, AP50 as mean ± std over seeds, trainable parameters, tuning wall time)
and writes results.json and ap_vs_params.png to --out.
"""
import argparse
import json
import os
import os.path as osp
import time

import numpy as np
from mmengine.config import Config

import mmdet_sdpt  # noqa: F401
from mmdet_sdpt.adapter import get_tuner
from mmdet_sdpt.engine import build_runner
from mmdet_sdpt.utils.atomic_io import atomic_write, atomic_write_json

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
# the demo config's name for each detector: configs/sdpt/<name> (SDPT) and
# configs/baselines/<method>/<name> (the other tuners, where one exists)
DEMO_CONFIGS = {'glip': 'demo_tiny-glip_synthetic.py', 'gdino': 'demo_tiny-gdino_synthetic.py'}
SDPT = osp.join(ROOT, 'configs', 'sdpt', DEMO_CONFIGS['glip'])


def method_config(method: str, detector: str = 'glip') -> str:
    if method == 'sdpt':
        return osp.join(ROOT, 'configs', 'sdpt', DEMO_CONFIGS[detector])
    return osp.join(ROOT, 'configs', 'baselines', method, DEMO_CONFIGS[detector])


def available_methods(detector: str = 'glip'):
    folder = osp.join(ROOT, 'configs', 'baselines')
    others = sorted(m for m in os.listdir(folder)
                    if osp.isfile(method_config(m, detector))) if osp.isdir(folder) else []
    return ['sdpt'] + others


def row_name(method: str, detector: str = 'glip') -> str:
    """The results' row: the method for the tiny GLIP (as before), 'gdino: <method>' else."""
    return method if detector == 'glip' else f'{detector}: {method}'


def run(method: str, seed: int, iters: int, out: str, zero_shot: bool = False,
        detector: str = 'glip') -> dict:
    config = method_config(method, detector)
    if not osp.isfile(config):
        raise FileNotFoundError(f'no {detector} demo config for {method!r}: {config}')
    cfg = Config.fromfile(config)
    name = 'zero-shot' if zero_shot else method
    cfg.work_dir = osp.join(out, name, f'seed{seed}')
    cfg.experiment_name = f'{name}_seed{seed}'
    cfg.randomness = dict(seed=seed)
    cfg.train_cfg.max_iters = cfg.train_cfg.val_interval = iters
    cfg.default_hooks.checkpoint.interval = iters
    cfg.custom_hooks = [h for h in cfg.custom_hooks if h['type'] in (
        'FrozenSetHook', 'DivergenceGuardHook', 'AdapterCheckpointHook',
        'PlainCheckpointHook', 'PrototypeInitHook')]
    runner = build_runner(cfg)
    model = runner.model
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    start = time.perf_counter()
    if zero_shot:
        with get_tuner(model).disabled(model):
            metrics = runner.test()
        trainable = 0
    else:
        runner.train()
        metrics = runner.test()
    return dict(method=row_name(name, detector), seed=seed, ap=metrics['coco/bbox_mAP'],
                ap50=metrics['coco/bbox_mAP_50'], trainable=trainable,
                total=sum(p.numel() for p in model.parameters()),
                seconds=time.perf_counter() - start)


def table(results: list) -> str:
    lines = ['| method | AP | AP50 | trainable params | % of model | tune time (s) |',
             '|---|---|---|---|---|---|']
    for method in dict.fromkeys(r['method'] for r in results):
        rows = [r for r in results if r['method'] == method]
        ap, ap50 = (np.array([r[k] for r in rows]) for k in ('ap', 'ap50'))
        t = rows[0]['trainable']
        lines.append(f'| {method} | {ap.mean():.3f} ± {ap.std():.3f} | '
                     f'{ap50.mean():.3f} ± {ap50.std():.3f} | {t:,} | '
                     f'{100 * t / rows[0]["total"]:.3f} | '
                     f'{np.mean([r["seconds"] for r in rows]):.0f} |')
    return '\n'.join(lines)


TITLES = {'glip': 'tiny GLIP', 'gdino': 'tiny Grounding DINO'}


def plot(results: list, path: str, detector: str = 'glip') -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(9, 5))
    markers = 'osD^vP*Xh<>'  # colours repeat every 10 methods, (colour, marker) pairs do not
    for i, method in enumerate(dict.fromkeys(r['method'] for r in results)):
        rows = [r for r in results if r['method'] == method]
        aps = [r['ap'] for r in rows]
        x = max(rows[0]['trainable'], 1)
        ax.errorbar([x], [np.mean(aps)], yerr=[np.std(aps)], fmt=markers[i % len(markers)],
                    capsize=4, label=method)
    ax.set_xscale('log')
    ax.set_xlabel('trainable parameters (log; zero-shot drawn at 1)')
    ax.set_ylabel('box AP, transfer test split')
    ax.set_title(f'{TITLES[detector]}, vocabulary transfer (mean ± std over seeds)')
    ax.legend(fontsize=7, loc='upper left', bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format='png', dpi=120))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--detector', choices=sorted(DEMO_CONFIGS), default='glip',
                        help="the demo's tiny detector (default glip)")
    parser.add_argument('--methods', nargs='+', default=None)
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2])
    parser.add_argument('--iters', type=int, default=300)
    parser.add_argument('--out', default=osp.join(ROOT, 'work_dirs', 'demo_learning'))
    parser.add_argument('--no-zero-shot', action='store_true')
    parser.add_argument('--collect', nargs='+', metavar='RESULTS_JSON',
                        help='only merge the results.json of earlier (e.g. parallel) runs')
    args = parser.parse_args()
    if args.collect:
        results = [r for path in args.collect for r in json.load(open(path))]
        plot(results, osp.join(args.out, 'ap_vs_params.png'), args.detector)
        atomic_write_json(osp.join(args.out, 'results.json'), results, indent=1)
        print(table(results))
        return
    methods = args.methods or available_methods(args.detector)
    results = []
    if not args.no_zero_shot:
        results.append(run('sdpt', 0, args.iters, args.out, zero_shot=True,
                           detector=args.detector))
        results[0]['seconds'] = 0.0
    for method in methods:
        for seed in args.seeds:
            results.append(run(method, seed, args.iters, args.out, detector=args.detector))
            atomic_write_json(osp.join(args.out, 'results.json'), results, indent=1)
    plot(results, osp.join(args.out, 'ap_vs_params.png'), args.detector)
    detector = '' if args.detector == 'glip' else f', {TITLES[args.detector]}'
    print(f'\ndemo learning benchmark{detector}, {args.iters} iterations, seeds {args.seeds}\n')
    print(table(results))


if __name__ == '__main__':
    main()
