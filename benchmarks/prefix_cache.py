"""What the prefix cache saves: cached vs uncached tuning steps, full fine-tuning and a
plain forward, side by side in one run, on one synthetic batch.

    python benchmarks/prefix_cache.py                    # the tiny GLIP (a minute)
    python benchmarks/prefix_cache.py --full-size        # GLIP-T from random weights
    python benchmarks/prefix_cache.py --config configs/sdpt/gdino_t_coco.py   # GDINO-T
    python benchmarks/prefix_cache.py --config configs/sdpt/tiny-gdino_shapes.py

Each setting runs in its own spawned process (``tuning_cost.py``'s batch, BERT and memory
helpers, imported): 'plain' (SDPT with K=0: the loss forward without grad), 'full' (full
fine-tuning), 'sdpt-last1' (the config's budget K x L in the last fusion layer) and 'sdpt'
(the config's layers), each SDPT row uncached and with ``model.prefix_cache``. A cached
row's first step fills the cache (its time is reported as 'miss step'); the timed steps
then run on the same batch, as every epoch after the first does in few-shot tuning.
Inference: the same, for a no-grad ``predict`` (validation). Goals (issue #18): GLIP-T,
SDPT last layer, cached step <= 0.05x full and <= 0.5x plain.
"""
import argparse
import copy
import multiprocessing
import os
import os.path as osp
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, osp.join(ROOT, 'benchmarks'))

import torch  # noqa: E402
from mmdet.registry import MODELS  # noqa: E402
from mmengine.config import Config  # noqa: E402

import mmdet_sdpt  # noqa: E402,F401
from mmdet_sdpt.prefix_cache import sample_key  # noqa: E402
from mmdet_sdpt.utils.atomic_io import atomic_write_json  # noqa: E402
from tuning_cost import CONFIG, TINY_CONFIG, local_bert, make_batch, settings  # noqa: E402

CACHE = dict(max_bytes=8 * 2**30, device='same', log_interval=0)


def rows(cfg: Config) -> list:
    """[(name, tuner, cached, note)] in the order printed."""
    table = {name: (tuner, note) for name, tuner, note in settings(cfg)}
    out = [('plain', *table['plain'][:1], False, table['plain'][1]),
           ('full', table['full'][0], False, table['full'][1])]
    for name in ('sdpt-last1', 'sdpt'):
        tuner, note = table[name]
        out += [(name, tuner, False, note), (f'{name}-cached', tuner, True, note + ', cached')]
    return out


def worker(args, tuner: dict, cached: bool) -> dict:
    torch.set_num_threads(args.threads) if args.threads else None
    cfg, cuda = Config.fromfile(args.config), args.device.startswith('cuda')
    cfg.model.base_checkpoint = None  # random weights: the costs do not depend on them
    model_cfg = dict(cfg.model, tuner=tuner)
    if cached:
        model_cfg['prefix_cache'] = dict(CACHE, device=args.cache_device)
    torch.manual_seed(0)
    model = MODELS.build(model_cfg).to(args.device)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4) if params else None
    inputs, samples = make_batch(cfg, args.batch, args.size, args.device)
    sync = torch.cuda.synchronize if cuda else (lambda: None)

    def timed(train: bool = True) -> tuple:
        """(total, forward) seconds of one train step or one no-grad predict."""
        batch = copy.deepcopy(samples)
        sync()
        t0 = time.perf_counter()
        with torch.set_grad_enabled(train and opt is not None):
            if not train:
                model.eval().predict(inputs, batch)
                sync()
                return time.perf_counter() - t0, time.perf_counter() - t0
            losses = model.train().loss(inputs, batch)
            sync()
            forward = time.perf_counter() - t0
            if opt is not None:
                model.parse_losses(losses)[0].backward()
                opt.step()
                opt.zero_grad(set_to_none=True)
        sync()
        return time.perf_counter() - t0, forward

    first = timed()  # a cached row: every sample misses and is stored
    steps = [timed() for _ in range(args.warmup + args.steps)][args.warmup:]
    first_infer = timed(train=False)
    infer = [timed(train=False)[0] for _ in range(args.infer_runs)]
    t0 = time.perf_counter()
    for i, s in enumerate(samples):
        sample_key('loss', inputs[i], s)
    key_s = time.perf_counter() - t0
    cache = getattr(model, 'prefix_cache', None)
    return dict(tuner=repr(model.tuner), trainable=sum(p.numel() for p in params),
                first_step_s=first[0], step_s=statistics.median(s[0] for s in steps),
                forward_s=statistics.median(s[1] for s in steps),
                step_times=[s[0] for s in steps], first_infer_s=first_infer[0],
                infer_s=statistics.median(infer), key_s=key_s,
                cache=cache.stats() if cache is not None else None)


