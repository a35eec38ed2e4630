"""The data layer: cache built from Minari and verified, sequence and transition samplers, clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from lompo_bench.data import (
    CorruptDataset,
    DatasetNotFound,
    SequenceSampler,
    TransitionSampler,
    build_cache,
    local_dataset_ids,
    open_cache,
    to_torch,
    verify_cache,
)
from lompo_bench.data.cache import cache_path, cache_root, is_stale

from .helpers import frame_code, write_synthetic_dataset

DS = "test/pen/synthetic-v0"
LENGTHS = [50, 60, 20, 75]


@pytest.fixture()
def dataset(tmp_path, monkeypatch):
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path))
    write_synthetic_dataset(DS, LENGTHS)
    return DS


def test_cache_holds_every_episode_back_to_back(dataset) -> None:
    cache = open_cache(dataset)
    assert cache.num_episodes == 4 and cache.num_steps == sum(LENGTHS)
    assert list(cache.episode_lengths()) == LENGTHS
    assert cache.obs_starts[-1] == sum(LENGTHS) + len(LENGTHS)
    assert cache.proprio[cache.obs_starts[2] + 5, 0] == 2005
    assert cache.rewards[cache.step_starts[3] + 7] == 3007
    frame = np.empty((1, *cache.frame_shape), np.uint8)
    with open(cache.pixels_path, "rb") as f:
        cache.read_frames(f.fileno(), int(cache.obs_starts[1]) + 9, frame)
    assert (frame == frame_code(1, 9)).all()
    assert verify_cache(dataset) == []


def test_cache_is_rebuilt_when_its_source_changes(dataset, tmp_path) -> None:
    open_cache(dataset)
    assert not is_stale(dataset)
    import shutil

    shutil.rmtree(tmp_path / DS)
    write_synthetic_dataset(DS, [30, 30])
    assert is_stale(dataset)
    assert verify_cache(dataset)[0].startswith("no cache") or "stale" in verify_cache(dataset)[0]
    assert open_cache(dataset).num_episodes == 2
    # One cache per dataset id: the old content's is gone, and the dataset folder holds only what Minari wrote.
    assert [p for p in cache_root(dataset).iterdir() if p.is_dir()] == [cache_path(dataset)]
    assert sorted(p.name for p in (tmp_path / DS).iterdir()) == ["data"]


def test_writing_and_reading_datasets_needs_no_jax(tmp_path) -> None:
    """Minari's `create` extra pulls jax (~350 MB) for a helper we never call: we depend on `minari[hdf5]` only."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import sys; from tests.helpers import write_synthetic_dataset; "
        "write_synthetic_dataset('test/x/y-v0', [5]); "
        "from lompo_bench.data import open_cache; open_cache('test/x/y-v0'); "
        "import minari; minari.load_dataset('test/x/y-v0'); print('jax' in sys.modules)"
    )
    env = {**os.environ, "MINARI_DATASETS_PATH": str(tmp_path / "m"), "LOMPO_BENCH_HOME": str(tmp_path)}
    repo = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=repo, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False"


def test_a_cache_build_reports_its_progress_as_a_stage(dataset) -> None:
    class Recorder:
        def __init__(self) -> None:
            self.events: list[tuple] = []

        def start(self, stage: str, total: int) -> None:
            self.events.append(("start", stage, total))

        def update(self, completed: int, message: str = "") -> None:
            self.events.append(("update", completed))

        def finish(self) -> None:
            self.events.append(("finish",))

    recorder = Recorder()
    open_cache(dataset, recorder)
    assert recorder.events[0] == ("start", f"read cache of {dataset}", sum(LENGTHS))
    assert recorder.events[-2:] == [("update", sum(LENGTHS)), ("finish",)]
    assert len(recorder.events) == len(LENGTHS) + 2
    recorder.events.clear()
    open_cache(dataset, recorder)  # built: no stage
    assert recorder.events == []


def test_verify_finds_a_damaged_cache_file(dataset) -> None:
    build_cache(dataset)
    with open(cache_path(dataset) / "rewards.npy", "r+b") as f:
        f.seek(-4, 2)
        f.write(b"\xff\xff\xff\xff")
    assert any("rewards.npy checksum mismatch" in p for p in verify_cache(dataset))


def test_sequence_windows_are_contiguous_and_inside_one_episode(dataset) -> None:
    cache = open_cache(dataset)
    sampler = SequenceSampler(cache, batch_size=16, seq_len=50, seed=0)
    # Windows of 50 of an episode's N + 1 observations; the 20-step episode is too short.
    assert sampler.num_windows == (51 - 50 + 1) + (61 - 50 + 1) + (76 - 50 + 1)
    firsts = 0
    for _ in range(20):
        batch = sampler.sample()
        assert batch["pixels"].shape == (16, 50, 64, 64, 3) and batch["pixels"].dtype == np.uint8
        assert batch["prev_actions"].shape == (16, 50, 24) and batch["is_first"].shape == (16, 50)
        for b in range(16):
            label = batch["proprio"][b, :, 0].astype(int)
            episode, t0 = divmod(int(label[0]), 1000)
            np.testing.assert_array_equal(label, 1000 * episode + t0 + np.arange(50))
            # The reward received on arriving at each observation: that of the step before it, 0 at the first.
            arrived = np.where(t0 + np.arange(50) > 0, 1000 * episode + t0 + np.arange(50) - 1, 0)
            np.testing.assert_array_equal(batch["prev_rewards"][b], arrived)
            assert (batch["pixels"][b, :, 0, 0, 0] == [frame_code(episode, t0 + t) for t in range(50)]).all()
            assert batch["is_first"][b, 0] == (t0 == 0) and not batch["is_first"][b, 1:].any()
            firsts += t0 == 0
    assert firsts > 0


