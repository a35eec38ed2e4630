"""Networks (encoder, decoder, RSSM, actor, critic), LOMPO and the paper's baselines: LMBRL, Offline SLAC, CQL, BC."""

# Imported only as lompo_bench.algorithms (issue 34): the bare name would load a second copy of every module.
if __name__ != "lompo_bench.algorithms":
    raise ImportError(f"import lompo_bench.algorithms, not {__name__}: lompo-bench installs under one namespace")
