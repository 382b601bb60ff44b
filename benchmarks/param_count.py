"""Trainable and total parameters of SDPT on mmdet's GLIP-T at full size, random weights.

    python benchmarks/param_count.py [--config configs/sdpt/glip_t_coco.py] [--cfg-options ...]

Builds a bert-base-uncased-sized BERT locally (random weights, nothing downloaded), then the
config's tuned GLIP, and prints the trainable/total table the FrozenSetHook logs.
"""
import argparse
import os
import os.path as osp
import tempfile

import mmdet_sdpt  # noqa: F401
from mmdet.registry import MODELS
from mmdet.utils import register_all_modules
from mmengine.config import Config, DictAction
from terminaltables import AsciiTable

from mmdet_sdpt.engine import trainable_table
from mmdet_sdpt.utils import make_tiny_bert

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--config', default=osp.join(ROOT, 'configs/sdpt/glip_t_coco.py'))
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ['BERT_DIR'] = make_tiny_bert(
            osp.join(tmp, 'bert-base'), hidden_size=768, num_layers=12, num_heads=12,
            vocab_size=30522, intermediate_size=3072)
        cfg = Config.fromfile(args.config)
        cfg.model.base_checkpoint = None
        if args.cfg_options:
            cfg.merge_from_dict(args.cfg_options)
        register_all_modules()
        model = MODELS.build(cfg.model)
    print(f'{osp.relpath(args.config, ROOT)}: {model.tuner!r}')
    print(AsciiTable(trainable_table(model)).table)


if __name__ == '__main__':
    main()
