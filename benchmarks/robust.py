"""AdvPT for a grounding detector, measured honestly: clean and robust box AP of the tiny GLIP
on ShapeWorld datasets and the embedded demo under three L-inf PGD attacks
(mmdet_sdpt/robust/attacks.py):

  feature   AdvPT's prompt-free feature attack on the base's backbone+neck (what AdvPT
            trains against; one set of adversarial images for every method);
  adaptive  PGD on the detection loss through the tested model, its tuned prompts (or
            weights) in the loop: the end-to-end attack AdvPT's own evaluation leaves out;
  transfer  the same PGD against the zero-shot base, its images given to each model.

and AdvPT's own test attack (the feature attack at 16/255, 40 steps).

Rows: zero-shot; SDPT (clean training); AdvPT-SDPT (SDPT trained on the training images
attacked once, eps 8/255, 10 steps, AdvPT's training attack, the prefix cache keeping their
features); AdvPT text prompts (language_prompt_v2 on the same images); full adversarial
fine-tuning on the same images (the costly reference). Each adversarial row is one config of
configs/robust/ whose run attacks its own training images (AdversarialTrainingSetHook). On
ShapeWorld every training follows the leaderboard's protocol (GLIP's few-shot schedule,
best on the clean valid split) at the rate the leaderboard's sweep chose for the method; on
the demo (``--datasets demo``) each row is the demo's own config (300 iterations, its rate,
tested at the end). Test attacks:
--test-steps PGD steps (this CPU budget: 10; AdvPT's 40 at 16/255 in its own column), step
1.25 eps / steps, random start.

    python benchmarks/robust.py                      # resumable; writes the README block
    python benchmarks/robust.py --collect-only

Writes benchmarks/results/robust.{json,md} and the README's block between
``<!-- robust:begin -->`` and ``<!-- robust:end -->``.
"""
import argparse
import json
import os
import os.path as osp
import re
import sys

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)

from benchmarks.pieces import Pieces, write_outputs  # noqa: E402

BEGIN, END = '<!-- robust:begin -->', '<!-- robust:end -->'
# row: (config on ShapeWorld, config on the demo, the leaderboard's method for its rate on
# ShapeWorld); the adversarial rows' configs attack their training images themselves
# (AdversarialTrainingSetHook)
ROWS = {
    'zero-shot': ('configs/sdpt/tiny-glip_shapeworld.py',
                  'configs/sdpt/demo_tiny-glip_synthetic.py', None),
    'SDPT': ('configs/sdpt/tiny-glip_shapeworld.py', 'configs/sdpt/demo_tiny-glip_synthetic.py',
             'tiny-glip sdpt'),
    'AdvPT-SDPT': ('configs/robust/tiny-glip_shapeworld_advpt.py',
                   'configs/robust/demo_tiny-glip_synthetic_advpt.py', 'tiny-glip sdpt'),
    'AdvPT text prompts (language_prompt_v2)': (
        'configs/robust/tiny-glip_shapeworld_advpt_text.py',
        'configs/robust/demo_tiny-glip_synthetic_advpt_text.py', 'tiny-glip language_prompt_v2'),
    'full adversarial fine-tuning': (
        'configs/robust/tiny-glip_shapeworld_adv_full.py',
        'configs/robust/demo_tiny-glip_synthetic_adv_full.py', 'tiny-glip full'),
}
DEMO = 'demo'
ATTACKS = ('feature', 'adaptive', 'transfer')


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--datasets', nargs='+', default=['Thermal', 'Synonyms', DEMO],
                   help=f'ShapeWorld datasets, and {DEMO!r} for the embedded demo')
    p.add_argument('--shot', type=int, default=3)
    p.add_argument('--seed', type=int, default=3)
    p.add_argument('--eps', type=float, nargs='+', default=[2, 4, 8])
    p.add_argument('--test-steps', type=int, default=10)
    p.add_argument('--advpt-test', type=float, nargs=2, default=[16, 40],
                   metavar=('EPS', 'STEPS'), help="AdvPT's own test attack (feature)")
    p.add_argument('--rows', nargs='+', default=list(ROWS))
    p.add_argument('--work-root', default=osp.join(ROOT, 'work_dirs', 'robust_benchmark'))
    p.add_argument('--out', default=osp.join(ROOT, 'benchmarks', 'results', 'robust'))
    p.add_argument('--readme', default=osp.join(ROOT, 'README.md'))
    p.add_argument('--collect-only', action='store_true')
    return p.parse_args(argv)


