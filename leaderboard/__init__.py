"""Result records, the paper's Table I numbers, normalized-score tables, statistics and plots."""

# Imported only as lompo_bench.leaderboard (issue 34): the bare name would load a second copy of every module.
if __name__ != "lompo_bench.leaderboard":
    raise ImportError(f"import lompo_bench.leaderboard, not {__name__}: lompo-bench installs under one namespace")
