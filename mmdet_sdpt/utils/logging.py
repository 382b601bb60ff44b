import contextlib
import logging

from mmengine.logging import MMLogger


@contextlib.contextmanager
def quiet_current_logger(level: int = logging.WARNING):
    """Raise mmengine's current logger to ``level`` for a block: mmengine logs one line per
    tensor in some places (init info outside a runner, frozen tensors skipped by the
    optimizer constructor)."""
    logger = MMLogger.get_current_instance()
    old = logger.level
    logger.setLevel(max(level, old))
    try:
        yield
    finally:
        logger.setLevel(old)