def run_worker(args, name: str, tuner: dict, cached: bool) -> dict:
    """``worker`` in a fresh spawned process (its stdout goes to stderr)."""
    print(f'[prefix_cache] {name} ...', file=sys.stderr, flush=True)
    with ProcessPoolExecutor(1, multiprocessing.get_context('spawn'), initializer=os.dup2,
                             initargs=(2, 1)) as pool:
        try:
            return pool.submit(worker, args, tuner, cached).result()
        except Exception as e:  # a build error, a refusal, or the process died
            return dict(skipped=f'{type(e).__name__}: {str(e)[-300:]}')


def markdown(table: list) -> str:
    ref = {r['name']: r for r in table if 'step_s' in r}
    full, plain = ref.get('full'), ref.get('plain')
    lines = ['| setting | note | miss step s | step s | forward s | x full | x plain forward '
             '| predict s (miss / hit) | x plain predict | hit rate | cache MiB |',
             '|' + '---|' * 11]
    for r in table:
        if 'step_s' not in r:
            lines.append(f"| {r['name']} | skipped: {r['skipped']} |" + ' |' * 9)
            continue
        c = r['cache'] or {}
        cells = [r['name'], r['note'], r['first_step_s'], r['step_s'], r['forward_s'],
                 r['step_s'] / full['step_s'] if full else None,
                 r['step_s'] / plain['step_s'] if plain else None,
                 f"{r['first_infer_s']:.2f} / {r['infer_s']:.2f}",
                 r['infer_s'] / plain['infer_s'] if plain else None,
                 f"{c['hit_rate']:.0%}" if c else '-',
                 f"{c['bytes'] / 2**20:.1f}" if c else '-']
        lines.append('| ' + ' | '.join('-' if v is None else f'{v:.3f}' if isinstance(
            v, float) else str(v) for v in cells) + ' |')
    return '\n'.join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--config', help=f'default: {osp.relpath(TINY_CONFIG, ROOT)}')
    p.add_argument('--full-size', action='store_true',
                   help=f'GLIP-T ({osp.relpath(CONFIG, ROOT)}) from random weights')
    for name, default in (('batch', 2), ('size', 320), ('steps', 3), ('warmup', 1),
                          ('infer-runs', 2), ('threads', 0)):
        p.add_argument(f'--{name}', type=int, default=default)
    p.add_argument('--methods', nargs='+',
                   help='sdpt-last1 and/or sdpt, each uncached and cached (default: both); '
                        'plain and full always run')
    p.add_argument('--cache-device', default='same', choices=['same', 'cpu'])
    p.add_argument('--device', help='default: cuda if available, else cpu')
    p.add_argument('--out', default='work_dirs/prefix_cache.json')
    args = p.parse_args(argv)
    args.config = args.config or (CONFIG if args.full_size else TINY_CONFIG)
    args.tiny = 'tiny' in osp.basename(args.config)  # for tuning_cost.local_bert
    args.device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    with tempfile.TemporaryDirectory() as tmp:
        local_bert(args, tmp)  # the workers inherit the environment
        table = []
        for name, tuner, cached, note in rows(Config.fromfile(args.config)):
            if args.methods and name.removesuffix('-cached') not in args.methods \
                    and name not in ('plain', 'full'):  # a method: uncached and cached
                continue
            table.append(dict(run_worker(args, name, tuner, cached), name=name, note=note))
    print(f'\n{osp.relpath(args.config, ROOT)}: batch {args.batch} x {args.size}^2, '
          f'{args.device}, median of {args.steps} steps after {args.warmup} warm-up '
          f'(a cached row: after the step that filled the cache), {args.infer_runs} '
          f'predict runs\n\n{markdown(table)}')
    for r in table:
        if r.get('cache'):
            print(f"{r['name']}: cut at {r['cache']['cut']}; keys (hash of the padded "
                  f"images) {1e3 * r['key_s']:.1f} ms a batch; backward + AdamW "
                  f"{r['step_s'] - r['forward_s']:.3f} s of the {r['step_s']:.3f} s step")
    atomic_write_json(args.out, dict(vars(args), rows=table), indent=1)
    print(f'\nwritten: {args.out}')


if __name__ == '__main__':
    main()
