"""Recording episodes without pixels, and reading them back.

During SAC training (and expert rollouts) every transition is logged with the task's physics state instead of
its image: a few hundred bytes instead of 12 KB, and no rendering cost on the training path. Images are
rendered afterwards from the physics states (`dataset_gen.render`), bit-identical to live rendering.

On disk: a folder of chunk files `chunk_00000.npz`, ... each holding whole episodes, concatenated:
- per observation (T+1 rows per episode): `physics` float64, `state` float32, `proprio` float32 (maybe 0 wide);
- per transition (T rows per episode): `actions` float32, `rewards` float64, `terminations`, `truncations`;
- per episode: `obs_offsets`, `act_offsets` (length E+1), `start_steps`, `eval_levels`.
Chunks are written atomically (temporary file, then rename), so a killed run never leaves half a chunk.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lompo_bench.files import atomic_file

CHUNK_GLOB = "chunk_*.npz"


@dataclass(frozen=True)
class Episode:
    physics: np.ndarray  # (T+1, P) float64: `PixelTask.get_physics_state()` of every observation
    state: np.ndarray  # (T+1, S) float32
    proprio: np.ndarray  # (T+1, Q) float32, Q = 0 for tasks without proprioception
    actions: np.ndarray  # (T, A) float32, in [-1, 1]
    rewards: np.ndarray  # (T,) float64: the task's reward (sparse for Door), never a shaping reward
    terminations: np.ndarray  # (T,) bool
    truncations: np.ndarray  # (T,) bool
    start_step: int  # training agent step at which the episode began (0 for expert rollouts)
    eval_level: float  # the policy's latest evaluation return when the episode ended

    def __len__(self) -> int:
        return len(self.actions)

    @property
    def episode_return(self) -> float:
        return float(self.rewards.sum())


class EpisodeRecorder:
    """Collects transitions into whole episodes and writes them in chunks of about `chunk_steps` transitions."""

    def __init__(self, directory: Path, *, chunk_steps: int = 20_000, first_chunk: int = 0) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.chunk_steps = chunk_steps
        self.chunks_written = first_chunk
        self.eval_level = float("nan")
        self._finished: list[Episode] = []
        self._current: dict[str, list] | None = None
        self._start_step = 0

    def begin(self, physics: np.ndarray, state: np.ndarray, proprio: np.ndarray, *, start_step: int) -> None:
        """Start an episode at its first observation (an unfinished previous episode is dropped)."""
        self._current = {
            "physics": [physics],
            "state": [state],
            "proprio": [proprio],
            "actions": [],
            "rewards": [],
            "terminations": [],
            "truncations": [],
        }
        self._start_step = start_step

    def add(
        self,
        action: np.ndarray,
        reward: float,
        terminated: bool,
        truncated: bool,
        physics: np.ndarray,
        state: np.ndarray,
        proprio: np.ndarray,
    ) -> None:
        """Record one transition and the observation it led to; closes the episode when it ended."""
        if self._current is None:
            raise RuntimeError("EpisodeRecorder.add before begin")
        current = self._current
        current["actions"].append(np.asarray(action, dtype=np.float32))
        current["rewards"].append(float(reward))
        current["terminations"].append(bool(terminated))
        current["truncations"].append(bool(truncated))
        current["physics"].append(physics)
        current["state"].append(state)
        current["proprio"].append(proprio)
        if terminated or truncated:
            self._finished.append(
                Episode(
                    physics=np.asarray(current["physics"], dtype=np.float64),
                    state=np.asarray(current["state"], dtype=np.float32),
                    proprio=np.asarray(current["proprio"], dtype=np.float32).reshape(len(current["state"]), -1),
                    actions=np.asarray(current["actions"], dtype=np.float32),
                    rewards=np.asarray(current["rewards"], dtype=np.float64),
                    terminations=np.asarray(current["terminations"], dtype=bool),
                    truncations=np.asarray(current["truncations"], dtype=bool),
                    start_step=self._start_step,
                    eval_level=self.eval_level,
                )
            )
            self._current = None
            if sum(len(e) for e in self._finished) >= self.chunk_steps:
                self.flush()

    @property
    def pending_steps(self) -> int:
        return sum(len(e) for e in self._finished)

    def flush(self) -> None:
        """Write the finished episodes as one chunk (nothing when there are none)."""
        if not self._finished:
            return
        write_chunk(self.directory / f"chunk_{self.chunks_written:05d}.npz", self._finished)
        self.chunks_written += 1
        self._finished = []


def write_chunk(path: Path, episodes: list[Episode]) -> None:
    obs_lengths = [len(e) + 1 for e in episodes]
    act_lengths = [len(e) for e in episodes]
    arrays = {
        "physics": np.concatenate([e.physics for e in episodes]),
        "state": np.concatenate([e.state for e in episodes]),
        "proprio": np.concatenate([e.proprio for e in episodes]),
        "actions": np.concatenate([e.actions for e in episodes]),
        "rewards": np.concatenate([e.rewards for e in episodes]),
        "terminations": np.concatenate([e.terminations for e in episodes]),
        "truncations": np.concatenate([e.truncations for e in episodes]),
        "obs_offsets": np.concatenate([[0], np.cumsum(obs_lengths)]).astype(np.int64),
        "act_offsets": np.concatenate([[0], np.cumsum(act_lengths)]).astype(np.int64),
        "start_steps": np.array([e.start_step for e in episodes], dtype=np.int64),
        "eval_levels": np.array([e.eval_level for e in episodes], dtype=np.float64),
    }
    with atomic_file(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)


def chunk_paths(directory: Path) -> list[Path]:
    return sorted(Path(directory).glob(CHUNK_GLOB))


def drop_chunks_from(directory: Path, first: int) -> None:
    """Delete chunks numbered `first` and above: they were written after the checkpoint a run resumes from."""
    for path in chunk_paths(directory):
        if int(path.stem.split("_")[1]) >= first:
            path.unlink()


@dataclass(frozen=True)
class EpisodeRef:
    """Where an episode lives: which recording, which chunk file, which position in it."""

    source: str  # "train" or "expert" (or a run name for the ablation)
    chunk: int
    index: int
    length: int
    start_step: int
    episode_return: float
    eval_level: float


class EpisodeStore:
    """Read access to a recording folder: an index of all episodes, and each episode on demand."""

    def __init__(self, directory: Path, source: str) -> None:
        self.directory = Path(directory)
        self.source = source
        self._paths = chunk_paths(self.directory)
        self._cache: tuple[int, dict[str, np.ndarray]] | None = None
        refs = []
        for chunk, path in enumerate(self._paths):
            with np.load(path) as data:
                act = data["act_offsets"]
                rewards = data["rewards"]
                for i in range(len(act) - 1):
                    refs.append(
                        EpisodeRef(
                            source,
                            chunk,
                            i,
                            int(act[i + 1] - act[i]),
                            int(data["start_steps"][i]),
                            float(rewards[act[i] : act[i + 1]].sum()),
                            float(data["eval_levels"][i]),
                        )
                    )
        self.episodes: list[EpisodeRef] = refs
        self._by_position = {(r.chunk, r.index): r for r in refs}

    def get(self, chunk: int, index: int) -> EpisodeRef:
        return self._by_position[(chunk, index)]

    def _chunk(self, chunk: int) -> dict[str, np.ndarray]:
        if self._cache is None or self._cache[0] != chunk:
            with np.load(self._paths[chunk]) as data:
                self._cache = (chunk, {key: data[key] for key in data.files})
        return self._cache[1]

    def load(self, ref: EpisodeRef) -> Episode:
        data = self._chunk(ref.chunk)
        o0, o1 = data["obs_offsets"][ref.index], data["obs_offsets"][ref.index + 1]
        a0, a1 = data["act_offsets"][ref.index], data["act_offsets"][ref.index + 1]
        return Episode(
            physics=data["physics"][o0:o1],
            state=data["state"][o0:o1],
            proprio=data["proprio"][o0:o1],
            actions=data["actions"][a0:a1],
            rewards=data["rewards"][a0:a1],
            terminations=data["terminations"][a0:a1],
            truncations=data["truncations"][a0:a1],
            start_step=ref.start_step,
            eval_level=ref.eval_level,
        )
