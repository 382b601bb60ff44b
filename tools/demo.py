"""Detect the phrases of a prompt in one image and draw them (mmdet's visualizer).

    python tools/demo.py IMAGE "ball . box . cone . plus" --config CONFIG \
        --checkpoint ADAPTER_OR_FULL.pth --out out.png [--zero-shot] [--score-thr 0.3]

CONFIG builds the tuned detector (its model.base_checkpoint gives the base weights);
--checkpoint is an adapter-only checkpoint of tools/train.py (or a full one). With
--zero-shot, the base detector's boxes (tuner disabled) are drawn on the left and the
tuned detector's on the right.
"""
import argparse

import mmcv
from mmdet.apis import inference_detector, init_detector
from mmengine.config import DictAction

import mmdet_sdpt  # noqa: F401
from mmdet_sdpt import load_adapter
from mmdet_sdpt.adapter import get_tuner
from mmdet_sdpt.visualization import side_by_side
from mmdet_sdpt.visualization.drawing import draw_detections, phrases_of


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('image')
    parser.add_argument('prompt', help="class phrases separated by ' . '")
    parser.add_argument('--config', required=True)
    parser.add_argument('--checkpoint', help='adapter-only or full checkpoint')
    parser.add_argument('--out', default='demo.png')
    parser.add_argument('--zero-shot', action='store_true',
                        help='draw the base (tuner disabled) beside the tuned detector')
    parser.add_argument('--score-thr', type=float, default=0.3)
    parser.add_argument('--scale', type=float, default=1.0,
                        help='draw on the image enlarged by this factor (small images)')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args()


def draw(model, image, prompt, score_thr, scale=1.0):
    result = inference_detector(model, image, text_prompt=prompt, custom_entities=True)
    return draw_detections(mmcv.imread(image, channel_order='rgb'), result,
                           phrases_of(prompt), score_thr, scale)


def main():
    args = parse_args()
    model = init_detector(args.config, device=args.device, cfg_options=args.cfg_options)
    panels = []
    if args.zero_shot:  # the base as built: before the tuned tensors are loaded
        with get_tuner(model).disabled(model):
            panels.append(draw(model, args.image, args.prompt, args.score_thr, args.scale))
    if args.checkpoint:
        load_adapter(model, args.checkpoint)
    panels.append(draw(model, args.image, args.prompt, args.score_thr, args.scale))
    mmcv.imwrite(mmcv.rgb2bgr(side_by_side(panels)), args.out)
    print(f'wrote {args.out}')


if __name__ == '__main__':
    main()
