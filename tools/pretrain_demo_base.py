"""Pretrain the demo's tiny GLIP base and export it as a committed fp16 checkpoint.

    python tools/pretrain_demo_base.py            # ~20 min on 2 CPU cores
    python tools/pretrain_demo_base.py --export-only work_dirs/demo_pretrain/iter_1500.pth

Runs configs/demo/pretrain_tiny-glip_shapes.py (seed 0, every weight trains, data generated
deterministically under data/demo), then writes the final weights in fp16, with the
command and seed in its meta, to assets/demo/tiny-glip_shapes_base.pth (atomically) and
its sha256 to assets/demo/SHA256SUMS.
"""
import argparse
import hashlib
import os.path as osp
import sys

import torch
from mmengine.config import Config
from mmengine.runner import Runner

import mmdet_sdpt  # noqa: F401
from mmdet_sdpt.adapter import atomic_save

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = osp.join(ROOT, 'configs', 'demo', 'pretrain_tiny-glip_shapes.py')
OUT = osp.join(ROOT, 'assets', 'demo', 'tiny-glip_shapes_base.pth')


def export(checkpoint: str, out: str, cfg: Config) -> str:
    state = torch.load(checkpoint, map_location='cpu', weights_only=False)['state_dict']
    half = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    meta = dict(config=osp.relpath(CONFIG, ROOT), seed=cfg.randomness.seed,
                iters=cfg.train_cfg.max_iters, command='python tools/pretrain_demo_base.py',
                source=osp.basename(checkpoint))
    atomic_save({'state_dict': half, 'meta': meta}, out)
    digest = hashlib.sha256(open(out, 'rb').read()).hexdigest()
    with open(osp.join(osp.dirname(out), 'SHA256SUMS'), 'w') as f:
        f.write(f'{digest}  {osp.basename(out)}\n')
    return digest


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--work-dir', default=osp.join(ROOT, 'work_dirs', 'demo_pretrain'))
    parser.add_argument('--out', default=OUT)
    parser.add_argument('--export-only', metavar='CHECKPOINT')
    args = parser.parse_args()
    cfg = Config.fromfile(CONFIG)
    cfg.work_dir = args.work_dir
    checkpoint = args.export_only
    if checkpoint is None:
        Runner.from_cfg(cfg).train()
        checkpoint = osp.join(args.work_dir, f'iter_{cfg.train_cfg.max_iters}.pth')
    digest = export(checkpoint, args.out, cfg)
    print(f'{args.out}: {osp.getsize(args.out) / 2**20:.1f} MiB, sha256 {digest}')


if __name__ == '__main__':
    sys.exit(main())