def chosen_rate(method):
    """The leaderboard's rate for ``method`` (benchmarks/results/leaderboard.json), or None
    (the config's own)."""
    path = osp.join(ROOT, 'benchmarks', 'results', 'leaderboard.json')
    if method is None or not osp.exists(path):
        return None
    return (json.load(open(path)).get('learning_rates', {}).get(method) or {}).get('lr')


class Bench(Pieces):
    """The pieces of every dataset, keyed ``<dataset>/<piece>``; each dataset's work under
    ``work_root/<dataset>``."""

    def __init__(self, args):
        super().__init__(args.work_root)
        self.args = args
        self.clean_root = osp.join(self.root, 'data')  # the generated suite, or the demo's

    def config(self, dataset, row):
        return osp.join(ROOT, ROWS[row][1 if dataset == DEMO else 0])

    def env(self, dataset):
        env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONWARNINGS='ignore')
        if dataset == DEMO:
            return dict(env, DEMO_DATA=self.clean_root)
        return dict(env, ODINW_DATASET=dataset, ODINW_SHOT=str(self.args.shot),
                    ODINW_SEED=str(self.args.seed), ODINW_ROOT=self.clean_root)

    def train(self, dataset, row):
        method = ROWS[row][2]
        work_dir = osp.join(self.root, dataset, 'train', re.sub(r'\W+', '_', row))
        options = []
        rate = None if dataset == DEMO else chosen_rate(method)
        if rate is not None:
            options = ['--cfg-options', f'optim_wrapper.optimizer.lr={rate}']
        self.tool('train.py', self.config(dataset, row), '--work-dir', work_dir, '--resume',
                  *options, env=self.env(dataset))
        from mmdet_sdpt.protocol.steps import best_checkpoint
        cost = json.load(open(osp.join(work_dir, 'cost.json')))
        best = cost.get('best') or {}
        manifest = osp.join(work_dir, 'adversarial', 'manifest.json')
        attack = json.load(open(manifest)) if osp.exists(manifest) else {}
        return dict(checkpoint=best_checkpoint(work_dir), lr=rate,
                    train_seconds=cost.get('train_seconds'), epochs=cost.get('epochs'),
                    seconds_to_best=best.get('seconds'), stopped_early=cost.get('stopped_early'),
                    attack=attack.get('setting'), attack_seconds=attack.get('seconds'))

    def robust(self, dataset, row, attack, eps, steps, name=None):
        """{eps: AP} of ``row`` under ``attack`` at every budget of ``eps`` (one process)."""
        work_dir = osp.join(self.root, dataset, 'robust', re.sub(r'\W+', '_', row),
                            name or attack)
        target = (['--zero-shot'] if row == 'zero-shot' else
                  [self.cache[f'{dataset}/train/{row}']['checkpoint']])
        self.tool('robust_test.py', self.config(dataset, row), *target, '--attack', attack,
                  '--eps', *[f'{e:g}' for e in eps], '--steps', str(steps),
                  '--work-dir', work_dir, env=self.env(dataset))
        return json.load(open(osp.join(work_dir, f'robust_{attack}.json')))['ap']

    def run(self):
        a = self.args
        for dataset in a.datasets:
            for row in a.rows:
                key = f'{dataset}/{row}'
                if row != 'zero-shot':
                    self.cached(f'{dataset}/train/{row}', lambda: self.train(dataset, row))
                for attack in ATTACKS:
                    if attack == 'transfer' and row == 'zero-shot':
                        continue  # the base's own attack is the adaptive one
                    # the clean AP with the adaptive attack's process (eps 0)
                    eps = ([0.0] if attack == 'adaptive' else []) + list(a.eps)
                    self.cached(f'{key}/{attack}',
                                lambda: self.robust(dataset, row, attack, eps, a.test_steps))
                eps, steps = a.advpt_test
                self.cached(f'{key}/advpt_test', lambda: self.robust(
                    dataset, row, 'feature', [eps], int(steps), name='advpt_test'))


