"""Rewrite a checkpoint that mmengine's runner wrote before mmdet-sdpt 0.2 (or that plain
mmdet wrote) as tensors and plain data, the form every loader of ours reads.

    python tools/convert_checkpoint.py OLD.pth NEW.pth

Such files pickle the message hub's ``HistoryBuffer`` objects, which unpickle through
``getattr``: the safe loader refuses them, naming this tool. This tool reads them with
stand-ins that can only rebuild that data (``mmdet_sdpt.checkpoint.load_legacy_checkpoint``;
anything else such a file asks for is refused as usual, so it is safe on a file you do not
trust), and writes NEW atomically. ``--resume`` from NEW restores what OLD held.
"""
import argparse
import sys

from mmdet_sdpt.adapter import atomic_save
from mmdet_sdpt.checkpoint import (CheckpointLoadError, load_checkpoint_file,
                                   load_legacy_checkpoint)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', help='checkpoint written before (pickled message hub)')
    parser.add_argument('dst', help='path of the plain checkpoint to write')
    args = parser.parse_args(argv)
    try:
        checkpoint = load_legacy_checkpoint(args.src)
    except (FileNotFoundError, CheckpointLoadError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 1
    atomic_save(checkpoint, args.dst)
    load_checkpoint_file(args.dst)  # reads back with the safe loader
    print(f'{args.src} -> {args.dst}: tensors and plain data only')
    return 0


if __name__ == '__main__':
    sys.exit(main())
