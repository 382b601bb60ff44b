"""mmengine formats ``cfg.pretty_text`` (a yapf pass) for the env log, the runtime info, the
config dump and every checkpoint; a ``TunedRunner`` formats it once per content."""
import glob
import os.path as osp

import mmengine.config.config as mmengine_config
from mmengine.config import Config

from mmdet_sdpt.engine.runner import FormattedOnceConfig
from tests.helpers import TINY_CONFIG
from tests.helpers import tiny_runner


def _count_formatting(monkeypatch):
    calls = []
    real = mmengine_config.FormatCode

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(mmengine_config, 'FormatCode', counted)
    return calls


def test_the_text_is_mmengines_and_follows_every_change(monkeypatch):
    cfg = Config.fromfile(TINY_CONFIG)
    once = FormattedOnceConfig.of(cfg)
    calls = _count_formatting(monkeypatch)
    assert once.pretty_text == cfg.pretty_text and len(calls) == 2
    assert once.pretty_text == cfg.pretty_text and len(calls) == 3  # kept: only cfg formats
    once.model.test_cfg.max_per_img = 7  # a nested change
    cfg.model.test_cfg.max_per_img = 7
    assert 'max_per_img=7' in once.pretty_text and once.pretty_text == cfg.pretty_text
    assert len(calls) == 5  # once formats the new text once, cfg once
    once.work_dir = 'elsewhere'
    assert "work_dir = 'elsewhere'" in once.pretty_text and len(calls) == 6


def test_a_tuned_run_formats_its_config_once(tiny_env, base_checkpoint, tmp_path,
                                             monkeypatch):
    calls = _count_formatting(monkeypatch)
    runner = tiny_runner(tmp_path, base_checkpoint, max_iters=3)  # a checkpoint per iteration
    runner.train()
    assert len(calls) == 1
    dumped = glob.glob(osp.join(str(tmp_path), '*.py'))
    assert len(dumped) == 1 and open(dumped[0]).read() == Config(
        runner.cfg.to_dict()).pretty_text
