"""Bad input is refused in one line with exit code 2, before anything is written (issue 33): out-of-range config
settings and seeds."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from algorithms import bc, cql, drqbc, lmbrl, lompo, offline_slac
from lompo_bench import seeds
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

    from algorithms.registry import resolve

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

    from algorithms import checkpoints

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
