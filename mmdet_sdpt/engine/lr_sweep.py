"""Each method at its best: its learning rate chosen on valid, before the grid.

A sweep trains every config at ``factors`` x its recipe's learning rate
(``optim_wrapper.optimizer.lr``; parameter groups set by multipliers scale with it) on a
declared subset (some datasets, one shot, one seed), in the protocol's layout under
``<work_root>/lr_sweep/x<factor>/``. Sweep runs are trained only: their score is the best
valid AP of the run (``cost.json``, written by ``RunCostHook``), and nothing of them is tested.

One rate per method (``choose``): the factor with the highest valid AP averaged over the
sweep's datasets (a 20-image valid split is noisy, so a per-dataset choice is not made); a
tie goes to the factor nearest the recipe. A best factor at an edge of the swept ones says
only that the best rate lies there or beyond: with ``extend`` the sweep goes on past that
edge, one factor at a time at the edge's own spacing (x1/3, x1, x3, x9 chose x9: x27 next),
for that method only, at most ``extend`` times, until its best is inside. The choice is written to
``<work_root>/lr_choice.json`` (atomically) and the grid's runs of that method train at it
(``apply``). Nothing is selected on test.

A grid run on the sweep's own (dataset, shot, seed) at the chosen rate is the sweep run
itself: ``reuse`` copies that trained run into the grid's layout (training is
deterministic per seed, so training it again would give the same checkpoint), and the grid
only tests it.
"""
import json
import math
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence

from .cost import COST_FILE
from ..protocol import (TRAINED, ProtocolRun, best_checkpoint, done, execute_all, plan,
                       trained)

LR_KEY = 'optim_wrapper.optimizer.lr'
FACTORS = (1 / 3, 1.0, 3.0)
SWEEP_DIR = 'lr_sweep'
CHOICE_FILE = 'lr_choice.json'


class SweepError(RuntimeError):
    """A sweep that cannot choose (a run without a valid score)."""


def factor_name(factor: float) -> str:
    """'x0.333', 'x1', 'x3': the sweep folder of a factor."""
    return f'x{factor:.3g}'


def recipe_lr(config: str, cfg_options: Optional[dict] = None) -> float:
    """The learning rate a config trains at (after ``cfg_options``)."""
    from mmengine.config import Config
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    lr = cfg.get('optim_wrapper', {}).get('optimizer', {}).get('lr')
    if lr is None:
        raise SweepError(f'{config} sets no {LR_KEY}: nothing to sweep')
    return float(lr)


def plan_sweep(configs: Sequence[str], suite: str, work_root: str,
               datasets: Sequence[str], shot: int, seed: int,
               factors: Sequence[float] = FACTORS, data_root: Optional[str] = None,
               cfg_options: Optional[dict] = None, extend: int = 0) -> List[ProtocolRun]:
    """Every sweep run: configs x factors x datasets at (shot, seed), trained only; with
    ``extend``, the runs past an edge (see the module's docstring) that the finished runs
    call for so far (a step is planned once every run before it has trained)."""
    factors_of = {config: sorted(factors) for config in configs}
    runs = _plan_factors(factors_of, suite, work_root, datasets, shot, seed, data_root,
                         cfg_options)
    for _ in range(extend):
        if not all(done(r) for r in runs):
            break
        beyond = beyond_edges(runs, factors_of)
        if not beyond:
            break
        for config, factor in beyond.items():
            factors_of[config] = sorted(factors_of[config] + [factor])
        runs += _plan_factors({c: [f] for c, f in beyond.items()}, suite, work_root,
                              datasets, shot, seed, data_root, cfg_options)
    return runs


def beyond_edges(runs: Sequence[ProtocolRun],
                 factors_of: Dict[str, Sequence[float]]) -> Dict[str, float]:
    """{config: the next factor past its edge} for each config whose best factor on the
    finished ``runs`` is the lowest or the highest of its ``factors_of`` (the step: the
    spacing of the two factors at that edge)."""
    choice = choose(runs)
    beyond = {}
    for config, factors in factors_of.items():
        label = next((f'{r.detector} {r.method}' for r in runs if r.config == config), None)
        if label not in choice or len(factors) < 2:
            continue
        best = choice[label]['factor']
        if math.isclose(best, factors[-1], rel_tol=1e-5):
            beyond[config] = factors[-1] * factors[-1] / factors[-2]
        elif math.isclose(best, factors[0], rel_tol=1e-5):
            beyond[config] = factors[0] * factors[0] / factors[1]
    return beyond


