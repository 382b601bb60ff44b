"""mmdet's tools/test.py (same CLI: CONFIG CHECKPOINT, --work-dir, --out, --cfg-options,
--launcher, --tta...), with mmdet_sdpt registered first. mmdet ships the script in its wheel.

One addition: ``--zero-shot`` evaluates the base detector of CONFIG on purpose (every tuner
module switched off, the weights of ``model.base_checkpoint``), with no CHECKPOINT::

    python tools/test.py configs/sdpt/demo_tiny-glip_synthetic.py --zero-shot

Without it, a CHECKPOINT that lacks the tuned tensors (the base checkpoint, a checkpoint of
another model) stops with an error saying what it is.
"""
import argparse
import os.path as osp
import runpy
import sys

import mmdet
from mmengine.config import Config, DictAction

import mmdet_sdpt  # noqa: F401  registers tuners, hooks and TunedDetector
from mmdet_sdpt.utils.dist import end_process_group
from mmdet_sdpt.engine import TunedRunner


def zero_shot_argv(argv: list) -> list:
    """``CONFIG --zero-shot [args]`` -> ``CONFIG BASE_CHECKPOINT [args] --cfg-options
    model.zero_shot=True``, BASE_CHECKPOINT being the config's ``model.base_checkpoint``
    (after the command's own --cfg-options)."""
    argv = [a for a in argv if a != '--zero-shot']
    if len(argv) < 2 or argv[1].startswith('-'):
        raise SystemExit('usage: tools/test.py CONFIG --zero-shot [mmdet test options]')
    cfg = Config.fromfile(argv[1])
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    options = parser.parse_known_args(argv[2:])[0].cfg_options
    if options:
        cfg.merge_from_dict(options)
        end = argv.index('--cfg-options') + 1
        while end < len(argv) and not argv[end].startswith('-'):
            end += 1
        argv = argv[:end] + ['model.zero_shot=True'] + argv[end:]
    else:
        argv = argv + ['--cfg-options', 'model.zero_shot=True']
    base = cfg.model.get('base_checkpoint')
    if not base:
        raise SystemExit(f'error: --zero-shot evaluates model.base_checkpoint, which '
                         f'{argv[1]} does not set: add --cfg-options '
                         'model.base_checkpoint=/path/to/base.pth')
    return argv[:2] + [base] + argv[2:]


if __name__ == '__main__':
    # an evaluation takes no work-dir lock: testing a checkpoint while its run trains on
    TunedRunner.evaluates_only = True
    if '--zero-shot' in sys.argv:
        sys.argv = zero_shot_argv(sys.argv)
    runpy.run_path(osp.join(osp.dirname(mmdet.__file__), '.mim', 'tools', 'test.py'),
                   run_name='__main__')
    end_process_group()  # a DDP run ends here, not at interpreter exit
