# Moved to mmdet_sdpt/leaderboard/tradeoff.py; the old path works for one release.
from ..leaderboard.tradeoff import *  # noqa: F401,F403
