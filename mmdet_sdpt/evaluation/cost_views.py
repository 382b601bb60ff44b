# Moved to mmdet_sdpt/leaderboard/cost_views.py; the old path works for one release.
from ..leaderboard.cost_views import *  # noqa: F401,F403
