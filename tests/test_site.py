"""The leaderboard site (`lompo-bench report --html`, `leaderboard.site`) and episode previews (`lompo-bench
datasets preview`, `leaderboard.preview`): the generator on a tiny set of records (a malformed record, an empty
folder, a run folder with its metrics.csv), and the built site in a real browser (headless Chromium over the
DevTools protocol on a pipe: no port, no new dependency)."""

from __future__ import annotations

import base64
import json
import os
import re
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from PIL import Image
from typer.testing import CliRunner

from lompo_bench.cli import app
from lompo_bench.errors import UserError
from lompo_bench.leaderboard.paper import TABLE_I
from lompo_bench.leaderboard.preview import MAX_BYTES, episode_preview
from lompo_bench.leaderboard.report import REFERENCE_RECORDS
from lompo_bench.leaderboard.results import aggregate, read_runs
from lompo_bench.leaderboard.site import SITE_MARK, build_site
from lompo_bench.leaderboard.tables import table_one_rows, table_one_table
from lompo_bench.records import ResultRecord

runner = CliRunner()
WALKER = "lompo/walker_walk/medium-expert-cpu-v0"
PEN = "lompo/adroit_pen/medium-expert-cpu-v0"  # a synthetic dataset the tests install under a Table I id


def _record(root: Path, algo: str, dataset_id: str, seed: int, score: float | None, **extra: Any) -> Path:
    task, kind = dataset_id.split("/")[1], dataset_id.split("/")[2].split("-cpu")[0]
    mean = 10.0 * (seed + 1)
    fields = dict(algo=algo, dataset_id=dataset_id, task=task, kind=kind, dataset_profile="cpu")
    fields |= dict(dataset_source="lompo-bench", ablation_factor=None, dataset_transitions=20000, profile="cpu")
    returns = [mean + (i - 4.5) / 4.5 for i in range(10)]  # the cpu profile's 10 evaluation episodes
    fields |= dict(seed=seed, episodes=10, returns=returns, mean_return=mean, std_return=0.6)
    fields |= dict(normalized_score=score, ref_min_score=0.0, ref_max_score=100.0, reference_provisional=True)
    fields |= dict(train_seconds=60.0, code_version="test", evaluation_code_version="test")
    fields |= dict(finished_at="2026-11-26T00:00:00Z")
    folder = root / algo / dataset_id / f"cpu-seed{seed}"
    folder.mkdir(parents=True)
    (folder / "result.json").write_text(json.dumps(ResultRecord(**{**fields, **extra}).to_dict()))
    return folder


def _metrics(folder: Path, algo: str) -> None:
    """A run folder's config.json and metrics.csv as training writes them (phase, step, metric, value)."""
    config = {"penalty": 1.0, "ensemble": 5, "holdout": 0.1} if algo in ("lompo", "lmbrl") else {"steps": 400}
    (folder / "config.json").write_text(json.dumps({"algo": algo, "seed": 0, "config": config}))
    rows = ["phase,step,metric,value"]
    for step in range(0, 401, 50):
        rows.append(f"{'model' if algo in ('lompo', 'lmbrl') else 'train'},{step},loss,{100 / (1 + step)!r}")
        if algo in ("lompo", "lmbrl"):
            rows += [f"rollout,{step},reward_model,{1.5 + step / 400}", f"rollout,{step},reward_penalized,{0.5}"]
            rows.append(f"policy,{step},critic_loss,{2.0 - step / 400}")
        if step % 100 == 0:
            rows.append(f"evaluation,{step},mean_return,{step / 4}")
    diagnostics = dict(
        spread_data=0.2,
        spread_uniform=0.5,
        reward_data=1.0,
        penalty_data=0.2,
        reward_penalized_data=0.8,
        reward_mse=0.01,
        model_loss=3.0,
    )
    rows += [f"diagnostics,400,{k},{v}" for k, v in diagnostics.items()]
    rows.append("evaluation,final,mean_return,101.0")
    (folder / "metrics.csv").write_text("\n".join(rows) + "\n")


def _tiny_runs(root: Path) -> None:
    """LOMPO (a run folder with metrics) and BC with two seeds on Walker, DrQ+BC (not in the paper) with one."""
    lompo = _record(root, "lompo", WALKER, 0, 40.0)
    _metrics(lompo, "lompo")
    _record(root, "lompo", WALKER, 1, 42.0)
    _record(root, "bc", WALKER, 0, 10.0)
    _record(root, "bc", WALKER, 1, 11.0)
    _record(root, "drqbc", WALKER, 0, 70.0)


