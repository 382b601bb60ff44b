"""``TunedRunner``: mmengine's ``Runner`` (``runner_type='TunedRunner'`` in every tuned
config) with what a shared, long run needs and mmengine leaves out:

- **checkpoints are never half-written**: every local checkpoint write (``iter_N.pth``,
  ``best_*.pth``, ``last_checkpoint``) goes through ``AtomicLocalBackend`` (a temporary file
  beside the target, fsync, rename), and the ``CheckpointHook``'s removal of old
  checkpoints waits until the next write in that folder has completed; ``--resume`` resumes
  from the newest *complete* checkpoint when ``last_checkpoint`` names a missing or broken
  one (a run killed mid-write on a full disk);
- **one training run per work dir**: the main process holds an exclusive lock
  (``<work_dir>/.train.lock``, ``flock``) from the moment the runner is built (before
  mmengine writes the config dump and the log dir) until training ends; a second run on the
  same work dir stops at once with ``WorkDirInUseError`` and writes nothing there; the kernel
  drops the lock when its holder dies (``kill -9`` included), so a later ``--resume`` is
  never blocked by a dead run. An evaluation (``tools/test.py``) takes no lock; in a work
  dir that a training run holds, it keeps its config dump in its own log dir;
- **data that would silently give wrong results is named**: an annotation file with no
  images stops with the file's name, boxes dropped because their category is not among the
  prompt's classes are counted in a warning (per category), and a sample that fails in the
  pipeline (a corrupt image) fails with its file's name;
- **the config is formatted once**: mmengine formats ``cfg.pretty_text`` (a yapf pass, about
  1.2 s for a GLIP config on one CPU core) for the environment log, the runtime info, the
  config dump and again in every checkpoint it saves; a ``TunedRunner`` keeps the text for
  as long as the config's content is unchanged (``FormattedOnceConfig``).

Everything else is mmengine's ``Runner`` as is; ``build_runner(cfg)`` builds a config's
runner the way mmdet's ``tools/train.py`` does. The parts live in modules of their own:
``checkpoint_files`` (the atomic backend, complete checkpoints), ``work_dir_lock``,
``data_checks``; this one assembles them.
"""
import copy
import os
import os.path as osp
import weakref
from typing import Optional, Union

from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook
from mmengine.logging import print_log
from mmengine.registry import RUNNERS  # the root one, as mmengine's Runner
from mmengine.runner import Runner
from mmengine.visualization import Visualizer
from torch.utils.data import DataLoader

from ..checkpoint import has_scheme
from ..datasets.class_order import coco_follows_class_names
# the runner's parts, each a module of its own (imported here for old import paths too)
from .checkpoint_files import (ATOMIC, TMP_NAME, AtomicLocalBackend,  # noqa: F401
                               is_complete_checkpoint, latest_complete_checkpoint)
from .data_checks import (DataSampleError, EmptyDatasetError,  # noqa: F401
                          SampleErrorCompose, check_dropped_categories,
                          empty_dataset_error, leaf_datasets)
from .work_dir_lock import (LOCK_FILE, WorkDirInUseError, is_first_rank,  # noqa: F401
                            lock_work_dir, unlock_work_dir, work_dir_in_use)


class FormattedOnceConfig(Config):
    """A ``Config`` whose ``pretty_text`` is formatted once per content: the text is kept
    with the plain ``repr`` of the config's dict (cheap) and reformatted only when that
    changes, so it is always the text mmengine would format."""

    @property
    def pretty_text(self) -> str:
        key = repr(self.to_dict())
        kept = self.__dict__.get('_formatted')
        if kept is None or kept[0] != key:
            kept = (key, Config.pretty_text.fget(self))
            object.__setattr__(self, '_formatted', kept)  # Config's own __setattr__ sets keys
        return kept[1]

    @classmethod
    def of(cls, cfg: Config) -> 'FormattedOnceConfig':
        """A copy of ``cfg`` (mmengine's ``Runner`` deep-copies its config anyway)."""
        other = copy.deepcopy(cfg)
        object.__setattr__(other, '__class__', cls)
        return other


# ---- one training run per work dir ------------------------------------------------------------

