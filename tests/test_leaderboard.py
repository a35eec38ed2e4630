"""The leaderboard: paper numbers, result records -> score file -> Table I and the ablation, the reproduce plan,
and one smoke reproduction end to end through the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lompo_bench.cli import app
from lompo_bench.errors import UserError
from lompo_bench.leaderboard.paper import ALGORITHMS, TABLE_I, TASK_TITLES
from lompo_bench.leaderboard.report import build_report
from lompo_bench.leaderboard.reproduce import plan
from lompo_bench.leaderboard.results import aggregate, read_records
from lompo_bench.leaderboard.tables import ablation_markdown, table_one_markdown, table_one_rows
from lompo_bench.records import ResultRecord


def _record(root: Path, algo: str, dataset_id: str, seed: int, score: float | None, **extra) -> None:
    task, kind = dataset_id.split("/")[1], dataset_id.split("/")[2].split("-cpu")[0]
    mean = 10.0 * (seed + 1)
    fields = dict(algo=algo, dataset_id=dataset_id, task=task, kind=kind, dataset_profile="cpu")
    fields |= dict(dataset_source="lompo-bench", ablation_factor=None, dataset_transitions=20000, profile="cpu")
    fields |= dict(seed=seed, episodes=10, returns=[mean] * 10, mean_return=mean, std_return=0.0)
    fields |= dict(normalized_score=score)
    fields |= dict(ref_min_score=0.0, ref_max_score=100.0, reference_provisional=True, train_seconds=1.0)
    fields |= dict(code_version="test", evaluation_code_version="test", finished_at="2026-11-26T00:00:00Z")
    record = ResultRecord(**{**fields, **extra}).to_dict()
    folder = root / algo / dataset_id / f"cpu-seed{seed}"
    folder.mkdir(parents=True)
    (folder / "result.json").write_text(json.dumps(record))


def test_every_committed_record_is_the_declared_format_exactly() -> None:
    """`lompo_bench.records.ResultRecord` is the one declaration of a record: the committed ones read back through
    it unchanged, key order included."""
    from lompo_bench.records import read_record

    paths = sorted((Path(__file__).resolve().parents[1] / "leaderboard" / "results").rglob("result.json"))
    assert len(paths) >= 15
    for path in paths:
        assert list(read_record(path).items()) == list(json.loads(path.read_text()).items()), path
    with pytest.raises(UserError, match="format 2"):
        from lompo_bench.records import ResultRecord

        ResultRecord.from_dict({**json.loads(paths[0].read_text()), "format": 2}, "x")


def test_table_one_holds_the_papers_numbers() -> None:
    assert len(TABLE_I) == 11  # Door Open has no medium-replay row
    assert all(set(row) == set(ALGORITHMS) for row in TABLE_I.values())
    assert TABLE_I[("walker_walk", "medium-expert")]["lompo"] == 91.7
    assert TABLE_I[("dclaw_screw", "medium-expert")]["lompo"] == 100.4
    assert TABLE_I[("adroit_pen", "medium-replay")]["bc"] == 46.7
    assert TABLE_I[("door_open", "expert")] == {"lompo": 0.0, "lmbrl": 0.0, "offline_slac": 0.0, "cql": 0.0, "bc": 97.4}


def test_records_aggregate_over_seeds_into_table_one_beside_the_paper(tmp_path: Path) -> None:
    _record(tmp_path, "lompo", "lompo/walker_walk/medium-expert-cpu-v0", 0, 60.0)
    _record(tmp_path, "lompo", "lompo/walker_walk/medium-expert-cpu-v0", 1, 70.0)
    _record(tmp_path, "bc", "lompo/door_open/expert-cpu-v0", 0, None)  # no expert reference
    _record(tmp_path, "cql", "vd4rl/walker_walk/expert-v0", 0, 5.0, dataset_source="vd4rl", dataset_profile=None)
    cells = aggregate(read_records(tmp_path))
    assert len(cells) == 3
    lompo = next(c for c in cells if c.algo == "lompo")
    assert lompo.seeds == [0, 1] and lompo.mean == pytest.approx(65.0) and lompo.std == pytest.approx(5.0)
    table = table_one_markdown(cells, "cpu", "cpu")
    assert "| Walker Walk | medium-expert | 65.0 [60.0, 70.0]† / 91.7 | - / 76.3 |" in table
    assert "| Door Open | expert | - / 0.0 | - / 0.0 | - / 0.0 | - / 0.0 | R 10.0 / 97.4 |" in table
    assert "5.0" not in table.split("\n")[4]  # the imported V-D4RL run is not a Table I cell
    rows = table_one_rows(cells, "cpu", "cpu")
    assert rows[1]["lompo_seeds"] == "2" and rows[1]["lompo_paper"] == "91.7"
    assert "| Walker Walk | medium-expert | - / 91.7" in table_one_markdown(cells, "paper", "paper")


def test_ablation_table_orders_dataset_sizes(tmp_path: Path) -> None:
    for factor, score, size in ((1, 80.0, 60000), (5, 70.0, 12000), (25, 40.0, 2400)):
        name = "medium-expert-ablation" if factor == 1 else f"medium-expert-ablation-div{factor}"
        _record(
            tmp_path, "lompo", f"lompo/dclaw_screw/{name}-cpu-v0", 0, score,
            ablation_factor=factor, dataset_transitions=size, kind="medium-expert",
        )  # fmt: skip
    cells = aggregate(read_records(tmp_path))
    table = ablation_markdown(cells, "cpu", "cpu")
    assert "| Algorithm | full (60000 transitions) | 1/5 (12000 transitions) | 1/25 (2400 transitions) |" in table
    assert "| LOMPO | 80.0† | 70.0† | 40.0† |" in table
    assert "- / 100.4" in table_one_markdown(cells, "cpu", "cpu")  # ablation runs stay out of Table I
    from lompo_bench.leaderboard import plots, stats

    if stats.have_rliable() and plots.have_matplotlib():
        written = plots.ablation_plot(cells, "cpu", "cpu", tmp_path / "fig" / "ablation")
        assert [p.name for p in written] == ["ablation.png", "ablation.svg"] and all(p.stat().st_size for p in written)
        assert plots.ablation_plot(cells, "paper", "paper", tmp_path / "fig" / "none") is None


def test_report_writes_the_score_file_and_tables_and_refuses_bad_input(tmp_path: Path, capsys) -> None:
    runs = tmp_path / "runs"
    _record(runs, "lompo", "lompo/adroit_pen/expert-cpu-v0", 0, 12.5)
    report = build_report(runs, tmp_path / "out", profile="cpu")
    assert report.runs == 1 and report.cells == 1
    scores = json.loads((tmp_path / "out" / "scores.json").read_text())
    assert scores["format"] == 3 and scores["cells"][0]["mean"] == 12.5
    assert "12.5† / 96.1" in (tmp_path / "out" / "table_one.md").read_text()
    assert "lompo_paper" in (tmp_path / "out" / "table_one.csv").read_text().splitlines()[0]
    assert "| not enough runs |" in (tmp_path / "out" / "claims.md").read_text() and "not enough runs" in report.claims
    from lompo_bench.leaderboard import stats

    assert (report.aggregates is not None) == stats.have_rliable() == (tmp_path / "out" / "aggregates.md").exists()
    if report.aggregates is not None:  # the figures come with the stats extra
        from PIL import Image

        with Image.open(tmp_path / "out" / "table_one.png") as plot:
            assert plot.size[0] > 600 and len(plot.convert("RGB").getcolors(1 << 20)) > 5
        assert (tmp_path / "out" / "table_one.svg").read_text().lstrip().startswith("<?xml")
        assert (tmp_path / "out" / "performance_profile.svg").exists()
    with pytest.raises(UserError, match="--profile"):
        build_report(runs, tmp_path / "out", profile="huge")
    with pytest.raises(UserError, match="no runs folder"):
        build_report(tmp_path / "nothing", tmp_path / "out")
    broken = runs / "lompo" / "lompo/adroit_pen/expert-cpu-v0" / "cpu-seed0" / "result.json"
    broken.write_text("{broken")
    capsys.readouterr()
    assert build_report(runs, tmp_path / "out").runs == 0  # skipped, with one warning line naming it (issue 33)
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("warning: skipped cannot read result record") and str(broken) in line


def test_report_without_the_stats_extra_still_builds_the_tables_and_says_how(tmp_path: Path, monkeypatch) -> None:
    from lompo_bench.leaderboard import stats

    monkeypatch.setattr(stats, "have_rliable", lambda: False)
    _record(tmp_path / "runs", "lompo", "lompo/adroit_pen/expert-cpu-v0", 0, 12.5)
    result = runner.invoke(app, ["report", "--runs", str(tmp_path / "runs"), "--to", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert stats.STATS_HINT in result.output and "12.5† / 96.1" in result.output and "Claim" in result.output
    assert not (tmp_path / "out" / "aggregates.md").exists()


def test_building_tables_needs_no_torch_mujoco_or_gymnasium() -> None:
    code = (
        "import sys, lompo_bench.leaderboard.report, lompo_bench.leaderboard.reproduce, lompo_bench, lompo_bench.cli,"
        " lompo_bench.errors, lompo_bench.files, lompo_bench.paths, lompo_bench.data.ids, lompo_bench.records;"
        "print(sorted(m for m in ('torch', 'mujoco', 'gymnasium') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


# Run first in a subprocess: `import torch` raises ImportError from then on.
NO_TORCH = "import sys; sys.modules['torch'] = None\nfrom pathlib import Path\n"


def _without_torch(code: str) -> str:
    """What `code` prints, run in a fresh Python where `import torch` fails (`NO_TORCH` first); it must exit 0."""
    result = subprocess.run([sys.executable, "-c", NO_TORCH + code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_planning_algorithms_that_share_no_world_model_needs_no_torch() -> None:
    """`reproduce --plan` calls `plan` and each job's `done`: neither imports a built-in that shares no world model
    (the registry's SHARED_WORLD_MODEL says which), so neither needs torch for them."""
    out = _without_torch(
        "from lompo_bench.leaderboard.reproduce import pending, plan\n"
        "jobs = plan('cpu', algos=['bc', 'cql', 'drqbc'], seeds=2, ablation=True)\n"
        "print(len(jobs), sum(pending(jobs, Path('/nonexistent'))), ' '.join(j.describe() for j in jobs[:2]))"
    )
    count, todo, described = out.strip().split(" ", 2)
    # 4 tasks' and the ablation's generations; 11 Table I datasets and 3 ablation ones x 3 algorithms x 2 seeds.
    assert int(count) == int(todo) == 5 + (11 + 3) * 3 * 2
    assert described.startswith("generate walker_walk datasets (cpu, seed 0) train bc on lompo/walker_walk/")


def test_planning_the_paper_needs_no_torch() -> None:
    out = _without_torch(
        "from lompo_bench.leaderboard.reproduce import pending, plan\n"
        "jobs = plan('cpu', seeds=1)\n"
        "print(len(jobs), sum(pending(jobs, Path('/nonexistent'))))"
    )
    assert out.split() == [str(4 + 11 * 2 + 11 * 5), str(4 + 11 * 2 + 11 * 5)]


def test_world_model_keys_planned_without_torch_are_the_algorithms_own() -> None:
    """The registry's torch-free configs (`WORLD_MODEL_CONFIGS`) key each shared world model as the algorithm
    itself does: a different key would send runs to a model nobody trains, or orphan trained ones."""
    from lompo_bench.algorithms.registry import SHARED_WORLD_MODEL, get_algorithm
    from lompo_bench.data.ids import dataset_image_size

    out = _without_torch(
        "from lompo_bench.leaderboard.reproduce import plan\n"
        "for profile in ('cpu', 'paper'):\n"
        "    for job in plan(profile, algos=['lompo', 'lmbrl', 'offline_slac'], seeds=1, ablation=True):\n"
        "        if job.action == 'train':\n"
        "            print(profile, job.task, job.algo, job.model_key)\n"
    )
    planned = {tuple(line.split()) for line in out.splitlines()}
    expected = set()
    for profile in ("cpu", "paper"):
        for task in dict.fromkeys(task for task, _ in TABLE_I):
            for name in sorted(SHARED_WORLD_MODEL):
                module = get_algorithm(name)  # imports the algorithm, and torch
                key = module.world_model_key(module.make_config(profile), task, dataset_image_size(task, profile))
                expected.add((profile, task, name, key))
    assert planned == expected
    keys = {(profile, task, name): key for profile, task, name, key in planned}
    for profile, task, _ in keys:  # LOMPO and LMBRL share a model (the penalty is no model field); SLAC has its own
        assert keys[profile, task, "lompo"] == keys[profile, task, "lmbrl"] != keys[profile, task, "offline_slac"]


def test_reproduce_plan_covers_table_one_in_order() -> None:
    jobs = plan("cpu", seeds=2)
    generates = [j for j in jobs if j.action == "generate"]
    trains = [j for j in jobs if j.action == "train"]
    assert [j.task for j in generates] == ["walker_walk", "dclaw_screw", "adroit_pen", "door_open"]
    assert len(trains) == 11 * 5 * 2
    # One world model per dataset and seed for LOMPO and LMBRL together, one for Offline SLAC (a single head).
    models = [j for j in jobs if j.action == "model"]
    assert len(models) == 11 * 2 * 2 and {j.algo for j in models} == {"lompo", "offline_slac"}
    assert generates[3].kinds == ("medium-expert", "expert")  # no Door medium-replay in the paper
    # Every training comes after the generation of its dataset.
    made = set()
    for job in jobs:
        if job.action == "train":
            assert job.dataset_ids[0] in made
        made.update(job.dataset_ids if job.action != "train" else ())
    ablation = plan("paper", tasks=["dclaw"], algos=["lompo"], ablation=True)
    assert ablation[-1].dataset_ids == ("lompo/dclaw_screw/medium-expert-ablation-div25-v1",)  # 128 px: v1
    with pytest.raises(UserError, match="unknown algorithm"):
        plan("cpu", algos=["nope"])
    with pytest.raises(UserError, match="--seeds"):
        plan("cpu", seeds=0)


runner = CliRunner()


def test_reproduce_smoke_runs_the_jobs_then_skips_them_and_reports(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    monkeypatch.setenv("LOMPO_BENCH_HOME", str(tmp_path / "home"))
    args = [
        "reproduce",
        "--profile",
        "smoke",
        "--env",
        "pen",
        "--algo",
        "bc",
        "--seeds",
        "1",
        "--to",
        str(tmp_path / "lb"),
    ]
    result = runner.invoke(app, [*args, "--plan"])
    assert result.exit_code == 0, result.output
    assert result.output.count("[todo]") == 4  # generate + 3 trainings
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "4 jobs run, 0 were done" in result.output
    pen_rows = [line for line in result.output.splitlines() if line.startswith("| Adroit Pen")]
    assert len(pen_rows) == 3 and all("- / " not in row.split("|")[7] for row in pen_rows)  # BC filled in
    result = runner.invoke(app, args)
    assert result.exit_code == 0 and "0 jobs run, 4 were done" in result.output
    result = runner.invoke(app, ["report", "--profile", "smoke", "--to", str(tmp_path / "lb2")])
    assert result.exit_code == 0 and (tmp_path / "lb2" / "table_one.md").exists()


def test_report_and_reproduce_bad_input_exit_2(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("LOMPO_BENCH_HOME", str(tmp_path / "home"))
    for command in (
        ["report", "--profile", "smoke"],  # no runs yet, and no reference records of that profile
        ["report", "--profile", "giant", "--runs", str(tmp_path)],
        ["reproduce", "--env", "nope", "--plan"],
        ["reproduce", "--algo", "nope", "--plan"],
        ["reproduce", "--seeds", "0", "--plan"],
    ):
        result = runner.invoke(app, command)
        assert result.exit_code == 2, (command, result.output)
        assert "Traceback" not in result.output
        assert len([line for line in result.output.splitlines() if line.strip()]) == 1, (command, result.output)


COMMITTED = Path(__file__).resolve().parent.parent / "leaderboard" / "results" / "cpu"
SUPERSEDED = COMMITTED.parent / "superseded" / "cpu-old-draw"  # records kept out of the cpu table, still readable
NETWORKS_V1 = COMMITTED.parent / "superseded" / "networks-v1"  # the cpu records of networks version 1, rerun since
BC_LR_3E4 = COMMITTED.parent / "superseded" / "bc-lr-3e-4"  # BC at its learning rate before issue 32's rule


@pytest.mark.parametrize(
    "folder", [COMMITTED, SUPERSEDED, NETWORKS_V1, BC_LR_3E4], ids=["cpu", "superseded", "networks-v1", "bc-lr-3e-4"]
)
def test_the_committed_cpu_records_rebuild_table_one_on_a_fresh_clone(folder: Path, tmp_path: Path) -> None:
    """The reference runs committed under leaderboard/results/cpu/ (and the superseded ones) stay readable by the
    current leaderboard code, and each lands in its Table I cell (so `lompo-bench report --runs
    leaderboard/results/cpu` works anywhere)."""
    records = read_records(folder)
    assert records and all(r["profile"] == "cpu" and len(r["returns"]) == r["episodes"] for r in records)
    report = build_report(folder, tmp_path, profile="cpu")
    assert report.runs == len(records)
    rows = table_one_rows(aggregate(records), "cpu", "cpu")
    for record in records:  # its row: its dataset, on its content (records of a regenerated dataset have their own)
        (cell,) = [row for row in rows if row["environment"] == TASK_TITLES[record["task"]]
                   and row["dataset"].split(" (")[0] == record["kind"]
                   and row["dataset_fingerprint"] == (record.get("dataset_fingerprint") or "")]  # fmt: skip
        assert cell[f"{record['algo']}_seeds"] != "0", record["dataset_id"]


def test_built_in_algorithms_outside_the_paper_have_their_display_name_and_the_mark() -> None:
    from lompo_bench.leaderboard.paper import algorithm_title

    assert algorithm_title("drqbc") == "DrQ+BC (not in the paper)"
    assert algorithm_title("mine") == "mine (not in the paper)" and algorithm_title("bc") == "BC"


def test_committed_records_that_adopted_an_override_match_the_profile_as_it_stands() -> None:
    """A record with `adopted` was trained with `--set` values its profile has made its defaults since; if the
    profile moves away from them again, the record is no longer the profile's and must not count as it."""
    from lompo_bench.algorithms.registry import get_algorithm

    adopted = [r for folder in (COMMITTED, NETWORKS_V1) for r in read_records(folder) if r.get("adopted")]
    assert adopted, "the cpu LOMPO records of issue 20 (networks version 1) carry adopted={'actor': 'sac'}"
    for record in adopted:
        assert not record.get("overrides")
        config = get_algorithm(record["algo"]).make_config(record["profile"])
        for field, value in record["adopted"].items():
            assert getattr(config, field) == value, (record["algo"], record["dataset_id"], field)


def test_table_one_shows_algorithms_not_in_the_paper_after_its_five_and_the_claims_stay_the_papers(tmp_path) -> None:
    for seed, (bc, mine) in enumerate(((60.0, 95.0), (62.0, 97.0))):
        for kind in ("medium-expert", "expert"):
            _record(tmp_path, "bc", f"lompo/door_open/{kind}-cpu-v0", seed, bc)
            _record(tmp_path, "mine", f"lompo/door_open/{kind}-cpu-v0", seed, mine)
    _record(tmp_path, "another", "lompo/walker_walk/expert-cpu-v0", 0, 5.0)
    cells = aggregate(read_records(tmp_path))
    table = table_one_markdown(cells, "cpu", "cpu")
    assert "| BC | another (not in the paper) | mine (not in the paper) |" in table
    door = "| Door Open | expert | - / 0.0 | - / 0.0 | - / 0.0 | - / 0.0 | 61.0 [60.0, 62.0]† / 97.4 | - | 96.0"
    assert door in table  # ours alone in the newcomers' cells: "-" where it did not run
    assert "Not in the paper" in table
    rows = table_one_rows(cells, "cpu", "cpu")
    assert rows[-1]["mine_paper"] == "" and rows[-1]["mine_seeds"] == "2" and rows[-1]["bc_paper"] == "97.4"
    # BC does well on Door: an algorithm the paper did not run, above it, does not change the paper's claim.
    from lompo_bench.leaderboard.claims import bc_does_well_on_door, check_claims, claims_markdown

    assert bc_does_well_on_door(cells, "cpu", "cpu").verdict == "holds"
    assert "mine" not in claims_markdown(check_claims(cells, "cpu", "cpu"))
    from lompo_bench.leaderboard import stats

    if stats.have_rliable():
        report = build_report(tmp_path, tmp_path / "out", profile="cpu")
        assert "| mine (not in the paper) | 2 | 2 |" in report.aggregates
        assert "| mine (not in the paper) | BC | 2 | 1.00" in report.aggregates  # P(mine > BC) on both datasets


def test_records_of_two_contents_of_one_dataset_id_are_never_pooled(tmp_path: Path) -> None:
    """A regenerated dataset keeps its id: records carry the content's fingerprint (old ones none), and report keeps
    each content apart, in a row of its own, marked; claims compare only within one content."""
    walker = "lompo/walker_walk/medium-expert-cpu-v0"
    new = "0123456789abcdef"
    for seed in (0, 1):  # old records, written before fingerprints: the key is absent
        _record(tmp_path, "lompo", walker, seed, 90.0 + seed)
        _record(tmp_path, "lmbrl", walker, seed + 2, 10.0 + seed, dataset_fingerprint=new)
    _record(tmp_path, "lompo", walker, 4, 20.0, dataset_fingerprint=new)
    records = read_records(tmp_path)
    assert sum("dataset_fingerprint" in r for r in records) == 3
    cells = aggregate(records)
    lompo = sorted((c for c in cells if c.algo == "lompo"), key=lambda c: len(c.seeds))
    assert [(c.seeds, c.dataset_fingerprint) for c in lompo] == [([4], new), ([0, 1], None)]
    table = table_one_markdown(cells, "cpu", "cpu")
    assert "| Walker Walk | medium-expert (data 01234567) | 20.0† / 91.7 | 10.5 [10.0, 11.0]† / 76.3 |" in table
    assert "| Walker Walk | medium-expert (old data draw) | 90.5 [90.0, 91.0]† / 91.7 | - / 76.3 |" in table
    assert "never pooled" in table
    rows = [r for r in table_one_rows(cells, "cpu", "cpu") if r["environment"] == "Walker Walk"]
    assert [r["dataset_fingerprint"] for r in rows] == ["", new, "", ""]  # replay, the two contents, expert
    from lompo_bench.leaderboard.claims import lompo_beats_model_based_everywhere

    # LOMPO's 90.5 (old data) against LMBRL's 10.5 (new data) is no comparison: on the new data LOMPO has one seed.
    assert lompo_beats_model_based_everywhere(cells, "cpu", "cpu").verdict == "not enough runs"
    report = build_report(tmp_path, tmp_path / "out", profile="cpu")
    scores = json.loads((tmp_path / "out" / "scores.json").read_text())["cells"]
    assert sorted(str(c["dataset_fingerprint"]) for c in scores) == sorted(["None", new, new]) and report.cells == 3


def test_report_on_a_fresh_clone_shows_the_repositorys_reference_records_marked(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("LOMPO_BENCH_HOME", str(tmp_path / "fresh"))  # no runs folder at all
    result = runner.invoke(app, ["report", "--to", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "showing the repository's reference records" in result.output and str(COMMITTED) in result.output
    bc_cell = f"{_committed_mean('bc', WALKER_ME)} ["
    assert "| Walker Walk | medium-expert" in result.output and bc_cell in result.output  # BC's committed cell
    assert "reference records" in (tmp_path / "out" / "table_one.md").read_text()
    result = runner.invoke(app, ["report", "--profile", "paper", "--to", str(tmp_path / "out")])
    assert result.exit_code == 2
    (line,) = [line for line in result.output.splitlines() if line.strip()]
    assert "no runs folder" in line and f"lompo-bench report --runs {COMMITTED} --profile cpu" in line
    with pytest.raises(UserError, match="no runs folder"):  # an explicit --runs that is not there stays an error
        build_report(tmp_path / "nothing", tmp_path / "out", reference_fallback=False)


WALKER_ME = "lompo/walker_walk/medium-expert-cpu-v0"
DCLAW_ME = "lompo/dclaw_screw/medium-expert-cpu-v0"


def _committed_mean(algo: str, dataset_id: str) -> str:
    """The committed cell's mean as the table prints it, read from the reference records (never written by hand)."""
    records = (COMMITTED / algo / dataset_id).rglob("result.json")
    scores = [json.loads(path.read_text())["normalized_score"] for path in records]
    assert scores, f"no committed {algo} record of {dataset_id}"
    return f"{sum(scores) / len(scores):.1f}"


def _row(output: str, start: str) -> dict[str, str]:
    """Table I's row that starts so, by column title."""

    def cells(line: str) -> list[str]:
        return [cell.strip() for cell in line.strip().strip("|").split("|")]

    lines = output.splitlines()
    (header,) = [line for line in lines if line.startswith("| Environment |")]
    (row,) = [line for line in lines if line.startswith(start)]
    return dict(zip(cells(header), cells(row), strict=True))


@pytest.fixture
def no_stats(monkeypatch) -> None:
    """Tables without rliable's bootstrap (seconds per report on the committed records): not what is tested here."""
    from lompo_bench.leaderboard import stats

    monkeypatch.setattr(stats, "have_rliable", lambda: False)


def test_report_pools_several_runs_folders_and_refuses_one_run_twice(tmp_path: Path, no_stats) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    _record(first, "mine", WALKER_ME, 0, 60.0)
    _record(second, "mine", WALKER_ME, 1, 70.0)
    _record(second, "bc", WALKER_ME, 0, 20.0)
    out = ["--to", str(tmp_path / "out")]
    result = runner.invoke(app, ["report", "--runs", str(first), "--runs", str(second), *out])
    assert result.exit_code == 0, result.output
    row = _row(result.output, "| Walker Walk | medium-expert")
    assert row["mine (not in the paper)"] == "65.0 [60.0, 70.0]†" and row["BC"] == "20.0† / 15.6"  # mine pooled
    assert "3 runs in 2 cells" in result.output and "‡" not in result.output  # no reference records unasked
    scores = json.loads((tmp_path / "out" / "scores.json").read_text())
    assert scores["runs_roots"] == [str(first), str(second)]
    assert next(c for c in scores["cells"] if c["algo"] == "mine")["origins"] == [str(first), str(second)]
    _record(first, "bc", WALKER_ME, 0, 20.0)  # the same run in both folders (a copied folder): read once
    result = runner.invoke(app, ["report", "--runs", str(first), "--runs", str(second), *out])
    assert result.exit_code == 0 and "3 runs in 2 cells" in result.output, result.output
    copy = second / "bc" / WALKER_ME / "cpu-seed0" / "result.json"
    copy.write_text(json.dumps({**json.loads(copy.read_text()), "normalized_score": 30.0}))  # another run of seed 0
    result = runner.invoke(app, ["report", "--runs", str(first), "--runs", str(second), *out])
    assert result.exit_code == 2 and "Traceback" not in result.output
    (line,) = [line for line in result.output.splitlines() if line.strip()]
    assert "two different records of one run" in line and "pass only one" in line


def test_report_by_default_shows_your_runs_beside_the_reference_records(tmp_path: Path, monkeypatch, no_stats) -> None:
    monkeypatch.setenv("LOMPO_BENCH_HOME", str(tmp_path / "home"))
    runs = tmp_path / "home" / "runs"
    walker = json.loads(next((COMMITTED / "bc" / WALKER_ME).rglob("result.json")).read_text())["dataset_fingerprint"]
    dclaw = json.loads(next((COMMITTED / "bc" / DCLAW_ME).rglob("result.json")).read_text())["dataset_fingerprint"]
    _record(runs, "d3rlpy_bc", WALKER_ME, 0, 61.0, dataset_fingerprint=walker)  # a column of its own
    _record(runs, "bc", DCLAW_ME, 0, 11.0, kind="medium-expert", dataset_fingerprint=dclaw)  # BC's D'Claw cell
    result = runner.invoke(app, ["report", "--to", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert f"Your runs ({runs}) beside the repository's reference records ({COMMITTED}" in result.output
    row = _row(result.output, "| Walker Walk | medium-expert")
    bc_mean = _committed_mean("bc", WALKER_ME)
    assert row["BC"].startswith(f"{bc_mean} [") and "‡ / 15.6" in row["BC"]  # the committed cell, marked as such
    assert row["d3rlpy_bc (not in the paper)"] == "61.0†"  # the user's run, unmarked, in the same row
    claw = _row(result.output, "| D'Claw Screw | medium-expert")
    assert claw["BC"].startswith("11.0† / ")  # the user's BC cell alone, never pooled with the committed seeds
    assert claw["LOMPO"].split(" / ")[0].endswith("‡")
    assert "‡: the repository's reference records" in (tmp_path / "out" / "table_one.md").read_text()
    result = runner.invoke(app, ["report", "--runs", str(runs), "--to", str(tmp_path / "out")])
    assert result.exit_code == 0 and f"{bc_mean} [" not in result.output  # --runs: those folders alone
    assert "2 runs in 2 cells" in result.output


def test_report_with_a_runs_folder_that_is_not_there_is_one_line(tmp_path: Path, no_stats) -> None:
    _record(tmp_path / "a", "mine", WALKER_ME, 0, 60.0)
    for folders in ([tmp_path / "nothing"], [tmp_path / "a", tmp_path / "nothing"]):
        result = runner.invoke(app, ["report", *(f"--runs={f}" for f in folders), "--to", str(tmp_path / "out")])
        assert result.exit_code == 2 and "Traceback" not in result.output
        (line,) = [line for line in result.output.splitlines() if line.strip()]
        assert f"no runs folder at {tmp_path / 'nothing'}" in line
