"""The protocol's runs: one per (config, dataset, shot, seed), each with its work dir."""
import os.path as osp
import re
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

from ..constants import ZERO_SHOT
from ..utils.environ import environ

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOLS = osp.join(ROOT, 'tools')
# a zero-shot run evaluates the base on purpose, and says so in the config it dumps
ZERO_SHOT_OPTIONS = {'model.zero_shot': True, 'method': ZERO_SHOT}
PROTOCOL_ENV = 'MMDET_SDPT_PROTOCOL_ROOT'  # set for every process a protocol starts


@dataclass
class ProtocolRun:
    config: str
    detector: str
    method: str
    dataset: str
    shot: Optional[int]  # None: zero-shot (no training)
    seed: Optional[int]
    suite: str
    work_dir: str
    retention: Optional[str] = None  # the dataset whose test split measures retention
    data_root: Optional[str] = None
    cfg_options: Dict[str, object] = field(default_factory=dict)
    evaluate: bool = True  # False: trained only (a learning-rate sweep's run: valid AP only)
    tag: str = ''  # added to the name (the sweep's learning rate)

    @property
    def zero_shot(self) -> bool:
        return self.shot is None

    @property
    def name(self) -> str:
        what = ZERO_SHOT if self.zero_shot else (
            f'full data, seed {self.seed}' if self.shot == 0 else
            f'{self.shot}-shot, seed {self.seed}')
        return f'{self.detector} {self.method} / {self.dataset} / {what}' + (
            f' / {self.tag}' if self.tag else '')

    def env(self) -> Dict[str, str]:
        env = dict(ODINW_DATASET=self.dataset, ODINW_SUITE=self.suite,
                   ODINW_SHOT=str(self.shot or 0), ODINW_SEED=str(self.seed or 0))
        if self.data_root:
            env['ODINW_ROOT'] = self.data_root
        return env


def _assigned_here(config: str, key: str) -> Optional[str]:
    """``key``'s value when the config file itself assigns it (not a base it inherits)."""
    import ast
    for node in ast.parse(open(config).read()).body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == key for t in node.targets):
            try:
                return str(ast.literal_eval(node.value))
            except ValueError:
                return None
    return None


def config_identity(config: str) -> Dict[str, str]:
    """(detector, method, suite) of a config: ``method`` as the config file itself assigns it
    (an inherited one would name the parent's method), else the config's folder
    (configs/baselines/<method>/..., configs/sdpt/...); ``detector`` as the config (or a
    base) says, else the file name's first word."""
    from mmengine.config import Config
    cfg = Config.fromfile(config)
    stem = osp.splitext(osp.basename(config))[0]
    method = _assigned_here(config, 'method') or osp.basename(
        osp.dirname(osp.abspath(config)))
    return dict(detector=str(cfg.get('detector', stem.split('_')[0])), method=method,
                suite=cfg.get('odinw_suite'))


def run_dir(work_root: str, detector: str, method: str, dataset: str,
            shot: Optional[int], seed: Optional[int]) -> str:
    if shot is None:
        return osp.join(work_root, detector, ZERO_SHOT, dataset)
    leaf = f'full_seed{seed}' if shot == 0 else f'shot{shot}_seed{seed}'
    return osp.join(work_root, detector, method, dataset, leaf)


def plan(configs: Sequence[str], suite: str, work_root: str,
         datasets: Optional[Sequence[str]] = None, shots: Sequence[int] = (1, 3, 5, 10, 0),
         seeds: Sequence[int] = (3, 30, 300), zero_shot: bool = True,
         retention: bool = True, data_root: Optional[str] = None,
         cfg_options: Optional[dict] = None) -> List[ProtocolRun]:
    """Every run of the protocol, zero-shot runs first (one per detector and dataset)."""
    from ..datasets import get_suite
    s = get_suite(suite)
    names = list(datasets or s.datasets)
    unknown = [d for d in names if d not in s.entries]
    if unknown:
        raise KeyError(f'not datasets of suite {suite}: {unknown}; it has '
                       f'{", ".join(s.datasets)}')
    runs, zero = [], {}
    seen = set()
    for config in configs:
        ident = config_identity(config)
        key = (ident['detector'], ident['method'])
        if key in seen:
            raise ValueError(f'two configs are {key}: give each a distinct `method`')
        seen.add(key)
        common = dict(config=config, detector=ident['detector'], suite=suite,
                      data_root=data_root)
        # the config each run dumps names it as planned (tools/collect_results.py reads it)
        named = dict(cfg_options or {}, detector=ident['detector'])
        for dataset in names:
            keep = s.retention.get(dataset) if retention else None
            if zero_shot and (ident['detector'], dataset) not in zero:
                zero[(ident['detector'], dataset)] = ProtocolRun(
                    method=ZERO_SHOT, dataset=dataset, shot=None, seed=None,
                    retention=keep, work_dir=run_dir(work_root, ident['detector'], '',
                                                     dataset, None, None),
                    cfg_options=dict(named, **ZERO_SHOT_OPTIONS), **common)
            for shot in shots:
                for seed in seeds:
                    runs.append(ProtocolRun(
                        method=ident['method'], dataset=dataset, shot=int(shot),
                        seed=int(seed), retention=keep,
                        work_dir=run_dir(work_root, ident['detector'], ident['method'],
                                         dataset, int(shot), int(seed)),
                        cfg_options=dict(named, method=ident['method']), **common))
    return list(zero.values()) + runs


# --- a run's config ---------------------------------------------------------------------
def _load_cfg(run: ProtocolRun, work_dir: str, options: Optional[dict] = None,
              formatted: bool = True):
    """``formatted=False``: the runner logs its config unformatted (test steps: their
    config is only logged, and mmengine's yapf pass is a cost paid again per runner)."""
    from mmengine.config import Config
    with environ(run.env()):
        cfg = Config.fromfile(run.config, format_python_code=formatted)
    if run.cfg_options:
        cfg.merge_from_dict(run.cfg_options)
    if options:
        cfg.merge_from_dict(options)
    cfg.work_dir = work_dir
    # one process runs many runners: give each its own logger and message hub
    tag = re.sub(r'[^A-Za-z0-9_.-]+', '_', f'{run.detector}_{run.method}_{run.dataset}_'
                 f'{run.shot}_{run.seed}')
    cfg.experiment_name = f'{tag}_{time.time_ns()}'
    return cfg