def test_same_seed_same_batches(dataset) -> None:
    cache = open_cache(dataset)
    a, b = SequenceSampler(cache, 4, 10, seed=3).sample(), SequenceSampler(cache, 4, 10, seed=3).sample()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])


def test_transitions_stack_frames_and_repeat_the_first_at_episode_start(dataset) -> None:
    sampler = TransitionSampler(open_cache(dataset), batch_size=64, frame_stack=3, seed=1)
    for _ in range(5):
        batch = sampler.sample()
        for b in range(64):
            episode, t = divmod(int(batch["proprio"][b, 0]), 1000)
            assert batch["next_proprio"][b, 0] == 1000 * episode + t + 1
            expected = [frame_code(episode, max(t - 2 + k, 0)) for k in range(3)]
            assert list(batch["pixels"][b, :, 0, 0, 0]) == expected
            assert list(batch["next_pixels"][b, :, 0, 0, 0]) == [
                frame_code(episode, max(t - 1 + k, 0)) for k in range(3)
            ]
            assert batch["rewards"][b] == 1000 * episode + t


def test_missing_and_corrupt_datasets_are_user_errors(dataset, tmp_path) -> None:
    with pytest.raises(DatasetNotFound, match="lompo-bench generate"):
        open_cache("test/pen/nothing-v0")
    (tmp_path / DS / "data" / "main_data.hdf5").write_bytes(b"not an hdf5 file")
    with pytest.raises(CorruptDataset, match="main_data.hdf5|cannot read"):
        build_cache(dataset)


def test_local_ids_skip_half_written_datasets(dataset, tmp_path) -> None:
    (tmp_path / "test" / "pen" / ".half-v0.partial" / "data").mkdir(parents=True)
    assert local_dataset_ids() == [DS]


def test_batches_reach_torch_without_a_copy_on_cpu(dataset) -> None:
    batch = SequenceSampler(open_cache(dataset), 2, 10, seed=0).sample()
    tensors = to_torch(batch)
    assert tensors["pixels"].data_ptr() == batch["pixels"].ctypes.data
    assert tensors["pixels"].dtype.is_floating_point is False and tuple(tensors["prev_actions"].shape) == (2, 10, 24)


def test_cpu_and_smoke_ids_stay_and_the_paper_ids_of_the_128_px_datasets_move_one_version_up() -> None:
    """The paper profile's D'Claw, Pen and Door datasets hold 128 px frames (issue 31): a new content, so new ids;
    the cpu and smoke profiles' datasets did not change, and committed records and shipped datasets name them."""
    from lompo_bench.data.ids import ablation_dataset_id, dataset_id, dataset_image_size, dataset_version

    for profile in ("cpu", "smoke"):
        assert dataset_id("walker_walk", "medium-expert", profile) == f"lompo/walker_walk/medium-expert-{profile}-v0"
        assert dataset_id("dclaw_screw", "medium-expert", profile) == f"lompo/dclaw_screw/medium-expert-{profile}-v0"
        assert dataset_id("adroit_pen", "expert", profile) == f"lompo/adroit_pen/expert-{profile}-v1"
        assert dataset_id("door_open", "expert", profile) == f"lompo/door_open/expert-{profile}-v0"
        assert ablation_dataset_id(5, profile) == f"lompo/dclaw_screw/medium-expert-ablation-div5-{profile}-v0"
        assert {dataset_image_size(task, profile) for task in ("walker_walk", "dclaw_screw", "adroit_pen")} == {64}
    assert dataset_id("walker_walk", "expert", "paper") == "lompo/walker_walk/expert-v0"  # 64 px, as before
    assert dataset_id("dclaw_screw", "medium-replay", "paper") == "lompo/dclaw_screw/medium-replay-v1"
    assert dataset_id("adroit_pen", "medium-expert", "paper") == "lompo/adroit_pen/medium-expert-v2"
    assert dataset_id("door_open", "expert", "paper") == "lompo/door_open/expert-v1"
    assert [ablation_dataset_id(f, "paper") for f in (1, 5, 25)] == [
        "lompo/dclaw_screw/medium-expert-ablation-v1",
        "lompo/dclaw_screw/medium-expert-ablation-div5-v1",
        "lompo/dclaw_screw/medium-expert-ablation-div25-v1",
    ]
    paper_tasks = ("walker_walk", "dclaw_screw", "adroit_pen", "door_open")
    sizes = {task: dataset_image_size(task, "paper") for task in paper_tasks}
    assert sizes == {"walker_walk": 64, "dclaw_screw": 128, "adroit_pen": 128, "door_open": 128}
    assert dataset_version("adroit_pen", "paper") == 2 and dataset_version("adroit_pen", "cpu") == 1


def test_a_datasets_frame_shape_is_read_from_its_metadata(tmp_path, monkeypatch) -> None:
    from lompo_bench.data.store import dataset_frame_shape

    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path))
    write_synthetic_dataset("test/pen/small-v0", [3])
    write_synthetic_dataset("test/pen/large-v0", [3], image_size=128)
    assert dataset_frame_shape("test/pen/small-v0") == (64, 64, 3)
    assert dataset_frame_shape("test/pen/large-v0") == (128, 128, 3) == open_cache("test/pen/large-v0").frame_shape
