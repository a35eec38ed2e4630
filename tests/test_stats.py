"""The leaderboard's statistics and claim checks on synthetic score cells with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from lompo_bench.leaderboard import claims, stats
from lompo_bench.leaderboard.claims import FAILS, HOLDS, TOO_FEW, check_claims, compare
from lompo_bench.leaderboard.results import ScoreCell


def cell(algo: str, task: str, kind: str, scores: list[float], factor: int | None = None) -> ScoreCell:
    name = f"{kind}-cpu-v0" if factor is None else f"{kind}-ablation-div{factor}-cpu-v0"
    return ScoreCell(
        algo, "cpu", f"lompo/{task}/{name}", task, kind, "cpu", "lompo-bench", factor, 20000,
        seeds=list(range(len(scores))), returns=list(scores), scores=list(scores),
    )  # fmt: skip


def test_the_bootstrap_interval_of_a_mean_is_inside_the_data_and_seeded() -> None:
    low, high = stats.mean_ci([10.0, 20.0, 30.0])
    assert 10.0 <= low < 20.0 < high <= 30.0
    assert stats.mean_ci([10.0, 20.0, 30.0]) == (low, high)  # same records, same report
    assert stats.mean_ci([7.0, 7.0, 7.0]) == (7.0, 7.0) and stats.mean_ci([4.0]) == (4.0, 4.0)
    # 200 draws of N(50, 10): the interval holds the mean and is about 2 x 1.96 x 10 / sqrt(200) wide.
    sample = np.random.default_rng(1).normal(50, 10, 200)
    low, high = stats.mean_ci(sample)
    assert low < sample.mean() < high and high - low == pytest.approx(2 * 1.96 * 10 / np.sqrt(200), rel=0.2)


def test_compare_needs_separated_intervals() -> None:
    a = cell("lompo", "walker_walk", "expert", [80, 82, 84])
    b = cell("bc", "walker_walk", "expert", [50, 52, 54])
    wide = cell("cql", "walker_walk", "expert", [40, 83, 95])
    assert compare(a, b) == "above" and compare(b, a) == "below"
    assert compare(a, wide) == "tie"
    assert compare(a, cell("bc", "walker_walk", "expert", [50])) is None  # one seed is not enough
    # The list-level test under it, as the issue-20 decisions script calls it on plain score lists.
    assert stats.separated([80, 82, 84], [50, 52, 54]) == "above" and stats.separated([50, 52], [80, 84]) == "below"
    assert stats.separated([80, 82, 84], [40, 83, 95]) == "tie"


def test_score_matrix_keeps_the_runs_every_dataset_has() -> None:
    cells = [cell("a", "walker_walk", "expert", [3, 1, 2]), cell("a", "dclaw_screw", "expert", [5, 6])]
    cells[0].seeds = [2, 0, 1]
    matrix = stats.score_matrix(cells, [c.dataset_id for c in cells])
    assert matrix.tolist() == [[1, 5], [2, 6]]  # seed order, two runs each


rliable = pytest.mark.skipif(not stats.have_rliable(), reason='needs the stats extra (pip install -e ".[stats]")')


@rliable
def test_aggregates_and_probability_of_improvement_have_known_answers() -> None:
    # Scores 0..99 spread over 4 datasets x 25 runs: IQM is the mean of the middle half, 49.5; the mean is 49.5.
    values = np.arange(100.0).reshape(25, 4)
    tasks = [("walker_walk", "expert"), ("dclaw_screw", "expert"), ("adroit_pen", "expert"), ("door_open", "expert")]
    cells = [cell("lompo", t, k, values[:, i].tolist()) for i, (t, k) in enumerate(tasks)]
    (row,) = stats.aggregates(cells, ["lompo"], reps=200)
    assert row.datasets == 4 and row.runs == 25
    assert row.point["IQM"] == pytest.approx(49.5) and row.point["Mean"] == pytest.approx(49.5)
    assert row.point["Optimality gap"] == pytest.approx(50.5)
    assert row.ci["IQM"][0] < 49.5 < row.ci["IQM"][1]
    # Every run of the better algorithm beats every run of the other: P = 1; identical scores: P = 0.5.
    better = [cell("lmbrl", t, k, (values[:, i] - 200).tolist()) for i, (t, k) in enumerate(tasks)]
    same = [cell("bc", t, k, values[:, i].tolist()) for i, (t, k) in enumerate(tasks)]
    assert stats.improvement(cells + better, "lompo", "lmbrl", reps=200).probability == pytest.approx(1.0)
    assert stats.improvement(cells + same, "lompo", "bc", reps=200).probability == pytest.approx(0.5)
    assert stats.improvement(cells, "lompo", "cql") is None  # no shared dataset


def test_probability_of_improvement_is_rliables_to_the_bit() -> None:
    """Ours counts pairs where rliable calls scipy's Mann-Whitney U per dataset: the same values, ties, equal columns
    and unequal run counts included, and so the same bootstrap intervals."""
    pytest.importorskip("rliable")
    from rliable import metrics

    rng = np.random.default_rng(0)
    for trial in range(200):
        runs_x, runs_y, datasets = rng.integers(1, 6), rng.integers(1, 6), rng.integers(1, 4)
        x = rng.integers(0, 4, size=(runs_x, datasets)).astype(float)  # few values: ties everywhere
        y = x.copy() if trial % 10 == 0 and runs_x == runs_y else rng.integers(0, 4, size=(runs_y, datasets)) * 1.0
        if trial % 3 == 0:
            x, y = x + rng.normal(0, 0.1, x.shape), y + rng.normal(0, 0.1, y.shape)
        assert stats.probability_of_improvement(x, y) == metrics.probability_of_improvement(x, y), (x, y)
    runs = {
        ("lompo", "walker_walk"): 3,
        ("bc", "walker_walk"): 3,
        ("lompo", "dclaw_screw"): 3,
        ("bc", "dclaw_screw"): 4,
    }
    cells = [cell(algo, task, "expert", rng.normal(50, 10, n).tolist()) for (algo, task), n in runs.items()]
    ours = stats.improvement(cells, "lompo", "bc", reps=300)
    assert ours == stats.improvement(cells, "lompo", "bc", reps=300, statistic=metrics.probability_of_improvement)


def test_the_stratified_bootstrap_intervals_are_seeded_and_leave_numpys_generator_as_it_was() -> None:
    """rliable draws its resamples from numpy's global generator whatever `random_state` it is given: the same
    records must still give the same report, and the caller's generator must not move."""
    pytest.importorskip("rliable")
    scores = {("lompo", "walker_walk"): [50, 70, 60], ("bc", "walker_walk"): [55, 65, 40],
              ("lompo", "dclaw_screw"): [30, 80, 20], ("bc", "dclaw_screw"): [35, 45, 60]}  # fmt: skip
    cells = [cell(algo, task, "expert", values) for (algo, task), values in scores.items()]
    np.random.seed(7)
    before = np.random.get_state()[1].copy()
    first = [stats.improvement(cells, "lompo", "bc", reps=300), stats.aggregates(cells, ["lompo", "bc"], reps=300)]
    assert (np.random.get_state()[1] == before).all()
    np.random.seed(99)  # another global state: the intervals do not depend on it
    assert [
        stats.improvement(cells, "lompo", "bc", reps=300),
        stats.aggregates(cells, ["lompo", "bc"], reps=300),
    ] == first


