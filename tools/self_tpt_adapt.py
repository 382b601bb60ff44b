"""Self-TPT's stage 2: adapt a stage-1 Self-TPT adapter to new class names with the
contrastive prompt task alone (no images, no labels), once; the result is a normal adapter
checkpoint for the same config (tools/test.py, TunedInferencer, the leaderboard).

    python tools/self_tpt_adapt.py configs/self_tpt/tiny-glip_shapeworld.py STAGE1.pth \
        --names ball box cone plus --out work_dirs/self_tpt/stage2.pth

The context trains with the config's optimizer (its type and rate) for --steps steps on
the names' four views each (mmdet_sdpt/models/self_tpt.py). The names' CPT loss before and
after, and the seconds it took, are printed and kept in the checkpoint's meta."""
import argparse
import os.path as osp
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('config')
    p.add_argument('checkpoint', help='the stage-1 Self-TPT adapter')
    p.add_argument('--names', nargs='+', required=True, help='the new class names')
    p.add_argument('--steps', type=int, default=50)
    p.add_argument('--out', required=True)
    p.add_argument('--seed', type=int, default=0)
    return p.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    import torch
    from mmdet.registry import MODELS
    from mmengine.config import Config
    from mmengine.registry import OPTIMIZERS, init_default_scope

    import mmdet_sdpt  # noqa: F401
    from mmdet_sdpt.adapter import atomic_save, load_adapter, to_adapter_checkpoint
    from mmdet_sdpt.models.self_tpt import SelfTPT

    cfg = Config.fromfile(args.config)
    init_default_scope('mmdet')
    torch.manual_seed(args.seed)
    model = MODELS.build(dict(cfg.model, prefix_cache=None)).eval()
    tuner = model.tuner
    if not isinstance(tuner, SelfTPT):
        raise SystemExit(f'error: {args.config} tunes with {tuner.method}, not SelfTPT: '
                         'stage 2 adapts a Self-TPT context (configs/self_tpt/)')
    names = list(dict.fromkeys(args.names))
    if len(names) < 2:
        raise SystemExit('error: give at least two --names (the contrastive task needs '
                         'another class as its negative)')
    load_adapter(model, args.checkpoint)
    context = tuner.context(model)
    optimizer = OPTIMIZERS.build(dict(cfg.optim_wrapper.optimizer, params=[context]))
    start = time.time()
    with torch.no_grad():
        before = float(tuner.cpt_loss(model, names))
    for _ in range(args.steps):
        optimizer.zero_grad()
        tuner.cpt_loss(model, names).backward()
        optimizer.step()
    with torch.no_grad():
        after = float(tuner.cpt_loss(model, names))
    seconds = time.time() - start
    stage2 = dict(names=names, steps=args.steps, cpt_before=round(before, 4),
                  cpt_after=round(after, 4), seconds=round(seconds, 2),
                  stage1=osp.abspath(args.checkpoint))
    checkpoint = to_adapter_checkpoint(model, dict(state_dict=model.state_dict(), meta={}))
    checkpoint['meta']['self_tpt_stage2'] = stage2
    atomic_save(checkpoint, args.out)
    print(f'stage 2 on {len(names)} names: CPT loss {before:.4f} -> {after:.4f} in '
          f'{seconds:.1f} s ({args.steps} steps, no images); adapter: {args.out}')
    return stage2


if __name__ == '__main__':
    main()
