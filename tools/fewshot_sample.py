"""Write GLIP's few-shot train splits of a COCO-format train file.

    python tools/fewshot_sample.py \
        data/odinw/Raccoon/Raccoon.v2-raw.coco/train/annotations_without_background.json
    python tools/fewshot_sample.py TRAIN_JSON --shots 1 3 5 10 --seeds 3 30 300 [--out-dir DIR]

writes ``fewshot_train_shot{K}_seed{S}.json`` for every K and S beside TRAIN_JSON (or in
--out-dir), where ``configs/sdpt/glip_t_odinw_fewshot.py`` (``ODinWFewShotDataset``) reads
them: GLIP's greedy sampling (``mmdet_sdpt.datasets.fewshot.sample_fewshot``): images
shuffled with the seed, an image taken while it holds a class with fewer than K taken
images, all annotations of a taken image kept. Files are written atomically; a class with
fewer than K images in the source stops the tool with an error naming it.
"""
import argparse
import json
import sys

from mmdet_sdpt.datasets.fewshot import NotEnoughImagesError, write_fewshot_file


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="GLIP's few-shot splits of a COCO file")
    parser.add_argument('train_json', help='COCO-format train annotations')
    parser.add_argument('--shots', type=int, nargs='+', default=[1, 3, 5, 10])
    parser.add_argument('--seeds', type=int, nargs='+', default=[3, 30, 300])
    parser.add_argument('--out-dir', help='where to write (default: beside train_json)')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    with open(args.train_json) as f:
        coco = json.load(f)
    for shot in args.shots:
        for seed in args.seeds:
            try:
                path, subset = write_fewshot_file(args.train_json, shot, seed, args.out_dir,
                                                  coco)
            except NotEnoughImagesError as e:
                print(f'error: {args.train_json}: {e}', file=sys.stderr)
                return 1
            print(f'{path}: {len(subset["images"])} images, '
                  f'{len(subset["annotations"])} annotations')
    return 0


if __name__ == '__main__':
    sys.exit(main())
