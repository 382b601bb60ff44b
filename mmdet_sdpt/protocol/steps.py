"""What a run still needs, read from its work dir: train, test, the retention test. The
one list of steps every executor follows."""
import glob
import os.path as osp
from typing import Dict, List, NamedTuple, Optional

from ..constants import RETENTION_DIR
from ..leaderboard.runs import newest_result
from .plan import ProtocolRun, _load_cfg

TRAINED = '.trained'  # written in a run's work dir when its training finished

# --- what is done ---------------------------------------------------------------------
def trained(run: ProtocolRun) -> bool:
    return run.zero_shot or osp.isfile(osp.join(run.work_dir, TRAINED))


def tested(run: ProtocolRun) -> bool:
    return not run.evaluate or newest_result(run.work_dir) is not None


def retention_tested(run: ProtocolRun) -> bool:
    return run.retention is None or newest_result(osp.join(run.work_dir, RETENTION_DIR)) is not None


def done(run: ProtocolRun) -> bool:
    return trained(run) and tested(run) and retention_tested(run)


def best_checkpoint(work_dir: str) -> str:
    """The best-on-valid checkpoint of a trained run (``save_best``), else its newest."""
    found = sorted(glob.glob(osp.join(work_dir, 'best_*.pth')), key=osp.getmtime)
    if not found:
        found = sorted(glob.glob(osp.join(work_dir, 'iter_*.pth')) +
                       glob.glob(osp.join(work_dir, 'epoch_*.pth')), key=osp.getmtime)
    if not found:
        raise FileNotFoundError(f'{work_dir} holds no checkpoint (best_*.pth, iter_*.pth) '
                                'although its training finished')
    return found[-1]


def base_checkpoint(run: ProtocolRun, cfg=None) -> str:
    """The config's ``model.base_checkpoint`` (what a zero-shot run evaluates); ``cfg``: the
    run's config when already loaded."""
    cfg = cfg or _load_cfg(run, run.work_dir)
    base = cfg.model.get('base_checkpoint')
    if not base:
        raise ValueError(f'{run.config} sets no model.base_checkpoint: nothing to evaluate '
                         'zero-shot (pass --no-zero-shot, or set it with --cfg-options)')
    return base


def retention_options(run: ProtocolRun) -> Dict[str, object]:
    """--cfg-options that point a config's test split at the retention dataset."""
    return {'test_dataloader.dataset.name': run.retention, 'test_evaluator.name': run.retention}


class Step(NamedTuple):
    """One step of a run: 'train', 'test' (the target's test split) or 'retention' (the
    retention dataset's test split, in its own folder)."""
    kind: str
    work_dir: str
    options: Dict[str, object]


def steps(run: ProtocolRun) -> List[Step]:
    """The steps ``run`` still needs, in order (each skipped when its result is there)."""
    todo = []
    if not trained(run):
        todo.append(Step('train', run.work_dir, {}))
    if not tested(run):
        todo.append(Step('test', run.work_dir, {}))
    if not retention_tested(run):
        todo.append(Step('retention', osp.join(run.work_dir, RETENTION_DIR),
                         retention_options(run)))
    return todo
