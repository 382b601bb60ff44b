"""Self-TPT for GLIP, measured: does adapting the text context to new class names, with no
image, help a detector that was tuned on other names?

Stage 1 on a ShapeWorld source (K shots of each seed, the leaderboard's protocol): BaseShapes
(the base's own domain: its valid AP is saturated, stage 1 hardly moves) and NovelShapes (new
shapes the base has not learnt); then per target dataset whose names are new (Synonyms: new
words for the known shapes; ManyClasses: those and new shapes, four of them NovelShapes'),
test box AP of
  zero-shot                the base with the plain names;
  template                 the base with a hand-made template per name ("a photo of a
                           {name}", GLIP's caption prompt);
  K-template ensemble      the base with each class's token features averaged over K
                           template captions (configs/self_tpt/tiny-glip_shapeworld_ensemble.py);
  stage 1                  the stage-1 context, no stage 2;
  stage 1 without CPT      stage 1 with the detection loss alone (cpt_weight=0), no stage 2;
  Self-TPT                 stage 1, then stage 2 on the target's names (no images);
plus the source's AP kept (its test split with the same context) and the harmonic mean; the
control (stage 2 on the source's own names: the expected gain is ~0); the stage-2 seconds;
the cosine between CPT's and the detection loss's gradients over stage 1 (the premise);
mean and std over the seeds.

    python benchmarks/self_tpt.py            # resumable; writes the README block
    python benchmarks/self_tpt.py --collect-only
"""
import argparse
import json
import os
import os.path as osp
import re
import statistics
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)

from benchmarks.pieces import Pieces, write_outputs  # noqa: E402
from mmdet_sdpt.utils.atomic_io import atomic_write  # noqa: E402

BEGIN, END = '<!-- self-tpt:begin -->', '<!-- self-tpt:end -->'
CONFIG = 'configs/self_tpt/tiny-glip_shapeworld.py'
ENSEMBLE = 'configs/self_tpt/tiny-glip_shapeworld_ensemble.py'
TEMPLATE = 'a photo of a '


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--sources', nargs='+', default=['BaseShapes', 'NovelShapes'],
                   help='stage 1 datasets: BaseShapes (the base\'s own domain, its valid AP '
                        'saturated) and NovelShapes (new shapes the base has not learnt)')
    p.add_argument('--targets', nargs='+', default=['Synonyms', 'ManyClasses'])
    p.add_argument('--seeds', type=int, nargs='+', default=[3, 30, 300])
    p.add_argument('--shot', type=int, default=3)
    p.add_argument('--stage2-steps', type=int, default=50)
    p.add_argument('--max-epochs', type=int, default=15,
                   help='stage 1\'s cap (the base was pretrained on the source domain: its '
                        'valid AP plateaus early, ties never stop it)')
    p.add_argument('--work-root', default=osp.join(ROOT, 'work_dirs', 'self_tpt_benchmark'))
    p.add_argument('--out', default=osp.join(ROOT, 'benchmarks', 'results', 'self_tpt'))
    p.add_argument('--readme', default=osp.join(ROOT, 'README.md'))
    p.add_argument('--collect-only', action='store_true')
    return p.parse_args(argv)


def classes(name):
    from mmdet_sdpt.datasets.shapeworld import SHAPEWORLD_DATASETS
    return list(SHAPEWORLD_DATASETS[name]['classes'])


