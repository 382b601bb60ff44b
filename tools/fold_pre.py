"""Fold a PRE adapter checkpoint into plain text prompts (the encoder is gone).

    python tools/fold_pre.py ADAPTER_CKPT OUT
    python tools/fold_pre.py work_dirs/pre/iter_300.pth pre_folded.pth

PRE trains its text prompt as T = E + up(gelu(down(E))); T depends on trained tensors only,
so it is written as ``<attention>.sdpt.text_tokens`` with ``meta['adapter']`` describing
``SDPT(projection='none', streams=['text'])`` (K, layers, mask and base as PRE's) and
``folded_from='PRE'``. No model is built: the conversion reads the checkpoint alone.

OUT loads (with the usual tuner and base checks) on ``model.tuner = dict(type='SDPT',
projection='none', streams=['text'], num_tokens=K, layers=..., mask=...)`` with PRE's K,
layers and mask. The PRE configs use the K, layers and mask of SDPT's config of the same
row, so that is SDPT's own config with two options::

    python tools/test.py configs/sdpt/glip_t_coco.py pre_folded.pth \
        --cfg-options model.tuner.projection=none "model.tuner.streams=[text]"
"""
import argparse

from mmdet_sdpt.adapter import atomic_save
from mmdet_sdpt.checkpoint import load_checkpoint_file
from mmdet_sdpt.models.reparameterized_prompts import fold_checkpoint


def parse_args():
    parser = argparse.ArgumentParser(description='Fold a PRE adapter into text prompts')
    parser.add_argument('adapter', help='PRE adapter-only checkpoint (tools/train.py output)')
    parser.add_argument('out', help='path of the folded adapter checkpoint to write')
    return parser.parse_args()


def main():
    args = parse_args()
    checkpoint = load_checkpoint_file(args.adapter)
    try:
        folded = fold_checkpoint(checkpoint)
    except ValueError as err:
        raise SystemExit(f'{args.adapter}: {err}')
    folded['meta']['adapter']['folded_file'] = args.adapter
    atomic_save(folded, args.out)
    tuner = folded['meta']['adapter']['tuner']
    print(f'folded the PRE text prompts of {len(folded["state_dict"])} fusion layers of '
          f'{args.adapter} into {args.out}.\nIt loads on model.tuner=dict(type=\'SDPT\', '
          f"projection='none', streams=['text'], num_tokens={tuner['num_tokens']}, "
          f"mask='{tuner['mask']}', layers=<as PRE's>), e.g. configs/sdpt/<row>.py "
          '--cfg-options model.tuner.projection=none "model.tuner.streams=[text]"')


if __name__ == '__main__':
    main()
