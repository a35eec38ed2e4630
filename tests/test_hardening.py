"""Bad input is refused in one line with exit code 2, before anything is written (issue 33): out-of-range config
settings and seeds, records that do not validate, a full disk, a policy that raises or returns what is no action;
and the quiet wrong results: clipped actions and evaluations of another episode count, marked in `report`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from lompo_bench import seeds
from lompo_bench.algorithms import bc, cql, drqbc, lmbrl, lompo, offline_slac
from lompo_bench.cli import app
from lompo_bench.errors import UserError
from tests.helpers import write_synthetic_dataset

runner = CliRunner()
DS = "test/pen/hardening-v0"


@pytest.fixture
def dataset(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    monkeypatch.setenv("LOMPO_BENCH_HOME", str(tmp_path / "home"))
    write_synthetic_dataset(DS, [20])
    return tmp_path / "home" / "runs"


def _one_line_exit_2(command: list[str], after_progress: bool = False) -> str:
    """The one line a refused command prints (with `after_progress`, the one error line after progress lines)."""
    result = runner.invoke(app, command)
    assert result.exit_code == 2, (command, result.output)
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = [line for line in result.output.splitlines() if line.strip()]
    if after_progress:
        lines = [line for line in lines if line.startswith("Error:")]
    assert len(lines) == 1, (command, result.output)
    return lines[0]


# ----- item 4: every config field's range, checked where the config is made -----


@pytest.mark.parametrize(
    "algo, setting",
    [
        ("lompo", "model_steps=0"),
        ("lompo", "model_steps=-3"),
        ("lompo", "eval_every=0"),
        ("lompo", "ac_cycle=0"),
        ("lompo", "model_batch=0"),
        ("lompo", "ensemble=0"),
        ("lompo", "model_lr=-1"),
        ("lompo", "eval_episodes=0"),
        ("lompo", "ac_updates=-5"),
        ("lompo", "conv_channels=4,0,4,4"),
        ("lompo", "tau=0"),
        ("lompo", "discount=1.5"),
        ("lompo", "model_lr=nan"),
        ("bc", "batch=0"),
        ("bc", "frames=0"),
        ("bc", "steps=0"),
        ("cql", "cql_actions=0"),
        ("drqbc", "actor_every=0"),
    ],
)
def test_an_out_of_range_setting_is_one_line_and_exit_2_and_no_run_folder(dataset, algo, setting) -> None:
    line = _one_line_exit_2(["train", "--algo", algo, "--dataset", DS, "--profile", "smoke", "--set", setting])
    assert setting.split("=")[0] in line and "must be" in line
    assert not dataset.exists()  # nothing written


def test_every_profile_of_every_algorithm_is_in_range() -> None:
    for module in (lompo, lmbrl, offline_slac, bc, cql, drqbc):
        for profile in module.PROFILES:
            module.make_config(profile)  # checks every field
    with pytest.raises(UserError, match="real_fraction"):
        lompo.resolve_for_task(lompo.make_config("smoke", initial_latent=0), "walker_walk")


# ----- item 5: seeds -----


def test_seeds_out_of_range_are_one_line_and_exit_2_and_nothing_is_written(dataset) -> None:
    for seed in ("-1", str(seeds.MAX_RUN_SEED + 1), "99999999999"):
        line = _one_line_exit_2(["train", "--algo", "bc", "--dataset", DS, "--profile", "smoke", "--seed", seed])
        assert "seed" in line
        _one_line_exit_2(["evaluate", "--algo", "bc", "--dataset", DS, "--profile", "smoke", "--seed", seed])
    assert not dataset.exists()  # no run folder that `runs` would list as stopped
    assert seeds.check_run_seed(seeds.MAX_RUN_SEED) == seeds.MAX_RUN_SEED
    assert seeds.evaluation_seed(seeds.MAX_RUN_SEED) + seeds.EPISODES_PER_SEED <= 2**31
    assert seeds.reevaluation_seed(seeds.MAX_RUN_SEED) + seeds.EPISODES_PER_SEED <= 2**31
    assert seeds.expert_rollout_seed(seeds.MAX_GENERATION_SEED, seeds.ROLLOUTS_PER_SEED) <= 2**31
    with pytest.raises(UserError, match="generation seed"):
        seeds.check_generation_seed(-1)


# ----- item 10: a malformed download manifest -----


@pytest.mark.parametrize(
    "manifest",
    [
        {"format_version": 1, "datasets": [{"id": 3}]},
        {"format_version": 1, "datasets": {"id": "a"}},
        {"format_version": 1, "datasets": ["x"]},
        {"format_version": 1, "datasets": [{"id": "a/b/c-v0", "url": "a.tar", "size": "9", "sha256": "0" * 64}]},
        {"format_version": 1, "datasets": [{"id": "a/b/c-v0", "url": "a.tar", "size": 9, "sha256": "zz"}]},
        [1, 2],
    ],
)
def test_a_malformed_manifest_is_one_line_and_exit_2(tmp_path: Path, monkeypatch, manifest) -> None:
    import json

    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    (tmp_path / "server").mkdir()
    (tmp_path / "server" / "manifest.json").write_text(json.dumps(manifest))
    line = _one_line_exit_2(["download", "a/b/c-v0", "--base-url", (tmp_path / "server").as_uri()])
    assert "manifest" in line
    assert not (tmp_path / "minari").exists()


# ----- item 14: a module named by --algo is read before it is run -----


def test_a_module_that_is_no_algorithm_is_refused_without_being_imported(tmp_path: Path, monkeypatch) -> None:
    import sys

    from lompo_bench.algorithms.registry import resolve

    (tmp_path / "loud.py").write_text("raise SystemExit('imported!')\n")
    (tmp_path / "quiet_pkg").mkdir()
    (tmp_path / "quiet_pkg" / "__init__.py").write_text("")
    (tmp_path / "quiet_pkg" / "mod.py").write_text("import os\nos.environ['LOMPO_TEST_RAN'] = '1'\nNAME = 'x'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("LOMPO_TEST_RAN", raising=False)
    (tmp_path / "quiet_pkg" / "other.py").write_text("import os\nos.environ['LOMPO_TEST_RAN'] = '1'\n")
    for spec in ("loud", "quiet_pkg.other", "this"):
        with pytest.raises(UserError, match="not an algorithm module"):
            resolve(spec)
    with pytest.raises(UserError, match="has no 'thing'"):
        resolve("quiet_pkg.mod:thing")
    assert "loud" not in sys.modules and "quiet_pkg.mod" not in sys.modules and "this" not in sys.modules
    assert "LOMPO_TEST_RAN" not in __import__("os").environ
    line = _one_line_exit_2(["train", "--algo", "this", "--dataset", "x/y/z-v0"])
    assert "not an algorithm module" in line and "Beautiful is better" not in line


# ----- items 7 and 8: folders that cannot be written, a full disk -----


@pytest.fixture
def small_disk(tmp_path: Path):
    """A 128 KiB tmpfs (root only; skipped elsewhere), unmounted after the test."""
    import subprocess

    mount = tmp_path / "small"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=128k", "tmpfs", str(mount)], capture_output=True).returncode:
        pytest.skip("needs root to mount a small tmpfs")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_home_or_datasets_path_that_is_a_file_is_one_line(dataset, tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "a_file").write_text("x")
    monkeypatch.setenv("LOMPO_BENCH_HOME", str(tmp_path / "a_file"))
    line = _one_line_exit_2(["train", "--algo", "bc", "--dataset", DS, "--profile", "smoke"])
    assert "a_file" in line and "LOMPO_BENCH_HOME" in line
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "a_file"))
    for command in (["datasets", "list"], ["datasets", "verify", DS]):
        line = _one_line_exit_2(command)
        assert "a_file" in line or "MINARI_DATASETS_PATH" in line


def test_a_full_disk_is_one_line_naming_the_folder(dataset, small_disk, monkeypatch) -> None:
    monkeypatch.setenv("LOMPO_BENCH_HOME", str(small_disk / "home"))  # the read cache (258 KB of pixels) cannot fit
    line = _one_line_exit_2(["train", "--algo", "bc", "--dataset", DS, "--profile", "smoke"], after_progress=True)
    assert "no space left in" in line and str(small_disk) in line


def test_a_read_only_home_is_one_line(dataset, small_disk, monkeypatch) -> None:
    import subprocess

    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    monkeypatch.setenv("LOMPO_BENCH_HOME", str(small_disk))
    line = _one_line_exit_2(["train", "--algo", "bc", "--dataset", DS, "--profile", "smoke"])
    assert "cannot write" in line and str(small_disk) in line


def test_a_checkpoint_that_does_not_fit_is_a_disk_full_error(tmp_path: Path, monkeypatch) -> None:
    import errno

    from lompo_bench.algorithms import checkpoints

    def failing_save(obj, f):
        raise RuntimeError("[enforce fail at inline_container.cc:664] . PytorchStreamWriter failed writing file")

    monkeypatch.setattr(checkpoints.torch, "save", failing_save)
    monkeypatch.setattr(checkpoints, "DISK_FULL_BELOW", float("inf"))  # as if the disk were full
    with pytest.raises(OSError) as raised:
        checkpoints.save_checkpoint(tmp_path / "checkpoint.pt", {})
    assert raised.value.errno == errno.ENOSPC and raised.value.filename == str(tmp_path / "checkpoint.pt")
    assert not list(tmp_path.iterdir())  # nothing half-written left


# ----- item 9: the read cache deleted under a running process -----


def test_a_deleted_read_cache_is_one_line_with_nothing_ignored(dataset, monkeypatch) -> None:
    import shutil
    import sys

    from lompo_bench.data import SequenceSampler, open_cache

    cache = open_cache(DS)
    shutil.rmtree(cache.pixels_path.parent)
    unraisable = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    with pytest.raises(UserError, match="was deleted while this process used it"):
        SequenceSampler(cache, 2, 4)
    import gc

    gc.collect()
    assert not unraisable
    assert open_cache(DS).num_episodes == 1  # a new process (or call) builds it again


# ----- item 5 (the rest): generation and outside-policy seeds -----


def test_generation_and_outside_policy_seeds_out_of_range_are_one_line_and_nothing_is_written(
    dataset, tmp_path: Path, monkeypatch
) -> None:
    from lompo_bench.algorithms.external_policy import evaluate_policy, evaluate_policy_file
    from lompo_bench.dataset_gen.pipeline import generate, generate_ablation

    home = tmp_path / "home"
    for seed in ("-1", "99999999999", str(seeds.MAX_GENERATION_SEED + 1)):
        line = _one_line_exit_2(["generate", "--env", "pen", "--profile", "smoke", "--seed", seed])
        assert "generation seed" in line and seed in line
    _one_line_exit_2(["generate", "--env", "dclaw", "--profile", "smoke", "--ablation", "--seed", "-1"])
    for seed in ("-1", str(seeds.MAX_RUN_SEED + 1)):
        line = _one_line_exit_2(["evaluate-policy", str(tmp_path / "policy.pt"), "--dataset", DS, "--seed", seed])
        assert "seed" in line
    assert not (home / "generate").exists() and not dataset.exists()
    # The library functions check them too (the Python API), before anything is written.
    with pytest.raises(UserError, match="generation seed"):
        generate("adroit_pen", profile="smoke", seed=99999999999, out=tmp_path / "work")
    with pytest.raises(UserError, match="ablation"):
        generate_ablation(profile="smoke", seed=seeds.MAX_GENERATION_SEED, out=tmp_path / "work")
    with pytest.raises(UserError, match="seed"):
        evaluate_policy(lambda observation: np.zeros(24, np.float32), DS, algo="mine", seed=-1, episodes=1)
    with pytest.raises(UserError, match="seed"):
        evaluate_policy_file(tmp_path / "policy.pt", DS, seed=-1)
    assert not (tmp_path / "work").exists() and not dataset.exists()


# ----- item 6: report reads only records that validate -----


def _write_record(root: Path, algo: str, seed: int, score: Any = 50.0, *, dataset_id: str = "", **extra) -> Path:
    """A result record of `algo` on Table I's Walker Walk medium-expert (cpu), as training writes it."""
    from lompo_bench.records import ResultRecord

    dataset_id = dataset_id or "lompo/walker_walk/medium-expert-cpu-v0"
    episodes = extra.pop("episodes", 10)
    mean = 10.0 * (seed + 1)
    fields = dict(algo=algo, dataset_id=dataset_id, task="walker_walk", kind="medium-expert", dataset_profile="cpu")
    fields |= dict(dataset_source="lompo-bench", ablation_factor=None, dataset_transitions=20000, profile="cpu")
    fields |= dict(seed=seed, episodes=episodes, returns=[mean] * episodes, mean_return=mean, std_return=0.0)
    fields |= dict(normalized_score=50.0, ref_min_score=0.0, ref_max_score=100.0, reference_provisional=False)
    fields |= dict(train_seconds=1.0, code_version="test", evaluation_code_version="test")
    fields |= dict(finished_at="2026-11-26T00:00:00Z")
    record = ResultRecord(**{**fields, **extra}).to_dict() | {"normalized_score": score}
    path = root / algo / dataset_id / f"cpu-seed{seed}" / "result.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(record))  # NaN as the JSON module writes it
    return path