class Bench(Pieces):
    """The pieces of stage 1 on ``source``, kept in ``work_root/<source>``."""

    def __init__(self, args, source):
        super().__init__(osp.join(args.work_root, source))
        self.args, self.source = args, source

    def env(self, dataset, seed):
        return dict(os.environ, ODINW_DATASET=dataset, ODINW_SHOT=str(self.args.shot),
                    ODINW_SEED=str(seed), OMP_NUM_THREADS='1', PYTHONWARNINGS='ignore')

    def stage1(self, seed, cpt):
        work_dir = osp.join(self.root, f'stage1_{"cpt" if cpt else "nocpt"}_seed{seed}')
        options = ['--cfg-options', f'train_cfg.max_epochs={self.args.max_epochs}'] + (
            [] if cpt else ['model.tuner.cpt_weight=0.0'])
        self.tool('train.py', osp.join(ROOT, CONFIG), '--work-dir', work_dir, '--resume',
                  *options, env=self.env(self.source, seed))
        from mmdet_sdpt.protocol.steps import best_checkpoint
        cosines = _logged(work_dir, 'cos_cpt_task')
        return dict(checkpoint=best_checkpoint(work_dir),
                    cosine=dict(mean=round(statistics.mean(cosines), 4),
                                n=len(cosines)) if cosines else None)

    def stage2(self, seed, names, tag):
        out = osp.join(self.root, f'stage2_{tag}_seed{seed}.pth')
        self.tool('self_tpt_adapt.py', osp.join(ROOT, CONFIG),
                  self.cache[f'stage1/cpt/{seed}']['checkpoint'], '--names', *names,
                  '--steps', str(self.args.stage2_steps), '--out', out,
                  env=self.env(self.source, seed))
        import torch
        meta = torch.load(out, weights_only=True)['meta']['self_tpt_stage2']
        return dict(checkpoint=out, seconds=meta['seconds'])

    def test(self, dataset, seed, checkpoint=None, tag='', template=False, config=CONFIG):
        from mmdet_sdpt.leaderboard.runs import newest_result
        work_dir = osp.join(self.root, 'test', f'{tag}_{dataset}_seed{seed}')
        config = osp.join(ROOT, config)
        if template:  # GLIP's caption prompt: the template before every name
            config = osp.join(self.root, f'template_{dataset}.py')
            prompt = {n: dict(prefix=TEMPLATE) for n in classes(dataset)}
            atomic_write(config, f'_base_ = [{osp.join(ROOT, CONFIG)!r}]\ntest_dataloader = '
                                 f'dict(dataset=dict(caption_prompt={prompt!r}))\n')
        args = [config] + ([checkpoint] if checkpoint else ['--zero-shot'])
        self.tool('test.py', *args, '--work-dir', work_dir, env=self.env(dataset, seed))
        return round(json.load(open(newest_result(work_dir)))['coco/bbox_mAP'], 4)

    def run(self):
        a = self.args
        for seed in a.seeds:
            for cpt in (True, False):
                self.cached(f'stage1/{"cpt" if cpt else "nocpt"}/{seed}',
                            lambda: self.stage1(seed, cpt))
            for target in a.targets + [self.source]:
                tag = 'control' if target == self.source else target
                self.cached(f'stage2/{tag}/{seed}',
                            lambda: self.stage2(seed, classes(target), tag))
            s1 = self.cache[f'stage1/cpt/{seed}']['checkpoint']
            s1n = self.cache[f'stage1/nocpt/{seed}']['checkpoint']
            for dataset in a.targets + [self.source]:
                self.cached(f'zero-shot/{dataset}/{seed}', lambda: self.test(dataset, seed,
                                                                              tag='zero'))
                self.cached(f'template/{dataset}/{seed}', lambda: self.test(
                    dataset, seed, tag='template', template=True))
                self.cached(f'ensemble/{dataset}/{seed}', lambda: self.test(
                    dataset, seed, tag='ensemble', config=ENSEMBLE))
                self.cached(f'stage1/{dataset}/{seed}', lambda: self.test(dataset, seed, s1,
                                                                          'stage1'))
                self.cached(f'nocpt/{dataset}/{seed}', lambda: self.test(dataset, seed, s1n,
                                                                         'nocpt'))
            for target in a.targets:
                s2 = self.cache[f'stage2/{target}/{seed}']['checkpoint']
                self.cached(f'self-tpt/{target}/{seed}',
                            lambda: self.test(target, seed, s2, f'selftpt_{target}'))
                self.cached(f'self-tpt-base/{target}/{seed}',
                            lambda: self.test(self.source, seed, s2, f'selftpt_{target}'))
            control = self.cache[f'stage2/control/{seed}']['checkpoint']
            self.cached(f'control/{self.source}/{seed}',
                        lambda: self.test(self.source, seed, control, 'control'))
        target, seed = a.targets[0], a.seeds[0]
        self.cached('latency', lambda: self.latency(
            target, self.cache[f'stage2/{target}/{seed}']['checkpoint']))

    def latency(self, dataset, checkpoint, images=16, repeats=3):
        """Seconds per image of the base and of a Self-TPT adapter, one image per call,
        side by side in this process (best of ``repeats`` passes over ``images`` images)."""
        import torch
        from mmengine.config import Config
        from mmengine.dataset import pseudo_collate
        from mmengine.registry import init_default_scope
        from mmdet.registry import DATASETS, MODELS

        import mmdet_sdpt  # noqa: F401
        from mmdet_sdpt.adapter import load_adapter
        from mmdet_sdpt.utils.environ import environ
        torch.set_num_threads(1)
        with environ(dict(ODINW_DATASET=dataset)):
            cfg = Config.fromfile(osp.join(ROOT, CONFIG))
        init_default_scope('mmdet')
        base = MODELS.build(dict(cfg.model, zero_shot=True)).eval()
        tuned = MODELS.build(cfg.model).eval()
        load_adapter(tuned, checkpoint)
        data = DATASETS.build(cfg.test_dataloader.dataset)
        batches = [pseudo_collate([data[i]]) for i in range(min(images, len(data)))]
        seconds = {}
        with torch.no_grad():
            for _ in range(repeats):
                for name, model in (('base', base), ('self-tpt', tuned)):
                    start = time.perf_counter()
                    for batch in batches:
                        model.test_step(batch)
                    per_image = (time.perf_counter() - start) / len(batches)
                    seconds[name] = min(seconds.get(name, per_image), per_image)
        return dict(seconds, ratio=round(seconds['self-tpt'] / seconds['base'], 3),
                    images=len(batches))


