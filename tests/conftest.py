"""Shared test set-up: headless rendering, and no test touching the user's own datasets or lompo-bench home."""

from __future__ import annotations

import os
import tempfile

import pytest

os.environ.setdefault("MUJOCO_GL", "egl")


def _cores() -> int:
    """The cores this process may run on (what `nproc` says)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


# Under pytest-xdist (README's `-n auto`), the workers share the cores: each gets its share of threads, so that
# torch's default (a thread per core in every worker) does not oversubscribe them. Set before torch is imported;
# the CLI processes a test starts inherit it.
if "PYTEST_XDIST_WORKER_COUNT" in os.environ:
    _share = max(1, _cores() // int(os.environ["PYTEST_XDIST_WORKER_COUNT"]))
    for _name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_name, str(_share))
# Defaults for the whole session (tests that need their own set them with monkeypatch): read caches, runs and
# Minari datasets go to a temporary folder, never to ~/.lompo_bench or ~/.minari.
_SESSION_HOME = tempfile.mkdtemp(prefix="lompo-bench-tests-")
os.environ["LOMPO_BENCH_HOME"] = os.path.join(_SESSION_HOME, "home")
os.environ["MINARI_DATASETS_PATH"] = os.path.join(_SESSION_HOME, "minari")
os.environ.pop("MINARI_REMOTE", None)
# Datasets the tests write name an author whatever git says on the machine running them.
os.environ["LOMPO_BENCH_AUTHOR"] = "lompo-bench tests"
os.environ["LOMPO_BENCH_AUTHOR_EMAIL"] = "tests@lompo-bench.invalid"

import lompo_bench  # noqa: E402, F401  (sets MuJoCo's GL backend before anything imports mujoco)


@pytest.hookimpl(optionalhook=True)  # (a hook of pytest-xdist: without it installed, never called)
def pytest_xdist_auto_num_workers(config) -> int | None:
    """`-n auto`: one worker per core this process may run on (what `nproc` says), not psutil's count of the host's
    physical cores, which a container limited to a few cores would otherwise get. PYTEST_XDIST_AUTO_NUM_WORKERS,
    when set, still decides (None hands back to pytest-xdist)."""
    return None if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS") else _cores()


@pytest.fixture(autouse=True)
def _own_lompo_home(tmp_path_factory, monkeypatch) -> None:
    """Each test its own `$LOMPO_BENCH_HOME` (read caches are shared by dataset content there: one test's
    deliberately damaged cache must not be another's input); a test may set its own after this."""
    monkeypatch.setenv("LOMPO_BENCH_HOME", str(tmp_path_factory.mktemp("lompo_home")))