def _pages(site: Path) -> list[Path]:
    return sorted(site.rglob("*.html"))


def _assert_links_resolve(site: Path) -> None:
    """Every href and src of every page points at a file of the site (or an anchor, or data:); none at a host."""
    for page in _pages(site):
        text = page.read_text()
        for target in re.findall(r'(?:href|src)="([^"]*)"', text):
            assert not target.startswith(("http:", "https:", "//")), (page, target)
            if target.startswith(("#", "data:")):
                continue
            path = (page.parent / target.split("#")[0]).resolve()
            assert path.is_file() and site.resolve() in path.parents, (page, target)


def _cell(index: str, algo: str, row: int) -> str:
    match = re.search(rf'<td class="cell[^"]*" id="cell-{row}-{algo}".*?</td>', index)
    assert match, (algo, row)
    return match.group(0)


def test_the_site_from_a_tiny_set_of_records_with_a_malformed_one(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    _tiny_runs(runs)
    bad = runs / "cql" / WALKER / "cpu-seed0" / "result.json"
    bad.parent.mkdir(parents=True)
    bad.write_text("{not json")
    lines: list[str] = []
    site = build_site(tmp_path / "site", [runs], profile="cpu", datasets=False, warn=lines.append)

    assert len(lines) == 1 and "\n" not in lines[0] and str(bad) in lines[0], lines  # one warning line, naming it
    assert site.runs == 5 and site.pages == 1 + 5 + 1 and (site.out / SITE_MARK).exists()
    index = site.index.read_text()
    assert 'id="skipped"' in index and str(bad) in index  # the page says so
    # The cells' numbers are the Markdown table's, from the same records (the valid ones) and stages.
    bad.unlink()
    records, origins = read_runs([runs])
    cells = aggregate(records, origins)
    rows = table_one_rows(cells, "cpu", "cpu")
    walker = next(
        i
        for i, row in enumerate(table_one_table(cells, "cpu", "cpu"))
        if row.task == "walker_walk" and row.kind == "medium-expert"
    )
    for algo in ("lompo", "bc", "drqbc"):
        assert '<span class="ours"' in _cell(index, algo, walker)
        assert f">{rows[walker][algo]}</span>" in _cell(index, algo, walker)
    assert "/ 91.7" in _cell(index, "lompo", walker)  # the paper's number beside ours
    assert "not run yet" in _cell(index, "cql", walker)  # the malformed record counted for nothing
    assert "not run yet" in _cell(index, "lompo", walker + 1)
    assert "not in the paper" in index  # DrQ+BC's column
    assert 'class="mark above"' in _cell(index, "bc", walker)  # claim 2 compares LOMPO with BC there
    assert index.count('href="runs/') >= 5  # every cell links to its seeds
    assert "s0</a>" in _cell(index, "lompo", walker) and "s1</a>" in _cell(index, "lompo", walker)
    _assert_links_resolve(site.out)

    lompo_page = (site.out / "runs" / f"lompo__{WALKER.replace('/', '__')}__cpu-seed0.html").read_text()
    assert lompo_page.count('<polyline class="series"') >= 4  # evaluations, losses, penalty beside the reward
    assert 'id="penalty"' in lompo_page and "model reward" in lompo_page
    assert 'id="verdict"' in lompo_page and "the penalty separates the data" in lompo_page  # the diagnostics' verdict
    assert 'id="final-returns"' in lompo_page and "<code>test</code>" in lompo_page  # the record's code version
    bc_page = (site.out / "runs" / f"bc__{WALKER.replace('/', '__')}__cpu-seed0.html").read_text()
    assert 'id="no-curves"' in bc_page and '<rect class="bar"' in bc_page
    dataset_page = (site.out / "datasets" / f"{WALKER.replace('/', '__')}.html").read_text()
    assert "Not installed where this site was built" in dataset_page
    assert f"lompo-bench download {WALKER}" in dataset_page
    assert "minari.load_dataset" in dataset_page and "lompo_bench.adapters.d3rlpy" in dataset_page
    assert json.loads((site.out / "data" / "scores.json").read_text())["cells"]


def test_an_empty_runs_folder_builds_a_site_that_says_so(tmp_path: Path) -> None:
    (tmp_path / "runs").mkdir()
    lines: list[str] = []
    site = build_site(tmp_path / "site", tmp_path / "runs", datasets=False, warn=lines.append)
    assert lines == [f"warning: no result records in {tmp_path / 'runs'}"]
    index = site.index.read_text()
    assert 'id="empty"' in index and "No result records in" in index
    assert index.count('class="cell empty"') == len(TABLE_I) * 5  # the paper's five columns, every row
    _assert_links_resolve(site.out)


def test_the_report_s_aggregates_and_figures_enter_the_site_and_only_a_site_is_replaced(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    _tiny_runs(runs)
    figure = tmp_path / "report" / "table_one.svg"
    figure.parent.mkdir()
    figure.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>')
    report = SimpleNamespace(
        aggregates="Aggregates, `rliable`.\n\n| Algorithm | IQM |\n|---|---|\n| LOMPO | 41.0 |\n",
        files=(figure, figure.with_suffix(".png")),
    )
    site = build_site(tmp_path / "site", runs, datasets=False, report=report, warn=lambda line: None)
    index = site.index.read_text()
    assert "<td>LOMPO</td><td>41.0</td>" in index and "<code>rliable</code>" in index
    assert 'src="figures/table_one.svg"' in index and (site.out / "figures" / "table_one.svg").exists()
    build_site(tmp_path / "site", runs, datasets=False, warn=lambda line: None)  # a site is replaced whole
    assert not (site.out / "figures").exists()
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match="not a site built by lompo-bench"):
        build_site(tmp_path / "mine", runs, datasets=False, warn=lambda line: None)
    with pytest.raises(UserError, match="overlaps the runs folder"):
        build_site(runs / "site", runs, datasets=False, warn=lambda line: None)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "mine"


def test_the_committed_records_site_builds_fast_and_without_torch(tmp_path: Path) -> None:
    code = (
        "import sys, time; from pathlib import Path; from lompo_bench.leaderboard.site import build_site;"
        " t = time.perf_counter();"
        f"site = build_site(Path({str(tmp_path / 'site')!r}), [Path({str(REFERENCE_RECORDS / 'cpu')!r})]);"
        "print(sorted(m for m in ('torch', 'mujoco') if m in sys.modules), site.pages, time.perf_counter() - t)"
    )
    env = {**os.environ, "MINARI_DATASETS_PATH": str(tmp_path / "minari")}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    modules, pages, seconds = result.stdout.rsplit(" ", 2)
    assert modules == "[]" and int(pages) > 10 and float(seconds) < 10, result.stdout


def test_a_run_s_diagnostic_verdict_shows_without_torch() -> None:
    """The words under a run's last diagnostics (`algorithms/verdicts.py`) need no torch: a site built where only
    the leaderboard is installed says them, not only the values."""
    values = dict(spread_data=0.2, spread_uniform=0.5, reward_data=1.0, penalty_data=0.2, reward_penalized_data=0.8,
                  reward_mse=0.01)  # fmt: skip
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "from lompo_bench.leaderboard.site import diagnostics_html\n"
        f"metrics = {{'diagnostics': {{k: [(400.0, v)] for k, v in {values!r}.items()}}}}\n"
        "print(diagnostics_html(None, metrics, {'penalty': 1.0, 'ensemble': 5, 'holdout': 0.1}))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "the penalty separates the data" in result.stdout and "no verdict" not in result.stdout, result.stdout


def _install_pen(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A synthetic dataset (moving-square frames) under a Table I id in a Minari folder of the test's own; returns
    its content fingerprint."""
    from lompo_bench.data.cache import dataset_fingerprint
    from tests.helpers import write_synthetic_dataset

    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    metadata = {
        "lompo_kind": "medium-expert",
        "lompo_profile": "cpu",
        "lompo_reference_provisional": True,
        "lompo_split_rule": "synthetic: every episode",
    }
    write_synthetic_dataset(PEN, [30, 60, 45], learnable=True, metadata=metadata)
    return dataset_fingerprint(PEN)


def test_a_preview_from_the_dataset_s_own_frames_and_its_card(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fingerprint = _install_pen(tmp_path, monkeypatch)
    made = episode_preview(PEN, tmp_path / "ep.gif")
    assert (made.episode, made.episode_frames) == (1, 61)  # the best episode (rewards grow with the square)
    with Image.open(made.path) as gif:
        assert gif.n_frames == made.frames > 1 and gif.size == (64, 64)
    assert made.bytes == made.path.stat().st_size <= MAX_BYTES
    webp = episode_preview(PEN, tmp_path / "ep.webp", episode=0, max_frames=10)
    with Image.open(webp.path) as image:
        assert image.format == "WEBP" and image.n_frames == webp.frames <= 10 and webp.episode == 0

    result = runner.invoke(app, ["datasets", "preview", PEN, "--out", str(tmp_path / "cli.gif"), "--frames", "20"])
    assert result.exit_code == 0, result.output
    assert "cli.gif: episode 1" in result.output and (tmp_path / "cli.gif").stat().st_size > 0
    for args, message in ((["--out", "x.png"], "not 'x.png'"), (["--episode", "7"], "not 7")):
        result = runner.invoke(app, ["datasets", "preview", PEN, *args])
        assert result.exit_code == 2 and message in result.output and result.output.count("\n") == 1, result.output

    runs = tmp_path / "runs"
    _record(runs, "cql", PEN, 0, 12.0, dataset_fingerprint=fingerprint)
    site = build_site(tmp_path / "site", runs, warn=lambda line: None)
    assert site.previews == 1
    page = (site.out / "datasets" / f"{PEN.replace('/', '__')}.html").read_text()
    assert 'id="preview"' in page and "(the content the records were trained on)" in page
    assert "synthetic: every episode" in page and "Minari metadata" in page and 'class="bar"' in page  # histogram
    assert Image.open(site.out / "datasets" / f"{PEN.replace('/', '__')}.gif").n_frames > 1
    _assert_links_resolve(site.out)


def test_report_html_from_the_command_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lompo_bench.leaderboard import stats

    monkeypatch.setattr(stats, "have_rliable", lambda: False)  # the bootstrap's seconds are the report's, not ours
    runs = tmp_path / "runs"
    _tiny_runs(runs)
    args = ["report", "--runs", str(runs), "--to", str(tmp_path / "md"), "--html", str(tmp_path / "site")]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert f"site: {tmp_path / 'site' / 'index.html'}" in result.output.replace("\n", "")
    assert "pip install" in (tmp_path / "site" / "index.html").read_text()  # where the aggregates would be
    result = runner.invoke(app, [*args[:-1], str(tmp_path / "md")])  # the Markdown's folder is not a site
    assert result.exit_code == 2 and "not a site built by lompo-bench" in result.output


# ----- in a real browser -----


class _Chromium:
    """Headless Chromium driven over the DevTools protocol on a pipe (`--remote-debugging-pipe`: commands on fd 3,
    replies on fd 4, NUL-separated JSON), so no port is opened and nothing is installed."""

    def __init__(self, exe: str, profile: Path) -> None:
        to_r, to_w = os.pipe()
        from_r, from_w = os.pipe()
        args = [
            exe,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--remote-debugging-pipe",
            f"--user-data-dir={profile}",
            "about:blank",
        ]
        # bash, not sh: dash reads only one-digit descriptors in a redirection.
        self.proc = subprocess.Popen(
            ["bash", "-c", f'exec "$@" 3<&{to_r} 4>&{from_w}', "bash", *args],
            pass_fds=(to_r, from_w),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_r)
        os.close(from_w)
        self.write, self.read_fd = to_w, from_r
        self.buffer, self.next_id, self.events = b"", 0, []
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for method in ("Page.enable", "Runtime.enable", "Log.enable"):
            self.send(method, session=True)
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False},
            session=True,
        )

    def _message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.read_fd], [], [], left)[0]:
                raise TimeoutError("no answer from chromium")
            chunk = os.read(self.read_fd, 1 << 20)
            if not chunk:
                raise EOFError("chromium closed its pipe")
            self.buffer += chunk
        raw, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(raw)

    def send(self, method: str, params: dict[str, Any] | None = None, session: bool = False) -> dict[str, Any]:
        self.next_id += 1
        message: dict[str, Any] = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self.session
        os.write(self.write, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + 20
        while True:
            reply = self._message(deadline)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]
            self.events.append(reply)

    def open(self, url: str) -> None:
        self.events = [e for e in self.events if e.get("method") != "Page.loadEventFired"]
        self.send("Page.navigate", {"url": url}, session=True)
        deadline = time.monotonic() + 20
        while not any(e.get("method") == "Page.loadEventFired" for e in self.events):
            self.events.append(self._message(deadline))

    def eval(self, expression: str) -> Any:
        reply = self.send(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True}, session=True
        )
        assert "exceptionDetails" not in reply, reply
        return reply["result"].get("value")

    def errors(self) -> list[str]:
        """Console errors, uncaught exceptions and failed loads (Log: network, security, ...) so far."""
        found = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.exceptionThrown":
                found.append(json.dumps(params["exceptionDetails"])[:300])
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                found.append(json.dumps(params.get("args"))[:300])
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                found.append(f"{params['entry'].get('text')} {params['entry'].get('url', '')}")
        return found

    def screenshot(self, path: Path, height: int = 1400) -> None:
        shot = self.send(
            "Page.captureScreenshot",
            {
                "format": "png",
                "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": 1280, "height": height, "scale": 1},
            },
            session=True,
        )
        path.write_bytes(base64.b64decode(shot["data"]))

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except (OSError, EOFError, TimeoutError, RuntimeError):
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        os.close(self.write)
        os.close(self.read_fd)


def _chromium() -> str | None:
    return next((shutil.which(name) for name in ("chromium", "chromium-browser") if shutil.which(name)), None)


@pytest.mark.skipif(
    _chromium() is None, reason="no chromium on PATH (Debian: apt-get install chromium; .ci/run installs it)"
)
def test_the_site_in_headless_chromium(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The committed records' site, plus one run of ours with its metrics.csv on an installed (synthetic) dataset,
    opened from file:// in Chromium: no console errors on any page, Table I's cells hold the committed records'
    numbers, a dataset card's preview is loaded, a run page's curve is drawn, the filters work; a screenshot of the
    index is kept in the test's folder."""
    started = time.monotonic()
    committed = REFERENCE_RECORDS / "cpu"
    fingerprint = _install_pen(tmp_path, monkeypatch)
    mine = tmp_path / "runs"
    run = _record(mine, "cql", PEN, 0, 12.0, dataset_fingerprint=fingerprint)
    _metrics(run, "cql")
    warnings: list[str] = []
    site = build_site(tmp_path / "site", [mine, committed], warn=warnings.append)
    assert warnings == []
    # The numbers the committed records give through the report's own stages.
    records, origins = read_runs([committed])
    cells = aggregate(records, origins)
    expected = {}
    for row, text in zip(table_one_table(cells, "cpu", "cpu"), table_one_rows(cells, "cpu", "cpu"), strict=True):
        for algo in row.cells:
            expected[f"{text['environment']}|{text['dataset']}|{algo}"] = text[algo]
    assert expected

    browser = _Chromium(_chromium(), tmp_path / "profile")
    try:
        browser.open(site.index.as_uri())
        shown = browser.eval("""Object.fromEntries(
            Array.from(document.querySelectorAll('#table-one td.cell:not(.empty)')).map(td => [
                td.parentElement.cells[0].textContent + '|' + td.parentElement.cells[1].textContent + '|'
                + td.dataset.algo, td.querySelector('.ours').textContent]))""")
        for key, text in expected.items():
            assert shown.get(key) == text, (key, shown.get(key), text)
        cards = browser.eval("""Array.from(document.querySelectorAll('.card img.preview'))
            .map(img => [img.complete, img.naturalWidth])""")
        assert cards and all(complete and width > 0 for complete, width in cards), cards
        visible = browser.eval("""(() => { const task = document.getElementById('filter-task');
            task.value = 'walker_walk'; task.dispatchEvent(new Event('change'));
            const n = Array.from(document.querySelectorAll('#table-one tbody tr')).filter(r => !r.hidden).length;
            document.getElementById('filter-reset').click(); return n; })()""")
        assert visible == 3
        browser.eval("document.querySelector('#table-one th.algo[data-algo=\"lompo\"]').click()")
        first = browser.eval("document.querySelector('#table-one tbody tr').cells[0].textContent")
        assert first in ("Walker Walk", "D'Claw Screw")  # sorted by LOMPO's score: a row with a LOMPO cell first
        browser.open(site.index.as_uri())
        shot = tmp_path / "index.png"
        browser.screenshot(shot)
        assert shot.stat().st_size > 20_000
        assert browser.errors() == []

        browser.open((site.out / "datasets" / f"{PEN.replace('/', '__')}.html").as_uri())
        assert browser.eval("document.getElementById('preview').naturalWidth") == 64
        run_page = site.out / "runs" / f"cql__{PEN.replace('/', '__')}__cpu-seed0.html"
        browser.open(run_page.as_uri())
        drawn = browser.eval("""Array.from(document.querySelectorAll('polyline.series'))
            .map(line => [line.points.numberOfItems, line.getBBox().width])""")
        assert drawn and all(points > 1 and width > 100 for points, width in drawn), drawn
        walker_run = next(site.out.glob("runs/lompo__*walker_walk*seed0.html"))
        browser.open(walker_run.as_uri())
        assert browser.eval("document.querySelectorAll('#final-returns rect.bar').length") > 1
        assert browser.errors() == []
    finally:
        browser.close()
    assert time.monotonic() - started < 60
