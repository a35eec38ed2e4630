"""Importing V-D4RL's npz layout (built here, small) into a Minari dataset our samplers read unchanged."""

from __future__ import annotations

import minari
import numpy as np
import pytest

from lompo_bench.data import SequenceSampler, open_cache
from lompo_bench.data.vd4rl import import_vd4rl
from lompo_bench.errors import UserError
from tests.helpers import vd4rl_file


def test_import_converts_episodes_and_trains_like_a_generated_dataset(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    source = tmp_path / "vd4rl"
    source.mkdir()
    vd4rl_file(source / "000.npz", [60], seed=0)
    vd4rl_file(source / "001.npz", [55, 70], seed=1)  # a file holding two episodes
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
    vd4rl_file(source / "x.npz", [10], seed=0)
    with pytest.raises(UserError, match="actions of shape"):
        import_vd4rl(source, "pen", "expert")  # Pen has 24 action dims, the file 6
