"""Names the package, its tools and its results share (one definition each)."""

# the method name of a base evaluated without tuning: a leaderboard row, a run folder, the
# serving column and adapter choice of the frozen base
ZERO_SHOT = 'zero-shot'
# a run's sub-folder holding its test on the suite's base-domain split (retention)
RETENTION_DIR = 'retention'
