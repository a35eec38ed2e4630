"""What the peer scripts share (benchmarks/peers/common.py): the resumable loop (`LoopCheckpoint`: a loop stopped at
any step and resumed ends where an unstopped one does; a checkpoint of another run is refused in one line), and the
evaluation with the task in a child process (`evaluate_and_file_apart`: the record of one in-process evaluation)."""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from lompo_bench.errors import UserError

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks" / "peers"))
import common  # noqa: E402

STEPS = 12


def _agent() -> dict:
    torch.manual_seed(0)
    net = torch.nn.Linear(4, 2)
    return {"net": net, "opt": torch.optim.Adam(net.parameters(), lr=1e-2)}


def _train(path: Path, stop_at: int | None, identity: dict | None = None) -> dict | None:
    """The loop as vd4rl_drqbc.py runs it: every step draws from python, numpy and torch, as a peer's batch
    sampling, augmentation and noise do; returns the agent, or None when 'killed' after `stop_at` steps."""
    random.seed(1), np.random.seed(1)
    agent = _agent()  # rebuilt, then replaced by the checkpoint's, as the script does
    checkpoint = common.LoopCheckpoint(path, identity or {"overrides": ["a=1"]}, every_seconds=0)
    start, metrics = 0, {}
    resumed = checkpoint.load()
    if resumed is not None:
        agent, start, metrics = resumed["objects"]["agent"], resumed["step"], resumed["metrics"]
    with common.Timer(resumed["seconds"] if resumed else (0.0, 0.0)) as timer:
        for step in range(start, STEPS):
            x = torch.randn(8, 4) * random.random() + float(np.random.rand())
            loss = agent["net"](x).pow(2).mean()
            agent["opt"].zero_grad()
            loss.backward()
            agent["opt"].step()
            metrics = {"loss": loss.item()}
            if checkpoint.due() or step + 1 == STEPS:
                checkpoint.save(step + 1, {"agent": agent}, metrics, timer)
            if stop_at is not None and step + 1 == stop_at:
                return None
    return agent


@pytest.mark.parametrize("stop_at", [1, 5, STEPS - 1])
def test_a_loop_stopped_and_resumed_ends_with_the_weights_of_one_never_stopped(tmp_path: Path, stop_at: int) -> None:
    whole = _train(tmp_path / "whole.checkpoint", None)
    assert _train(tmp_path / "cut.checkpoint", stop_at) is None
    resumed = _train(tmp_path / "cut.checkpoint", None)
    for key, value in whole["net"].state_dict().items():
        assert torch.equal(value, resumed["net"].state_dict()[key])
    assert torch.equal(
        whole["opt"].state_dict()["state"][0]["exp_avg"], resumed["opt"].state_dict()["state"][0]["exp_avg"]
    )


def test_a_checkpoint_of_another_run_is_refused_in_one_line_and_fresh_discards_it(tmp_path: Path) -> None:
    path = tmp_path / "run.checkpoint"
    _train(path, 3)
    with pytest.raises(UserError, match=r"another run \(differs in overrides\): pass --fresh"):
        _train(path, None, identity={"overrides": ["a=2"]})
    common.LoopCheckpoint(path, {"overrides": ["a=2"]}, fresh=True)
    assert not path.exists()
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match="does not load"):
        common.LoopCheckpoint(path, {}).load()


class _Counting:
    """A policy of this process: its calls counted here, whatever process runs the task."""

    def __init__(self) -> None:
        self.resets = self.acts = 0

    def reset(self) -> None:
        self.resets += 1

    def act(self, observation: dict) -> np.ndarray:
        self.acts += 1
        assert observation["pixels"].shape == (64, 64, 3)
        return np.full(24, 0.1 * np.sin(self.acts), np.float32)


def test_an_evaluation_with_the_task_in_a_child_process_files_the_record_of_one_in_process(
    tmp_path: Path, monkeypatch
) -> None:
    from .helpers import write_synthetic_dataset

    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    monkeypatch.setenv("LOMPO_BENCH_HOME", str(tmp_path / "home"))
    dataset = "test/pen/apart-v0"
    write_synthetic_dataset(dataset, [10, 10])
    budget = common.Budget(10, 8, "custom")
    records, acts = {}, {}
    for how, evaluate in (("apart", common.evaluate_and_file_apart), ("here", common.evaluate_and_file)):
        args = argparse.Namespace(dataset=dataset, seed=3, episodes=1, root=tmp_path / how, overwrite=False, threads=1)
        with common.Timer() as training:
            pass
        policy = _Counting()
        path = evaluate(
            policy, args=args, budget=budget, name="peer_test", code_version="test", training=training, details={}
        )
        records[how] = json.loads(Path(path).read_text())
        acts[how] = policy.acts
        assert policy.resets == 1 and policy.acts > 0  # every step answered by this process's policy
        assert (Path(path).parent / "peer.json").exists()
    assert records["apart"]["returns"] == records["here"]["returns"] and acts["apart"] == acts["here"]
    assert records["apart"]["seed"] == 3 and records["apart"]["algo"] == "peer_test"