@pytest.fixture
def no_stats(monkeypatch) -> None:
    """Tables without rliable's bootstrap (seconds per report): not what is tested here."""
    from lompo_bench.leaderboard import stats

    monkeypatch.setattr(stats, "have_rliable", lambda: False)


def _table_row(output: str, title: str = "| Walker Walk | medium-expert |") -> list[str]:
    (row,) = [line for line in output.splitlines() if line.startswith(title)]
    return [cell.strip() for cell in row.split("|")[3:-1]]  # the algorithms' cells


def test_report_skips_a_record_that_does_not_validate_with_one_warning_line_naming_it(tmp_path, no_stats) -> None:
    runs = tmp_path / "runs"
    _write_record(runs, "lompo", 0, 60.0)
    _write_record(runs, "lompo", 1, 70.0)
    bad = [
        _write_record(runs, "lompo", 2, float("nan")),  # a NaN score
        _write_record(runs, "bc", 0, "12.5"),  # a string score
        _write_record(runs, "cql", 0, float("inf")),
    ]
    listed = runs / "lmbrl" / "x" / "cpu-seed0" / "result.json"
    listed.parent.mkdir(parents=True)
    listed.write_text("[1, 2]")  # a JSON list
    bad.append(listed)
    result = runner.invoke(app, ["report", "--runs", str(runs), "--profile", "cpu", "--to", str(tmp_path / "out")])
    assert result.exit_code == 0 and "Traceback" not in result.output, result.output
    warnings = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(warnings) == len(bad), result.stderr
    for path in bad:
        (line,) = [line for line in warnings if str(path) in line]
        assert line.startswith("warning: skipped")
    cells = _table_row(result.stdout)
    assert cells[0] == "65.0 [60.0, 70.0] / 91.7" and "nan" not in result.stdout  # LOMPO: the two valid seeds
    assert cells[4].startswith("- /")  # BC: its only record skipped
    assert "2 runs in 1 cells" in result.stdout


