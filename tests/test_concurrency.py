"""Jobs beside other jobs, with real processes: concurrent cache builds of one dataset, one training process per
run folder, and locks that die with their holder."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lompo_bench.algorithms import runs
from lompo_bench.data import verify_cache
from lompo_bench.data.store import dataset_path
from lompo_bench.errors import UserError
from lompo_bench.files import LockHeld, file_lock
from lompo_bench.paths import run_dir

from .helpers import write_synthetic_dataset

REPO = Path(__file__).resolve().parent.parent
DS = "test/pen/concurrent-v0"


@pytest.fixture()
def env(tmp_path: Path, monkeypatch) -> dict[str, str]:
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    monkeypatch.setenv("LOMPO_BENCH_HOME", str(tmp_path / "home"))
    write_synthetic_dataset(DS, [60] * 12)
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}


def test_processes_opening_a_dataset_without_a_cache_all_get_the_one_built_cache(env: dict[str, str]) -> None:
    # Before the lock, two of these started together crashed one another (both wrote and deleted the same
    # half-built folder).
    code = (
        "import sys; from lompo_bench.data import open_cache; "
        "cache = open_cache(sys.argv[1]); print(cache.num_steps, cache.num_episodes)"
    )
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", code, DS],
            env=env,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for _ in range(4)
    ]
    outputs = [process.communicate(timeout=300) for process in processes]
    for process, (out, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, err
        assert out.split() == ["720", "12"]
    assert verify_cache(DS) == []
    assert not any(path.name.endswith(".partial") for path in dataset_path(DS).iterdir())


def test_a_second_training_of_one_run_folder_is_refused_in_one_line(env: dict[str, str], tmp_path: Path) -> None:
    folder = run_dir("bc", DS, "smoke", 0, tmp_path / "runs")
    command = [sys.executable, "-m", "lompo_bench.cli", "train", "--algo", "bc", "--dataset", DS, "--profile",
               "smoke", "--device", "cpu", "--out", str(tmp_path / "runs")]  # fmt: skip
    with runs.exclusive_run(folder):  # this test process is "the other training"
        refused = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True, timeout=300)
        with pytest.raises(UserError, match="another process"):  # in-process too: one holder per folder
            with runs.exclusive_run(folder):
                pass
    assert refused.returncode == 2, refused.stderr
    lines = [line for line in (refused.stdout + refused.stderr).splitlines() if line.strip()]
    assert len(lines) == 1 and "another process" in lines[0] and f"pid {os.getpid()}" in lines[0], lines
    assert not (folder / "checkpoint.pt").exists()  # it wrote nothing
    done = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (folder / "result.json").exists()


def test_a_second_generation_of_one_work_folder_is_refused_in_one_line(tmp_path: Path, monkeypatch) -> None:
    """Issue 33: two `generate` of one task at once were not refused; one died with a traceback when the other
    deleted the render cache under it. The second is refused in one line, before it reads or writes anything."""
    from lompo_bench.dataset_gen import pipeline

    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    work = tmp_path / "work"
    folder = work / "dclaw_screw" / "smoke-seed0"
    command = [sys.executable, "-m", "lompo_bench.cli", "generate", "--env", "dclaw", "--profile", "smoke",
               "--workers", "1", "--out", str(work)]  # fmt: skip

    def never(*args, **kwargs):
        raise AssertionError("a second generation of a held work folder was not refused")

    monkeypatch.setattr(pipeline, "train_expert", never)  # an unrefused in-process one stops at once
    with pipeline.exclusive_workdir(folder):  # this test process is "the other generation"
        refused = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True, timeout=300)
        with pytest.raises(UserError, match="another process"):  # in-process too: one holder per folder
            pipeline.generate("dclaw", profile="smoke", workers=1, out=work)
        with pytest.raises(UserError, match="another process"):  # the ablation trains in this folder too
            pipeline.generate_ablation(profile="smoke", workers=1, out=work)
    assert refused.returncode == 2, refused.stderr
    lines = [line for line in (refused.stdout + refused.stderr).splitlines() if line.strip()]
    assert len(lines) == 1 and "another process" in lines[0] and f"pid {os.getpid()}" in lines[0], lines
    assert [path.name for path in folder.iterdir()] == [".lock"]  # nothing read or written beside the lock
    assert not (tmp_path / "minari").exists()
    assert not (work / "dclaw_screw" / "smoke-seed1").exists()  # the ablation was refused before its other runs


def test_a_lock_dies_with_its_holder(tmp_path: Path) -> None:
    lock = tmp_path / "x.lock"
    code = (
        "import sys, time; from pathlib import Path; from lompo_bench.files import file_lock\n"
        "with file_lock(Path(sys.argv[1])):\n    print('held', flush=True); time.sleep(600)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", code, str(lock)], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(LockHeld, match=f"pid {holder.pid}"):
            with file_lock(lock, wait=False):
                pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    start = time.monotonic()
    with file_lock(lock, wait=False):  # the kernel released it with the killed process
        pass
    assert time.monotonic() - start < 5
