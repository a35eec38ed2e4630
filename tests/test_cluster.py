"""`reproduce --executor ray` on a real two-node Ray cluster, and `--emit-jobs`.

The cluster (a head and a worker node of 1 CPU each, `ray start`) runs inside a network namespace this test makes,
with only loopback up: outside one, Ray advertises the machine's interface address even when told 127.0.0.1.
A smoke plan (Adroit Pen expert, BC and LOMPO, two seeds) goes through it while one job fails its first attempt
and the worker node is killed mid-job (`tests/ray_driver.py`); the records must equal a local run's.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lompo_bench.cli import app
from lompo_bench.leaderboard.reproduce import dependencies, emit_jobs, plan

REPO = Path(__file__).resolve().parent.parent
RAY = Path(sys.executable).parent / "ray"

CLUSTER = """
set -eu
ip link set lo up
trap '"$RAY" stop --force >/dev/null 2>&1 || true' EXIT
"$RAY" start --head --node-ip-address 127.0.0.1 --port 6390 --num-cpus 1 --temp-dir "$RAY_TMP" \\
    --object-store-memory 100000000 --include-dashboard false --disable-usage-stats >"$WORK/head.log" 2>&1
"$RAY" start --address 127.0.0.1:6390 --node-ip-address 127.0.0.1 --node-manager-port 6391 --num-cpus 1 \\
    --object-store-memory 100000000 --disable-usage-stats >"$WORK/worker.log" 2>&1