def _logged(work_dir, key):
    """Every value of scalar ``key`` in the run's scalars.json (mmengine's vis backend)."""
    values = []
    for root, _, files in os.walk(work_dir):
        if 'scalars.json' in files:
            for line in open(osp.join(root, 'scalars.json')):
                row = json.loads(line)
                if key in row:
                    values.append(float(row[key]))
    return values


def _stats(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return dict(mean=round(statistics.mean(values), 4),
                std=round(statistics.stdev(values), 4) if len(values) > 1 else 0.0,
                n=len(values))


def _hm(a, b):
    return 2 * a * b / (a + b) if a and b else 0.0


def summarize(cache, args, source) -> dict:
    seeds, rows = args.seeds, {}
    for target in args.targets:
        base_of = {  # the source's AP kept by each variant (its test split, same context)
            'zero-shot': 'zero-shot', 'template': 'template',
            'K-template ensemble': 'ensemble', 'stage 1': 'stage1',
            'stage 1 without CPT': 'nocpt'}
        table = {}
        for label, key in base_of.items():
            novel = [cache.get(f'{key}/{target}/{s}') for s in seeds]
            base = [cache.get(f'{key}/{source}/{s}') for s in seeds]
            table[label] = (novel, base)
        table['Self-TPT'] = ([cache.get(f'self-tpt/{target}/{s}') for s in seeds],
                             [cache.get(f'self-tpt-base/{target}/{s}') for s in seeds])
        rows[target] = {}
        for label, (novel, base) in table.items():
            hm = [_hm(n, b) if n is not None and b is not None else None
                  for n, b in zip(novel, base)]
            rows[target][label] = dict(novel=_stats(novel), base=_stats(base), hm=_stats(hm))
    control = dict(stage1=_stats([cache.get(f'stage1/{source}/{s}') for s in seeds]),
                   stage2=_stats([cache.get(f'control/{source}/{s}') for s in seeds]))
    best_epochs = [_epoch((cache.get(f'stage1/cpt/{s}') or {}).get('checkpoint'))
                   for s in seeds]
    cosine = _stats([(cache.get(f'stage1/cpt/{s}') or {}).get('cosine', {}).get('mean')
                     if (cache.get(f'stage1/cpt/{s}') or {}).get('cosine') else None
                     for s in seeds])
    seconds = _stats([(cache.get(f'stage2/{t}/{s}') or {}).get('seconds')
                      for t in args.targets for s in seeds])
    return dict(source=source, rows=rows, control=control, cosine=cosine,
                best_epochs=best_epochs, stage2_seconds=seconds,
                latency=cache.get('latency'), seeds=seeds, shot=args.shot,
                stage2_steps=args.stage2_steps, max_epochs=getattr(args, 'max_epochs', None))


def _epoch(checkpoint):
    """The epoch of a best-on-valid checkpoint's name, or None."""
    found = re.search(r'_epoch_(\d+)\.pth$', checkpoint or '')
    return int(found[1]) if found else None


def _fmt(stat):
    if not stat:
        return '—'
    if stat['n'] == 1:
        return f'{stat["mean"]:.3f} (1 seed)'
    return f'{stat["mean"]:.3f} ± {stat["std"]:.3f}'


def to_markdown(summary: dict) -> str:
    first = next(iter(summary['sources'].values()), None)
    if first is None:
        return 'No Self-TPT figures yet.\n'
    lines = [f'Tiny GLIP, stage 1 on a ShapeWorld source ({first["shot"]}-shot, the '
             f'leaderboard\'s schedule capped at {first["max_epochs"]} epochs), seeds '
             f'{", ".join(map(str, first["seeds"]))} (mean ± std); box AP on the target\'s '
             'test split (new names) and on the source\'s (kept), harmonic mean. Stage 2: '
             f'{first["stage2_steps"]} steps on the names alone. Generated by '
             '`python benchmarks/self_tpt.py`.', '']
    for s in summary['sources'].values():
        lines += _source_markdown(s)
    return '\n'.join(lines) + '\n'


def _source_markdown(s: dict) -> list:
    source = s['source']
    epochs = ', '.join('—' if e is None else str(e) for e in s['best_epochs'])
    lines = [f'**Stage 1 on {source}** (stage 1\'s best-on-valid epoch per seed: {epochs})',
             '']
    for target, rows in s['rows'].items():
        lines += [f'| {target} | new-name AP | {source} AP | HM |', '|---|---:|---:|---:|']
        for label, r in rows.items():
            lines.append(f'| {label} | {_fmt(r["novel"])} | {_fmt(r["base"])} | '
                         f'{_fmt(r["hm"])} |')
        lines.append('')
    c = s['control']
    lines.append(f'- Control (stage 2 on the source\'s own names): {source} AP '
                 f'{_fmt(c["stage1"])} after stage 1, {_fmt(c["stage2"])} after stage 2.')
    lines.append('- Premise: cos(CPT gradient, detection gradient) over stage 1, mean per '
                 f'seed: {_fmt(s["cosine"])}.')
    lat = s.get('latency')
    cost = ('' if not lat else f' Per image (one CPU core, {lat["images"]} images): base '
            f'{lat["base"] * 1000:.0f} ms, Self-TPT {lat["self-tpt"] * 1000:.0f} ms '
            f'(ratio {lat["ratio"]:.2f}; Self-TPT adds 4 context tokens to BERT).')
    lines.append(f'- Stage 2 takes {_fmt(s["stage2_seconds"])} s per name set on one CPU '
                 f'core.{cost}')
    return lines + ['']


def main(argv=None):
    args = parse_args(argv)
    sources, pieces = {}, {}
    for source in args.sources:
        bench = Bench(args, source)
        if not args.collect_only:
            bench.run()
        sources[source] = summarize(bench.cache, args, source)
        pieces[source] = bench.cache
    summary = dict(sources=sources)
    write_outputs(args.out, summary, pieces, to_markdown(summary), args.readme, BEGIN, END)


if __name__ == '__main__':
    main()
