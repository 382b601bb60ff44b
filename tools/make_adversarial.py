"""AdvPT's first step for a grounding detector: the training images of a config, attacked
once against its frozen base by the prompt-free feature attack (mmdet_sdpt/robust/attacks.py:
L-inf PGD on the KL of the backbone+neck features; AdvPT's training attack: eps 8/255, 10
steps), written as a copy of the dataset whose training images are the adversarial ones.

    ODINW_DATASET=Synonyms python tools/make_adversarial.py \
        configs/sdpt/tiny-glip_shapeworld.py --out data/adversarial/eps8 --eps 8 --steps 10
    ODINW_ROOT=data/adversarial/eps8 ODINW_DATASET=Synonyms \
        python tools/train.py configs/baselines/full/tiny-glip_shapeworld.py

The AdvPT configs (configs/robust/) make the same images inside their own training run
(``AdversarialTrainingSetHook``, mmdet_sdpt/robust/adversarial_set.py); this tool makes a
copy of the data for any other config.

Only the images of the config's training set (its K shots) are attacked; the rest of the
dataset folder is copied as is (valid and test stay clean), so the same config with
ODINW_ROOT set to the copy reads the same annotations and few-shot split. Images are written
at their own size, PNG content under their own names (8-bit: the perturbation is rounded to
whole pixel levels, still within eps)."""
import argparse
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
    from mmengine.config import Config, DictAction
    from mmengine.registry import init_default_scope

    import mmdet_sdpt  # noqa: F401
    from mmdet_sdpt.robust.adversarial_set import attack_dataset, training_images
    from mmdet_sdpt.robust.attacks import frozen_base

    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        parser = argparse.ArgumentParser()
        parser.add_argument('--o', nargs='+', action=DictAction)
        cfg.merge_from_dict(parser.parse_args(['--o', *args.cfg_options]).o)
    init_default_scope('mmdet')
    model = frozen_base(cfg.model)
    dataset = training_images(cfg)
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
    try:
        written = len(attack_dataset(model, dataset, src_root, out_dir, args.eps, args.steps,
                                     args.seed, args.batch_size))
    except ValueError as e:
        raise SystemExit(f'error: {e}')
    print(f'{written} adversarial images (eps {args.eps:g}/255, {args.steps} steps) of '
          f'{src_root} written under {out_dir}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