"$PYTHON" "$REPO/tests/ray_driver.py" 127.0.0.1:6390 6391 "$WORK"
"""


def _namespaces_work() -> bool:
    try:
        probe = ["unshare", "-rn", "ip", "link", "set", "lo", "up"]
        return subprocess.run(probe, capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _records(root: Path) -> dict[str, dict]:
    keep = ("algo", "dataset_id", "seed", "returns", "mean_return", "normalized_score")
    found = {}
    for path in root.rglob("result.json"):
        record = json.loads(path.read_text())
        found[str(path.relative_to(root))] = {k: record[k] for k in keep}
    return found


@pytest.mark.skipif(not RAY.exists(), reason='Ray is not installed (pip install -e ".[cluster]"; CI installs it)')
@pytest.mark.skipif(not _namespaces_work(), reason="cannot make a network namespace (unshare -rn) here")
def test_a_smoke_plan_on_two_ray_nodes_survives_a_failure_and_a_dead_node(tmp_path: Path) -> None:
    ray_tmp = tempfile.mkdtemp(prefix="lbray-", dir="/tmp")  # short: Ray's socket paths must fit 107 bytes
    env = {
        **os.environ,
        "RAY": str(RAY), "PYTHON": sys.executable, "REPO": str(REPO), "WORK": str(tmp_path), "RAY_TMP": ray_tmp,
        "MINARI_DATASETS_PATH": str(tmp_path / "minari"), "LOMPO_BENCH_HOME": str(tmp_path / "home"),
        "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO), "RAY_USAGE_STATS_ENABLED": "0",
        # No token: the cluster is reachable from this namespace's loopback only (and a token file left in ~/.ray
        # by another Ray would turn it on for the head and not the worker's start).
        "RAY_AUTH_MODE": "disabled",
        # A dead node is noticed in ~2 s instead of ~30 s.
        "RAY_health_check_period_ms": "500", "RAY_health_check_failure_threshold": "4",
    }  # fmt: skip
    try:
        done = subprocess.run(["unshare", "-rn", "bash", "-c", CLUSTER], env=env, capture_output=True, text=True,
                              timeout=540)  # fmt: skip
    finally:
        leftovers = subprocess.run(["pgrep", "-f", ray_tmp], capture_output=True, text=True).stdout.split()
        if leftovers:
            subprocess.run(["kill", "-9", *leftovers])
        shutil.rmtree(ray_tmp, ignore_errors=True)
    logs = "".join(
        (tmp_path / f"{n}.log").read_text()[-1500:] for n in ("head", "worker") if (tmp_path / f"{n}.log").exists()
    )
    assert done.returncode == 0, done.stderr[-3000:] + logs
    assert not leftovers, "Ray processes were left running"
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["finished"] == result["jobs"] == 7 and not result["failed"] and not result["blocked"], result
    assert result["local_ran"] == 7  # the local run generated its own copy of the dataset

    # The injected failure was retried, and succeeded.
    starts = [s["job"] for s in result["starts"]]
    assert starts.count("train bc on lompo/adroit_pen/expert-smoke-v1 (smoke, seed 1)") == 2
    # The worker node died mid-job; that job ran again on the head node.
    killed = json.loads((tmp_path / "killed.json").read_text())
    on_worker = [s["job"] for s in result["starts"] if s["node"] == killed["node"] and "generate" not in s["job"]]
    assert on_worker and all(starts.count(job) >= 2 for job in on_worker[-1:]), result["starts"]
    assert any("done:" in e for e in result["events"]) and any(e.startswith("[ray]") for e in result["events"])

    # The driver wrote every record; they equal a local run's with the same seeds.
    ray_records, local_records = _records(tmp_path / "ray_runs"), _records(tmp_path / "local_runs")
    assert len(ray_records) == 4 and ray_records == local_records
    print(f"smoke plan: ray {result['ray_seconds']:.0f} s, local {result['local_seconds']:.0f} s")


def test_emit_jobs_writes_the_pending_jobs_in_dependency_stages(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    monkeypatch.setenv("LOMPO_BENCH_HOME", str(tmp_path / "home"))
    jobs = plan("smoke", tasks=["pen"], algos=["bc", "lompo", "lmbrl"], seeds=2, kinds=["expert"])
    # LOMPO and LMBRL share one world model per dataset and seed: two model jobs, each before its runs.
    models = [i for i, job in enumerate(jobs) if job.action == "model"]
    assert len(models) == 2 and len(jobs) == 1 + 2 + 6
    needs = dependencies(jobs)
    for i, job in enumerate(jobs):
        if job.action == "train":
            assert needs[i][0] == 0 and (len(needs[i]) == 2) == (job.algo != "bc")
            assert all(j < i for j in needs[i])
    script = emit_jobs(jobs, tmp_path / "runs")
    lines = script.splitlines()
    stages = [i for i, line in enumerate(lines) if line.startswith("# stage")]
    assert [lines[i].split(":")[1].split(",")[0].strip() for i in stages] == ["generate", "model", "train"]
    assert lines[stages[0] + 1] == "lompo-bench generate --env adroit_pen --kind expert --profile smoke --seed 0"
    assert lines[stages[1] + 1].endswith(f"--seed 0 --model-only --runs {tmp_path / 'runs'}")
    assert sum(line.startswith("lompo-bench train") for line in lines) == 8

    # Through the CLI; and a line of the file runs as it is (bad input in it would be one line, exit 2).
    out = tmp_path / "jobs.sh"
    result = CliRunner().invoke(app, ["reproduce", "--profile", "smoke", "--env", "pen", "--kind", "expert",
                                      "--algo", "bc", "--seeds", "1", "--emit-jobs", str(out)])  # fmt: skip
    assert result.exit_code == 0 and "2 pending jobs written" in result.output, result.output
    first = next(line for line in out.read_text().splitlines() if line.startswith("lompo-bench"))
    assert first.startswith("lompo-bench generate --env adroit_pen --kind expert")
    for command in (["--executor", "slurm"], ["--kind", "nope"], ["--executor", "ray", "--cpus-per-job", "0"]):
        result = CliRunner().invoke(app, ["reproduce", "--profile", "smoke", "--env", "pen", *command])
        assert result.exit_code == 2, (command, result.output)
        assert len([line for line in result.output.splitlines() if line.strip()]) == 1, result.output


def test_model_only_trains_the_shared_world_model_that_lompo_and_lmbrl_then_load(tmp_path: Path, monkeypatch) -> None:
    from tests.helpers import write_synthetic_dataset

    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    monkeypatch.setenv("LOMPO_BENCH_HOME", str(tmp_path / "home"))
    write_synthetic_dataset("test/pen/stage-v0", [20, 20])
    args = ["--dataset", "test/pen/stage-v0", "--profile", "smoke", "--device", "cpu"]
    result = CliRunner().invoke(app, ["train", "--algo", "lompo", *args, "--model-only"])
    assert result.exit_code == 0 and "world model of lompo" in result.output, result.output
    models = list((tmp_path / "home" / "runs" / "_world_models").rglob("model.pt"))
    assert len(models) == 1
    stamp = models[0].stat().st_mtime_ns
    for algo in ("lompo", "lmbrl"):
        result = CliRunner().invoke(app, ["train", "--algo", algo, *args])
        assert result.exit_code == 0, result.output
    assert models[0].stat().st_mtime_ns == stamp  # loaded, not trained again
    config = json.loads(
        (tmp_path / "home" / "runs" / "lmbrl" / "test/pen/stage-v0" / "smoke-seed0" / "config.json").read_text()
    )
    assert config["algo"] == "lmbrl"
    result = CliRunner().invoke(app, ["train", "--algo", "bc", *args, "--model-only"])
    assert result.exit_code == 2 and "no world model" in result.output