# ---- the runner ------------------------------------------------------------------------------
@RUNNERS.register_module()
class TunedRunner(Runner):
    """mmengine's ``Runner`` with atomic checkpoints, a work-dir lock and data checks (see
    the module's docstring)."""

    #: The runner only evaluates (``tools/test.py`` sets it): it takes no work-dir lock.
    evaluates_only = False

    def __init__(self, *args, **kwargs):
        cfg = kwargs.get('cfg')
        if isinstance(cfg, Config) and not isinstance(cfg, FormattedOnceConfig):
            kwargs['cfg'] = FormattedOnceConfig.of(cfg)
        # the lock comes before mmengine's __init__, which makes the log dir and dumps the
        # config: a run refused here has written nothing into the work dir
        work_dir = osp.abspath(kwargs['work_dir'] if 'work_dir' in kwargs else args[1])
        self._lock_release = None
        self._evaluating_in_held_dir = False
        if is_first_rank(kwargs.get('launcher', 'none')):
            if self.evaluates_only:
                self._evaluating_in_held_dir = work_dir_in_use(work_dir)
            else:
                self._take_lock(work_dir)
        try:
            super().__init__(*args, **kwargs)
        except BaseException:
            self._release_lock()
            raise

    def _take_lock(self, work_dir: str) -> None:
        taken = lock_work_dir(work_dir)
        # given back when training ends, or when this runner is collected unused
        self._lock_release = weakref.finalize(self, unlock_work_dir, work_dir)
        if taken:  # newly ours: nobody writes (a shared hold's runner may be mid-write)
            self._remove_stale_temporaries(work_dir)

    def _release_lock(self) -> None:
        if self._lock_release is not None:
            self._lock_release()  # runs once
            self._lock_release = None

    @staticmethod
    def _remove_stale_temporaries(work_dir: str) -> None:
        """Temporary files a killed run left mid-write (we hold the lock: nobody writes)."""
        for name in os.listdir(work_dir):
            if TMP_NAME.match(name):
                os.remove(osp.join(work_dir, name))

    def dump_config(self) -> None:
        if not self._evaluating_in_held_dir:
            return super().dump_config()
        if is_main_process():  # the training run's dump describes its checkpoints: keep it
            name = osp.basename(self.cfg.filename or f'{self.timestamp}.py')
            self.cfg.dump(osp.join(self.log_dir, name))
            print_log(f'{self.work_dir} is held by a training run: this evaluation\'s '
                      f'config is dumped in {self.log_dir}', logger='current')

    # checkpoints: atomic writes, deferred removals, resume from a complete file ----------
    def save_checkpoint(self, out_dir: str, filename: str, file_client_args=None,
                        save_optimizer: bool = True, save_param_scheduler: bool = True,
                        meta: dict = None, by_epoch: bool = True, backend_args=None):
        if backend_args is None and file_client_args is None and '://' not in str(out_dir):
            backend_args = ATOMIC
        try:
            super().save_checkpoint(out_dir, filename, file_client_args, save_optimizer,
                                    save_param_scheduler, meta, by_epoch, backend_args)
        except OSError as err:
            last = self.message_hub.get_info('last_ckpt')
            keep = (f'{last} and the checkpoints before it are untouched'
                    if last and osp.basename(last) != filename else
                    'the checkpoints written before are untouched')
            raise OSError(err.errno, f'saving checkpoint {filename} in {out_dir} failed '
                          f'({err.strerror or err}); nothing half-written is left, {keep}. '
                          'Free space, then resume with --resume.') from err

    def _atomic_checkpoint_hooks(self) -> None:
        for hook in self.hooks:
            if (isinstance(hook, CheckpointHook) and hook.backend_args is None
                    and hook.file_client_args is None
                    and '://' not in str(hook.out_dir or self.work_dir)):
                hook.backend_args = ATOMIC  # its file backend is made in before_train

    def load_or_resume(self) -> None:
        if not self._has_loaded and self._resume and self._load_from is None:
            self._resume_from_complete_checkpoint()
        super().load_or_resume()

    def _resume_from_complete_checkpoint(self) -> None:
        record = osp.join(self.work_dir, 'last_checkpoint')
        named = ''
        if osp.isfile(record):
            with open(record) as f:
                named = f.read().strip()
        if named and (has_scheme(named) or is_complete_checkpoint(named)):
            return  # mmengine resumes from it (a URL: through our safe scheme loader)
        folder = osp.dirname(named) if named else self.work_dir
        found = latest_complete_checkpoint(folder) or latest_complete_checkpoint(
            self.work_dir)
        if found is None:
            return  # nothing complete: mmengine starts afresh, or names the broken file
        why = (f'last_checkpoint names {named}, which is '
               f'{"missing" if not osp.exists(named) else "incomplete"}'
               if named else 'last_checkpoint is missing or empty')
        print_log(f'{why}: resuming from the newest complete checkpoint, {found}.',
                  logger='current', level=30)
        self._load_from = found  # with _resume set: mmengine's resume(found)

    # each run's logs in its own work dir ------------------------------------------------
    def build_visualizer(self, visualizer=None):
        """mmdet's configs name their visualizer 'visualizer', and mmengine's
        ``get_instance`` gives a later runner of the same process (the protocol's in-process
        workers, a notebook) the first runner's instance, which writes its scalars into the
        first run's log dir. A name already taken gets this run's experiment name added
        (``Visualizer.get_instance`` records every subclass's instances in
        ``Visualizer._instance_dict`` too, so one check covers them all)."""
        if isinstance(visualizer, dict) and visualizer.get('name') and \
                Visualizer.check_instance_created(visualizer['name']):
            visualizer = dict(visualizer, name=f'{visualizer["name"]}_{self.experiment_name}')
            while Visualizer.check_instance_created(visualizer['name']):  # the same second
                visualizer['name'] += '+'
        return super().build_visualizer(visualizer)

    # the work-dir lock: held from __init__ until training ends --------------------------
    def train(self):
        if self._lock_release is None and is_first_rank(self._launcher):
            self._take_lock(self.work_dir)  # released after an earlier train()
        try:
            self._atomic_checkpoint_hooks()
            return super().train()
        finally:
            self._release_lock()

    def val(self) -> dict:
        try:
            return super().val()
        finally:
            self._release_lock()

    def test(self) -> dict:
        try:
            return super().test()
        finally:
            self._release_lock()

    # data checks ----------------------------------------------------------------------
    @staticmethod
    def build_dataloader(dataloader: Union[DataLoader, dict], seed: Optional[int] = None,
                         diff_rank_seed: bool = False) -> DataLoader:
        if isinstance(dataloader, DataLoader):
            return dataloader
        try:
            with coco_follows_class_names():  # labels follow classes by name
                loader = Runner.build_dataloader(dataloader, seed, diff_rank_seed)
        except ValueError as err:
            if 'need at least one array to concatenate' not in str(err):
                raise
            raise empty_dataset_error(dataloader['dataset']) from None
        except TypeError as err:
            if 'unexpected keyword argument' not in str(err):
                raise
            kind = (dataloader.get('dataset') or {}).get('type', 'the dataset')
            raise TypeError(
                f'{err}: the {kind} config holds a key its class does not take, kept from a '
                'base config whose dataset was another type (e.g. the demo\'s `part`). Fix: '
                'replace the whole dataset, dataset=dict(_delete_=True, type=..., ...), or '
                'inherit configs/own_data/*.py for a COCO dataset of your own.') from err
        if len(loader.dataset) == 0:
            raise empty_dataset_error(dataloader['dataset'])
        for dataset in leaf_datasets(loader.dataset):
            check_dropped_categories(dataset)
            if type(getattr(dataset, 'pipeline', None)) is Compose:
                dataset.pipeline = SampleErrorCompose(dataset.pipeline.transforms)
        return loader

    def build_evaluator(self, evaluator):
        # mmdet's CocoMetric maps label i to the category named classes[i], whatever the
        # file's order (datasets/class_order.py), as our datasets label boxes
        with coco_follows_class_names():
            return super().build_evaluator(evaluator)


def build_runner(cfg) -> Runner:
    """A config's runner, as mmdet's ``tools/train.py`` builds it (``runner_type``)."""
    if 'runner_type' in cfg:
        return RUNNERS.build(cfg)
    return Runner.from_cfg(cfg)
