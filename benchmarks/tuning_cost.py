"""What tuning costs: SDPT vs full fine-tuning vs the other tuners, on one synthetic batch.

    python benchmarks/tuning_cost.py [--tiny] [--methods sdpt full ...] [--batch 2 --size 320]
    python benchmarks/tuning_cost.py --profile sdpt      # top 15 ops of one train step

Each setting is measured in its own spawned process: 'plain' (always; SDPT with K=0, nothing
injected, its "step" is the loss forward without grad), 'sdpt' (the config's), 'sdpt-last{1,2,3}'
(the same budget K*L in the last n of L fusion layers), 'full', every other registered tuner
with its defaults. Random weights; GLIP-T gets a generated bert-base-sized BERT (or BERT_DIR).
"""
import argparse, copy, ctypes, gc, inspect, multiprocessing, os, resource  # noqa: E401
import os.path as osp, statistics, sys, tempfile, time  # noqa: E401
from concurrent.futures import ProcessPoolExecutor

import torch
from mmdet.datasets import CocoDataset
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmdet.utils import register_all_modules
from mmengine.config import Config
from mmengine.structures import InstanceData

from mmdet_sdpt import adapter
from mmdet_sdpt.models.sdpt import fusion_attentions
from mmdet_sdpt.registry import TUNERS
from mmdet_sdpt.utils import make_tiny_bert
from mmdet_sdpt.utils.atomic_io import atomic_write_json

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = osp.join(ROOT, 'configs/sdpt/glip_t_coco.py')
TINY_CONFIG = osp.join(ROOT, 'configs/sdpt/tiny-glip_shapes.py')
register_all_modules()  # mmdet's default scope, in the workers too


def rss(key: str = 'VmRSS') -> int:
    """VmRSS (now) or VmHWM (peak since start or last reset) of this process, in bytes."""
    with open('/proc/self/status') as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(key + ':'))


def reset_peak_rss() -> bool:
    """VmHWM := VmRSS (Linux: '5' > /proc/self/clear_refs); False where that fails."""
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
    except OSError:
        return False
    return rss('VmHWM') <= rss() + 2**20


def settings(cfg: Config) -> list:
    """[(name, tuner config, note)]; tuner None: skipped, the note says why."""
    sdpt = dict(cfg.model.tuner) if cfg.model.tuner.type == 'SDPT' else dict(type='SDPT')
    head, k = cfg.model.bbox_head, sdpt.setdefault('num_tokens', 8)  # 8: SDPT's default
    blocks = inspect.signature(MODELS.get(head.type)).parameters.get('num_dyhead_blocks')
    n_fusion = (head.get('num_dyhead_blocks', blocks.default) * bool(head.get('early_fuse'))
                if blocks else cfg.model.get('encoder', {}).get('num_layers', 0))  # GLIP; GDINO
    rows = [('plain', dict(sdpt, num_tokens=0), 'nothing injected, step = loss forward only'),
            ('sdpt', sdpt, f'K={k} x {n_fusion} layers')]
    for n, kn in ((n, round(k * n_fusion / n)) for n in (1, 2, 3)):
        rows.append((f'sdpt-last{n}', dict(sdpt, num_tokens=kn, layers=list(range(-n, 0))),
                     f'K={kn} x last {n}') if n <= n_fusion else
                    (f'sdpt-last{n}', None, f'the model has {n_fusion} fusion layers'))
    rows.append(('full', dict(type='FullFineTuning'), 'everything trains'))
    return rows + [((cls.method or name).lower(), dict(type=name), 'default arguments')
                   for name, cls in sorted(TUNERS.module_dict.items())
                   if name not in ('SDPT', 'FullFineTuning')]


def make_batch(cfg: Config, num_images: int, size: int, device: str):
    """Random images, samples with one ground-truth box each; text: the config's classes."""
    text = tuple(cfg.get('metainfo', {}).get('classes') or CocoDataset.METAINFO['classes'])
    samples = []
    for i in range(num_images):
        s = DetDataSample(metainfo=dict(
            img_shape=(size, size), ori_shape=(size, size), pad_shape=(size, size),
            batch_input_shape=(size, size), scale_factor=(1.0, 1.0), text=text,
            custom_entities=True))
        s.gt_instances = InstanceData(bboxes=torch.tensor([[0.1, 0.12, 0.55, 0.62]]) * size,
                                      labels=torch.tensor([i % len(text)]))
        samples.append(s.to(device))
    inputs = torch.rand(num_images, 3, size, size, generator=torch.Generator().manual_seed(0))
    return (inputs * 255).to(device), samples