def summarize(cache, args) -> dict:
    datasets = {}
    for dataset in args.datasets:
        table = {}
        for row in args.rows:
            got = {k[len(f'{dataset}/{row}/'):]: v for k, v in cache.items()
                   if k.startswith(f'{dataset}/{row}/')}
            if 'adaptive' not in got:
                continue
            entry = dict(clean=got['adaptive'].get('0'))
            for attack in ATTACKS:
                key = 'adaptive' if (attack == 'transfer' and row == 'zero-shot') else attack
                entry[attack] = {f'{e:g}': (got.get(key) or {}).get(f'{e:g}')
                                 for e in args.eps}
            entry['advpt_test'] = (got.get('advpt_test') or {}).get(f'{args.advpt_test[0]:g}')
            train = cache.get(f'{dataset}/train/{row}') or {}
            entry['train_seconds'] = train.get('train_seconds')
            entry['lr'] = train.get('lr')
            table[row] = entry
        if table:
            attack = cache.get(f'{dataset}/train/AdvPT-SDPT') or {}
            datasets[dataset] = dict(rows=table, attack_seconds=attack.get('attack_seconds'),
                                     attack=attack.get('attack'))
    return dict(datasets=datasets, shot=args.shot, seed=args.seed,
                eps=[f'{e:g}' for e in args.eps], test_steps=args.test_steps,
                advpt_test=dict(eps=args.advpt_test[0], steps=int(args.advpt_test[1])))


def _ap(x):
    return '—' if x is None else f'{x:.3f}'


def to_markdown(s: dict) -> str:
    eps, advpt = s['eps'], s['advpt_test']
    head = (['method', 'clean'] + [f'{a} {e}' for a in ATTACKS for e in eps] +
            [f'AdvPT test {advpt["eps"]:g}', 'train s'])
    lines = [
        f'Tiny GLIP; box AP on the test split, clean and under L-inf PGD at eps/255 = '
        f'{", ".join(eps)} ({s["test_steps"]} steps), and under AdvPT\'s own test attack (the '
        f'feature attack at {advpt["eps"]:g}/255, {advpt["steps"]} steps). ShapeWorld: '
        f'{s["shot"]}-shot seed {s["seed"]}, GLIP\'s few-shot schedule; the demo: its own '
        '300 iterations. The adversarial rows train on the training images attacked once '
        '(feature attack, eps 8/255, 10 steps: configs/robust/). Generated by '
        '`python benchmarks/robust.py`; one seed.', '']
    for dataset, d in s['datasets'].items():
        name = 'the demo' if dataset == DEMO else f'ShapeWorld {dataset}'
        lines += [f'**{name}** (training images attacked in {d["attack_seconds"]} s)', '',
                  '| ' + ' | '.join(head) + ' |', '|---|' + '---:|' * (len(head) - 1)]
        for row, e in d['rows'].items():
            cells = ([row, _ap(e['clean'])] + [_ap(e[a][x]) for a in ATTACKS for x in eps] +
                     [_ap(e.get('advpt_test'))])
            secs = e.get('train_seconds')
            cells.append('—' if secs is None else f'{secs:.0f}')
            lines.append('| ' + ' | '.join(cells) + ' |')
        lines.append('')
    return '\n'.join(lines)


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
