"""Bridges to other offline-RL libraries: a lompo-bench dataset in their format, their trained policies scored by
lompo-bench's evaluation (`lompo_bench.evaluate_policy`).

- `lompo_bench.adapters.d3rlpy`: d3rlpy (`pip install 'lompo-bench[d3rlpy]'`).

Each adapter imports its library inside its functions, so `import lompo_bench` never needs one.
"""
