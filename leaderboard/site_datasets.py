"""The leaderboard site's dataset pages (`leaderboard.site`): `DatasetPage` (a dataset's records and, when it is
installed here, what the dataset itself says: Minari's metadata, the split rule, the returns, its content fingerprint
and a preview of its best episode), its card on the index (`dataset_card_html`) and its page (`dataset_html`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lompo_bench.errors import UserError
from lompo_bench.leaderboard.paper import TASK_TITLES
from lompo_bench.leaderboard.site_charts import histogram
from lompo_bench.leaderboard.site_html import esc, fmt_value, kv_table, runs_table_html
from lompo_bench.leaderboard.site_records import SiteRun, one_line, slugify


@dataclass
class DatasetPage:
    dataset_id: str
    slug: str
    runs: list[SiteRun]
    installed: bool = False
    metadata: dict[str, Any] = field(default_factory=dict)
    split_rule: str | None = None
    returns: dict[str, Any] | None = None
    fingerprint: str | None = None  # the installed content's
    preview: str | None = None  # the preview image, relative to the site
    preview_note: str = ""
    problem: str | None = None

    @property
    def page(self) -> str:
        return f"datasets/{self.slug}.html"

    def first(self, key: str) -> Any:
        return next((run.record.get(key) for run in self.runs if run.record.get(key) is not None), None)


def dataset_pages(runs: Sequence[SiteRun]) -> dict[str, DatasetPage]:
    pages: dict[str, DatasetPage] = {}
    for run in sorted(runs, key=lambda r: r.record["dataset_id"]):
        ds = run.record["dataset_id"]
        if ds not in pages:
            pages[ds] = DatasetPage(ds, slugify(ds.replace("/", "__")), [])
        pages[ds].runs.append(run)
    return pages


def read_installed(page: DatasetPage, out: Path, previews: bool, warn: Callable[[str], None]) -> None:
    """What the installed dataset itself says: metadata, returns, fingerprint and (with `previews`) a preview."""
    from lompo_bench.data.store import dataset_exists

    try:
        if not dataset_exists(page.dataset_id):
            return
    except UserError:
        return
    from lompo_bench.data.cache import dataset_fingerprint
    from lompo_bench.data.inspect import info

    page.installed = True
    try:
        summary = info(page.dataset_id)
        page.metadata, page.split_rule, page.returns = summary["metadata"], summary["split_rule"], summary["returns"]
        page.fingerprint = dataset_fingerprint(page.dataset_id)
    except UserError as error:
        page.problem = one_line(error)
        warn(f"warning: dataset {page.dataset_id}: {page.problem}")
        return
    if not previews:
        return
    from lompo_bench.leaderboard.preview import episode_preview

    try:
        made = episode_preview(page.dataset_id, out / "datasets" / f"{page.slug}.gif")
    except UserError as error:
        page.preview_note = f"no preview: {one_line(error)}"
        warn(f"warning: dataset {page.dataset_id}: {page.preview_note}")
        return
    page.preview = f"datasets/{page.slug}.gif"
    page.preview_note = (
        f"Episode {made.episode} (return {made.episode_return:.1f}, the dataset's best): every {made.stride}"
        f"{'th' if made.stride > 1 else ''} of its {made.episode_frames} frames, {made.width}x{made.height} px as "
        f"stored, {made.bytes / 1024:.0f} KB."
    ).replace("every 1 of its", "all")


def _space(text: Any) -> str:
    """A Minari space (JSON text) in a few words: the pixels' shape and dtype, an action box's bounds."""
    try:
        space = json.loads(text) if isinstance(text, str) else text
    except ValueError:
        return esc(text)
    if not isinstance(space, dict):
        return esc(text)
    if space.get("type") == "Dict":
        return ", ".join(f"{esc(k)}: {_space(v)}" for k, v in space.get("subspaces", {}).items())
    shape = "x".join(str(n) for n in space.get("shape", []))
    bounds = ""
    low, high = space.get("low"), space.get("high")
    if isinstance(low, list) and low and not isinstance(low[0], list):
        bounds = f" in [{min(low):g}, {max(high):g}]"
    return esc(f"{space.get('type', '?')}({shape}) {space.get('dtype', '')}{bounds}")


def dataset_card_html(page: DatasetPage) -> str:
    img = (
        f'<img class="preview" src="{page.preview}" alt="preview of {esc(page.dataset_id)}">'
        if page.preview
        else '<p class="muted">no preview (the dataset is not installed where this site was built)</p>'
        if not page.installed
        else f'<p class="muted">{esc(page.preview_note or "no preview")}</p>'
    )
    facts = [
        f"{esc(TASK_TITLES.get(page.first('task'), page.first('task')))}, {esc(page.first('kind') or '-')}, "
        f"profile {esc(page.first('dataset_profile') or '-')}",
        f"{esc(page.metadata.get('total_steps', page.first('dataset_transitions')))} transitions"
        + (f", {esc(page.metadata['total_episodes'])} episodes" if "total_episodes" in page.metadata else ""),
        f"{len(page.runs)} run{'s' * (len(page.runs) != 1)} on the leaderboard",
    ]
    return (
        f'<div class="card"><h3><a href="{page.page}">{esc(page.dataset_id)}</a></h3>{img}'
        f'<div class="facts">{"<br>".join(facts)}</div></div>'
    )


def dataset_html(page: DatasetPage) -> str:
    ds = page.dataset_id
    fingerprints = sorted(
        {run.record.get("dataset_fingerprint") or "(none: records from before fingerprints)" for run in page.runs}
    )
    references = sorted(
        {
            (
                run.record.get("ref_min_score"),
                run.record.get("ref_max_score"),
                bool(run.record.get("reference_provisional")),
            )
            for run in page.runs
        },
        key=str,
    )
    facts = [
        ("task", esc(f"{TASK_TITLES.get(page.first('task'), page.first('task'))} ({page.first('task')})")),
        ("kind", esc(page.first("kind") or "-")),
        ("dataset profile", esc(page.first("dataset_profile") or "-")),
        ("source", esc(page.first("dataset_source") or "-")),
    ]
    if page.first("ablation_factor") is not None:
        facts.append(("ablation", esc(f"1/{page.first('ablation_factor')} of Appendix B's D'Claw dataset")))
    facts.append(("transitions", esc(page.metadata.get("total_steps", page.first("dataset_transitions")))))
    if "total_episodes" in page.metadata:
        facts.append(("episodes", esc(page.metadata["total_episodes"])))
    for low, high, provisional in references:
        flag = "provisional (not a paper-profile expert)" if provisional else "final"
        facts.append(("reference scores", esc(f"random {fmt_value(low, 2)}, expert {fmt_value(high, 2)}: {flag}")))
    facts.append(("content fingerprint (records)", "<br>".join(f"<code>{esc(f)}</code>" for f in fingerprints)))
    if page.installed and page.fingerprint:
        same = page.fingerprint in fingerprints
        facts.append(
            (
                "content fingerprint (installed)",
                f"<code>{esc(page.fingerprint)}</code> "
                + (
                    "(the content the records were trained on)"
                    if same
                    else '<span class="tag">not the content of these records</span>'
                ),
            )
        )
    parts = [f"<h1>{esc(ds)}</h1>", kv_table(facts)]
    if page.problem:
        parts.append(f'<p class="warn">The installed dataset could not be read: {esc(page.problem)}</p>')
    parts.append("<h2>Preview</h2>")
    if page.preview:
        parts.append(
            f'<img class="preview" id="preview" src="../{page.preview}" alt="an episode of {esc(ds)}">'
            f'<p class="muted">{esc(page.preview_note)}</p>'
        )
    elif page.installed:
        parts.append(f'<p class="muted">{esc(page.preview_note or "no preview")}</p>')
    else:
        parts.append(
            '<p class="muted">Not installed where this site was built: the page shows what the records know. '
            "Install it (below) and rebuild for its metadata, returns and an animated preview.</p>"
        )
    if page.returns is not None:
        r = page.returns
        parts.append("<h2>Episode returns</h2>")
        if r.get("episodes"):
            parts.append(
                '<p class="muted">'
                + esc(
                    f"{r['episodes']} episodes: "
                    + ", ".join(f"{k} {r[k]:.1f}" for k in ("min", "p25", "median", "mean", "p75", "max") if k in r)
                )
                + "</p>"
            )
        chart = histogram(r["histogram"]["counts"], r["histogram"]["edges"], "Episode returns", "return")
        if chart:
            parts.append(chart)
    if page.split_rule:
        parts += ["<h2>Split rule</h2>", f"<p>{esc(page.split_rule)}</p>"]
    if page.metadata:
        rows = []
        for key, value in page.metadata.items():
            if key in ("observation_space", "action_space"):
                rows.append((key, _space(value)))
            elif key in ("env_spec", "lompo_generation_config") or (isinstance(value, str) and len(value) > 200):
                rows.append((key, f"<details><summary>show</summary><pre>{esc(_pretty(value))}</pre></details>"))
            else:
                rows.append((key, esc(", ".join(map(str, value)) if isinstance(value, list) else value)))
        parts += ["<h2>Minari metadata</h2>", kv_table(rows)]
    parts.append("<h2>Get it and load it</h2>")
    make = ""
    if page.first("dataset_source") == "lompo-bench" and page.first("kind"):
        make = (
            f"\n# or make it here (SAC expert from state, then the images):\nlompo-bench generate --env "
            f"{page.first('task')} --kind {page.first('kind')} --profile {page.first('dataset_profile')}"
        )
    parts.append(
        "<pre>"
        + esc(
            f"# from a Minari remote or an HTTP mirror (datasets pack):\nlompo-bench download {ds} --remote "
            f"hf://<org>\nlompo-bench download {ds} --base-url https://<host>/<share>/{make}"
        )
        + "</pre><pre>"
        + esc(
            f'import minari\n\ndataset = minari.load_dataset("{ds}")\nfor episode in dataset.iterate_episodes():\n'
            '    frames = episode.observations["pixels"]  # (T + 1, H, W, 3) uint8\n    break'
        )
        + "</pre><pre>"
        + esc(
            f"# pip install 'lompo-bench[d3rlpy]'\nfrom lompo_bench.adapters.d3rlpy import to_mdp_dataset\n\n"
            f'dataset = to_mdp_dataset("{ds}", frame_stack=3)  # a d3rlpy ReplayBuffer of (9, H, W) uint8 frames'
        )
        + "</pre>"
        + f'<p class="muted">A preview of one episode as a file: <code>lompo-bench datasets preview {esc(ds)} '
        "--out ep.gif</code>.</p>"
    )
    parts.append("<h2>Runs on it</h2>" + runs_table_html(page.runs, up="../"))
    return "".join(parts)


def _pretty(value: Any) -> str:
    if isinstance(value, str):
        try:
            return json.dumps(json.loads(value), indent=2)
        except ValueError:
            return value
    return json.dumps(value, indent=2, default=str)
