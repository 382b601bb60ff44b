from .cost import RunCostHook
from .early_stopping import ResumableEarlyStoppingHook
from .demo_hooks import ProgressBarHook, ZeroShotComparisonHook
from .hooks import (AdapterCheckpointHook, DivergenceGuardHook, FrozenSetHook,
                    PlainCheckpointHook, TrainingDivergedError, trainable_table)
from .optim import TrainableOptimWrapperConstructor
from .resume_validation import ValidateResumedEpochHook
from .checkpoint_files import AtomicLocalBackend
from .data_checks import DataSampleError, EmptyDatasetError
from .runner import TunedRunner, build_runner
from .work_dir_lock import WorkDirInUseError

__all__ = ['AdapterCheckpointHook', 'DivergenceGuardHook', 'FrozenSetHook',
           'PlainCheckpointHook', 'ResumableEarlyStoppingHook', 'RunCostHook',
           'TrainingDivergedError', 'ValidateResumedEpochHook', 'AtomicLocalBackend',
           'DataSampleError', 'EmptyDatasetError', 'TunedRunner', 'WorkDirInUseError',
           'build_runner',
           'TrainableOptimWrapperConstructor', 'ProgressBarHook', 'ZeroShotComparisonHook',
           'trainable_table']
from . import prototype_init  # noqa: E402,F401  (registers its hook)
