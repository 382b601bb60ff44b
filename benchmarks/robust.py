"""AdvPT for a grounding detector, measured honestly: clean and robust box AP of the tiny GLIP
on a ShapeWorld dataset under three L-inf PGD attacks (mmdet_sdpt/robust/attacks.py):

  feature   AdvPT's prompt-free feature attack on the base's backbone+neck (what AdvPT
            trains against; one set of adversarial images for every method);
  adaptive  PGD on the detection loss through the tested model, its tuned prompts (or
            weights) in the loop: the end-to-end attack AdvPT's own evaluation leaves out;
  transfer  the same PGD against the zero-shot base, its images given to each model.

Rows: zero-shot; SDPT (clean training); AdvPT-SDPT (SDPT trained on the training images
attacked once, eps 8/255, 10 steps, AdvPT's training attack, the prefix cache keeping their
features); AdvPT text prompts (language_prompt_v2 on the same images); full adversarial
fine-tuning on the same images (the costly reference). Every training follows the
leaderboard's protocol (GLIP's few-shot schedule, best on the clean valid split) at the rate
the leaderboard's sweep chose for the method. Test attacks: --test-steps PGD steps (AdvPT
tests with 40 at 16/255; this CPU budget: 10), step 1.25 eps / steps, random start.

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
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)

from benchmarks.pieces import Pieces, write_outputs  # noqa: E402

BEGIN, END = '<!-- robust:begin -->', '<!-- robust:end -->'
SDPT = 'configs/sdpt/tiny-glip_shapeworld.py'
# row: (config, trained on the adversarial copy, the leaderboard's method for its rate)
ROWS = {
    'zero-shot': (SDPT, None, None),
    'SDPT': (SDPT, False, 'tiny-glip sdpt'),
    'AdvPT-SDPT': ('configs/robust/tiny-glip_shapeworld_advpt.py', True, 'tiny-glip sdpt'),
    'AdvPT text prompts (language_prompt_v2)': (
        'configs/baselines/language_prompt_v2/tiny-glip_shapeworld.py', True,
        'tiny-glip language_prompt_v2'),
    'full adversarial fine-tuning': ('configs/baselines/full/tiny-glip_shapeworld.py', True,
                                     'tiny-glip full'),
}
ATTACKS = ('feature', 'adaptive', 'transfer')


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--dataset', default='Thermal')
    p.add_argument('--shot', type=int, default=3)
    p.add_argument('--seed', type=int, default=3)
    p.add_argument('--eps', type=float, nargs='+', default=[2, 4, 8])
    p.add_argument('--test-steps', type=int, default=10)
    p.add_argument('--train-eps', type=float, default=8)
    p.add_argument('--train-steps', type=int, default=10)
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
    def __init__(self, args):
        super().__init__(args.work_root)
        self.args = args
        self.clean_root = osp.join(self.root, 'data')
        self.adv_root = osp.join(self.root, f'adversarial_eps{args.train_eps:g}')

    def env(self, adversarial=False):
        return dict(os.environ, ODINW_DATASET=self.args.dataset, ODINW_SHOT=str(self.args.shot),
                    ODINW_SEED=str(self.args.seed), OMP_NUM_THREADS='1',
                    PYTHONWARNINGS='ignore',
                    ODINW_ROOT=self.adv_root if adversarial else self.clean_root)

    def make_adversarial(self):
        start = time.time()
        self.tool('make_adversarial.py', osp.join(ROOT, SDPT), '--out', self.adv_root,
                  '--eps', str(self.args.train_eps), '--steps', str(self.args.train_steps),
                  env=self.env())
        return dict(seconds=round(time.time() - start, 1))

    def train(self, row):
        config, adversarial, method = ROWS[row]
        work_dir = osp.join(self.root, 'train', re.sub(r'\W+', '_', row))
        options = []
        rate = chosen_rate(method)
        if rate is not None:
            options = ['--cfg-options', f'optim_wrapper.optimizer.lr={rate}']
        self.tool('train.py', osp.join(ROOT, config), '--work-dir', work_dir, '--resume',
                  *options, env=self.env(adversarial))
        from mmdet_sdpt.protocol.steps import best_checkpoint
        cost = json.load(open(osp.join(work_dir, 'cost.json')))
        best = cost.get('best') or {}
        return dict(checkpoint=best_checkpoint(work_dir), lr=rate,
                    train_seconds=cost.get('train_seconds'), epochs=cost.get('epochs'),
                    seconds_to_best=best.get('seconds'), stopped_early=cost.get('stopped_early'))

    def robust(self, row, attack, eps):
        """{eps: AP} of ``row`` under ``attack`` at every budget of ``eps`` (one process)."""
        config = ROWS[row][0]
        work_dir = osp.join(self.root, 'robust', re.sub(r'\W+', '_', row), attack)
        target = (['--zero-shot'] if row == 'zero-shot' else
                  [self.cache[f'train/{row}']['checkpoint']])
        self.tool('robust_test.py', osp.join(ROOT, config), *target, '--attack', attack,
                  '--eps', *[f'{e:g}' for e in eps], '--steps', str(self.args.test_steps),
                  '--work-dir', work_dir, env=self.env())
        return json.load(open(osp.join(work_dir, f'robust_{attack}.json')))['ap']

    def run(self):
        a = self.args
        if any(ROWS[r][1] for r in a.rows):
            self.cached('adversarial_images', self.make_adversarial)
        for row in a.rows:
            if row != 'zero-shot':
                self.cached(f'train/{row}', lambda: self.train(row))
            for attack in ATTACKS:
                if attack == 'transfer' and row == 'zero-shot':
                    continue  # the base's own attack is the adaptive one
                # the clean AP with the adaptive attack's process (eps 0)
                eps = ([0.0] if attack == 'adaptive' else []) + list(a.eps)
                self.cached(f'{row}/{attack}', lambda: self.robust(row, attack, eps))


def summarize(cache, args) -> dict:
    table = {}
    for row in args.rows:
        adaptive = cache.get(f'{row}/adaptive')
        if adaptive is None:
            continue
        entry = dict(clean=adaptive.get('0'))
        for attack in ATTACKS:
            key = 'adaptive' if (attack == 'transfer' and row == 'zero-shot') else attack
            got = cache.get(f'{row}/{key}') or {}
            entry[attack] = {f'{e:g}': got.get(f'{e:g}') for e in args.eps}
        train = cache.get(f'train/{row}') or {}
        entry['train_seconds'] = train.get('train_seconds')
        entry['lr'] = train.get('lr')
        table[row] = entry
    return dict(rows=table, dataset=args.dataset, shot=args.shot, seed=args.seed,
                eps=[f'{e:g}' for e in args.eps], test_steps=args.test_steps,
                train_eps=args.train_eps, train_steps=args.train_steps,
                attack_seconds=(cache.get('adversarial_images') or {}).get('seconds'))


def _ap(x):
    return '—' if x is None else f'{x:.3f}'


def to_markdown(s: dict) -> str:
    eps = s['eps']
    head = ['method', 'clean'] + [f'{a} {e}' for a in ATTACKS for e in eps] + ['train s']
    lines = [
        f'Tiny GLIP on ShapeWorld {s["dataset"]}, {s["shot"]}-shot seed {s["seed"]}; box AP on '
        f'the test split, clean and under L-inf PGD at eps/255 = {", ".join(eps)} '
        f'({s["test_steps"]} steps). AdvPT rows trained on the training images attacked once '
        f'(feature attack, eps {s["train_eps"]:g}/255, {s["train_steps"]} steps: '
        f'{s["attack_seconds"]} s). Generated by `python benchmarks/robust.py`; one dataset, '
        'one seed.', '',
        '| ' + ' | '.join(head) + ' |', '|---|' + '---:|' * (len(head) - 1)]
    for row, e in s['rows'].items():
        cells = [row, _ap(e['clean'])] + [_ap(e[a][x]) for a in ATTACKS for x in eps]
        secs = e.get('train_seconds')
        cells.append('—' if secs is None else f'{secs:.0f}')
        lines.append('| ' + ' | '.join(cells) + ' |')
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