def _plan_factors(factors_of: Dict[str, Sequence[float]], suite: str, work_root: str,
                  datasets: Sequence[str], shot: int, seed: int, data_root: Optional[str],
                  cfg_options: Optional[dict]) -> List[ProtocolRun]:
    runs = []
    for config, factors in factors_of.items():
        lr = recipe_lr(config, cfg_options)
        for factor in factors:
            options = dict(cfg_options or {}, **{LR_KEY: lr * factor})
            for run in plan([config], suite, osp.join(work_root, SWEEP_DIR,
                                                      factor_name(factor)),
                            datasets=datasets, shots=[shot], seeds=[seed], zero_shot=False,
                            retention=False, data_root=data_root, cfg_options=options):
                run.evaluate = False
                run.tag = f'lr {lr * factor:.3g} ({factor_name(factor)})'
                runs.append(run)
    return runs


def valid_score(run: ProtocolRun) -> float:
    """The best valid score of a trained run (its ``cost.json``'s ``best``)."""
    path = osp.join(run.work_dir, COST_FILE)
    try:
        with open(path) as f:
            best = json.load(f).get('best')
    except (OSError, ValueError) as e:
        raise SweepError(f'{run.name}: no valid score ({path}: {e}); the config needs '
                         'RunCostHook (configs/_base_/tuned_runtime.py custom_hooks)') from e
    if not best or best.get('key') not in best.get('metrics', {}):
        raise SweepError(f'{run.name}: {path} records no validation')
    return float(best['metrics'][best['key']])


def choose(runs: Sequence[ProtocolRun]) -> Dict[str, dict]:
    """{'<detector> <method>': {lr, factor, recipe_lr, valid: {factor name: mean valid
    AP}, datasets}} from finished sweep runs (see the module's docstring)."""
    groups: Dict[str, Dict[float, List[float]]] = {}
    lrs: Dict[str, Dict[float, float]] = {}
    datasets: Dict[str, set] = {}
    recipes: Dict[str, float] = {}
    for run in runs:
        label = f'{run.detector} {run.method}'
        lr = float(run.cfg_options[LR_KEY])
        options = {k: v for k, v in run.cfg_options.items() if k != LR_KEY}
        if run.config not in recipes:
            recipes[run.config] = recipe_lr(run.config, options)
        factor = round(lr / recipes[run.config], 6)
        groups.setdefault(label, {}).setdefault(factor, []).append(valid_score(run))
        lrs.setdefault(label, {})[factor] = lr
        datasets.setdefault(label, set()).add(run.dataset)
    choice = {}
    for label, by_factor in groups.items():
        sizes = {len(v) for v in by_factor.values()}
        if len(sizes) != 1:
            raise SweepError(f'{label}: the sweep\'s factors ran on different datasets')
        means = {f: sum(v) / len(v) for f, v in by_factor.items()}
        # the best mean; a tie goes to the factor nearest the recipe (|log factor|)
        best = max(means, key=lambda f: (round(means[f], 6), -abs(math.log(f))))
        choice[label] = dict(lr=lrs[label][best], factor=best,
                             recipe_lr=lrs[label][best] / best,
                             valid={factor_name(f): round(means[f], 4)
                                    for f in sorted(means)},
                             datasets=sorted(datasets[label]))
    return choice


def save_choice(work_root: str, choice: Dict[str, dict], subset: dict) -> str:
    from ..utils.atomic_io import atomic_write_json
    path = osp.join(work_root, CHOICE_FILE)
    atomic_write_json(path, dict(subset=subset, choice=choice))
    return path


def load_choice(work_root: str) -> Optional[dict]:
    path = osp.join(work_root, CHOICE_FILE)
    if not osp.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)


def trained_lr(work_dir: str) -> Optional[float]:
    """The learning rate of the config a run dumped into its work dir (None: none there)."""
    import glob

    from mmengine.config import Config
    for path in sorted(glob.glob(osp.join(work_dir, '*.py'))):
        try:
            lr = Config.fromfile(path).get('optim_wrapper', {}).get('optimizer', {}).get('lr')
        except Exception:  # not a dumped config
            continue
        if lr is not None:
            return float(lr)
    return None


def apply(runs: Sequence[ProtocolRun], choice: Dict[str, dict],
          superseded: Optional[str] = None, log=print) -> None:
    """Train every run of a swept method at its chosen rate (zero-shot runs: untouched).
    A run already trained at another rate stops it (SweepError naming the work dir), or,
    given a ``superseded`` folder, is moved there (its path under it: the run's own under
    its work root's parent, plus ``_lr<rate>``) and trains again."""
    for run in runs:
        picked = choice.get(f'{run.detector} {run.method}')
        if picked is None or run.zero_shot:
            continue
        run.cfg_options[LR_KEY] = picked['lr']
        if not trained(run):
            continue
        lr = trained_lr(run.work_dir)
        if lr is None or math.isclose(lr, picked['lr'], rel_tol=1e-6):
            continue
        if superseded is None:
            raise SweepError(
                f'{run.name} was trained at lr {lr:.3g}, but the sweep chose '
                f'{picked["lr"]:.3g}: delete {run.work_dir} to train it again')
        parts = osp.normpath(run.work_dir).split(os.sep)[-4:]  # detector/method/data/run
        target = osp.join(superseded, *parts[:-1], f'{parts[-1]}_lr{lr:.3g}')
        os.makedirs(osp.dirname(target), exist_ok=True)
        if osp.exists(target):
            raise SweepError(f'{run.name}: {target} is there already; move it away')
        os.replace(run.work_dir, target)
        log(f'{run.name}: trained at lr {lr:.3g}, but the sweep now chooses '
            f'{picked["lr"]:.3g}: moved to {target}, trains again')


