"""Issue 20's 3-seed decisions (docs/FIDELITY.md, rules 2-4), applied as written to the committed records.

Reads the LOMPO records of the study (`leaderboard/results/decisions/issue20/`, one folder per run: the cpu profile
at its 9,000-update default, the form named by the folder's override digest) and BC's on the same data
(`leaderboard/results/cpu/bc/`, matched by the dataset's content fingerprint), and prints per dataset and form the
seeds' scores, the mean and its 95% bootstrap interval (`leaderboard.stats.mean_ci`, as `report` computes them),
then each rule's verdict, or what it still waits for:

- rule 2 (floor) and rule 4 (heads' means' std): the candidate replaces the official penalty only if, on both
  datasets, 3 seeds each, its mean is above the official form's beyond the seeds' spread, read as `report` reads a
  win: the two 95% bootstrap intervals of the means separated (`leaderboard.stats.separated`);
- rule 3 (SAC actor): SAC replaces the deterministic actor only if its mean over 3 seeds is higher on both.

A rule is decided before its last seeds land when the candidate loses on a dataset even with its missing seeds at
the top of `SCORE_RANGE` and the official form's at the bottom (how rule 2 was decided on D'Claw's two seeds).

Then the issue's bars on the cpu profile's own records (`leaderboard/results/cpu/{lompo,lmbrl,bc}`, the content
LOMPO's records were made on): LOMPO's mean at least BC's, every LOMPO seed at least 30, LOMPO above LMBRL by 20
or more at every seed, the actor's share at +-1 under 20% at the end (the mean of the last 20 logged values, as
`runs.md`, from the runs' metrics under `--metrics`), and the stretch, the data's own level.

    python benchmarks/issue20_decisions.py [--root leaderboard/results] [--metrics benchmarks/results/issue20/runs]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from lompo_bench.algorithms.configs import overrides_key
from lompo_bench.leaderboard.stats import mean_ci, separated

DATASETS = ("lompo/walker_walk/medium-expert-cpu-v0", "lompo/dclaw_screw/medium-expert-cpu-v0")
# The forms of the study at the cpu default (9,000 updates), by their `train --set` overrides.
FORMS = {
    "official": {},
    "floor (rule 2)": {"penalty_floor": "data"},
    "SAC actor (rule 3)": {"actor": "sac"},
    "heads' means (rule 4)": {"penalty_measure": "means"},
}
CANDIDATES = {"floor (rule 2)": "penalty", "heads' means (rule 4)": "penalty", "SAC actor (rule 3)": "actor"}
SEEDS = 3
# Every normalized score a run can still give, for deciding a rule before its last seeds land: wider than anything
# the study has measured (-74.4 to 99.5). Both verdicts are monotone in each seed's score (the bootstrap draws the
# same resamples whatever the values), so the candidate's best case is its missing seeds at the top and the official
# form's at the bottom: if it loses even then, the rule is decided.
SCORE_RANGE = (-100.0, 200.0)
# The bars, and the data's own normalized level (the `--kind all` draws: datasets/README.md in ../shared).
LOMPO_FLOOR, LMBRL_MARGIN, SATURATION_CAP = 30.0, 20.0, 0.2
DATA_LEVEL = {DATASETS[0]: 88.4, DATASETS[1]: 75.4}


def folder_prefix(overrides: dict) -> str:
    """The run folder's name before "-seed<N>" (`lompo_bench.paths.run_dir`)."""
    key = overrides_key(overrides)
    return f"cpu+{key}" if key else "cpu"


def scores(root: Path, algo: str, dataset: str, prefix: str, fingerprint: str | None = None) -> dict[int, float]:
    """seed -> normalized score of the records under `root/algo/dataset/<prefix>-seed*` (of that content)."""
    out = {}
    for path in sorted((root / algo / dataset).glob(f"{prefix}-seed*/result.json")):
        record = json.loads(path.read_text())
        if fingerprint is None or record.get("dataset_fingerprint") == fingerprint:
            out[record["seed"]] = record["normalized_score"]
    return out


def describe(values: dict[int, float]) -> str:
    if not values:
        return "-"
    low, high = mean_ci(list(values.values()))
    seeds = ", ".join(f"{s}: {v:.1f}" for s, v in sorted(values.items()))
    return f"{mean(values):.1f} [{low:.1f}, {high:.1f}] ({seeds})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("leaderboard/results"))
    parser.add_argument("--metrics", type=Path, default=Path("benchmarks/results/issue20/runs"))
    args = parser.parse_args()
    study = args.root / "decisions" / "issue20"
    table: dict[tuple[str, str], dict[int, float]] = {}
    print("| dataset | form | normalized score: mean [95% CI] (per seed) |")
    print("|---|---|---|")
    for dataset in DATASETS:
        for form, overrides in FORMS.items():
            table[dataset, form] = scores(study, "lompo", dataset, folder_prefix(overrides))
            print(f"| {dataset} | {form} | {describe(table[dataset, form])} |")
        official = sorted((study / "lompo" / dataset).glob("cpu-seed*/result.json"))
        if official:  # BC on the content the study's runs were made on
            fingerprint = json.loads(official[0].read_text()).get("dataset_fingerprint")
        table[dataset, "BC"] = scores(args.root / "cpu", "bc", dataset, "cpu", fingerprint) if official else {}
        print(f"| {dataset} | BC, same data | {describe(table[dataset, 'BC'])} |")
    print()
    for form, kind in CANDIDATES.items():
        print(f"- {form}: {verdict(table, form, kind)}")
    best = {d: max((f for f in FORMS if len(table[d, f]) >= SEEDS), default=None, key=lambda f: mean(table[d, f]))
            for d in DATASETS}  # fmt: skip
    for dataset in DATASETS:
        form, bc = best[dataset], table[dataset, "BC"]
        if form is None or len(bc) < SEEDS:
            print(f"- {dataset} against BC: waits for 3 seeds of a form and of BC on the same data")
        else:
            side = "at or above" if mean(table[dataset, form]) >= mean(bc) else "below (rule 4 applies)"
            print(f"- {dataset}: best form with 3 seeds, {form}, {mean(table[dataset, form]):.1f}: {side} BC's "
                  f"{mean(bc):.1f}")  # fmt: skip
    print()
    print("The issue's bars on the cpu profile's records:")
    for dataset in DATASETS:
        for line in bars(args.root / "cpu", args.metrics, dataset):
            print(f"- {dataset.split('/')[1]}: {line}")


