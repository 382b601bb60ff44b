"""GLIP's few-shot protocol over a suite: every (method, dataset, shot, seed) trained,
selected on valid, tested, and its base-domain split evaluated for retention.

A *run* trains one config on one dataset of the suite (``ODINW_DATASET``), K shots of seed
S (``ODINW_SHOT``, ``ODINW_SEED``; shot 0 is the full train split), in its own work dir::

    <work_root>/<detector>/<method>/<dataset>/shot{K}_seed{S}      (few-shot)
    <work_root>/<detector>/<method>/<dataset>/full_seed{S}         (full data)
    <work_root>/<detector>/zero-shot/<dataset>                     (the base, no training)

then tests the best-on-valid checkpoint on the dataset's test split (the result of
``tools/test.py``: ``<work dir>/<timestamp>/<timestamp>.json``), then, where the suite names
a retention dataset, tests the same checkpoint on that dataset's test split in
``<work dir>/retention/`` (so the target result is never replaced). ``detector`` and
``method`` are the config's top-level keys of those names (else: the config file's stem).

Each step is skipped when its result is there: a finished run is skipped whole, a run
killed while training resumes from its newest complete checkpoint (``TunedRunner``), a run
killed after training goes on with its tests. Three executors run the same steps:

- ``inprocess``: in this process (workers of ``tools/fewshot_protocol.py --workers N``
  each import once and take runs from a queue: the cheap way on a CPU machine);
- ``pytorch``: ``tools/dist_train.sh`` / ``dist_test.sh`` per run (GPUS processes, a free
  rendezvous port per run, so parallel runs do not collide);
- ``slurm``: ``tools/slurm_train.sh`` / ``slurm_test.sh`` per run (one srun job each).

One protocol per work root at a time (``session``: ``<work_root>/.protocol.lock``). Its
workers, and the commands they launch, die with it (a parent-death signal), and whatever
a killed protocol still left running under its work root (marked by ``PROTOCOL_ENV`` in
its environment) is stopped before a rerun starts, so a rerun never races a leftover.

One job per module: ``plan`` (the runs, their work dirs and configs), ``steps`` (what a run
still needs, read from its work dir: the one list every executor follows), ``executors``
(in this process, or as the launchers' commands), ``pool`` (one protocol per work root, its
workers, what a killed one left running).
"""
from .executors import commands, die_with_parent, execute
from .plan import PROTOCOL_ENV, ZERO_SHOT_OPTIONS, ProtocolRun, config_identity, plan, run_dir
from .pool import (PROTOCOL_LOCK, ProtocolInUseError, execute_all, session, stop_leftovers,
                   task_queue)
from .steps import (TRAINED, Step, base_checkpoint, best_checkpoint, done, retention_options,
                    retention_tested, steps, tested, trained)

__all__ = ['commands', 'execute', 'PROTOCOL_ENV', 'ZERO_SHOT_OPTIONS', 'ProtocolRun',
           'config_identity', 'plan', 'run_dir', 'PROTOCOL_LOCK', 'ProtocolInUseError',
           'die_with_parent', 'execute_all', 'session', 'stop_leftovers', 'task_queue',
           'TRAINED', 'Step', 'base_checkpoint', 'best_checkpoint', 'done',
           'retention_options', 'retention_tested', 'steps', 'tested',
           'trained']
