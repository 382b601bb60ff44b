# Renamed to models/adapter_choice.py (which adapter each image of a forward uses); this
# path keeps working for one release.
from .adapter_choice import *  # noqa: F401,F403
from .adapter_choice import adapter_choice, choosing_rows, chosen, switched_off  # noqa: F401
