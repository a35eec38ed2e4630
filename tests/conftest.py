"""Shared test set-up: headless rendering, and no test touching the user's own datasets or lompo-bench home."""

from __future__ import annotations

import os
import tempfile

import pytest

os.environ.setdefault("MUJOCO_GL", "egl")
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


@pytest.fixture(autouse=True)
def _own_lompo_home(tmp_path_factory, monkeypatch) -> None:
    """Each test its own `$LOMPO_BENCH_HOME` (read caches are shared by dataset content there: one test's
    deliberately damaged cache must not be another's input); a test may set its own after this."""
    monkeypatch.setenv("LOMPO_BENCH_HOME", str(tmp_path_factory.mktemp("lompo_home")))
