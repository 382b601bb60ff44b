# Moved to mmdet_sdpt/protocol/ (plan, steps, executors, pool); this module keeps the old
# import path working for one release.
from ..protocol import *  # noqa: F401,F403
from ..protocol import __all__  # noqa: F401
