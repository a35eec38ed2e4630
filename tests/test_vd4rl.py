"""Importing V-D4RL's npz layout (built here, small) into a Minari dataset our samplers read unchanged."""

from __future__ import annotations

from pathlib import Path

import minari
import numpy as np
import pytest

from lompo_bench.data import SequenceSampler, open_cache
from lompo_bench.data.vd4rl import import_vd4rl
from lompo_bench.errors import UserError


def _vd4rl_file(path: Path, lengths: list[int], seed: int) -> None:
    """Episodes of `lengths` steps back to back, V-D4RL style: step 0 holds a zero action and reward."""
    rng = np.random.default_rng(seed)
    parts = {k: [] for k in ("image", "action", "reward", "discount", "is_first", "is_last", "is_terminal")}
    for n in lengths:
        parts["image"].append(rng.integers(0, 256, (n + 1, 64, 64, 3), dtype=np.uint8))
        action = rng.uniform(-1, 1, (n + 1, 6)).astype(np.float32)
        action[0] = 0
        parts["action"].append(action)
        reward = rng.uniform(0, 1, n + 1).astype(np.float32)
        reward[0] = 0
        parts["reward"].append(reward)
        parts["discount"].append(np.ones(n + 1, np.float32))
        parts["is_first"].append(np.arange(n + 1) == 0)
        parts["is_last"].append(np.arange(n + 1) == n)
        parts["is_terminal"].append(np.zeros(n + 1, bool))
    np.savez(path, **{k: np.concatenate(v) for k, v in parts.items()})


def test_import_converts_episodes_and_trains_like_a_generated_dataset(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    source = tmp_path / "vd4rl"
    source.mkdir()
    _vd4rl_file(source / "000.npz", [60], seed=0)
    _vd4rl_file(source / "001.npz", [55, 70], seed=1)  # a file holding two episodes
    ds_id, episodes, steps = import_vd4rl(source, "walker", "medium-replay")
    assert (ds_id, episodes, steps) == ("vd4rl/walker_walk/medium-replay-v0", 3, 185)
    dataset = minari.load_dataset(ds_id)
    first = next(iter(dataset.iterate_episodes()))
    with np.load(source / "000.npz") as raw:
        np.testing.assert_array_equal(first.observations["pixels"], raw["image"])
        np.testing.assert_array_equal(first.actions, raw["action"][1:])  # step 0's zero action dropped
        np.testing.assert_allclose(first.rewards, raw["reward"][1:])
    assert first.truncations[-1] and not first.terminations.any()
    assert dataset.recover_environment().unwrapped.task_spec.name == "walker_walk"
    batch = SequenceSampler(open_cache(ds_id), batch_size=4, seq_len=50).sample()
    assert batch["pixels"].shape == (4, 50, 64, 64, 3) and batch["state"].shape == (4, 50, 0)


def test_import_refuses_wrong_layouts(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    source = tmp_path / "bad"
    source.mkdir()
    with pytest.raises(UserError, match="no .npz"):
        import_vd4rl(source, "walker", "expert")
    np.savez(source / "x.npz", image=np.zeros((3, 64, 64, 3), np.uint8))
    with pytest.raises(UserError, match="missing action"):
        import_vd4rl(source, "walker", "expert")
    (source / "x.npz").unlink()
    _vd4rl_file(source / "x.npz", [10], seed=0)
    with pytest.raises(UserError, match="actions of shape"):
        import_vd4rl(source, "pen", "expert")  # Pen has 24 action dims, the file 6
