"""Pretrain a demo base (tiny GLIP or tiny Grounding DINO) and export it as a committed fp16
checkpoint.

    python tools/pretrain_demo_base.py            # the tiny GLIP, ~20 min on 2 CPU cores
    python tools/pretrain_demo_base.py --config configs/demo/pretrain_tiny-gdino_shapes.py
    python tools/pretrain_demo_base.py --export-only work_dirs/demo_pretrain/iter_1500.pth

Runs the pretraining config (default configs/demo/pretrain_tiny-glip_shapes.py; seed 0,
every weight trains, data generated deterministically under data/demo), then writes the
final weights in fp16, with the command and seed in its meta, to
assets/demo/<name>_base.pth, <name> being the config's name without 'pretrain_'
(tiny-glip_shapes, tiny-gdino_shapes), atomically, and updates that file's line of
assets/demo/SHA256SUMS (the other bases' lines stay). The ShapeWorld bases
(configs/shapeworld/pretrain_tiny-glip.py, pretrain_tiny-gdino.py) go to
assets/shapeworld/<name>_shapeworld_base.pth, and train in the config's work_dir.

    python tools/pretrain_demo_base.py --config configs/shapeworld/pretrain_tiny-glip.py
"""
import argparse
import hashlib
import os.path as osp
import sys
import time

from mmengine.config import Config

import mmdet_sdpt  # noqa: F401
from mmdet_sdpt.adapter import atomic_save
from mmdet_sdpt.checkpoint import load_checkpoint_file
from mmdet_sdpt.engine import build_runner
from mmdet_sdpt.utils.atomic_io import atomic_write

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = osp.join(ROOT, 'configs', 'demo', 'pretrain_tiny-glip_shapes.py')
ASSETS = osp.join(ROOT, 'assets', 'demo')


def is_shapeworld(config: str) -> bool:
    return osp.basename(osp.dirname(osp.abspath(config))) == 'shapeworld'


def output_name(config: str) -> str:
    """configs/demo/pretrain_tiny-gdino_shapes.py -> tiny-gdino_shapes_base.pth,
    configs/shapeworld/pretrain_tiny-glip.py -> tiny-glip_shapeworld_base.pth"""
    stem = osp.splitext(osp.basename(config))[0]
    if stem.startswith('pretrain_'):
        stem = stem[len('pretrain_'):]
    return f'{stem}_shapeworld_base.pth' if is_shapeworld(config) else f'{stem}_base.pth'


def default_out(config: str) -> str:
    folder = 'shapeworld' if is_shapeworld(config) else 'demo'
    return osp.join(ROOT, 'assets', folder, output_name(config))


def default_work_dir(config: str, cfg: Config = None) -> str:
    if osp.abspath(config) == CONFIG:
        return osp.join(ROOT, 'work_dirs', 'demo_pretrain')  # as it always was
    if is_shapeworld(config):  # the config's own
        return (cfg or Config.fromfile(config)).work_dir
    return osp.join(ROOT, 'work_dirs', 'demo_' + osp.splitext(osp.basename(config))[0])


def update_sha256sums(path: str, name: str, digest: str) -> None:
    """Replace (or append) ``name``'s line of the SHA256SUMS file ``path``; keep the rest."""
    lines = [ln for ln in (open(path).read().splitlines() if osp.isfile(path) else [])
             if ln.strip()]
    line = f'{digest}  {name}'
    names = [ln.split()[-1] for ln in lines]
    if name in names:
        lines[names.index(name)] = line
    else:
        lines.append(line)
    atomic_write(path, '\n'.join(lines) + '\n')


def export(checkpoint: str, out: str, cfg: Config, config: str = CONFIG,
           seconds: float = None) -> str:
    state = load_checkpoint_file(checkpoint)['state_dict']
    half = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    command = 'python tools/pretrain_demo_base.py'
    if osp.abspath(config) != CONFIG:
        command += f' --config {osp.relpath(osp.abspath(config), ROOT)}'
    meta = dict(config=osp.relpath(osp.abspath(config), ROOT), seed=cfg.randomness.seed,
                iters=cfg.train_cfg.max_iters, command=command,
                source=osp.basename(checkpoint))
    if seconds is not None:
        meta['train_seconds'] = round(seconds)
    atomic_save({'state_dict': half, 'meta': meta}, out)
    digest = hashlib.sha256(open(out, 'rb').read()).hexdigest()
    update_sha256sums(osp.join(osp.dirname(out), 'SHA256SUMS'), osp.basename(out), digest)
    return digest


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config', default=CONFIG,
                        help='pretraining config (default: the tiny GLIP one)')
    parser.add_argument('--work-dir', help='default: work_dirs/demo_pretrain for the '
                        'tiny GLIP, work_dirs/demo_<config name> for others')
    parser.add_argument('--out', help='default: assets/demo/<config name without '
                        'pretrain_>_base.pth')
    parser.add_argument('--export-only', metavar='CHECKPOINT')
    args = parser.parse_args()
    cfg = Config.fromfile(args.config)
    cfg.work_dir = args.work_dir or default_work_dir(args.config, cfg)
    out = args.out or default_out(args.config)
    checkpoint, seconds = args.export_only, None
    if checkpoint is None:
        start = time.perf_counter()
        build_runner(cfg).train()
        seconds = time.perf_counter() - start
        checkpoint = osp.join(cfg.work_dir, f'iter_{cfg.train_cfg.max_iters}.pth')
    digest = export(checkpoint, out, cfg, args.config, seconds)
    print(f'{out}: {osp.getsize(out) / 2**20:.1f} MiB, sha256 {digest}')


if __name__ == '__main__':
    sys.exit(main())
