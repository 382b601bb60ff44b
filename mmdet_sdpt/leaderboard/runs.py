"""Finding the runs of a benchmark: which work dirs were tested, on what, with what result.

A *run* is one mmengine work dir in which ``tools/test.py`` evaluated a model: mmengine
writes the metrics of each test to ``<work_dir>/<timestamp>/<timestamp>.json``
(e.g. ``{"coco/bbox_mAP": 0.473, ...}``). Training alone writes no such file (its
validation metrics go to ``<timestamp>/vis_data/``), so only tested runs count; when a work
dir holds several tests the newest timestamp wins.

Which dataset, shot count K and seed S a run belongs to:

1. the config mmengine dumped into the work dir (``<work_dir>/*.py``), when it names them:
   ``odinw_dataset`` (configs/sdpt/glip_t_odinw.py), ``odinw_shot`` and ``odinw_seed``
   (configs/sdpt/glip_t_odinw_fewshot.py), ``odinw_suite``;
2. otherwise the work dir's path: ``.../<dataset>/shot{K}_seed{S}`` for a few-shot run,
   ``.../<dataset>`` for a full-data run (shot 0, no seed), the layout those two configs
   give their ``work_dir``.
"""
import ast
import glob
import json
import os
import os.path as osp
import re
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Sequence

from ..constants import RETENTION_DIR, ZERO_SHOT

TIMESTAMP = re.compile(r'^\d{8}_\d{6}$')
FEWSHOT_DIR = re.compile(r'^shot(\d+)_seed(\d+)$')
FULL_DIR = re.compile(r'^full_seed(\d+)$')
CONFIG_KEYS = ('odinw_dataset', 'odinw_shot', 'odinw_seed', 'odinw_suite', 'method',
               'detector')


@dataclass
class Run:
    work_dir: str
    result_file: str
    metrics: dict
    dataset: str
    shot: Optional[int] = 0  # 0: full data; None: zero-shot (no training)
    seed: Optional[int] = None
    suite: Optional[str] = None
    method: str = ''
    detector: str = ''
    retention_metrics: Optional[dict] = None  # the base-domain test of the same model

    @property
    def label(self) -> str:
        """The results' row: '<detector> <method>' (either may be empty)."""
        return ' '.join(x for x in (self.detector, self.method) if x)


def shot_label(shot: Optional[int]) -> str:
    return ZERO_SHOT if shot is None else 'full data' if shot == 0 else f'{shot}-shot'


def _dumped_config_values(work_dir: str) -> dict:
    """Top-level ``odinw_*`` assignments of the config(s) mmengine dumped into work_dir,
    read without executing them."""
    found = {}
    for path in sorted(glob.glob(osp.join(work_dir, '*.py'))):
        try:
            tree = ast.parse(open(path).read())
        except (SyntaxError, UnicodeDecodeError):
            continue
        for node in tree.body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(
                    node.targets[0], ast.Name) and node.targets[0].id in CONFIG_KEYS:
                try:
                    found[node.targets[0].id] = ast.literal_eval(node.value)
                except ValueError:
                    pass
    return found


def newest_result(folder: str) -> Optional[str]:
    """The newest ``<timestamp>/<timestamp>.json`` a test wrote in ``folder``, or None."""
    if not osp.isdir(folder):
        return None
    stamps = sorted(d for d in os.listdir(folder)
                    if TIMESTAMP.match(d) and osp.isfile(osp.join(folder, d, d + '.json')))
    return osp.join(folder, stamps[-1], stamps[-1] + '.json') if stamps else None


def read_run(work_dir: str) -> Optional[Run]:
    """The newest test result of ``work_dir`` and what it is a result of, or None. The
    newest result in ``<work_dir>/retention/`` is the same model's base-domain test."""
    result_file = newest_result(work_dir)
    if result_file is None:
        return None
    with open(result_file) as f:
        metrics = json.load(f)
    cfg = _dumped_config_values(work_dir)
    norm = osp.normpath(osp.abspath(work_dir))
    leaf, parent = osp.basename(norm), osp.basename(osp.dirname(norm))
    fewshot, full = FEWSHOT_DIR.match(leaf), FULL_DIR.match(leaf)
    if 'odinw_dataset' in cfg:
        dataset = str(cfg['odinw_dataset'])
        shot = int(cfg.get('odinw_shot', 0))
        seed = int(cfg['odinw_seed']) if 'odinw_seed' in cfg else None
    elif fewshot:
        dataset, shot, seed = parent, int(fewshot.group(1)), int(fewshot.group(2))
    elif full:
        dataset, shot, seed = parent, 0, int(full.group(1))
    else:
        dataset, shot, seed = leaf, 0, None
    method = str(cfg.get('method', ''))
    if method == ZERO_SHOT:
        shot, seed = None, None
    retention = None
    retention_file = newest_result(osp.join(work_dir, RETENTION_DIR))
    if retention_file is not None:
        with open(retention_file) as f:
            retention = json.load(f)
    return Run(work_dir=work_dir, result_file=result_file, metrics=metrics, dataset=dataset,
               shot=shot, seed=seed, suite=cfg.get('odinw_suite'), method=method,
               detector=str(cfg.get('detector', '')), retention_metrics=retention)


def find_runs(paths: Iterable[str]) -> List[Run]:
    """Every tested work dir at or below ``paths`` (timestamp folders are not entered)."""
    runs, seen = [], set()
    for top in paths:
        if not osp.isdir(top):
            raise FileNotFoundError(f'work dir {top!r} not found')
        for folder, subdirs, _ in os.walk(top):
            subdirs[:] = sorted(d for d in subdirs
                                if not TIMESTAMP.match(d) and d != RETENTION_DIR)
            key = osp.realpath(folder)
            if key in seen:
                continue
            seen.add(key)
            run = read_run(folder)
            if run is not None:
                runs.append(run)
    return runs


def _metric_value(run: Run, metric: str, metrics: Optional[dict] = None,
                  what: str = '') -> float:
    metrics = run.metrics if metrics is None else metrics
    value = metrics.get(metric)
    where = run.result_file if not what else f'{run.work_dir} ({what})'
    if value is None:
        raise KeyError(f'{where} has no {metric!r}; it has {sorted(metrics)}')
    if value < 0:  # COCOeval's -1: nothing to evaluate
        raise ValueError(f'{where}: {metric} = {value} (no ground truth?)')
    return float(value)


def index_runs(runs: Sequence[Run], metric: str) -> Dict[tuple, Run]:
    """{(label, shot, dataset, seed): run}; two results for one key are an error."""
    by_key: Dict[tuple, Run] = {}
    for run in runs:
        key = (run.label, run.shot, run.dataset, run.seed)
        if key in by_key:
            what = f'{run.label}: dataset' if run.label else 'dataset'
            raise ValueError(f'two results for {what} {run.dataset}, shot {run.shot}, seed '
                             f'{run.seed}: {by_key[key].work_dir} and {run.work_dir}')
        _metric_value(run, metric)
        by_key[key] = run
    return by_key
