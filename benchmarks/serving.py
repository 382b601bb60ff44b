"""Serving many adapters from one base: memory, switch latency and throughput.

    python benchmarks/serving.py --tiny                  # the tiny GLIP (seconds)
    python benchmarks/serving.py                         # GLIP-T from random weights
    python benchmarks/serving.py --config configs/sdpt/tiny-gdino_shapes.py

For N = 1, 4, 13 adapters (random tokens, as N domains would train) on one base, each N in
its own spawned process: the process's resident memory (after one warm-up request, freed
heap handed back) and the tensor bytes (base + banks) against N merged models (their RSS as
N x the RSS one model adds when built);
the latency of switching adapters (choosing one per call: ``AdapterBank.choice``) against
loading an adapter's tensors into the model (``load_state_dict``, what one model per
adapter would do per switch); throughput (images/s, no-grad predict of one batch) with the
model's own tokens, one adapter for the batch, and a mixed batch (every image its own
adapter, cycling over the N). Goals (issue): switch <= 1 ms, mixed >= 0.9x single,
memory with 13 adapters <= 1.05x one base.
"""
import argparse
import copy
import ctypes
import gc
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
from mmdet_sdpt.adapter import get_tuner, to_adapter_checkpoint  # noqa: E402
from mmdet_sdpt.serving import AdapterBank  # noqa: E402
from mmdet_sdpt.utils.atomic_io import atomic_write_json  # noqa: E402
from tuning_cost import local_bert, make_batch, rss  # noqa: E402

CONFIG = osp.join(ROOT, 'configs/sdpt/glip_t_coco.py')
TINY_CONFIG = osp.join(ROOT, 'configs/sdpt/tiny-glip_shapes.py')


def resident() -> int:
    """VmRSS after glibc hands the freed heap back (malloc_trim): what the process holds,
    not the high-water of temporaries it freed (building a bank computes each adapter's
    prompts once, through temporaries). Plain VmRSS where malloc_trim is missing."""
    try:
        ctypes.CDLL('libc.so.6').malloc_trim(0)
    except (OSError, AttributeError):
        pass
    return rss()


def tensor_bytes(model) -> int:
    return sum(t.numel() * t.element_size() for t in model.state_dict().values())


def adapters(model, n: int, seed: int = 0) -> dict:
    """n adapter checkpoints: the model's tuned tensors, each moved at random."""
    out, g = {}, torch.Generator().manual_seed(seed)
    state = model.state_dict()
    tuner = get_tuner(model)
    for i in range(n):
        moved = {k: (v + 0.1 * torch.randn(v.shape, generator=g).to(v)) if tuner.trainable(k)
                 else v for k, v in state.items()}
        out[f'domain{i}'] = to_adapter_checkpoint(model, {'state_dict': moved, 'meta': {}})
    return out


