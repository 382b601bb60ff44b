"""AdvPT's first step for a grounding detector: the training images of a config, attacked
once against its frozen base by the prompt-free feature attack (mmdet_sdpt/robust/attacks.py:
L-inf PGD on the KL of the backbone+neck features; AdvPT's training attack: eps 8/255, 10
steps), written as a copy of the dataset whose training images are the adversarial ones.

    ODINW_DATASET=Synonyms python tools/make_adversarial.py \
        configs/sdpt/tiny-glip_shapeworld.py --out data/adversarial/eps8 --eps 8 --steps 10
    ODINW_ROOT=data/adversarial/eps8 ODINW_DATASET=Synonyms \
        python tools/train.py configs/robust/tiny-glip_shapeworld_advpt.py

Only the images of the config's training set (its K shots) are attacked; the rest of the
dataset folder is copied as is (valid and test stay clean), so the same config with
ODINW_ROOT set to the copy reads the same annotations and few-shot split. Images are written
at their own size, PNG content under their own names (8-bit: the perturbation is rounded to
whole pixel levels, still within eps)."""
import argparse
import os
import os.path as osp
import shutil
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('config')
    p.add_argument('--out', required=True, help='root of the adversarial copy')
    p.add_argument('--eps', type=float, default=8.0, help='L-inf budget, pixel levels of 255')
    p.add_argument('--steps', type=int, default=10)
    p.add_argument('--seed', type=int, default=0, help='of the random start')
    p.add_argument('--batch-size', type=int, default=4)
    p.add_argument('--cfg-options', nargs='+', default=[], metavar='KEY=VALUE')
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    import numpy as np
    import torch
    from mmdet.registry import DATASETS, MODELS
    from mmengine.config import Config, DictAction
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import init_default_scope
    from PIL import Image

    import mmdet_sdpt  # noqa: F401
    from mmdet_sdpt.robust.attacks import feature_kl, pgd, to_pixels
    from mmdet_sdpt.utils.atomic_io import atomic_write

    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        parser = argparse.ArgumentParser()
        parser.add_argument('--o', nargs='+', action=DictAction)
        cfg.merge_from_dict(parser.parse_args(['--o', *args.cfg_options]).o)
    init_default_scope('mmdet')
    model = MODELS.build(dict(cfg.model, zero_shot=True, prefix_cache=None)).eval()
    # the training images as the test pipeline loads them (no flip, their own size)
    train = cfg.train_dataloader.dataset
    while 'dataset' in train and 'pipeline' not in train:  # RepeatDataset and the like
        train = train.dataset
    dataset = DATASETS.build(dict(train, pipeline=cfg.test_dataloader.dataset.pipeline))
    src_root = osp.abspath(dataset.data_root)  # the dataset's folder
    out_root = osp.abspath(args.out)
    if hasattr(dataset, 'odinw_name'):  # a suite's dataset: the same folder under --out
        from mmdet_sdpt.datasets.suites import get_suite
        suite = dataset._layout_args[3]
        out_dir = osp.join(out_root, get_suite(suite).entry(dataset.odinw_name)['data_root'])
    else:
        out_dir = out_root
    # the dataset's folder copied first (annotations, few-shot files, valid and test), then
    # its attacked training images over it
    shutil.copytree(src_root, out_dir, dirs_exist_ok=True)
    generator = torch.Generator().manual_seed(args.seed)
    written = 0
    for start in range(0, len(dataset), args.batch_size):
        batch = pseudo_collate([dataset[i] for i in
                                range(start, min(len(dataset), start + args.batch_size))])
        data = model.data_preprocessor(batch, False)
        inputs, samples = data['inputs'], data['data_samples']
        adv = pgd(model, inputs, samples, feature_kl(model, inputs), args.eps, args.steps,
                  generator=generator)
        pixels = to_pixels(model, adv)
        for img, sample in zip(pixels, samples):
            h, w = sample.metainfo['img_shape'][:2]
            if (h, w) != tuple(sample.metainfo['ori_shape'][:2]):
                raise SystemExit(
                    f'error: the test pipeline resizes {sample.img_path} ({sample.ori_shape} '
                    f'-> {sample.img_shape}); the attack writes images at their own size: use '
                    'a config whose test pipeline keeps it')
            array = img[:, :h, :w].round().clamp(0, 255).byte().permute(1, 2, 0).numpy()
            if not getattr(model.data_preprocessor, '_channel_conversion', False):
                array = array[..., ::-1]  # the pipeline's BGR back to RGB for the file
            target = osp.join(out_dir, osp.relpath(sample.img_path, src_root))
            os.makedirs(osp.dirname(target), exist_ok=True)
            # PNG content under the file's own name (the annotations name it; decoders read
            # the format from the content): lossless, unlike a JPEG re-encode
            atomic_write(target, lambda tmp, a=np.ascontiguousarray(array): Image.fromarray(
                a).save(tmp, format='PNG'))
            written += 1
    print(f'{written} adversarial images (eps {args.eps:g}/255, {args.steps} steps) of '
          f'{src_root} written under {out_dir}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
