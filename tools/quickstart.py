"""A tiny end-to-end run on the CPU: pretrain a tiny GLIP, then tune SDPT prompts on a
vocabulary transfer, and print zero-shot vs SDPT box AP.

    python tools/quickstart.py [--out-dir work_dirs/quickstart] [--pretrain-iters 300]

1. generates shapes data (circle / square / triangle) and a local tiny BERT whose
   vocabulary also holds the transfer words;
2. pretrains the tiny GLIP (all weights) on the shape names -> the base checkpoint;
3. transfer: the same kind of pictures named with other words (ball / box / cone);
   evaluates the frozen base zero-shot, tunes SDPT prompts only, evaluates again.
Everything is cached in --out-dir; a second run reuses the base checkpoint.
"""
import argparse
import os
import os.path as osp

import mmdet_sdpt  # noqa: F401
from mmengine.config import Config
from mmengine.runner import Runner

from mmdet_sdpt.datasets import SHAPES, make_shapes_dataset
from mmdet_sdpt.utils import make_tiny_bert

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = osp.join(ROOT, 'configs', 'sdpt', 'tiny-glip_shapes.py')
TRANSFER = ('ball', 'box', 'cone')


def prepare(out):
    bert = osp.join(out, 'bert')
    if not osp.isfile(osp.join(bert, 'config.json')):
        make_tiny_bert(bert, [' '.join(SHAPES + TRANSFER)])
    for name, classes, seeds in (('base', SHAPES, (1, 2)), ('transfer', TRANSFER, (3, 4))):
        root = osp.join(out, name)
        if not osp.isfile(osp.join(root, 'annotations', 'val.json')):
            make_shapes_dataset(root, 'train', 64, classes, SHAPES, seed=seeds[0])
            make_shapes_dataset(root, 'val', 24, classes, SHAPES, seed=seeds[1])
    return bert


def config(bert, data_root, work_dir, classes, iters, **model):
    os.environ.update(TINY_BERT_DIR=bert, SHAPES_ROOT=data_root)
    cfg = Config.fromfile(CONFIG)
    cfg.merge_from_dict({'model': model, 'work_dir': work_dir,
                         'train_cfg.max_iters': iters, 'train_cfg.val_interval': iters,
                         'default_hooks.checkpoint.interval': iters,
                         'default_hooks.logger.interval': 20,
                         'train_dataloader.batch_size': 4})
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.metainfo = dict(classes=classes)
    return cfg


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out-dir', default=osp.join(ROOT, 'work_dirs', 'quickstart'))
    parser.add_argument('--pretrain-iters', type=int, default=300)
    parser.add_argument('--tune-iters', type=int, default=100)
    args = parser.parse_args()
    out = osp.abspath(args.out_dir)
    bert = prepare(out)
    base_ckpt = osp.join(out, 'pretrain', f'iter_{args.pretrain_iters}.pth')
    if not osp.isfile(base_ckpt):
        cfg = config(bert, osp.join(out, 'base'), osp.join(out, 'pretrain'), SHAPES,
                     args.pretrain_iters, tuner=dict(_delete_=True, type='FullFineTuning'))
        cfg.optim_wrapper.optimizer.lr = 2e-4
        Runner.from_cfg(cfg).train()
    results = {}
    for name, tuner, iters in (('zero-shot', dict(num_tokens=0), 0),
                               ('SDPT', dict(num_tokens=8), args.tune_iters)):
        cfg = config(bert, osp.join(out, 'transfer'), osp.join(out, name), TRANSFER,
                     max(iters, 1), tuner=tuner, base_checkpoint=base_ckpt)
        runner = Runner.from_cfg(cfg)
        if iters:
            runner.train()
        results[name] = runner.test()
    print('\n| transfer (ball/box/cone) | box AP | AP50 |\n|---|---|---|')
    for name, metrics in results.items():
        print(f"| {name} | {metrics['coco/bbox_mAP']:.3f} | {metrics['coco/bbox_mAP_50']:.3f} |")


if __name__ == '__main__':
    main()
