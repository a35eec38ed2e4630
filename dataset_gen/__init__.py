"""SAC experts trained from ground-truth state, replay rendering, dataset splits and Minari writing (issue 4)."""