def _checkpointed(run: ProtocolRun) -> bool:
    """Whether a trained run still holds its checkpoint (one restored from an archive of
    results does not: its grid twin then trains itself)."""
    try:
        best_checkpoint(run.work_dir)
    except FileNotFoundError:
        return False
    return True


def reuse(runs: Sequence[ProtocolRun], sweep_runs: Sequence[ProtocolRun],
          choice: Dict[str, dict], log=print) -> int:
    """Copy each trained sweep run at its method's chosen rate into the grid run of the
    same config, dataset, shot and seed that has not trained yet (into a temporary folder,
    then renamed: never half there). Returns how many were copied."""
    import shutil

    chosen = {}
    for s in sweep_runs:
        picked = choice.get(f'{s.detector} {s.method}')
        if picked and math.isclose(float(s.cfg_options[LR_KEY]), picked['lr'],
                                   rel_tol=1e-6) and trained(s) and _checkpointed(s):
            chosen[(s.config, s.dataset, s.shot, s.seed)] = s
    copied = 0
    for run in runs:
        source = chosen.get((run.config, run.dataset, run.shot, run.seed))
        if source is None or run.zero_shot or trained(run) or osp.exists(run.work_dir):
            continue
        partial = run.work_dir.rstrip('/') + '.copying'
        shutil.rmtree(partial, ignore_errors=True)
        shutil.copytree(source.work_dir, partial)
        assert osp.isfile(osp.join(partial, TRAINED))
        os.replace(partial, run.work_dir)
        log(f'{run.name}: trained by the sweep ({source.work_dir}), reused')
        copied += 1
    return copied


def select_rates(configs: Sequence[str], suite: str, work_root: str,
                 datasets: Sequence[str], shot: int, seed: int,
                 factors: Sequence[float] = FACTORS, data_root: Optional[str] = None,
                 cfg_options: Optional[dict] = None, log=print,
                 grid: Optional[Sequence[ProtocolRun]] = None, extend: int = 0,
                 superseded: Optional[str] = None, **execute) -> Dict[str, dict]:
    """Run the sweep (finished runs are skipped: resumable; past an edge up to ``extend``
    times), choose and save each method's rate, and, given the ``grid``, set its runs to
    the chosen rates (``apply``, with ``superseded``) and give it the sweep's runs at them
    (``reuse``); ``execute``: ``protocol.execute_all``'s keywords (launcher, workers, ...)."""
    log(f'learning-rate sweep: factors {", ".join(map(factor_name, factors))} x '
        f'{", ".join(datasets)}, {shot}-shot, seed {seed}' + (
            f', past an edge up to {extend} times' if extend else '') +
        ', trained only, scored on valid')
    runs: List[ProtocolRun] = []
    while True:  # each pass plans what the finished runs call for, then runs it
        planned = plan_sweep(configs, suite, work_root, datasets, shot, seed, factors,
                             data_root, cfg_options, extend=extend)
        if len(planned) == len(runs):
            break
        if runs:
            log(f'learning-rate sweep: {len(planned) - len(runs)} runs past an edge: ' +
                ', '.join(sorted({r.tag for r in planned[len(runs):]})))
        runs = planned
        failures = execute_all(runs, log=log, **execute)
        if failures:
            raise SweepError(f'{len(failures)} sweep runs failed, no rate chosen: ' +
                             '; '.join(f'{name}: {error}' for name, error in failures.items()))
    choice = choose(runs)
    subset = dict(datasets=list(datasets), shot=shot, seed=seed,
                  factors=[round(f, 6) for f in factors], extend=extend)
    save_choice(work_root, choice, subset)
    for label, c in choice.items():
        log(f'learning rate of {label}: {c["lr"]:.3g} ({factor_name(c["factor"])} of '
            f'{c["recipe_lr"]:.3g}; mean valid AP {c["valid"]})')
    if grid is not None:
        apply(grid, choice, superseded=superseded, log=log)
        reuse(grid, runs, choice, log=log)
    return choice
