"""Driver of the two-node Ray test (`tests/test_cluster.py` starts it inside a loopback-only network namespace,
after `ray start` of a head and a worker node). Run as a script, so Ray ships `slow_and_flaky` by value.

It runs a smoke plan on the cluster with a job function that fails one job's first attempt, and kills the worker
node (its raylet and the raylet's children) while a job runs there; then the same plan locally into another runs
folder and datasets folder; and prints one JSON line with what happened, for the test to check.

usage: python tests/ray_driver.py ADDRESS WORKER_NODE_MANAGER_PORT WORK_DIR
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import ray  # noqa: E402

from lompo_bench.leaderboard.cluster import execute_ray  # noqa: E402
from lompo_bench.leaderboard.reproduce import execute, plan, run_job  # noqa: E402

ADDRESS, WORKER_PORT, WORK = sys.argv[1], sys.argv[2], Path(sys.argv[3])
STARTS = WORK / "starts.txt"
PLAN = {"tasks": ["pen"], "algos": ["bc", "lompo"], "seeds": 2, "kinds": ["expert"]}
WORKER_NODE = ""  # set in main(); Ray pickles this script's functions by value, with the globals they read


def slow_and_flaky(job, runs_root, device, progress):
    """The real job function, after noting which node runs what; bc seed 1 fails its first attempt, and a job on
    the worker node waits a little first, so the node dies while it runs."""
    node = ray.get_runtime_context().get_node_id()
    with open(STARTS, "a") as f:
        f.write(json.dumps({"node": node, "job": job.describe()}) + "\n")
    if job.action == "train" and job.algo == "bc" and job.seed == 1 and not (WORK / "failed-once").exists():
        (WORK / "failed-once").write_text("")
        raise RuntimeError("injected failure: first attempt of bc seed 1")
    if job.action != "generate" and node == WORKER_NODE:
        time.sleep(3)
    return run_job(job, runs_root, device, progress)


def kill_worker_node_once_busy() -> None:
    """Wait for a job to start on the worker node, then SIGKILL that node's raylet and its children."""
    while not ray.is_initialized():
        time.sleep(0.1)
    worker = next(n["NodeID"] for n in ray.nodes() if str(n["NodeManagerPort"]) == WORKER_PORT)
    while True:
        lines = STARTS.read_text().splitlines() if STARTS.exists() else []
        if any(json.loads(line)["node"] == worker and "generate" not in line for line in lines):
            break
        time.sleep(0.2)
    time.sleep(1)
    raylet = subprocess.run(["pgrep", "-f", f"raylet.*node_manager_port={WORKER_PORT}"], capture_output=True,
                            text=True).stdout.split()  # fmt: skip
    children = subprocess.run(["pgrep", "-P", ",".join(raylet)], capture_output=True, text=True).stdout.split()
    for pid in [*children, *raylet]:
        os.kill(int(pid), signal.SIGKILL)
    (WORK / "killed.json").write_text(json.dumps({"node": worker, "pids": len(children) + len(raylet)}))


def main() -> None:
    global WORKER_NODE
    ray.init(address=ADDRESS, log_to_driver=False)
    worker = WORKER_NODE = next(n["NodeID"] for n in ray.nodes() if str(n["NodeManagerPort"]) == WORKER_PORT)
    ray.shutdown()

    jobs = plan("smoke", **PLAN)
    killer = threading.Thread(target=kill_worker_node_once_busy, daemon=True)
    killer.start()
    events: list[str] = []
    start = time.monotonic()
    outcome = execute_ray(
        jobs, WORK / "ray_runs", address=ADDRESS, retries=2, device="cpu", job_fn=slow_and_flaky,
        on_event=events.append, status_every=5,
    )  # fmt: skip
    ray_seconds = time.monotonic() - start
    # The same plan locally, generation included (its own copy of the dataset: same seed, same dataset).
    os.environ["MINARI_DATASETS_PATH"] = str(WORK / "local_minari")
    start = time.monotonic()
    local_ran = execute(plan("smoke", **PLAN), WORK / "local_runs", device="cpu")
    local_seconds = time.monotonic() - start
    print(json.dumps({
        "jobs": len(jobs), "finished": len(outcome.finished), "failed": outcome.failed, "blocked": outcome.blocked,
        "ray_seconds": ray_seconds, "local_seconds": local_seconds, "local_ran": local_ran, "events": events,
        "worker": worker, "starts": [json.loads(line) for line in STARTS.read_text().splitlines()],
    }))  # fmt: skip


if __name__ == "__main__":
    main()
