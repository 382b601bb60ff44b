"""Box AP of a checkpoint on attacked test images, one test per budget: the config's own test
loop and evaluator with ``AdversarialTestHook`` (mmdet_sdpt/robust/hook.py).

    python tools/robust_test.py CONFIG CHECKPOINT --attack adaptive --eps 0 2 4 8 --steps 10
    python tools/robust_test.py CONFIG --zero-shot --attack transfer --eps 8

--attack adaptive: PGD on the detection loss through the tested model (prompts in the loop);
transfer: the same against the zero-shot base; feature: AdvPT's prompt-free feature attack.
eps in pixel levels of 255 (0: the clean images). Writes WORK_DIR/robust_<attack>.json
({eps: AP}) and prints it."""
import argparse
import json
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('config')
    p.add_argument('checkpoint', nargs='?')
    p.add_argument('--zero-shot', action='store_true', help='the base, no checkpoint')
    p.add_argument('--attack', choices=('adaptive', 'transfer', 'feature'), default='adaptive')
    p.add_argument('--eps', type=float, nargs='+', default=[0, 2, 4, 8])
    p.add_argument('--steps', type=int, default=10)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--work-dir')
    p.add_argument('--cfg-options', nargs='+', default=[], metavar='KEY=VALUE')
    args = p.parse_args(argv)
    if bool(args.checkpoint) == args.zero_shot:
        p.error('give a CHECKPOINT, or --zero-shot for the base')
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    from mmengine.config import Config, DictAction

    import mmdet_sdpt  # noqa: F401
    from mmdet_sdpt.engine import build_runner
    from mmdet_sdpt.utils.atomic_io import atomic_write

    name = osp.splitext(osp.basename(args.config))[0]
    work_dir = args.work_dir or osp.join('work_dirs', 'robust', name)
    results = {}
    for eps in args.eps:
        cfg = Config.fromfile(args.config)
        if args.cfg_options:
            parser = argparse.ArgumentParser()
            parser.add_argument('--o', nargs='+', action=DictAction)
            cfg.merge_from_dict(parser.parse_args(['--o', *args.cfg_options]).o)
        cfg.model.prefix_cache = None  # keyed by image: an attacked image would get clean
        if args.zero_shot:
            cfg.model.zero_shot = True
        cfg.load_from, cfg.resume = args.checkpoint, False
        cfg.work_dir = osp.join(work_dir, f'{args.attack}_eps{eps:g}')
        cfg.custom_hooks = list(cfg.get('custom_hooks', [])) + [dict(
            type='AdversarialTestHook', attack=args.attack, eps=eps, steps=args.steps,
            seed=args.seed)]
        metrics = build_runner(cfg).test()
        results[f'{eps:g}'] = round(float(metrics['coco/bbox_mAP']), 4)
    out = osp.join(work_dir, f'robust_{args.attack}.json')
    atomic_write(out, json.dumps(dict(attack=args.attack, steps=args.steps,
                                      checkpoint=args.checkpoint, ap=results), indent=1))
    print(json.dumps(results), f'({out})')
    return results


if __name__ == '__main__':
    main()