def worker(args, tuner: dict) -> dict:
    """Measure one setting in this process (with --profile: print one step's top ops)."""
    cfg, cuda = Config.fromfile(args.config), args.device.startswith('cuda')
    cfg.model.base_checkpoint = None  # random weights: the costs do not depend on them
    torch.manual_seed(0)
    model = MODELS.build(dict(cfg.model, tuner=tuner)).to(args.device)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4) if params else None  # plain: nothing trains
    inputs, samples = make_batch(cfg, args.batch, args.size, args.device)

    def timed(train: bool = True) -> float:
        """One train step (loss, backward, AdamW) or one no-grad predict, in seconds."""
        batch = copy.deepcopy(samples)  # GLIP's loss edits its data samples
        torch.cuda.synchronize() if cuda else None
        t0 = time.perf_counter()
        with torch.set_grad_enabled(train and opt is not None):
            if not train:
                model.eval().predict(inputs, batch)
            elif opt is None:
                model.train().loss(inputs, batch)
            else:
                model.train().parse_losses(model.loss(inputs, batch))[0].backward()
                opt.step()
                opt.zero_grad(set_to_none=True)
        torch.cuda.synchronize() if cuda else None
        return time.perf_counter() - t0

    if args.profile:
        [timed() for _ in range(max(1, args.warmup))]
        with torch.profiler.profile() as prof:  # CPU, and CUDA where available
            seconds = timed()
        return print(f'{args.profile}: one train step, {seconds:.2f} s\n' + prof.key_averages(
        ).table(sort_by=f"self_{'device' if cuda else 'cpu'}_time_total", row_limit=15))
    gc.collect()
    if not cuda:
        ctypes.CDLL('libc.so.6').malloc_trim(0)  # give the build's freed heap back first
    base = torch.cuda.memory_allocated() if cuda else rss()
    [timed() for _ in range(args.warmup)]
    if cuda:
        torch.cuda.reset_peak_memory_stats()
        method, peak = 'cuda max_memory_allocated', torch.cuda.max_memory_allocated
    elif reset_peak_rss():
        method, peak = 'VmHWM (reset by clear_refs)', lambda: rss('VmHWM')
    else:  # ru_maxrss cannot be reset: it includes the build's peak
        method = 'ru_maxrss (VmHWM not resettable: includes the build)'
        peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # noqa: E731
    times = [timed() for _ in range(args.steps)]
    peak = peak()
    infer = [timed(train=False) for _ in range(args.warmup + args.infer_runs)][args.warmup:]
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = dict(state_dict=model.state_dict(), meta={})
        adapter.atomic_save(adapter.to_adapter_checkpoint(model, ckpt), f'{tmp}/adapter.pth')
        adapter_bytes = osp.getsize(f'{tmp}/adapter.pth')
    return dict(tuner=repr(model.tuner), fusion_layers=len(fusion_attentions(model)),
                trainable=sum(p.numel() for p in params), total=sum(
                    p.numel() for p in model.parameters()),
                step_s=statistics.median(times), step_times=times,
                peak_mb=(peak - base) / 2**20, peak_abs_mb=peak / 2**20,
                memory_method=f"{method} - {'allocated' if cuda else 'VmRSS'} after build",
                infer_s=statistics.median(infer), infer_times=infer, adapter_bytes=adapter_bytes)


def run_worker(args, name: str, tuner: dict) -> dict:
    """``worker`` in a fresh spawned process (its stdout goes to stderr); failure: a note."""
    print(f'[tuning_cost] {name} ...', file=sys.stderr, flush=True)
    if tuner is None:  # the note says why
        return dict(skipped='')
    with ProcessPoolExecutor(1, multiprocessing.get_context('spawn'), initializer=os.dup2,
                             initargs=(2, 1)) as pool:
        try:
            return pool.submit(worker, args, tuner).result()
        except Exception as e:  # a build error, or the process died (e.g. out of memory)
            return dict(skipped=f'{type(e).__name__}: {str(e)[-300:]}')


def add_ratios(rows: list) -> None:
    """Step and peak memory / the 'full' row's; inference and step / plain inference."""
    ref = {r['name']: r for r in rows if 'step_s' in r}
    full, plain = ref.get('full'), ref.get('plain')
    for r in ref.values():
        r['step_vs_full'] = r['step_s'] / full['step_s'] if full else None
        r['mem_vs_full'] = r['peak_mb'] / full['peak_mb'] if full else None
        r['infer_vs_plain'] = r['infer_s'] / plain['infer_s'] if plain else None
        r['step_vs_plain_infer'] = r['step_s'] / plain['infer_s'] if plain else None


