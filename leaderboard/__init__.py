"""Result records, the paper's Table I numbers, normalized-score tables, statistics and plots."""