def bars(cpu: Path, metrics: Path, dataset: str) -> list[str]:
    """The issue's bars on one dataset, a line each, from the cpu records of LOMPO, LMBRL and BC of the content
    LOMPO's records were made on."""
    found = sorted((cpu / "lompo" / dataset).glob("cpu-seed*/result.json"))
    if not found:
        return ["no LOMPO records"]
    fingerprint = json.loads(found[0].read_text()).get("dataset_fingerprint")
    lompo, lmbrl, bc = (scores(cpu, algo, dataset, "cpu", fingerprint) for algo in ("lompo", "lmbrl", "bc"))
    lines = [f"LOMPO {describe(lompo)}; LMBRL {describe(lmbrl)}; BC {describe(bc)}"]
    if bc:
        gap = mean(lompo) - mean(bc)
        lines.append(f"mean at least BC's: {'met' if gap >= 0 else 'missed'} ({gap:+.1f})")
    low = min(lompo.values())
    lines.append(
        f"every seed at least {LOMPO_FLOOR:.0f}: {'met' if low >= LOMPO_FLOOR else 'missed'} (lowest {low:.1f})"
    )
    margins = {s: lompo[s] - lmbrl[s] for s in sorted(lompo) if s in lmbrl}
    if margins:
        met = all(m >= LMBRL_MARGIN for m in margins.values()) and len(margins) == len(lompo)
        per_seed = ", ".join(f"{s}: {m:+.1f}" for s, m in margins.items())
        verdict = "met" if met else ("missed" if any(m < LMBRL_MARGIN for m in margins.values()) else "waits")
        lines.append(f"above LMBRL by {LMBRL_MARGIN:.0f} at every seed: {verdict} ({per_seed})")
    saturated = {s: saturation(metrics / f"{dataset.split('/')[1]}_cpu+{overrides_key({'actor': 'sac'})}-seed{s}"
                                          ".metrics.csv") for s in sorted(lompo)}  # fmt: skip
    known = {s: v for s, v in saturated.items() if v is not None}
    if known:
        worst = max(known.values())
        lines.append(f"actor at +-1 under {SATURATION_CAP:.0%}: {'met' if worst < SATURATION_CAP else 'missed'} "
                     f"({', '.join(f'{s}: {v:.1%}' for s, v in known.items())})")  # fmt: skip
    level = DATA_LEVEL[dataset]
    lines.append(f"stretch, the data's own {level}: {'met' if mean(lompo) >= level else 'missed'} "
                 f"({mean(lompo) - level:+.1f})")  # fmt: skip
    return lines


def saturation(path: Path, tail: int = 20) -> float | None:
    """The mean of the last `tail` logged `actor_saturated` values of a run's metrics.csv, None without one."""
    if not path.exists():
        return None
    values = [float(line.rsplit(",", 1)[1]) for line in path.read_text().splitlines()
              if line.startswith("policy,") and ",actor_saturated," in line]  # fmt: skip
    return sum(values[-tail:]) / len(values[-tail:]) if values else None


def mean(values: dict[int, float]) -> float:
    return sum(values.values()) / len(values)


def verdict(table: dict[tuple[str, str], dict[int, float]], form: str, kind: str) -> str:
    """Rule 2 / 4 (`kind` "penalty": intervals separated on both datasets) or rule 3 ("actor": higher mean on
    both), once both forms have 3 seeds on both datasets, or before if the candidate loses on a dataset even in
    its best case."""
    missing = [f"{d.split('/')[1]} {f}" for d in DATASETS for f in ("official", form) if len(table[d, f]) < SEEDS]
    rule = "higher mean" if kind == "actor" else "95% intervals above the official form's"
    if missing:
        low, high = SCORE_RANGE
        lost = [d.split("/")[1] for d in DATASETS
                if not wins(filled(table[d, form], high), filled(table[d, "official"], low), kind)]  # fmt: skip
        if lost:
            return (
                f"does not replace the official form, whatever the missing seeds give ({rule} impossible on "
                f"{', '.join(lost)} for any score in {SCORE_RANGE}); missing: {', '.join(missing)}"
            )
        return "waits for 3 seeds of " + ", ".join(missing)
    won = [wins(list(table[d, form].values()), list(table[d, "official"].values()), kind) for d in DATASETS]
    return ("replaces" if all(won) else "does not replace") + f" the official form ({rule} on both datasets: {won})"


def filled(values: dict[int, float], score: float) -> list[float]:
    """The seeds' scores, the missing ones of `SEEDS` set to `score`."""
    return list(values.values()) + [score] * (SEEDS - len(values))


def wins(candidate: list[float], official: list[float], kind: str) -> bool:
    """Rule 3's test (`kind` "actor": the higher mean) or rules 2 and 4's (the 95% intervals separated)."""
    if kind == "actor":
        return sum(candidate) / len(candidate) > sum(official) / len(official)
    return separated(candidate, official) == "above"


if __name__ == "__main__":
    main()