def markdown(rows: list) -> str:
    lines = ['| setting | note | trainable | % | step s | x full | x plain infer | peak MB '
             '| x full | infer s | x plain | adapter KB |', '|' + '---|' * 12]
    for r in rows:
        cells = [r['name'], f"skipped: {r.get('skipped') or r['note']}"] + [''] * 10
        if 'step_s' in r:
            cells = [r['name'], r['note'], f"{r['trainable']:,}",
                     f"{100 * r['trainable'] / r['total']:.3f}", r['step_s'], r['step_vs_full'],
                     r['step_vs_plain_infer'], f"{r['peak_mb']:.0f}", r['mem_vs_full'],
                     r['infer_s'], r['infer_vs_plain'], f"{r['adapter_bytes'] / 1024:,.0f}"]
        lines.append('| ' + ' | '.join('-' if c is None else f'{c:.2f}' if isinstance(
            c, float) else str(c) for c in cells) + ' |')
    return '\n'.join(lines)


def local_bert(args, tmp: str) -> None:
    """BERT_DIR / TINY_BERT_DIR (or the tiny config's default, assets/demo/tiny_bert), else
    one made here from random weights, of bert-base-uncased's sizes for GLIP-T."""
    var = 'TINY_BERT_DIR' if args.tiny else 'BERT_DIR'
    if osp.isdir(os.environ.get(var, '')) or (
            args.tiny and osp.isdir(osp.join(ROOT, 'assets/demo/tiny_bert'))):
        return
    sizes = {} if args.tiny else dict(hidden_size=768, num_layers=12, num_heads=12,
                                      vocab_size=30522, intermediate_size=3072)
    words = ['circle square triangle'] if args.tiny else CocoDataset.METAINFO['classes']
    os.environ[var] = make_tiny_bert(osp.join(tmp, 'bert'), words, **sizes)


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--config', default=CONFIG)
    p.add_argument('--tiny', action='store_true', help=f'use {osp.relpath(TINY_CONFIG, ROOT)}')
    for name, default in (('batch', 2), ('size', 320), ('steps', 3), ('warmup', 1),
                          ('infer-runs', 3)):
        p.add_argument(f'--{name}', type=int, default=default)
    p.add_argument('--methods', nargs='+', default=['all'], help="setting names, or 'all'")
    p.add_argument('--device', help='default: cuda if available, else cpu')
    p.add_argument('--out', default='work_dirs/tuning_cost.json')
    p.add_argument('--profile', metavar='SETTING', help='profile one train step of SETTING')
    args = p.parse_args()
    args.config = TINY_CONFIG if args.tiny else args.config
    args.device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    info = dict(cpu=next((line.split(':', 1)[1].strip() for line in open('/proc/cpuinfo')
                          if line.startswith('model name')), '?'),
                cores=f'{len(os.sched_getaffinity(0))}/{os.cpu_count()}',
                torch=f'{torch.__version__} ({torch.get_num_threads()} threads)',
                device=torch.cuda.get_device_name() if 'cuda' in args.device else args.device,
                loadavg=[round(x, 2) for x in os.getloadavg()])
    print('machine: ' + ', '.join(f'{k} {v}' for k, v in info.items()), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        local_bert(args, tmp)  # the workers inherit the environment
        table = settings(Config.fromfile(args.config))
        names = [n for n, _, _ in table]
        wanted = names if 'all' in args.methods else args.methods
        if bad := [m for m in wanted + [args.profile] if m and m not in names]:
            p.error(f'unknown settings {bad}; available: {names}')
        if args.profile:
            return worker(args, dict((n, t) for n, t, _ in table)[args.profile])
        # 'plain' always: the reference of the inference ratios
        rows = [dict(run_worker(args, name, tuner), name=name, note=note)
                for name, tuner, note in table if name == 'plain' or name in wanted]
    add_ratios(rows)
    method = next((r['memory_method'] for r in rows if 'memory_method' in r), '-')
    print(f'\n{osp.relpath(args.config, ROOT)}: batch {args.batch} x {args.size}^2, median of '
          f'{args.steps} steps after {args.warmup} warm-up, {args.infer_runs} inference runs; '
          f'peak memory: {method}\n\n{markdown(rows)}')
    atomic_write_json(args.out, dict(vars(args), machine=info, rows=rows), indent=1)
    print(f'\nwritten: {args.out}')


if __name__ == '__main__':
    main()
