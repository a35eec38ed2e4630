"""What `pip install lompo-bench` puts on a machine (issue 34): one top-level name, `lompo_bench`, whatever folders
the repository keeps at its top, and the committed reference records as package data, so `report` finds them."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # From a copy of the sources (links kept as links), so no build/ left in the checkout can leak stale files in.
    source = tmp_path_factory.mktemp("source") / "lompo-bench"
    skip = shutil.ignore_patterns(".git", "build", "dist", "*.egg-info", "__pycache__", ".tox", "*_cache", "runs")
    shutil.copytree(REPO, source, symlinks=True, ignore=skip)
    # --no-build-isolation: setuptools is installed here and the suite must not reach the package index.
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(out), str(source)],
        check=True, capture_output=True,
    )  # fmt: skip
    (found,) = out.glob("lompo_bench-*.whl")
    return found


def test_the_wheel_installs_one_top_level_name(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert tops == {"lompo_bench"}, tops
    for package in ("algorithms", "leaderboard", "dataset_gen"):
        assert f"lompo_bench/{package}/__init__.py" in names
    assert "lompo_bench/algorithms/lompo.py" in names and "lompo_bench/dataset_gen/pipeline.py" in names
    assert not [name for name in names if name.startswith(("tests/", "benchmarks/", "examples/"))]


def test_the_wheel_carries_the_reference_records_and_report_reads_them(wheel: Path, tmp_path: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    records = [name for name in names if name.startswith("lompo_bench/leaderboard/results/cpu/")]
    committed = sorted((REPO / "leaderboard" / "results" / "cpu").rglob("result.json"))
    assert len(records) == len(committed) > 0
    site = tmp_path / "site-packages"
    zipfile.ZipFile(wheel).extractall(site)
    code = (
        "import sys; from lompo_bench.leaderboard.report import reference_records; folder = reference_records('cpu');"
        "print(folder); print(sum(1 for _ in folder.rglob('result.json')))"
    )
    shown = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env={"PYTHONPATH": str(site)},
                           capture_output=True, text=True, check=True).stdout.split()  # fmt: skip
    assert Path(shown[0]).is_relative_to(site) and int(shown[1]) == len(committed)


@pytest.mark.parametrize("name", ["algorithms", "leaderboard", "dataset_gen"])
def test_a_folder_imported_by_its_bare_name_is_refused(name: str) -> None:
    """From a checkout the folders sit on the path under their bare names too; importing one so would load a second
    copy of every module (two registries), so it is refused in one line naming the right import."""
    result = subprocess.run([sys.executable, "-c", f"import {name}"], cwd=REPO, capture_output=True, text=True)
    assert result.returncode != 0
    assert f"import lompo_bench.{name}, not {name}" in result.stderr.strip().splitlines()[-1]
