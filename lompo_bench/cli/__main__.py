"""`python -m lompo_bench.cli ...`: the same as `lompo-bench ...`."""

from lompo_bench.cli import main

if __name__ == "__main__":
    main()
