"""Every CLI command through Typer's CliRunner, bad input included."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from PIL import Image
from typer.testing import CliRunner

from lompo_bench import task_names
from lompo_bench.cli import app

runner = CliRunner()
DEMO_ID = "lompo/adroit_pen/expert-smoke-v1"


def _no_traceback(result) -> None:
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_help_lists_the_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "tasks" in result.output and "demo" in result.output


def test_tasks_table_lists_every_task_with_its_dims() -> None:
    result = runner.invoke(app, ["tasks"])
    assert result.exit_code == 0, result.output
    for name in task_names():
        assert name in result.output
    walker_row = next(line for line in result.output.splitlines() if "walker_walk" in line)
    assert "6" in walker_row and "500" in walker_row  # action dim, episode length


def test_tasks_unknown_tag_exits_2() -> None:
    result = runner.invoke(app, ["tasks", "--tag", "nonexistent"])
    assert result.exit_code == 2
    _no_traceback(result)


def test_tasks_show_writes_a_strip(tmp_path: Path) -> None:
    out = tmp_path / "strips" / "walker.png"
    result = runner.invoke(app, ["tasks", "show", "walker", "--out", str(out), "--steps", "10", "--frames", "4"])
    assert result.exit_code == 0, result.output
    image = Image.open(out)
    assert image.size == (4 * 64 * 2, 64 * 2)  # 4 frames of 64 px, scaled 2x


def test_tasks_show_unknown_task_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["tasks", "show", "walkr", "--out", str(tmp_path / "x.png")])
    assert result.exit_code == 2
    _no_traceback(result)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "walker" in lines[0]
    assert not (tmp_path / "x.png").exists()


def test_tasks_show_bad_values_exit_2(tmp_path: Path) -> None:
    for args in (["--frames", "0"], ["--steps", "0"], ["--image-size", "4"], ["--steps", "many"]):
        result = runner.invoke(app, ["tasks", "show", "pen", "--out", str(tmp_path / "x.png"), *args])
        assert result.exit_code == 2, (args, result.output)
        _no_traceback(result)


def test_unknown_flag_exits_2() -> None:
    result = runner.invoke(app, ["demo", "--no-such-flag"])
    assert result.exit_code == 2


def test_demo_writes_sheets_and_summary_samples_a_smoke_dataset_and_trains_on_it(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    result = runner.invoke(app, ["demo", "--out", str(tmp_path), "--task", "walker", "--task", "door", "--steps", "12"])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert [s["task"] for s in summary] == ["walker_walk", "door_open"]
    for entry in summary:
        assert entry["agent_steps"] == 12 and entry["steps_per_second"] > 0
        assert Image.open(entry["sheet"]).size[1] == 64 * 2
    assert "walker_walk" in result.output
    assert "dataset lompo/adroit_pen/expert-smoke-v1: 50 transitions" in result.output
    assert "(4, 50, 64, 64, 3)" in result.output
    # The read cache lives under $LOMPO_BENCH_HOME, the dataset folder holds only what Minari wrote + the expert.
    dataset_folder = tmp_path / "minari" / "lompo" / "adroit_pen" / "expert-smoke-v1"
    assert sorted(p.name for p in dataset_folder.iterdir()) == ["data", "sac_expert.zip"]
    caches = [p for p in (Path(os.environ["LOMPO_BENCH_HOME"]) / "cache" / DEMO_ID).iterdir() if p.is_dir()]
    assert len(caches) == 1 and (caches[0] / "manifest.json").exists()
    assert "LOMPO (smoke) trained on it returns" in result.output
    run = tmp_path / "runs" / "lompo" / "lompo" / "adroit_pen" / "expert-smoke-v1" / "smoke-seed0"
    assert json.loads((run / "result.json").read_text())["algo"] == "lompo"


def test_demo_unknown_task_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["demo", "--out", str(tmp_path), "--task", "nope", "--no-dataset"])
    assert result.exit_code == 2
    _no_traceback(result)


def test_generate_smoke_writes_datasets_and_reports(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    result = runner.invoke(
        app,
        [
            "generate",
            "--env",
            "pen",
            "--profile",
            "smoke",
            "--kind",
            "expert",
            "--workers",
            "1",
            "--out",
            str(tmp_path / "work"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "lompo/adroit_pen/expert-smoke-v1: 50 transitions" in result.output
    assert "SAC expert return" in result.output
    assert (tmp_path / "minari" / "lompo" / "adroit_pen" / "expert-smoke-v1" / "data").is_dir()
    assert not (tmp_path / "minari" / "lompo" / "adroit_pen" / "medium-replay-smoke-v1").exists()


def test_generate_bad_input_is_one_line_and_exit_2(tmp_path: Path) -> None:
    cases = [
        (["--env", "walkr"], "walker"),
        (["--env", "pen", "--profile", "huge"], "profile"),
        (["--env", "pen", "--kind", "best"], "kind"),
        (["--env", "pen", "--workers", "0"], "workers"),
        (["--env", "walker", "--ablation"], "D'Claw"),
    ]
    for args, word in cases:
        result = runner.invoke(app, ["generate", *args, "--out", str(tmp_path)])
        assert result.exit_code == 2, (args, result.output)
        _no_traceback(result)
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert len(lines) == 1 and word in lines[0], (args, result.output)
    assert not any(tmp_path.iterdir())  # nothing was started


def test_datasets_list_info_verify_pack(tmp_path: Path, monkeypatch) -> None:
    from .helpers import write_synthetic_dataset

    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    result = runner.invoke(app, ["datasets", "list"])
    assert result.exit_code == 0 and "no datasets" in result.output
    write_synthetic_dataset("test/pen/cli-v0", [50, 50])
    result = runner.invoke(app, ["datasets", "list"])
    assert result.exit_code == 0 and "test/pen/cli-v0" in result.output and "100" in result.output
    result = runner.invoke(app, ["datasets", "info", "test/pen/cli-v0"])
    assert result.exit_code == 0, result.output
    assert "episode returns (2 episodes)" in result.output and "total_steps: 100" in result.output
    result = runner.invoke(app, ["datasets", "verify", "test/pen/cli-v0"])
    assert result.exit_code == 0 and "ok" in result.output
    result = runner.invoke(app, ["datasets", "pack", "test/pen/cli-v0", "--out", str(tmp_path / "share")])
    assert result.exit_code == 0 and (tmp_path / "share" / "manifest.json").exists()


def test_datasets_errors_are_one_line_and_exit_2(tmp_path: Path, monkeypatch) -> None:
    from .helpers import write_synthetic_dataset

    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    for command in (
        ["datasets", "info", "lompo/nope-v0"],
        ["datasets", "verify", "lompo/nope-v0"],
        ["datasets", "pack", "lompo/nope-v0"],
        ["datasets", "info", "../etc"],
    ):
        result = runner.invoke(app, command)
        assert result.exit_code == 2, (command, result.output)
        _no_traceback(result)
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert len(lines) == 1, (command, result.output)
    write_synthetic_dataset("test/pen/broken-v0", [50])
    (tmp_path / "minari" / "test/pen/broken-v0" / "data" / "main_data.hdf5").write_bytes(b"garbage")
    result = runner.invoke(app, ["datasets", "verify", "test/pen/broken-v0"])
    assert result.exit_code == 2 and "main_data.hdf5" in result.output
    _no_traceback(result)


def test_download_and_import_bad_input_exit_2(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    monkeypatch.delenv("LOMPO_BENCH_DATA_URL", raising=False)
    cases = [
        ["download", "lompo/walker_walk/expert-v0"],  # no server configured
        ["download", "lompo/walker_walk/expert-v0", "--base-url", "http://127.0.0.1:9/"],  # nothing listens
        ["import", "vd4rl", str(tmp_path / "missing"), "--task", "walker", "--kind", "expert"],
        ["import", "vd4rl", str(tmp_path), "--task", "walkr", "--kind", "expert"],
    ]
    for command in cases:
        result = runner.invoke(app, command)
        assert result.exit_code == 2, (command, result.output)
        _no_traceback(result)
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert len(lines) == 1, (command, result.output)


def test_algos_train_evaluate_on_a_smoke_run(tmp_path: Path, monkeypatch) -> None:
    from .helpers import write_synthetic_dataset

    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    monkeypatch.setenv("LOMPO_BENCH_HOME", str(tmp_path / "home"))
    result = runner.invoke(app, ["algos"])
    assert result.exit_code == 0 and "lompo" in result.output
    write_synthetic_dataset("test/pen/train-v0", [20, 20])
    args = ["--algo", "lompo", "--dataset", "test/pen/train-v0", "--profile", "smoke", "--device", "cpu"]
    result = runner.invoke(app, ["train", *args])
    assert result.exit_code == 0, result.output
    assert "lompo on test/pen/train-v0 (smoke, seed 0): return" in result.output
    # No terminal here (as in `lompo-bench train ... > run.log`): progress comes as plain lines.
    assert "model (Eq. 8): started, " in result.output and "actor-critic: done in " in result.output
    run = tmp_path / "home" / "runs" / "lompo" / "test/pen/train-v0" / "smoke-seed0"
    assert {"config.json", "checkpoint.pt", "metrics.json", "result.json"} <= {p.name for p in run.iterdir()}
    result = runner.invoke(app, ["evaluate", *args, "--episodes", "2"])
    assert result.exit_code == 0, result.output
    assert "over 2 episodes" in result.output
    assert json.loads((run / "evaluation.json").read_text())["episodes"] == 2

    # `runs` lists it as done with its score; a second seed held by another process shows as running.
    from lompo_bench.algorithms.runs import exclusive_run  # the lock a training process holds

    other = run.with_name("smoke-seed1")
    other.mkdir()
    (other / "config.json").write_text((run / "config.json").read_text().replace('"seed": 0', '"seed": 1'))
    (other / "metrics.csv").write_text(
        "phase,step,metric,value\nmodel,30,model_loss,1.0\nevaluation,5,mean_return,7.5\n"
    )
    with exclusive_run(other):  # (no COLUMNS: a pipe reports 80, and the table still shows every column whole)
        result = runner.invoke(app, ["runs"])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if "test/pen/train-v0" in line]
    assert len(lines) == 2 and "done" in lines[0]  # (no score: the synthetic dataset has no expert reference)
    assert f"running (pid {os.getpid()})" in lines[1] and "model 30/" in lines[1] and "7.5" in lines[1]
    result = runner.invoke(app, ["runs"])
    assert "stopped" in result.output
    result = runner.invoke(app, ["runs", "--runs", str(tmp_path / "nothing")])
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1


def test_train_and_evaluate_bad_input_is_one_line_and_exit_2(tmp_path: Path, monkeypatch) -> None:
    from .helpers import write_synthetic_dataset

    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    monkeypatch.setenv("LOMPO_BENCH_HOME", str(tmp_path / "home"))
    write_synthetic_dataset("test/pen/bad-v0", [20])
    good = ["--dataset", "test/pen/bad-v0", "--profile", "smoke"]
    cases = [
        ["train", "--algo", "lmopo", *good],  # unknown algorithm
        ["train", "--algo", "lompo", "--dataset", "test/pen/missing-v0", "--profile", "smoke"],
        ["train", "--algo", "lompo", "--dataset", "test/pen/bad-v0", "--profile", "giant"],
        ["train", "--algo", "lompo", *good, "--device", "tpu"],
        ["train", "--algo", "lompo", *good, "--seed", "x"],
        ["evaluate", "--algo", "lompo", *good],  # nothing trained yet
        ["evaluate", "--algo", "lompo", *good, "--episodes", "0"],
    ]
    for command in cases:
        result = runner.invoke(app, command)
        assert result.exit_code == 2, (command, result.output)
        _no_traceback(result)
        if command[-1] != "x":  # Click's own usage errors print a usage block
            lines = [line for line in result.output.splitlines() if line.strip()]
            assert len(lines) == 1, (command, result.output)


def test_progress_without_a_terminal_is_plain_lines_at_a_steady_pace(monkeypatch) -> None:
    from lompo_bench import progress

    clock = [0.0]
    monkeypatch.setattr(progress.time, "monotonic", lambda: clock[0])
    lines: list[str] = []
    bar = progress.LineProgress(lines.append)
    bar.start("model", 1000)
    for i in range(1, 1001):  # fast: a line per 5%
        clock[0] += 0.01
        bar.update(i, "loss 1.5")
    bar.finish()
    assert lines[0] == "model: started, 1000 to do" and len(lines) == 1 + 20 + 1
    assert lines[1] == "model: 50/1000 (5%) 100/s ETA 0m10s loss 1.5"
    assert lines[-1] == "model: done in 0m10s"
    lines.clear()
    bar.start("actor-critic", 10_000)
    for i in range(1, 201):  # slow: a line per 30 s
        clock[0] += 1.0
        bar.update(i)
    assert len(lines) == 1 + 200 // 30 and lines[1] == "actor-critic: 30/10000 (0%) 1/s ETA 2h46m"


def test_line_progress_of_a_resumed_stage_counts_its_rate_from_the_resume(monkeypatch) -> None:
    from lompo_bench import progress

    clock = [100.0]
    monkeypatch.setattr(progress.time, "monotonic", lambda: clock[0])
    lines: list[str] = []
    bar = progress.LineProgress(lines.append)
    bar.start("CQL", 30_000)
    for i in range(13_001, 13_301):  # resumed from a checkpoint at 13,000; 7 updates a second
        clock[0] += 1 / 7
        bar.update(i)
    assert lines[1] == "CQL: 13001/30000 (43%) ?/s ETA ?"
    assert re.fullmatch(r"CQL: 1321\d/30000 \(44%\) 7/s ETA 39m5\ds", lines[2]), lines[2]  # not 4.4e+04/s, ETA 0m00s


def test_set_overrides_a_setting_in_a_run_folder_of_its_own_kept_out_of_table_one(tmp_path: Path, monkeypatch) -> None:
    from .helpers import write_synthetic_dataset

    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    monkeypatch.setenv("LOMPO_BENCH_HOME", str(tmp_path / "home"))
    write_synthetic_dataset("test/pen/set-v0", [20, 20])
    args = ["--algo", "bc", "--dataset", "test/pen/set-v0", "--profile", "smoke", "--device", "cpu"]
    for command in (["--set", "stepz=7"], ["--set", "steps=many"], ["--set", "steps"], ["--set", "augment=maybe"]):
        result = runner.invoke(app, ["train", *args, *command])
        assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1, (command, result.output)
    assert "did you mean steps" in runner.invoke(app, ["train", *args, "--set", "stepz=7"]).output
    result = runner.invoke(app, ["train", *args, "--set", "steps=10", "--set", "augment=false"])
    assert result.exit_code == 0, result.output
    runs = tmp_path / "home" / "runs" / "bc" / "test/pen/set-v0"
    (folder,) = runs.iterdir()
    assert folder.name.startswith("smoke+") and folder.name.endswith("-seed0")
    overrides = {"steps": 10, "augment": False}
    assert json.loads((folder / "config.json").read_text())["config"]["steps"] == 10
    record = json.loads((folder / "result.json").read_text())
    assert record["overrides"] == overrides and json.loads((folder / "overrides.json").read_text()) == overrides
    csv_text = (folder / "metrics.csv").read_text()
    assert "train,10," in csv_text and "train,15," not in csv_text  # it stopped at 10 steps
    result = runner.invoke(app, ["evaluate", *args, "--set", "steps=10", "--set", "augment=false", "--episodes", "1"])
    assert result.exit_code == 0 and json.loads((folder / "evaluation.json").read_text())["overrides"] == overrides
    # The leaderboard leaves it out unless asked.
    from lompo_bench.leaderboard.report import build_report

    assert build_report(tmp_path / "home" / "runs", tmp_path / "lb", profile="smoke").runs == 0
    assert build_report(tmp_path / "home" / "runs", tmp_path / "lb", "smoke", include_overrides=True).runs == 1
