"""Merge an adapter-only checkpoint (what tools/train.py saves) into a full checkpoint.

    python tools/merge_adapter.py CONFIG ADAPTER_CKPT OUT [--cfg-options k=v ...]
    python tools/merge_adapter.py configs/sdpt/glip_t_coco.py work_dirs/sdpt/iter_20.pth \
        glip_t_sdpt_full.pth --cfg-options model.base_checkpoint=checkpoints/glip_t.pth

Builds the tuned model of CONFIG (which loads the base weights named by
``model.base_checkpoint``), loads the adapter onto it with ``mmdet_sdpt.load_adapter`` (it
stops with an ``AdapterMismatchError`` if the adapter does not fit that model or base) and
writes ``{'state_dict': <every tensor>, 'meta': {<adapter meta>, 'merged_from': ADAPTER_CKPT}}``.
OUT loads with plain mmengine ``load_checkpoint`` (or ``tools/test.py CONFIG OUT``) into the
same tuned config without any base checkpoint.
"""
import argparse

from mmdet.registry import MODELS
from mmdet.utils import register_all_modules
from mmengine.config import Config, DictAction

import mmdet_sdpt  # noqa: F401  registers TunedDetector and the tuners
from mmdet_sdpt.adapter import atomic_save, load_adapter


def parse_args():
    parser = argparse.ArgumentParser(description='Merge an adapter checkpoint into its base')
    parser.add_argument('config', help='config the adapter was trained with')
    parser.add_argument('adapter', help='adapter-only checkpoint (tools/train.py output)')
    parser.add_argument('out', help='path of the full checkpoint to write')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, e.g. model.base_checkpoint=PATH')
    return parser.parse_args()


def main():
    args = parse_args()
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    register_all_modules()
    model = MODELS.build(cfg.model)  # loads model.base_checkpoint
    checkpoint = load_adapter(model, args.adapter)  # checks tuner and base, then loads
    adapter = (checkpoint.get('meta') or {}).get('adapter')
    if adapter is None:
        raise SystemExit(f'{args.adapter} is not an adapter-only checkpoint (no '
                         "meta['adapter']): nothing to merge.")
    # No 'adapter' key in the merged meta: loaders would take OUT for adapter-only.
    meta = dict(adapter, format='mmdet_sdpt.merged/1', merged_from=args.adapter)
    atomic_save({'state_dict': model.state_dict(), 'meta': meta}, args.out)
    print(f'merged {args.adapter} into the base of {args.config}: {args.out}')


if __name__ == '__main__':
    main()
