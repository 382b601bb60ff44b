"""Which fusion layers carry prompts: step time and memory (GLIP-T) against demo AP.

    python benchmarks/layer_tradeoff.py [--cost work_dirs/tuning_cost_glip_t.json]
        [--demo work_dirs/demo_learning/results.json] [--out work_dirs/layer_tradeoff]

Reads what the two benchmarks wrote (it trains and times nothing itself):
benchmarks/tuning_cost.py's rows 'sdpt' (all fusion layers), 'sdpt-last{1,2,3}' (the same
budget in the last n layers) and 'full', and benchmarks/demo_learning.py's rows 'zero-shot',
'sdpt' and 'sdpt_last{n}' (configs/baselines/sdpt_last{n}). The demo's tiny GLIP has two
fusion layers, so its 'sdpt' row is the all-layer (= last-2) setting. Prints a markdown
table, and writes it with a PNG (demo AP against step time / full fine-tuning) to --out.
"""
import argparse
import json
import os.path as osp

import numpy as np

from mmdet_sdpt.utils.atomic_io import atomic_write, atomic_write_json

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def demo_ap(results: list, method: str):
    aps = [r['ap'] for r in results if r['method'] == method]
    return (float(np.mean(aps)), float(np.std(aps)), len(aps)) if aps else None


def tradeoff(cost: dict, demo: list, demo_layers: int) -> list:
    rows = {r['name']: r for r in cost['rows'] if 'step_s' in r}
    zero = demo_ap(demo, 'zero-shot')
    every = demo_ap(demo, 'sdpt')
    out = []
    for name in ('sdpt', 'sdpt-last3', 'sdpt-last2', 'sdpt-last1'):
        if name not in rows:
            continue
        n = None if name == 'sdpt' else int(name[-1])
        r = rows[name]
        # the demo's matching row: all layers, or the last n (all, once n >= its layers)
        method = 'sdpt' if n is None or n >= demo_layers else f'sdpt_last{n}'
        ap = demo_ap(demo, method)
        gain = (ap[0] - zero[0]) / (every[0] - zero[0]) if ap and zero and every else None
        out.append(dict(setting=name, layers='all' if n is None else f'last {n}',
                        fusion_layers=r['fusion_layers'], note=r['note'],
                        trainable=r['trainable'], step_s=r['step_s'],
                        step_vs_full=r['step_vs_full'], mem_vs_full=r['mem_vs_full'],
                        demo_method=method if ap else None,
                        demo_ap=ap[0] if ap else None, demo_ap_std=ap[1] if ap else None,
                        demo_seeds=ap[2] if ap else 0, share_of_gain=gain))
    return out


def markdown(rows: list) -> str:
    lines = ['| prompted layers (GLIP-T) | tokens | step s | x full | peak mem x full '
             '| demo row | demo AP | share of all-layer gain |', '|' + '---|' * 8]
    for r in rows:
        ap = (f"{r['demo_ap']:.3f} ± {r['demo_ap_std']:.3f} ({r['demo_seeds']} seeds)"
              if r['demo_ap'] is not None else '-')
        gain = f"{100 * r['share_of_gain']:.0f}%" if r['share_of_gain'] is not None else '-'
        lines.append(f"| {r['layers']} | {r['note']} | {r['step_s']:.2f} | "
                     f"{r['step_vs_full']:.2f} | {r['mem_vs_full']:.2f} | "
                     f"{r['demo_method'] or '-'} | {ap} | {gain} |")
    return '\n'.join(lines)


def plot(rows: list, zero_ap, path: str) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4))
    for r in rows:
        if r['demo_ap'] is None:
            continue
        ax.errorbar([r['step_vs_full']], [r['demo_ap']], yerr=[r['demo_ap_std']], fmt='o',
                    capsize=4, label=f"{r['layers']} ({r['note']})")
    if zero_ap:
        ax.axhline(zero_ap[0], ls='--', c='grey', label='zero-shot')
    ax.set_xlabel('train step time / full fine-tuning (GLIP-T, batch 2, 320²)')
    ax.set_ylabel('demo box AP (tiny GLIP, transfer test)')
    ax.set_title('SDPT: which fusion layers carry the prompts')
    ax.legend(fontsize=8)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format='png', dpi=120))


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--cost', default=osp.join(ROOT, 'work_dirs', 'tuning_cost_glip_t.json'))
    p.add_argument('--demo', default=osp.join(ROOT, 'work_dirs', 'demo_learning',
                                              'results.json'))
    p.add_argument('--demo-layers', type=int, default=2, help="the demo model's fusion layers")
    p.add_argument('--out', default=osp.join(ROOT, 'work_dirs', 'layer_tradeoff'))
    args = p.parse_args()
    for path in (args.cost, args.demo):
        if not osp.isfile(path):
            p.error(f'{path} not found: run benchmarks/tuning_cost.py and '
                    'benchmarks/demo_learning.py first (see their --out)')
    cost, demo = json.load(open(args.cost)), json.load(open(args.demo))
    rows = tradeoff(cost, demo, args.demo_layers)
    if not rows:
        p.error(f"{args.cost} has no 'sdpt' / 'sdpt-last*' rows")
    table = markdown(rows)
    print(table)
    atomic_write_json(osp.join(args.out, 'layer_tradeoff.json'), rows, indent=1)
    plot(rows, demo_ap(demo, 'zero-shot'), osp.join(args.out, 'layer_tradeoff.png'))
    print(f"\nwritten: {osp.join(args.out, 'layer_tradeoff.json')}, layer_tradeoff.png")


if __name__ == '__main__':
    main()
