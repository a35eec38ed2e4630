"""The paper's claims (Section V), each as a check on our score cells, defined here and nowhere else.

The one rule every check uses to say "A outperforms B on a dataset": the 95% bootstrap confidence intervals of
their mean scores over seeds (`stats.mean_ci`) are separated, A's above B's. Overlapping intervals are a tie, not
a win. A cell takes part only with at least `MIN_SEEDS` seeds; a check with nothing to compare says "not enough
runs". The verdicts: "holds", "does not hold", "not enough runs"; each comes with the numbers behind it.

The claims are the paper's, about the paper's algorithms: algorithms it did not run never enter them. Cells are
compared only within one Table I row, so on one dataset content (`tables.table_one_table`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from lompo_bench.leaderboard.paper import ALGORITHM_TITLES, ALGORITHMS
from lompo_bench.leaderboard.results import ScoreCell
from lompo_bench.leaderboard.stats import mean_ci, separated
from lompo_bench.leaderboard.tables import CLIPPED_MARK, EPISODES_MARK, TableRow, ablation_cells, table_one_table

MIN_SEEDS = 2
HOLDS, FAILS, TOO_FEW = "holds", "does not hold", "not enough runs"
BC_WELL = 50.0  # "does well": a mean normalized score of at least half the expert's
MODEL_BASED = ("lmbrl", "offline_slac")


@dataclass(frozen=True)
class Verdict:
    claim: str
    verdict: str
    evidence: str


def compare(a: ScoreCell | None, b: ScoreCell | None) -> str | None:
    """ "above", "below" or "tie" (95% CIs of the means separated or not); None without `MIN_SEEDS` of each."""
    if a is None or b is None or len(a.scores) < MIN_SEEDS or len(b.scores) < MIN_SEEDS:
        return None
    return separated(a.scores, b.scores)


def _describe(cell: ScoreCell) -> str:
    """The cell's numbers, with the table's marks of a cell of another episode count or of clipped actions."""
    low, high = mean_ci(cell.scores)
    marks = (EPISODES_MARK if not cell.standard else "") + (CLIPPED_MARK if cell.clipped_actions else "")
    return f"{ALGORITHM_TITLES.get(cell.algo, cell.algo)} {cell.mean:.1f} [{low:.1f}, {high:.1f}]{marks}"


def _pairs(rows: Sequence[TableRow], algo: str, other: str) -> list[tuple[str, str, str]]:
    """(dataset name, outcome, numbers) for every Table I row where both have enough seeds."""
    out = []
    for row in rows:
        a, b = row.cells.get(algo), row.cells.get(other)
        outcome = compare(a, b)
        if outcome is not None:
            out.append((row.name, outcome, f"{_describe(a)} vs {_describe(b)}"))
    return out


def lompo_beats_model_based_everywhere(cells: Sequence[ScoreCell], profile: str, dataset_profile: str) -> Verdict:
    claim = "LOMPO outperforms the other model-based methods (LMBRL, Offline SLAC) on every dataset"
    ours = table_one_table(cells, profile, dataset_profile)
    pairs = [(other, *p) for other in MODEL_BASED for p in _pairs(ours, "lompo", other)]
    if not pairs:
        return Verdict(claim, TOO_FEW, f"no dataset with {MIN_SEEDS}+ seeds of LOMPO and of a model-based baseline")
    misses = [p for p in pairs if p[2] != "above"]
    evidence = "; ".join(f"{name}: {outcome} ({numbers})" for _, name, outcome, numbers in (misses or pairs))
    return Verdict(claim, FAILS if misses else HOLDS, f"{len(pairs) - len(misses)}/{len(pairs)} won. {evidence}")


def lompo_beats_cql_and_bc_mostly(cells: Sequence[ScoreCell], profile: str, dataset_profile: str) -> Verdict:
    claim = "LOMPO outperforms CQL and BC on most datasets (on more than half of those both ran)"
    ours = table_one_table(cells, profile, dataset_profile)
    parts, verdicts = [], []
    for other in ("cql", "bc"):
        pairs = _pairs(ours, "lompo", other)
        if not pairs:
            parts.append(f"vs {ALGORITHM_TITLES[other]}: no shared dataset with {MIN_SEEDS}+ seeds")
            verdicts.append(TOO_FEW)
            continue
        wins = sum(outcome == "above" for _, outcome, _ in pairs)
        verdicts.append(HOLDS if wins > len(pairs) / 2 else FAILS)
        parts.append(f"vs {ALGORITHM_TITLES[other]}: {wins}/{len(pairs)} won (" +
                     "; ".join(f"{name}: {outcome}" for name, outcome, _ in pairs) + ")")  # fmt: skip
    verdict = FAILS if FAILS in verdicts else TOO_FEW if TOO_FEW in verdicts else HOLDS
    return Verdict(claim, verdict, ". ".join(parts))


def bc_does_well_on_door(cells: Sequence[ScoreCell], profile: str, dataset_profile: str) -> Verdict:
    claim = f"BC does well on Door Open medium-expert and expert (mean >= {BC_WELL:.0f}, no algorithm above it)"
    rows = table_one_table(cells, profile, dataset_profile)
    parts, ok = [], True
    for kind in ("medium-expert", "expert"):
        door = [row for row in rows if (row.task, row.kind) == ("door_open", kind)
                and "bc" in row.cells and len(row.cells["bc"].scores) >= MIN_SEEDS]  # fmt: skip
        if not door:
            return Verdict(claim, TOO_FEW, f"BC on Door Open {kind}: fewer than {MIN_SEEDS} seeds")
        for row in door:  # each content of the dataset on its own (one row, almost always)
            bc = row.cells["bc"]
            above = [algo for algo, cell in row.cells.items()
                     if algo in ALGORITHMS and algo != "bc" and compare(cell, bc) == "above"]  # fmt: skip
            ok = ok and bc.mean >= BC_WELL and not above
            parts.append(f"{row.label}: {_describe(bc)}" + (f", below {', '.join(above)}" if above else ""))
    return Verdict(claim, HOLDS if ok else FAILS, "; ".join(parts))


def lompo_degrades_least_as_data_shrinks(cells: Sequence[ScoreCell], profile: str, dataset_profile: str) -> Verdict:
    claim = ("On the ablation, LOMPO's score changes less than LMBRL's and Offline SLAC's as the data shrinks by 5 "
             "and 25 (change: abs(mean at full size - mean at 1/f))")  # fmt: skip
    found: dict[tuple[str, int | None], list[ScoreCell]] = {}
    for cell in ablation_cells(cells, profile, dataset_profile):
        found.setdefault((cell.algo, cell.ablation_factor), []).append(cell)
    needed = [(algo, f) for algo in ("lompo", *MODEL_BASED) for f in (1, 5, 25)]
    mixed = [key for key in needed if len(found.get(key, ())) > 1]
    if mixed:  # which content to compare with which is not ours to guess: say so
        names = [f"{ALGORITHM_TITLES[a]} {'full' if f == 1 else f'1/{f}'}" for a, f in mixed]
        return Verdict(claim, TOO_FEW, "records of more than one data draw (regenerated datasets) for " +
                       ", ".join(names) + ": keep one draw's records")  # fmt: skip
    ablation = {key: cells_here[0] for key, cells_here in found.items()}
    missing = [key for key in needed if key not in ablation or len(ablation[key].scores) < MIN_SEEDS]
    if missing:
        names = [f"{ALGORITHM_TITLES[a]} {'full' if f == 1 else f'1/{f}'}" for a, f in missing]
        return Verdict(claim, TOO_FEW, f"fewer than {MIN_SEEDS} seeds: " + ", ".join(names))
    change = {(a, f): abs(ablation[a, 1].mean - ablation[a, f].mean) for a, f in needed if f != 1}
    ok = all(change["lompo", f] < change[other, f] for other in MODEL_BASED for f in (5, 25))
    evidence = "; ".join(f"1/{f}: " + ", ".join(f"{ALGORITHM_TITLES[a]} {change[a, f]:.1f}"
                                                for a in ("lompo", *MODEL_BASED)) for f in (5, 25))  # fmt: skip
    return Verdict(claim, HOLDS if ok else FAILS, evidence)


CLAIMS: tuple[Callable[[Sequence[ScoreCell], str, str], Verdict], ...] = (
    lompo_beats_model_based_everywhere,
    lompo_beats_cql_and_bc_mostly,
    bc_does_well_on_door,
    lompo_degrades_least_as_data_shrinks,
)


def check_claims(cells: Sequence[ScoreCell], profile: str, dataset_profile: str) -> list[Verdict]:
    return [check(cells, profile, dataset_profile) for check in CLAIMS]


def claims_markdown(verdicts: Sequence[Verdict]) -> str:
    lines = [
        f"The paper's claims on our runs (a win: 95% bootstrap CIs of the means separated; cells with "
        f"{MIN_SEEDS}+ seeds).",
        "",
        "| Claim | Verdict | Numbers |",
        "|---|---|---|",
    ]
    lines += [f"| {v.claim} | {v.verdict} | {v.evidence} |" for v in verdicts]
    return "\n".join(lines) + "\n"
