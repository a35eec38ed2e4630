"""SAC experts trained from ground-truth state, replay rendering, dataset splits and Minari writing (issue 4)."""

# Imported only as lompo_bench.dataset_gen (issue 34): the bare name would load a second copy of every module.
if __name__ != "lompo_bench.dataset_gen":
    raise ImportError(f"import lompo_bench.dataset_gen, not {__name__}: lompo-bench installs under one namespace")
