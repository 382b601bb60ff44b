# Renamed to models/reparameterized_prompts.py (PRE's module: the name no longer reads like
# a pre-build step); this path keeps working for one release.
from .reparameterized_prompts import *  # noqa: F401,F403
from .reparameterized_prompts import fold_checkpoint  # noqa: F401
