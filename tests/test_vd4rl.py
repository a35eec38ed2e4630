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


def _tree(folder, locks: bool = True) -> dict[str, tuple[int, int]]:
    """Every path under `folder` (hidden ones included; lock files unless `locks` is False) with its size and
    modification time."""
    paths = [p for p in sorted(folder.rglob("*")) if locks or p.suffix != ".lock"]
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in paths}


def _edited(path, **changes) -> None:
    """Rewrite a V-D4RL file with some arrays replaced by `changes[name](array)`."""
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    np.savez(path, **{k: changes[k](v) if k in changes else v for k, v in arrays.items()})


def _nan_at(index):
    def edit(array):
        array = array.astype(np.float32)
        array[index] = np.nan
        return array

    return edit


def _flag_at(index):
    def edit(array):
        array = array.copy()
        array[index] = True
        return array

    return edit


# Issue 33: each of these was installed (exit 0), wrote outside the datasets folder or crashed after writing.
BAD_IMPORTS = {
    "id outside the datasets folder": ({"dataset_id": "../../evil"}, None),
    "id with a space": ({"dataset_id": "vd4rl/walker walk/x-v0"}, None),
    "id without a version": ({"dataset_id": "vd4rl/walker_walk/x"}, None),
    "id of a generated dataset": ({"dataset_id": "lompo/walker_walk/expert-v0"}, None),
    "kind that is a path": ({"kind": "weird kind/../x"}, None),
    "actions shorter than the images": ({}, lambda path: _edited(path, action=lambda a: a[:-5])),
    "NaN action": ({}, lambda path: _edited(path, action=_nan_at((30, 2)))),
    "NaN reward": ({}, lambda path: _edited(path, reward=_nan_at(30))),
    "action out of the action space": ({}, lambda path: _edited(path, action=lambda a: a * 5)),
    "images that are not uint8": ({}, lambda path: _edited(path, image=lambda a: a / 255.0)),
    "episode of 0 steps": ({}, lambda path: vd4rl_file(path, [40, 0, 40], seed=2)),
    "episode of 1 step": ({}, lambda path: vd4rl_file(path, [40, 1], seed=2)),
    "terminal before the episode's end": ({}, lambda path: _edited(path, is_terminal=_flag_at(20))),
}


@pytest.mark.parametrize("case", list(BAD_IMPORTS))
def test_a_bad_import_is_refused_in_one_line_and_writes_nothing_anywhere(case, tmp_path, monkeypatch) -> None:
    """Ids and kinds are checked as `generate`'s, every episode of every file before anything is written; the bad
    one is in the last file, after a good one, so an import that wrote as it read would have begun."""
    from typer.testing import CliRunner

    from lompo_bench.cli import app
    from lompo_bench.data import local_dataset_ids

    root = tmp_path / "datasets" / "minari"  # "../../evil" would land in tmp_path
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(root))
    good = tmp_path / "good"
    good.mkdir()
    vd4rl_file(good / "000.npz", [40], seed=0)
    import_vd4rl(good, "walker", "expert")  # a dataset already there, which a broken one must not hide
    arguments, break_file = BAD_IMPORTS[case]
    source = tmp_path / "source"
    source.mkdir()
    vd4rl_file(source / "000.npz", [40], seed=0)
    vd4rl_file(source / "001.npz", [40, 40], seed=1)
    if break_file is not None:
        break_file(source / "001.npz")
    before = _tree(tmp_path)

    with pytest.raises(UserError):
        import_vd4rl(source, "walker", arguments.get("kind", "medium-replay"), arguments.get("dataset_id"))
    command = ["import", "vd4rl", str(source), "--task", "walker", "--kind", arguments.get("kind", "medium-replay")]
    if "dataset_id" in arguments:
        command += ["--id", arguments["dataset_id"]]
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.output, result.output

    assert _tree(tmp_path) == before  # nothing written anywhere, hidden build folders included
    assert local_dataset_ids() == ["vd4rl/walker_walk/expert-v0"]
    assert list(minari.list_local_datasets()) == ["vd4rl/walker_walk/expert-v0"]


def test_the_writer_installs_no_dataset_without_episodes(tmp_path, monkeypatch) -> None:
    """Minari leaves a dataset of no episode without its HDF5 file, which breaks `minari list local` for every
    dataset: the data layer's writer refuses it, whoever calls it, and leaves nothing visible."""
    import gymnasium as gym

    from lompo_bench import get_task_spec, make_task
    from lompo_bench.data import local_dataset_ids
    from lompo_bench.data.writer import write_minari_dataset

    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path))
    env = make_task("walker")
    with pytest.raises(UserError, match="no episode"):
        spec = gym.spec(get_task_spec("walker").gym_id)
        write_minari_dataset("test/walker/empty-v0", spec, env.observation_space, env.action_space, iter([]), {})
    env.close()
    assert local_dataset_ids() == [] and list(minari.list_local_datasets()) == []
    assert not (tmp_path / "test" / "walker" / "empty-v0").exists()


def test_the_writer_keeps_an_installed_dataset_when_told_not_to_replace_it(tmp_path, monkeypatch) -> None:
    """`replace=False` (imports, and `generate` when another process wrote the id meanwhile): checked under the
    id's build lock, the installed dataset is kept as it was."""
    import gymnasium as gym

    from lompo_bench import get_task_spec
    from lompo_bench.data.writer import DatasetExists, write_minari_dataset

    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    source = tmp_path / "vd4rl"
    source.mkdir()
    vd4rl_file(source / "000.npz", [30], seed=0)
    ds_id, _, _ = import_vd4rl(source, "walker", "expert")
    before = _tree(tmp_path / "minari", locks=False)  # the build lock is taken and released: its file is touched
    dataset = minari.load_dataset(ds_id)
    episode = {
        "observations": {"pixels": np.zeros((3, 64, 64, 3), np.uint8)},
        "actions": np.zeros((2, 6)),
        "rewards": np.zeros(2),
        "terminations": np.zeros(2, bool),
        "truncations": np.array([False, True]),
    }
    spec = gym.spec(get_task_spec("walker").gym_id)
    with pytest.raises(DatasetExists):
        write_minari_dataset(
            ds_id, spec, dataset.observation_space, dataset.action_space, iter([episode]), {}, replace=False
        )
    assert _tree(tmp_path / "minari", locks=False) == before
