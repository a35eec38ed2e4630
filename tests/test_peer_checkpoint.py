"""The peer scripts' resumable loop (benchmarks/peers/common.py `LoopCheckpoint`): a loop stopped at any step and
resumed ends where an unstopped one does, and a checkpoint of another run is refused in one line."""

from __future__ import annotations

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
