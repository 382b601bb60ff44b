"""mmdet's tools/train.py (same CLI: --work-dir, --amp, --resume, --cfg-options,
--launcher...), with mmdet_sdpt registered first. mmdet ships the script in its wheel."""
import os.path as osp
import runpy

import mmdet

import mmdet_sdpt  # noqa: F401  registers tuners, hooks and TunedDetector
from mmdet_sdpt.utils.dist import end_process_group

if __name__ == '__main__':
    runpy.run_path(osp.join(osp.dirname(mmdet.__file__), '.mim', 'tools', 'train.py'),
                   run_name='__main__')
    end_process_group()  # a DDP run ends here, not at interpreter exit
