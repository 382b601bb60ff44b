# Moved to mmdet_sdpt/prefix_cache/ (store, sites, session, cache); this module keeps the
# old import path working for one release.
from ..prefix_cache import *  # noqa: F401,F403
from ..prefix_cache import __all__  # noqa: F401
