"""The split rule and the recording format, on hand-made episodes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lompo_bench.dataset_gen.recording import EpisodeRecorder, EpisodeRef, EpisodeStore, drop_chunks_from
from lompo_bench.dataset_gen.splits import (
    SPLIT_RULE,
    medium_point,
    split_training_episodes,
    subsample,
    trim_kinds,
    trim_to_size,
)


def _ref(start: int, length: int = 10, source: str = "train") -> EpisodeRef:
    return EpisodeRef(source, 0, start // length, length, start, 0.0, 0.0)


def test_medium_point_is_the_first_evaluation_at_half_the_expert_level() -> None:
    evals = [(100, 10.0), (200, 40.0), (300, 55.0), (400, 30.0), (500, 90.0)]
    # random 10, expert 90: threshold 10 + 0.5 * 80 = 50
    assert medium_point(evals, random_level=10.0, expert_level=90.0, fraction=0.5) == 300
    assert medium_point(evals, random_level=10.0, expert_level=200.0, fraction=0.5) == 500  # never reached: last
    # The smoke profile's rule when never reached: the evaluation nearest mid-training (250: 200 and 300 tie, the
    # earlier wins), so both kinds get episodes; a reached threshold is used as in every profile.
    assert medium_point(evals, 10.0, 200.0, 0.5, never_reached="middle") == 200
    assert medium_point(evals, 10.0, 90.0, 0.5, never_reached="middle") == 300
    with pytest.raises(ValueError):
        medium_point([], 0.0, 1.0, 0.5)


def test_training_episodes_split_whole_at_the_medium_point() -> None:
    episodes = [_ref(start) for start in range(0, 100, 10)]
    before, after = split_training_episodes(episodes, point=50)
    assert [e.start_step for e in before] == [0, 10, 20, 30, 40]
    assert [e.start_step for e in after] == [50, 60, 70, 80, 90]


def test_trim_keeps_whole_episodes_in_order_and_is_seeded() -> None:
    episodes = [_ref(start) for start in range(0, 1000, 10)]
    first = trim_to_size(episodes, 95, np.random.default_rng(3))
    again = trim_to_size(episodes, 95, np.random.default_rng(3))
    assert first == again
    assert sum(e.length for e in first) == 100  # whole episodes: the first total at or past the size
    assert [e.start_step for e in first] == sorted(e.start_step for e in first)
    assert trim_to_size(episodes[:3], 1000, np.random.default_rng(0)) == episodes[:3]
    assert sum(e.length for e in subsample(episodes, 5, np.random.default_rng(0))) == 200


def test_each_kind_is_drawn_as_in_an_all_kinds_run_whichever_kinds_are_drawn() -> None:
    episodes = [_ref(start) for start in range(0, 600, 10)]
    candidates = {"medium-replay": episodes[:20], "medium-expert": episodes[20:50], "expert": episodes[50:]}
    sizes = {"medium-replay": 45, "medium-expert": 95, "expert": 25}
    rng = np.random.default_rng(7)  # what every `--kind all` run has drawn: one generator, kind after kind
    every_kind = {kind: trim_to_size(candidates[kind], sizes[kind], rng) for kind in candidates}
    assert trim_kinds(candidates, sizes, seed=7) == every_kind
    # Without the expert's rollouts (neither medium kind needs them), and with a medium kind no one writes empty.
    medium = {"medium-replay": candidates["medium-replay"], "medium-expert": candidates["medium-expert"]}
    assert trim_kinds(medium, sizes, seed=7) == {kind: every_kind[kind] for kind in medium}
    no_replay = trim_kinds({"medium-replay": [], "medium-expert": candidates["medium-expert"]}, sizes, seed=7)
    assert no_replay["medium-expert"] == trim_to_size(candidates["medium-expert"], 95, np.random.default_rng(7))
    with pytest.raises(ValueError, match="prefix"):  # a kind drawn without the ones before it would move
        trim_kinds({"medium-expert": candidates["medium-expert"]}, sizes, seed=7)
    with pytest.raises(ValueError, match="prefix"):
        trim_kinds({**medium, "best": episodes}, sizes, seed=7)


def test_split_rule_text_is_stored_whole() -> None:
    assert SPLIT_RULE.startswith("1. the expert policy is the better of") and "\n" not in SPLIT_RULE
    for part in ("2. medium threshold", "3. medium-replay", "4. Each kind is trimmed", "keeps all."):
        assert part in SPLIT_RULE


def _record_episode(recorder: EpisodeRecorder, length: int, offset: float, start: int) -> None:
    recorder.begin(np.full(5, offset), np.full(3, offset, np.float32), np.zeros(0, np.float32), start_step=start)
    for t in range(length):
        done = t == length - 1
        recorder.add(
            np.full(2, t / length),
            t + offset,
            False,
            done,
            np.full(5, offset + t + 1),
            np.full(3, offset + t + 1, np.float32),
            np.zeros(0, np.float32),
        )


def test_recording_round_trips_in_chunks(tmp_path: Path) -> None:
    recorder = EpisodeRecorder(tmp_path, chunk_steps=15)
    recorder.eval_level = 7.0
    for i in range(4):
        _record_episode(recorder, 10, offset=100.0 * i, start=10 * i)
    recorder.begin(np.zeros(5), np.zeros(3, np.float32), np.zeros(0, np.float32), start_step=40)  # unfinished
    recorder.flush()
    store = EpisodeStore(tmp_path, "train")
    assert len(store.episodes) == 4 and recorder.chunks_written == 2  # flushed at 20 steps, then the rest
    for i, ref in enumerate(store.episodes):
        episode = store.load(ref)
        assert len(episode) == 10 and episode.physics.shape == (11, 5) and episode.proprio.shape == (11, 0)
        np.testing.assert_array_equal(episode.physics[:, 0], 100.0 * i + np.arange(11))
        assert episode.truncations[-1] and not episode.truncations[:-1].any()
        assert ref.start_step == 10 * i and ref.eval_level == 7.0
        assert ref.episode_return == pytest.approx(sum(t + 100.0 * i for t in range(10)))
    drop_chunks_from(tmp_path, 1)
    assert len(EpisodeStore(tmp_path, "train").episodes) == 2