def timed(fn, runs: int, warmup: int = 1, cuda: bool = False) -> float:
    """Median seconds of ``fn()`` over ``runs`` after ``warmup``."""
    times = []
    for i in range(warmup + runs):
        torch.cuda.synchronize() if cuda else None
        t0 = time.perf_counter()
        fn()
        torch.cuda.synchronize() if cuda else None
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def worker(args, n: int) -> dict:
    torch.set_num_threads(args.threads) if args.threads else None
    cuda = args.device.startswith('cuda')
    cfg = Config.fromfile(args.config)
    cfg.model.base_checkpoint = None  # random weights: costs do not depend on them
    gc.collect()
    before = resident()
    torch.manual_seed(0)
    model = MODELS.build(cfg.model).to(args.device).eval()
    one_model = resident() - before
    checkpoints = adapters(model, n)
    inputs, samples = make_batch(cfg, args.batch, args.size, args.device)
    data = dict(inputs=list(inputs), data_samples=samples)
    with torch.no_grad():  # a serving base has answered a request: its kernels are loaded
        model.test_step(dict(inputs=data['inputs'],
                             data_samples=copy.deepcopy(data['data_samples'])))
    base_rss = resident()
    bank = AdapterBank(model, checkpoints)
    with_bank = resident()
    names = bank.names

    def predict(choice=None):
        batch = dict(inputs=data['inputs'], data_samples=copy.deepcopy(data['data_samples']))
        with torch.no_grad():
            if choice is None:
                return model.test_step(batch)
            with bank.choice(choice, args.batch):
                return model.test_step(batch)

    mixed = [names[i % n] for i in range(args.batch)]
    throughput = {key: args.batch / timed(lambda c=c: predict(c), args.runs, 1, cuda)
                  for key, c in (('own tokens', None), ('single', names[0]), ('mixed', mixed))}

    def switch():  # what a request pays to pick its adapter
        with bank.choice(names[-1], args.batch):
            pass

    adapter_state = checkpoints[names[-1]]['state_dict']

    def reload():  # one model per adapter would reload (or keep N models)
        model.load_state_dict(adapter_state, strict=False)

    return dict(n=n, one_model_rss=one_model, base_rss=base_rss - before,
                banks_rss=with_bank - base_rss, bank_bytes=bank.nbytes(),
                model_bytes=tensor_bytes(model),
                switch_s=timed(switch, 200, 10), reload_s=timed(reload, 20, 2),
                throughput=throughput)


def markdown(rows) -> str:
    mib = 2 ** 20
    lines = ['| adapters | memory, one base + banks (RSS) | N merged models (RSS) | ratio | '
             'tensor bytes, base + banks / one base | switch | reload into model | '
             'own tokens img/s | single img/s | mixed img/s | mixed / single |',
             '|---|---|---|---|---|---|---|---|---|---|---|']
    for r in rows:
        served = r['base_rss'] + r['banks_rss']
        merged = r['n'] * r['one_model_rss']
        t = r['throughput']
        lines.append(
            f"| {r['n']} | {served / mib:.0f} MiB | {merged / mib:.0f} MiB | "
            f"{served / max(1, r['base_rss']):.3f}x | "
            f"{(r['model_bytes'] + r['bank_bytes']) / r['model_bytes']:.4f}x | "
            f"{r['switch_s'] * 1e6:.1f} us | {r['reload_s'] * 1e3:.2f} ms | "
            f"{t['own tokens']:.3g} | {t['single']:.3g} | {t['mixed']:.3g} | "
            f"{t['mixed'] / t['single']:.2f}x |")
    return '\n'.join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--config', default=CONFIG)
    p.add_argument('--tiny', action='store_true', help=f'use {osp.relpath(TINY_CONFIG, ROOT)}')
    p.add_argument('--adapters', type=int, nargs='+', default=[1, 4, 13])
    p.add_argument('--batch', type=int, default=4)
    p.add_argument('--size', type=int, default=320)
    p.add_argument('--runs', type=int, default=3)
    p.add_argument('--threads', type=int, default=0)
    p.add_argument('--device', help='default: cuda if available, else cpu')
    p.add_argument('--out', default='work_dirs/serving.json')
    args = p.parse_args(argv)
    args.config = TINY_CONFIG if args.tiny else args.config
    args.device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    with tempfile.TemporaryDirectory() as tmp:
        local_bert(args, tmp)  # the workers inherit the environment
        ctx = multiprocessing.get_context('spawn')
        rows = []
        for n in args.adapters:  # one process each: RSS is the process's own
            with ProcessPoolExecutor(1, mp_context=ctx) as pool:
                rows.append(pool.submit(worker, args, n).result())
    machine = (f'{os.cpu_count()} cores, torch {torch.__version__}, {args.device}'
               + (f' ({torch.cuda.get_device_name()})' if 'cuda' in args.device else ''))
    text = (f'{osp.relpath(args.config, ROOT)}, random weights, batch {args.batch} x '
            f'{args.size}^2, median of {args.runs} runs; {machine}\n\n{markdown(rows)}')
    print(text)
    atomic_write_json(args.out, dict(vars(args), machine=machine, rows=rows), indent=1)
    print(f'\nwritten: {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
