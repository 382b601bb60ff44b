import logging

from mmdet.registry import OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.optim import DefaultOptimWrapperConstructor

from ..utils.logging import quiet_current_logger


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class TrainableOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """mmengine's default constructor (paramwise_cfg and all), keeping only the tensors
    that train: the optimizer never sees the frozen detector."""

    def __call__(self, model):
        # mmengine warns once per frozen tensor it skips (a thousand lines for GLIP-T)
        with quiet_current_logger(logging.ERROR):
            optim_wrapper = super().__call__(model)
        optimizer = optim_wrapper.optimizer
        groups = []
        for group in optimizer.param_groups:
            group['params'] = [p for p in group['params'] if p.requires_grad]
            if group['params']:
                groups.append(group)
        if not groups:
            raise ValueError('nothing to optimise: no parameter of the model requires grad '
                             '(a tuner with zero tokens or zero layers trains nothing).')
        optimizer.param_groups[:] = groups
        return optim_wrapper
