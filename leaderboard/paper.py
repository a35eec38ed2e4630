"""The paper's published numbers, in one place: Table I (normalized scores, Section V-A) of LOMPO
(Rafailov et al., 2021). Door Open has no medium-replay dataset in the paper. Appendix B's dataset-size ablation
is published only as a figure, so no numbers of it are kept here.
"""

from __future__ import annotations

from collections.abc import Iterable

# Column order of Table I and the registry names of its algorithms.
ALGORITHMS: tuple[str, ...] = ("lompo", "lmbrl", "offline_slac", "cql", "bc")
ALGORITHM_TITLES: dict[str, str] = {
    "lompo": "LOMPO",
    "lmbrl": "LMBRL",
    "offline_slac": "Offline SLAC",
    "cql": "CQL",
    "bc": "BC",
}
# Display names of the built-in algorithms the paper did not run (a plugin's name is shown as it is registered).
OTHER_TITLES: dict[str, str] = {"drqbc": "DrQ+BC"}
TASK_TITLES: dict[str, str] = {
    "walker_walk": "Walker Walk",
    "dclaw_screw": "D'Claw Screw",
    "adroit_pen": "Adroit Pen",
    "door_open": "Door Open",
}

# (task, dataset kind) -> normalized score per algorithm, in Table I's row order.
TABLE_I: dict[tuple[str, str], dict[str, float]] = {
    ("walker_walk", "medium-replay"): {"lompo": 74.9, "lmbrl": 44.7, "offline_slac": -0.1, "cql": 14.7, "bc": 5.3},
    ("walker_walk", "medium-expert"): {"lompo": 91.7, "lmbrl": 76.3, "offline_slac": 32.8, "cql": 45.1, "bc": 15.6},
    ("walker_walk", "expert"): {"lompo": 75.8, "lmbrl": 24.5, "offline_slac": 11.3, "cql": 40.3, "bc": 11.8},
    ("dclaw_screw", "medium-replay"): {"lompo": 71.8, "lmbrl": 72.4, "offline_slac": 65.9, "cql": 26.3, "bc": 11.7},
    ("dclaw_screw", "medium-expert"): {"lompo": 100.4, "lmbrl": 96.2, "offline_slac": 76.3, "cql": 30.3, "bc": 27.6},
    ("dclaw_screw", "expert"): {"lompo": 99.2, "lmbrl": 90.8, "offline_slac": 63.4, "cql": 24.2, "bc": 25.2},
    ("adroit_pen", "medium-replay"): {"lompo": 82.8, "lmbrl": 5.2, "offline_slac": 5.4, "cql": 25.8, "bc": 46.7},
    ("adroit_pen", "medium-expert"): {"lompo": 94.6, "lmbrl": 0.0, "offline_slac": -1.7, "cql": 43.5, "bc": 41.8},
    ("adroit_pen", "expert"): {"lompo": 96.1, "lmbrl": 0.2, "offline_slac": -0.4, "cql": 51.4, "bc": 45.4},
    ("door_open", "medium-expert"): {"lompo": 95.7, "lmbrl": 0.0, "offline_slac": 0.0, "cql": 0.0, "bc": 72.2},
    ("door_open", "expert"): {"lompo": 0.0, "lmbrl": 0.0, "offline_slac": 0.0, "cql": 0.0, "bc": 97.4},
}


def algorithm_order(algos: Iterable[str]) -> list[str]:
    """Report columns: the paper's algorithms first, in Table I's order, then any others (not in the paper) by
    name."""
    present = set(algos)
    return [a for a in ALGORITHMS if a in present] + sorted(present - set(ALGORITHMS))


def algorithm_title(algo: str) -> str:
    """An algorithm's name in tables and figures; one the paper did not run is marked so."""
    return ALGORITHM_TITLES.get(algo) or f"{OTHER_TITLES.get(algo, algo)} (not in the paper)"
