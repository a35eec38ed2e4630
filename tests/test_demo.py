"""Random rollouts and contact sheets used by `tasks show` and `demo`."""

from __future__ import annotations

import numpy as np

from lompo_bench.demo import contact_sheet, random_rollout


def test_rollout_crosses_episode_boundaries_and_reports_returns() -> None:
    rollout = random_rollout("pen", steps=60, seed=0)  # Pen episodes are 50 agent steps
    assert rollout.agent_steps == 60 and len(rollout.frames) == 61
    assert len(rollout.episode_returns) == 1
    assert rollout.steps_per_second > 0


def test_rollout_is_seeded() -> None:
    first, second = random_rollout("walker", steps=5, seed=3), random_rollout("walker", steps=5, seed=3)
    for a, b in zip(first.frames, second.frames, strict=True):
        np.testing.assert_array_equal(a, b)
    assert first.partial_return == second.partial_return


def test_contact_sheet_lays_out_evenly_spaced_frames() -> None:
    frames = [np.full((8, 8, 3), i, dtype=np.uint8) for i in range(10)]
    sheet = np.asarray(contact_sheet(frames, count=4, columns=2, scale=1))
    assert sheet.shape == (16, 16, 3)
    assert [sheet[0, 0, 0], sheet[0, 8, 0], sheet[8, 0, 0], sheet[8, 8, 0]] == [0, 3, 6, 9]
