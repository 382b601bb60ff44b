"""Detect with many adapters of one base: mmdet's prediction JSON and drawn images per image.

    python tools/infer.py IMG [IMG ...] --config CONFIG --adapter ball=a.pth kite=b.pth \
        --texts "ball . box . cone" --use ball [--out-dir outputs] [--compare]

CONFIG builds the tuned detector once (its model.base_checkpoint: the base weights);
--adapter loads NAME=CHECKPOINT pairs (adapter-only checkpoints of tools/train.py), each
checked against the base; --use names the adapter of every image (one name for all, or one
per image; ``zero-shot``: the base alone; default: the only adapter loaded, else zero-shot).
Images of one batch that use different adapters run in one forward (TunedInferencer).

Writes, as mmdet's DetInferencer does, ``OUT/preds/<image>.json`` (bboxes, scores, labels)
and ``OUT/vis/<image>.png``; with --compare, also ``OUT/compare/<image>.png``: the image's
boxes zero-shot and under every loaded adapter, side by side.

Class names past the text encoder's token cap (BERT's ``max_tokens``: 256 in GLIP and
Grounding DINO) are never detected: the tool prints a warning naming them.
"""
import argparse
import os
import os.path as osp
import sys

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)

import mmcv  # noqa: E402
import numpy as np  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402

from mmdet_sdpt.constants import ZERO_SHOT  # noqa: E402



def parse_args(argv=None):
    # every default shown ('%(default).0s': said in words, or none to show)
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('images', nargs='+', help='image files')
    parser.add_argument('--config', required=True, help='the tuned config (base included)%(default).0s')
    parser.add_argument('--adapter', nargs='*', default=[], metavar='NAME=CHECKPOINT',
                        help='adapters to load')
    parser.add_argument('--use', nargs='*', metavar='NAME',
                        help=f'adapter per image (one for all, or one per image; {ZERO_SHOT!r}; default: '
                        'the only adapter loaded, else zero-shot)%(default).0s')
    parser.add_argument('--texts', required=True, help="class names separated by ' . '%(default).0s")
    parser.add_argument('--out-dir', default='outputs', help='preds/, vis/ (and compare/)')
    parser.add_argument('--compare', action='store_true',
                        help='also draw zero-shot and every adapter side by side%(default).0s')
    parser.add_argument('--batch-size', type=int, default=1, help='images per forward')
    parser.add_argument('--score-thr', type=float, default=0.3,
                        help='boxes scoring below it are not drawn (preds/ keeps them all)')
    parser.add_argument('--device', default='cpu', help='cpu, cuda, cuda:1, ...')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='key=value overrides of the config%(default).0s')
    return parser.parse_args(argv)


def adapters_of(pairs):
    adapters = {}
    for pair in pairs:
        name, sep, path = pair.partition('=')
        if not sep or not name or not path:
            raise SystemExit(f'error: --adapter takes NAME=CHECKPOINT, got {pair!r}')
        if name == ZERO_SHOT or name in adapters:
            raise SystemExit(f'error: adapter name {name!r} is reserved or given twice')
        if not osp.isfile(path):
            raise SystemExit(f'error: adapter {name!r}: no checkpoint {path}')
        adapters[name] = path
    return adapters


def choices(use, adapters, n):
    if not use:
        use = [next(iter(adapters))] if len(adapters) == 1 else [ZERO_SHOT]
    if len(use) not in (1, n):
        raise SystemExit(f'error: --use takes one name or one per image ({n}), got {len(use)}')
    unknown = sorted({u for u in use if u != ZERO_SHOT and u not in adapters})
    if unknown:
        raise SystemExit(f'error: --use names {unknown}, not loaded (--adapter): '
                         f'{sorted(adapters)}')
    use = use * n if len(use) == 1 else use
    return [None if u == ZERO_SHOT else u for u in use]


def boxes_line(image: str, adapter: str, scores, thr: float) -> str:
    """How many boxes an image got at the threshold, or that none passed it."""
    kept = sum(float(s) >= thr for s in scores)
    if kept:
        return f'{image} ({adapter}): {kept} boxes at score >= {thr:g}'
    best = max((float(s) for s in scores), default=None)
    return (f'{image} ({adapter}): no box at score >= {thr:g}' +
            (f' (best {best:.3f}): lower --score-thr to draw the weaker ones'
             if best is not None else ' (nothing predicted)'))


def titled(panel, title):
    import cv2
    band = np.full((22, panel.shape[1], 3), 255, dtype=np.uint8)
    cv2.putText(band, title, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1,
                cv2.LINE_AA)
    return np.concatenate([band, panel], axis=0)


def main(argv=None) -> int:
    args = parse_args(argv)
    missing = [i for i in args.images if not osp.isfile(i)]
    if missing:
        raise SystemExit(f'error: no image {missing}')
    import mmdet_sdpt  # noqa: F401
    from mmdet_sdpt.inferencer import TunedInferencer
    from mmdet_sdpt.visualization import side_by_side
    adapters = adapters_of(args.adapter)
    use = choices(args.use, adapters, len(args.images))
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    infer = TunedInferencer(cfg, adapters=adapters, device=args.device)
    message = infer.prompt_warning(args.texts)  # printed whatever the warnings filters
    if message:
        print(f'warning: {message}', file=sys.stderr, flush=True)
    found = infer(args.images, texts=args.texts, adapter=use, batch_size=args.batch_size,
                  out_dir=args.out_dir, no_save_pred=False, pred_score_thr=args.score_thr)
    for image, name, pred in zip(args.images, use, found['predictions']):
        print(boxes_line(osp.basename(image), name or ZERO_SHOT, pred['scores'],
                         args.score_thr))
    print(f'wrote {osp.join(args.out_dir, "preds")} and {osp.join(args.out_dir, "vis")}')
    if args.compare:
        folder = osp.join(args.out_dir, 'compare')
        os.makedirs(folder, exist_ok=True)
        columns = [None] + list(adapters)
        panels = {c: infer(args.images, texts=args.texts, adapter=c, return_vis=True,
                           no_save_vis=True, no_save_pred=True, batch_size=args.batch_size,
                           pred_score_thr=args.score_thr)['visualization'] for c in columns}
        for i, image in enumerate(args.images):
            row = [titled(panels[c][i], c or ZERO_SHOT) for c in columns]
            canvas = side_by_side(row)
            out = osp.join(folder, osp.splitext(osp.basename(image))[0] + '.png')
            mmcv.imwrite(mmcv.rgb2bgr(canvas), out)
        print(f'wrote {folder}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