def test_the_claims_hold_fail_or_lack_runs() -> None:
    w, d = ("walker_walk", "medium-expert"), ("dclaw_screw", "medium-expert")
    good = [
        cell("lompo", *w, [90, 92, 94]), cell("lmbrl", *w, [40, 42, 44]), cell("offline_slac", *w, [10, 12, 14]),
        cell("lompo", *d, [95, 97, 99]), cell("lmbrl", *d, [60, 61, 62]),
        cell("cql", *w, [20, 21, 22]), cell("bc", *w, [30, 31, 32]), cell("cql", *d, [99, 99.5, 100]),
        cell("bc", "door_open", "medium-expert", [70, 72, 74]), cell("bc", "door_open", "expert", [95, 96, 97]),
        cell("lompo", "door_open", "expert", [0, 1, 2]),
    ]  # fmt: skip
    verdicts = {v.claim.split(" (")[0]: v for v in check_claims(good, "cpu", "cpu")}
    model_based, cql_bc, door, ablation = verdicts.values()
    assert model_based.verdict == HOLDS and model_based.evidence.startswith("3/3 won")
    # LOMPO beats CQL on 1 of 2 datasets (level on D'Claw), BC on 1 of 2 (below it on Door Open expert): neither
    # is more than half.
    assert cql_bc.verdict == FAILS
    assert "vs CQL: 1/2 won" in cql_bc.evidence and "dclaw_screw medium-expert: tie" in cql_bc.evidence
    assert "vs BC: 1/2 won" in cql_bc.evidence and "door_open expert: below" in cql_bc.evidence
    assert door.verdict == HOLDS
    assert ablation.verdict == TOO_FEW

    # LMBRL level with LOMPO on one dataset (overlapping intervals): not "every dataset".
    tied = [c for c in good if not (c.algo == "lmbrl" and c.task == "dclaw_screw")]
    tied.append(cell("lmbrl", *d, [90, 97, 100]))
    assert check_claims(tied, "cpu", "cpu")[0].verdict == FAILS
    # An algorithm above BC on Door Open expert: BC does not "do well" there.
    beaten = [c for c in good if not (c.algo == "lompo" and c.task == "door_open")]
    beaten.append(cell("lompo", "door_open", "expert", [99, 99.5, 100]))
    assert check_claims(beaten, "cpu", "cpu")[2].verdict == FAILS
    # One seed everywhere: nothing can be said.
    assert {v.verdict for v in check_claims([cell("lompo", *w, [90]), cell("lmbrl", *w, [40])], "cpu", "cpu")} == {
        TOO_FEW
    }


def test_the_ablation_claim_compares_changes_with_data_size() -> None:
    rows = {"lompo": (90, 88, 80), "lmbrl": (90, 70, 40), "offline_slac": (80, 60, 30)}
    cells = [
        cell(algo, "dclaw_screw", "medium-expert", [s - 1, s, s + 1], factor=f)
        for algo, scores in rows.items()
        for f, s in zip((1, 5, 25), scores, strict=True)
    ]
    verdict = claims.lompo_degrades_least_as_data_shrinks(cells, "cpu", "cpu")
    assert verdict.verdict == HOLDS and "1/25: LOMPO 10.0, LMBRL 50.0, Offline SLAC 50.0" in verdict.evidence
    worse = [c for c in cells if not (c.algo == "lompo" and c.ablation_factor == 25)]
    worse.append(cell("lompo", "dclaw_screw", "medium-expert", [19, 20, 21], factor=25))
    assert claims.lompo_degrades_least_as_data_shrinks(worse, "cpu", "cpu").verdict == FAILS