# ----- item 8 (the rest): generate on a full disk -----


def test_generate_on_a_full_disk_is_one_line_naming_the_work_folder(tmp_path: Path, small_disk, monkeypatch) -> None:
    monkeypatch.setenv("LOMPO_BENCH_HOME", str(small_disk / "home"))  # SAC's first checkpoint cannot fit
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    line = _one_line_exit_2(["generate", "--env", "pen", "--profile", "smoke", "--workers", "1"], after_progress=True)
    work = small_disk / "home" / "generate" / "adroit_pen" / "smoke-seed0"
    assert line.startswith(f"Error: no space left in {work}:"), line
    assert not (tmp_path / "minari").exists()


_WRITE_ON_FULL_DISK = """
import errno, sys
from lompo_bench.errors import os_error_line
from tests.helpers import write_synthetic_dataset
try:
    write_synthetic_dataset("test/pen/full-v0", [20, 30])
except OSError as error:
    assert error.errno == errno.ENOSPC, error
    print(os_error_line(error))
    sys.exit(2)
"""


def test_a_dataset_that_does_not_fit_is_enospc_naming_its_folder_not_a_segfault(tmp_path: Path, small_disk) -> None:
    """HDF5 segfaults when it closes a file after a write failed for want of room (`generate` died with exit 139):
    the writer allocates each episode's room first. Run in a process of its own (a segfault would end pytest's)."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "MINARI_DATASETS_PATH": str(small_disk), "OMP_NUM_THREADS": "1"}
    repo = Path(__file__).resolve().parent.parent
    done = subprocess.run([sys.executable, "-c", _WRITE_ON_FULL_DISK], env=env, cwd=repo, capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    assert done.returncode == 2, (done.returncode, done.stderr[-2000:])
    assert done.stdout.strip().startswith(f"no space left in {small_disk / 'test' / 'pen'}:"), done.stdout
    assert [p.name for p in (small_disk / "test" / "pen").iterdir()] == [".full-v0.lock"]  # nothing half-written


def test_the_room_reserved_for_each_episode_leaves_the_hdf5_file_byte_identical(tmp_path: Path, monkeypatch) -> None:
    """Datasets are identified by their HDF5 file's bytes (`data.cache.source_fingerprint`): writing with the room
    reserved gives the bytes writing without it gives."""
    import hashlib

    from lompo_bench.data import writer

    digests = []
    for name, reserve in (("with", writer._reserve_room), ("without", lambda path, episode: None)):
        monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / name))
        monkeypatch.setattr(writer, "_reserve_room", reserve)
        write_synthetic_dataset("test/pen/bytes-v0", [20, 7, 1, 33])
        path = tmp_path / name / "test" / "pen" / "bytes-v0" / "data" / writer.MAIN_FILE
        digests.append(hashlib.sha256(path.read_bytes()).hexdigest())
    assert digests[0] == digests[1]


# ----- item 11: a policy that raises -----


class _RaisingPolicy(torch.nn.Module):
    """A saved policy that raises on its third step (TorchScript: torch.jit.Error, no RuntimeError)."""

    def __init__(self) -> None:
        super().__init__()
        self.steps = 0

    def forward(self, pixels: torch.Tensor, proprio: torch.Tensor) -> torch.Tensor:
        self.steps += 1
        if self.steps == 3:
            raise ValueError("boom: the policy broke")
        return torch.zeros(24)


class _Failing:
    """A Python policy raising at `step` of `episode` (from 1), or in reset() before `episode` when step is 0."""

    def __init__(self, episode: int, step: int) -> None:
        self.episode, self.step, self.at = episode, step, (0, 0)

    def reset(self) -> None:
        self.at = (self.at[0] + 1, 0)
        if self.at == (self.episode, self.step):
            raise KeyError("no frames yet")

    def act(self, observation: dict) -> np.ndarray:
        self.at = (self.at[0], self.at[1] + 1)
        if self.at == (self.episode, self.step):
            raise ValueError("boom: the policy broke")
        return np.zeros(24, np.float32)


@pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")  # torch 2.13 deprecates TorchScript; still read
def test_a_policy_that_raises_is_one_line_naming_the_episode_and_step(dataset, tmp_path: Path) -> None:
    import lompo_bench

    with pytest.raises(UserError) as raised:
        lompo_bench.evaluate_policy(_Failing(2, 3), DS, algo="mine", episodes=2)
    assert isinstance(raised.value, lompo_bench.PolicyError)  # a UserError: one line and exit 2 in the CLI
    message = str(raised.value)
    assert "step 3 of episode 2 (of 2)" in message and "ValueError: boom: the policy broke" in message
    assert "\n" not in message and isinstance(raised.value.__cause__, ValueError)  # the policy's own, kept
    with pytest.raises(UserError, match=r"reset\(\) raised before episode 2: KeyError: 'no frames yet'"):
        lompo_bench.evaluate_policy(_Failing(2, 0), DS, algo="mine", episodes=2)

    saved = tmp_path / "raising.pt"
    torch.jit.save(torch.jit.script(_RaisingPolicy()), saved)
    line = _one_line_exit_2(["evaluate-policy", str(saved), "--dataset", DS, "--episodes", "1"], after_progress=True)
    assert "step 3 of episode 1" in line and line.endswith("builtins.ValueError: boom: the policy broke"), line
    assert not dataset.exists()  # nothing written


# ----- item 12: actions outside [-1, 1], of integers, or not finite -----


class _Acting:
    """A policy returning `value` as its first action component (and 0.5 elsewhere), `bad` at step `at`."""

    def __init__(self, value: float = 0.5, dtype: Any = np.float32, at: int = 0, bad: float = 0.0) -> None:
        self.value, self.dtype, self.at, self.bad, self.step = value, dtype, at, bad, 0

    def reset(self) -> None:
        self.step = 0

    def act(self, observation: dict) -> np.ndarray:
        self.step += 1
        action = np.full(24, 0.5)
        action[0] = self.bad if self.step == self.at else self.value
        return action.astype(self.dtype)


class _OutOfRange(torch.nn.Module):
    def forward(self, pixels: torch.Tensor, proprio: torch.Tensor) -> torch.Tensor:
        return torch.cat([torch.full((1,), 5.0), torch.zeros(23)])


@pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")
def test_clipped_actions_are_counted_warned_and_marked_and_bad_actions_refused(dataset, tmp_path, no_stats) -> None:
    import lompo_bench

    with pytest.warns(UserWarning, match="50 action components outside") as warned:
        record = lompo_bench.evaluate_policy(_Acting(5.0), DS, algo="mine", episodes=1, profile="cpu")
    assert record.get("clipped_actions") == 50  # one component at each of 50 steps
    assert [type(w.message).__name__ for w in warned] == ["ClippedActionsWarning"]  # once
    assert "clipped_actions" not in lompo_bench.evaluate_policy(_Acting(1.0), DS, algo="mine", episodes=1)
    with pytest.raises(UserError, match=r"step 1 of episode 1 .* dtype int64"):
        lompo_bench.evaluate_policy(_Acting(0, dtype=np.int64), DS, algo="mine", episodes=1)
    for bad in (float("nan"), float("inf")):
        with pytest.raises(UserError, match="step 7 of episode 1 .* NaN or infinite"):
            lompo_bench.evaluate_policy(_Acting(at=7, bad=bad), DS, algo="mine", episodes=1)
    assert not dataset.exists()

    saved = tmp_path / "wild.pt"
    torch.jit.save(torch.jit.script(_OutOfRange()), saved)
    result = runner.invoke(app, ["evaluate-policy", str(saved), "--dataset", DS, "--episodes", "1"])
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("Warning:")]
    assert len(warnings) == 2 and "50 action components outside [-1, 1]" in warnings[0], result.stderr
    assert warnings[1].startswith("Warning: 1 evaluation episode, not the paper profile's standard 10:")

    runs = tmp_path / "runs"
    _write_record(runs, "lompo", 0, 60.0, clipped_actions=12)
    _write_record(runs, "lompo", 1, 70.0)
    _write_record(runs, "bc", 0, 40.0)
    result = runner.invoke(app, ["report", "--runs", str(runs), "--profile", "cpu", "--to", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    cells = _table_row(result.stdout)
    assert cells[0] == "65.0 [60.0, 70.0]§ / 91.7" and cells[4] == "40.0 / 15.6"
    assert "§: the policy returned actions outside [-1, 1]" in result.stdout


# ----- item 13: records of another evaluation episode count -----


def test_cells_pool_only_records_of_the_standard_episode_count(tmp_path: Path, no_stats) -> None:
    runs = tmp_path / "runs"
    _write_record(runs, "lompo", 0, 60.0)
    _write_record(runs, "lompo", 1, 70.0)
    _write_record(runs, "lompo", 2, 0.0, episodes=2)  # beside 10-episode records: listed apart
    _write_record(runs, "bc", 0, 40.0, episodes=2)  # the only ones: shown, marked
    _write_record(runs, "bc", 1, 50.0, episodes=2)
    result = runner.invoke(app, ["report", "--runs", str(runs), "--profile", "cpu", "--to", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    cells = _table_row(result.stdout)
    assert cells[0] == "65.0 [60.0, 70.0] / 91.7"  # not pooled with the 2-episode seed
    assert cells[4] == "45.0 [40.0, 50.0]◊ / 15.6"
    assert "◊: records evaluated on another episode count than the profile's standard 10 per seed" in result.stdout
    assert "- Walker Walk medium-expert, LOMPO: 0.0◊ (1 seed of 2 episodes)" in result.stdout
    scores = json.loads((tmp_path / "out" / "scores.json").read_text())["cells"]
    assert sorted((c["algo"], c["episodes"] or 10, c["seeds"]) for c in scores) == [
        ("bc", 2, [0, 1]), ("lompo", 2, [2]), ("lompo", 10, [0, 1])
    ]  # fmt: skip
    # The standard is what every built-in's final evaluation runs, and evaluate-policy's default.
    from lompo_bench.records import STANDARD_EPISODES

    for module in (lompo, lmbrl, offline_slac, bc, cql, drqbc):
        for profile, episodes in STANDARD_EPISODES.items():
            assert module.make_config(profile).eval_episodes == episodes, (module.NAME, profile)
