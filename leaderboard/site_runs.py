"""The leaderboard site's run pages (`leaderboard.site`): a run's `metrics.csv` read (`read_metrics`), its learning
curves (`curves_html`: evaluations, for LOMPO and LMBRL the penalty beside the model reward, every logged value),
its last world-model diagnostics and their verdict (`diagnostics_html`) and the page itself (`run_html`: the
record's facts, final returns, config).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from lompo_bench.leaderboard import report as report_module
from lompo_bench.leaderboard.site_charts import PALETTE, Series, bar_chart, line_chart
from lompo_bench.leaderboard.site_datasets import DatasetPage
from lompo_bench.leaderboard.site_html import algo_html, algo_title, esc, fmt_value, kv_table
from lompo_bench.leaderboard.site_records import SiteRun, one_line, shown_path
from lompo_bench.records import normalized_score

LOMPO_FAMILY = ("lompo", "lmbrl")  # runs whose rollouts log the penalty beside the model reward


def read_metrics(path: Path) -> dict[str, dict[str, list[tuple[float, float]]]]:
    """metrics.csv (phase, step, metric, value) as phase -> metric -> [(step, value)]; the final evaluation's step
    ("final") is left out of the curves; rows that do not parse are skipped."""
    out: dict[str, dict[str, list[tuple[float, float]]]] = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            try:
                step, value = float(row["step"]), float(row["value"])
            except (KeyError, TypeError, ValueError):
                continue
            out.setdefault(row.get("phase") or "?", {}).setdefault(row.get("metric") or "?", []).append((step, value))
    return out


PHASE_TITLES = {
    "model": "World model (model phase)",
    "policy": "Policy (actor-critic updates)",
    "rollout": "Imagined rollouts",
    "train": "Training",
    "diagnostics": "World-model diagnostics",
}


def _series(points: list[tuple[float, float]], label: str, color: str, **kw: Any) -> Series:
    return Series(label, [x for x, _ in points], [y for _, y in points], color, **kw)


def curves_html(run: SiteRun, metrics: dict[str, dict[str, list[tuple[float, float]]]]) -> str:
    """The evaluations during training (returns and, with references, normalized scores), for LOMPO and LMBRL the
    penalty beside the model reward, and every logged value of every phase over updates."""
    r = run.record
    top = []
    evaluations = metrics.get("evaluation", {}).get("mean_return")
    if evaluations:
        top.append(
            line_chart(
                [_series(evaluations, "mean return", PALETTE[0], markers=True)],
                "Evaluations during training",
                "update",
                "mean return",
            )
        )
        low, high = r.get("ref_min_score"), r.get("ref_max_score")
        if low is not None and high is not None:
            scored = [(x, normalized_score(y, low, high)) for x, y in evaluations]
            top.append(
                line_chart(
                    [
                        _series(
                            [(x, y) for x, y in scored if y is not None], "normalized score", PALETTE[2], markers=True
                        )
                    ],
                    "Evaluations, normalized",
                    "update",
                    "normalized score",
                )
            )
    parts = ['<div class="charts" id="evaluations">' + "".join(c for c in top if c) + "</div>"] if any(top) else []
    rollout = metrics.get("rollout", {})
    if r["algo"] in LOMPO_FAMILY and "reward_model" in rollout and "reward_penalized" in rollout:
        model, penalized = dict(rollout["reward_model"]), dict(rollout["reward_penalized"])
        penalty = [(x, model[x] - penalized[x]) for x in model if x in penalized]
        chart = line_chart(
            [
                _series(rollout["reward_model"], "model reward", PALETTE[0]),
                _series(penalty, "penalty (model reward - penalized)", PALETTE[1], dashed=True),
                _series(rollout["reward_penalized"], "penalized reward", PALETTE[2]),
            ],
            "Penalty beside the model reward (imagined steps, mean per step)",
            "update",
            "reward per step",
            width=720,
        )
        if chart:
            parts.append(f'<h3>Penalty</h3><div class="charts" id="penalty">{chart}</div>')
    known = ("model", "policy", "train", "rollout")
    phases = [p for p in known if p in metrics]
    phases += sorted(p for p in metrics if p not in (*known, "evaluation", "diagnostics"))
    for phase in phases:
        charts = [
            line_chart([_series(points, name, PALETTE[i % len(PALETTE)])], name, "update", name, width=360, height=210)
            for i, (name, points) in enumerate(sorted(metrics[phase].items()))
        ]
        if any(charts):
            parts.append(
                f"<h3>{esc(PHASE_TITLES.get(phase, phase))}</h3>"
                f'<div class="charts">{"".join(c for c in charts if c)}</div>'
            )
    return "".join(parts)


def diagnostics_html(run: SiteRun, metrics: dict[str, Any], config: dict[str, Any]) -> str:
    """The last diagnostics the run logged, and their verdict in words (`algorithms.verdicts.verdict`,
    torch-free)."""
    rows = metrics.get("diagnostics")
    if not rows:
        return ""
    last = max(step for points in rows.values() for step, _ in points)
    values = {name: y for name, points in rows.items() for x, y in points if x == last}
    from lompo_bench.algorithms.verdicts import verdict

    lines: list[str] = []
    try:
        spread = values.get("spread_data") or 0.0
        penalty = float(config.get("penalty") or 0.0) or (values.get("penalty_data", 0.0) / spread if spread else 0.0)
        lines = verdict(
            values,
            penalty=penalty,
            held_out=float(config.get("holdout") or 0.0) > 0,
            heads=int(config.get("ensemble") or 1),
        )
    except (KeyError, TypeError, ValueError, ZeroDivisionError) as error:  # the values still show; the words need
        # every value (a run that logged an older set of them)
        lines = [f"(no verdict: {type(error).__name__}: {one_line(error)})"]
    table = kv_table([(name, esc(f"{value:.4g}")) for name, value in sorted(values.items())])
    return (
        f"<h2>World-model diagnostics (update {last:.0f})</h2>"
        + '<ul class="lines" id="verdict">'
        + "".join(f"<li>{esc(line)}</li>" for line in lines)
        + f"</ul><details><summary>values</summary>{table}</details>"
    )


def run_html(run: SiteRun, datasets: dict[str, DatasetPage], anchor: str | None) -> str:
    r = run.record
    title = f"{algo_title(r['algo'])} on {r['dataset_id']}, seed {r['seed']} ({r['profile']})"
    dataset = datasets.get(r["dataset_id"])
    dataset_link = f'<a href="../{dataset.page}">{esc(r["dataset_id"])}</a>' if dataset else esc(r["dataset_id"])
    provisional = " (provisional reference)" if r.get("reference_provisional") else ""
    facts = [
        ("algorithm", algo_html(r["algo"])),
        (
            "dataset",
            dataset_link + (f" <code>{esc(r['dataset_fingerprint'])}</code>" if r.get("dataset_fingerprint") else ""),
        ),
        ("profile, seed", esc(f"{r['profile']}, seed {r['seed']}")),
        ("normalized score", esc(fmt_value(r.get("normalized_score")) + provisional)),
        (
            "mean return",
            esc(
                f"{fmt_value(r.get('mean_return'))} ± {fmt_value(r.get('std_return'))} over {r.get('episodes')} "
                "evaluation episodes"
            ),
        ),
        (
            "references",
            esc(f"random {fmt_value(r.get('ref_min_score'), 2)}, expert {fmt_value(r.get('ref_max_score'), 2)}"),
        ),
        ("training time", esc(f"{(r.get('train_seconds') or 0) / 3600:.2f} h")),
        ("finished", esc(r.get("finished_at", "-"))),
        ("code version", f"<code>{esc(r.get('code_version', '-'))}</code>"),
        ("evaluation code", f"<code>{esc(r.get('evaluation_code_version', '-'))}</code>"),
    ]
    if r.get("overrides"):
        facts.append(("overrides (train --set)", f"<code>{esc(json.dumps(r['overrides']))}</code>"))
    if r.get("adopted"):
        facts.append(("adopted (now the profile's)", f"<code>{esc(json.dumps(r['adopted']))}</code>"))
    facts.append(
        (
            "record",
            f"<code>{esc(shown_path(run.path))}</code>"
            + (' <span class="tag ref">reference record</span>' if run.reference else ""),
        )
    )
    if anchor:
        facts.append(("Table I", f'<a href="../index.html#{anchor}">its cell</a>'))
    parts = [f"<h1>{esc(title)}</h1>", kv_table(facts)]
    returns = r.get("returns") or []
    chart = bar_chart(
        [str(i) for i in range(len(returns))],
        returns,
        "Final evaluation: return per episode",
        "episode",
        "return",
        reference=("mean", r.get("mean_return") or 0.0),
    )
    parts += ["<h2>Final returns</h2>", f'<div class="charts" id="final-returns">{chart or ""}</div>']
    config_path, metrics_path = run.folder / "config.json", run.folder / "metrics.csv"
    config: dict[str, Any] = {}
    context: dict[str, Any] = {}
    if config_path.exists():
        try:
            context = json.loads(config_path.read_text())
            config = context.get("config") or {}
        except (OSError, ValueError):
            context = {}
    parts.append("<h2>Learning curves</h2>")
    if metrics_path.exists():
        metrics = read_metrics(metrics_path)
        parts.append(curves_html(run, metrics) or '<p class="muted">metrics.csv holds no values yet.</p>')
        parts.append(diagnostics_html(run, metrics, config))
    else:
        parts.append(
            '<p class="muted" id="no-curves">This run\'s folder (metrics.csv, config.json) is not here: '
            + (
                "the committed record holds the final evaluation only (its returns above). "
                if run.reference or run.root.resolve().is_relative_to(report_module.REFERENCE_RECORDS)
                else ""
            )
            + "Curves appear when the site is built from the runs folder the run trained in "
            "(<code>lompo-bench report --html OUT --runs RUNS</code>).</p>"
        )
    parts.append("<h2>Config</h2>")
    if config:
        parts.append(kv_table([(k, f"<code>{esc(json.dumps(v))}</code>") for k, v in config.items()]))
        extra = {k: v for k, v in context.items() if k != "config" and not isinstance(v, dict | list)}
        if extra:
            parts.append("<h3>Run</h3>" + kv_table([(k, esc(v)) for k, v in extra.items()]))
    else:
        parts.append(
            f'<p class="muted">No config.json here: the run used the <code>{esc(r["profile"])}</code> profile of '
            f"{esc(algo_title(r['algo']))} as it stood at <code>{esc(r.get('code_version', '?'))}</code>"
            + (" with the overrides above" if r.get("overrides") else "")
            + (" with the adopted settings above" if r.get("adopted") else "")
            + "; <code>lompo-bench train --algo "
            + esc(r["algo"])
            + " --profile "
            + esc(r["profile"])
            + "</code> prints a run's resolved config into its config.json.</p>"
        )
    return "".join(parts)
