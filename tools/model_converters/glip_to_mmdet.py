"""Convert an official GLIP checkpoint (microsoft/GLIP, maskrcnn-benchmark keys) to mmdet's
GLIP keys, with the key mapping of mmdet's own converter (shipped in mmdet's wheel as
``mmdet/.mim/tools/model_converters/glip_to_mmdet.py``, loaded from there, not copied).

    python tools/model_converters/glip_to_mmdet.py glip_tiny_model_o365_goldg.pth \
        checkpoints/glip_t_mmdet.pth

Unlike mmdet's script, DST is written where asked (atomically: never half-written), as
``{'state_dict': ..., 'meta': {'converted_from': SRC}}``, which mmengine's
``load_checkpoint`` and our ``model.base_checkpoint`` (``GLIP_CKPT``) read. SRC is read with
tensors and plain data only (``mmdet_sdpt.checkpoint``); ``--allow-pickle`` unpickles it in
full, for a file you trust that the safe loader refuses. Keys that
mmdet's mapping drops (anchor generator, resizer, ``cls_logits``, BERT pooler, anything
outside backbone / language backbone / rpn) are listed, not converted.
"""
import argparse
import contextlib
import io
import os.path as osp
import runpy

import mmdet
import torch

from mmdet_sdpt.adapter import atomic_save
from mmdet_sdpt.checkpoint import load_checkpoint_file

MMDET_CONVERTER = osp.join(osp.dirname(mmdet.__file__), '.mim', 'tools', 'model_converters',
                           'glip_to_mmdet.py')


def mmdet_converter() -> dict:
    """The globals of mmdet's converter script: ``convert``, ``convert_dict_fpn``, ..."""
    return runpy.run_path(MMDET_CONVERTER, run_name='mmdet_glip_to_mmdet')


def convert_state_dict(state: dict) -> tuple:
    """(mmdet state dict, [official keys mmdet's mapping dropped])."""
    convert = mmdet_converter()['convert']
    with contextlib.redirect_stdout(io.StringIO()):  # mmdet prints 'skip: KEY'
        converted = convert(state)
        dropped = [k for k in state if not convert({k: state[k]})] \
            if len(converted) < len(state) else []
    return converted, dropped


def main(argv=None):
    parser = argparse.ArgumentParser(description='Official GLIP checkpoint -> mmdet keys')
    parser.add_argument('src', help='official GLIP .pth (a dict with "model", or a state dict)')
    parser.add_argument('dst', help='mmdet checkpoint to write')
    parser.add_argument('--allow-pickle', action='store_true',
                        help='unpickle SRC in full (it can run code): only for a file you '
                        'trust, if the safe loader refuses it')
    args = parser.parse_args(argv)
    if args.allow_pickle:  # the user's explicit choice for a file they trust
        checkpoint = torch.load(args.src, map_location='cpu', weights_only=False)
    else:
        checkpoint = load_checkpoint_file(args.src)
    state = checkpoint['model'] if 'model' in checkpoint else checkpoint  # as mmdet's script
    converted, dropped = convert_state_dict(state)
    atomic_save({'state_dict': converted,
                 'meta': dict(converted_from=osp.basename(args.src),
                              converter='mmdet tools/model_converters/glip_to_mmdet.py')},
                args.dst)
    print(f'{len(converted)} tensors converted, {len(dropped)} dropped by mmdet\'s mapping'
          + (f' (e.g. {dropped[:3]})' if dropped else '') + f': {args.dst}')


if __name__ == '__main__':
    main()
