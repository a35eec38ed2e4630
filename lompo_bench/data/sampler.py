"""Batches for training: windows of whole-episode sequences (world models) and single transitions (model-free).

Both read from a `DatasetCache`: small arrays live in RAM, pixels are read per window with `preadv` straight
into the batch buffer, so memory stays at a batch however large the dataset, and a window of T frames is one
contiguous read. On a GPU the batch buffer is pinned, so the host-to-device copy is asynchronous.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from lompo_bench.data.cache import DatasetCache
from lompo_bench.errors import UserError


class _PixelReader:
    _rng: np.random.Generator

    _fd = -1  # no file open yet: `close` (and so `__del__`) has nothing to do

    def __init__(self, cache: DatasetCache) -> None:
        self.cache = cache
        try:
            self._fd = os.open(cache.pixels_path, os.O_RDONLY)
        except FileNotFoundError:
            raise UserError(
                f"the read cache {cache.pixels_path.parent} was deleted while this process used it; rerun the same "
                "command: the cache is built again and a training run resumes from its last checkpoint"
            ) from None

    def get_state(self) -> dict[str, Any]:
        """The random generator's state, to resume sampling exactly where a checkpoint left off."""
        return self._rng.bit_generator.state

    def set_state(self, state: dict[str, Any]) -> None:
        self._rng.bit_generator.state = state

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __del__(self) -> None:
        self.close()


def _batch_buffer(shape: tuple[int, ...], pin: bool) -> np.ndarray:
    if pin:
        import torch

        if torch.cuda.is_available():  # pinning needs a CUDA driver; without a GPU it would only cost
            return torch.empty(shape, dtype=torch.uint8).pin_memory().numpy()
    return np.empty(shape, dtype=np.uint8)


class SequenceSampler(_PixelReader):
    """B windows of T consecutive observations, each inside one episode (the paper's model batches: 64 x 50), in
    Dreamer's layout, which the official LOMPO code trains its model on.

    A window may start at any of an episode's N + 1 observations that leave room for T (its last observation
    included). A batch (numpy; `torch.from_numpy` shares it): `pixels` uint8 (B, T, H, W, 3), `proprio` / `state`
    float32 (B, T, .), and aligned with each observation what led to it: `prev_actions` (B, T, A), the action that
    led there, `prev_rewards` (B, T), the reward received on arriving, `is_terminal` (B, T), whether the episode
    terminated there (zero, 0 and False at an episode's first observation, where nothing led to it), plus
    `is_first` (B, T), True at an episode's first observation. Episodes of fewer than T observations are never
    sampled. The `pixels` buffer is reused by the next `sample()`: hand it to torch (or copy it) before sampling
    again.
    """

    def __init__(
        self,
        cache: DatasetCache,
        batch_size: int,
        seq_len: int,
        *,
        seed: int = 0,
        pin_memory: bool = False,
        episodes: np.ndarray | None = None,
    ):
        """`episodes`: the episode indices windows are drawn from (default: all)."""
        super().__init__(cache)
        observations = cache.episode_lengths() + 1
        usable = np.flatnonzero(observations >= seq_len)
        if episodes is not None:
            usable = usable[np.isin(usable, episodes)]
        if len(usable) == 0:
            raise ValueError(f"no episode has {seq_len} observations (longest: {observations.max(initial=0)})")
        # Every valid window start, as (episode, offset): one entry per start, O(N) ints.
        counts = observations[usable] - seq_len + 1
        self._episode = np.repeat(usable, counts)
        self._offset = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        self.batch_size, self.seq_len = batch_size, seq_len
        self._rng = np.random.default_rng(seed)
        self._pixels = _batch_buffer((batch_size, seq_len, *cache.frame_shape), pin_memory)

    @property
    def num_windows(self) -> int:
        return len(self._offset)

    def sample(self) -> dict[str, np.ndarray]:
        pick = self._rng.integers(0, self.num_windows, self.batch_size)
        episode, offset = self._episode[pick], self._offset[pick]
        obs = self.cache.obs_starts[episode] + offset
        for b, first in enumerate(obs):
            self.cache.read_frames(self._fd, int(first), self._pixels[b])
        k = offset[:, None] + np.arange(self.seq_len)  # each observation's index in its episode
        obs_idx = obs[:, None] + np.arange(self.seq_len)
        led = k > 0  # an observation that a step led to; the step's index is one before it
        step_idx = np.where(led, self.cache.step_starts[episode][:, None] + k - 1, 0)
        return {
            "pixels": self._pixels,
            "proprio": self.cache.proprio[obs_idx],
            "state": self.cache.state[obs_idx],
            "prev_actions": np.where(led[..., None], self.cache.actions[step_idx], 0).astype(self.cache.actions.dtype),
            "prev_rewards": np.where(led, self.cache.rewards[step_idx], 0).astype(self.cache.rewards.dtype),
            "is_terminal": led & self.cache.terminals[step_idx].astype(bool),
            "is_first": k == 0,
        }


class TransitionSampler(_PixelReader):
    """B single transitions (o, a, r, o', terminal) for model-free learners, with `frame_stack` frames per
    observation (earlier frames of the episode; the first frame repeated at the episode's start)."""

    def __init__(self, cache: DatasetCache, batch_size: int, *, frame_stack: int = 1, seed: int = 0):
        super().__init__(cache)
        lengths = cache.episode_lengths()
        self._episode_of_step = np.repeat(np.arange(cache.num_episodes), lengths)
        self.batch_size, self.frame_stack = batch_size, frame_stack
        self._rng = np.random.default_rng(seed)
        shape = (batch_size, frame_stack, *cache.frame_shape)
        self._obs, self._next = np.empty(shape, np.uint8), np.empty(shape, np.uint8)

    def _stack(self, out: np.ndarray, obs_index: int, episode_start: int) -> None:
        first = obs_index - self.frame_stack + 1
        if first >= episode_start:
            self.cache.read_frames(self._fd, first, out)
        else:
            for k in range(self.frame_stack):
                self.cache.read_frames(self._fd, max(first + k, episode_start), out[k : k + 1])

    def sample(self) -> dict[str, Any]:
        steps = self._rng.integers(0, self.cache.num_steps, self.batch_size)
        episodes = self._episode_of_step[steps]
        obs = self.cache.obs_starts[episodes] + steps - self.cache.step_starts[episodes]
        for b in range(self.batch_size):
            start = int(self.cache.obs_starts[episodes[b]])
            self._stack(self._obs[b], int(obs[b]), start)
            self._stack(self._next[b], int(obs[b]) + 1, start)
        return {
            "pixels": self._obs,
            "next_pixels": self._next,
            "proprio": self.cache.proprio[obs],
            "next_proprio": self.cache.proprio[obs + 1],
            "actions": self.cache.actions[steps],
            "rewards": self.cache.rewards[steps],
            "terminals": self.cache.terminals[steps],
        }


class EpisodeReader(_PixelReader):
    """Whole episodes, in the dataset's order: what a latent model encodes from t = 0 to fill its real-transition
    buffer (each transition once). Episodes of one length come back stacked, so they are encoded together."""

    def read(self, episodes: np.ndarray | list[int]) -> dict[str, np.ndarray]:
        """Episodes of equal length L, stacked: `pixels` uint8 (n, L + 1, H, W, 3), `proprio` (n, L + 1, .), and
        per step `actions` (n, L, A), `rewards`, `terminals` (n, L)."""
        episodes = np.asarray(episodes, dtype=np.int64)
        lengths = self.cache.episode_lengths()[episodes]
        if len(set(lengths.tolist())) != 1:
            raise ValueError(f"episodes of different lengths read together: {sorted(set(lengths.tolist()))}")
        length = int(lengths[0])
        pixels = np.empty((len(episodes), length + 1, *self.cache.frame_shape), np.uint8)
        for i, episode in enumerate(episodes):
            self.cache.read_frames(self._fd, int(self.cache.obs_starts[episode]), pixels[i])
        obs_idx = self.cache.obs_starts[episodes][:, None] + np.arange(length + 1)
        step_idx = self.cache.step_starts[episodes][:, None] + np.arange(length)
        return {
            "pixels": pixels,
            "proprio": self.cache.proprio[obs_idx],
            "actions": self.cache.actions[step_idx],
            "rewards": self.cache.rewards[step_idx],
            "terminals": self.cache.terminals[step_idx],
        }


_COPY_STREAMS: dict[Any, Any] = {}


def to_torch(batch: dict[str, np.ndarray], device: Any = "cpu") -> dict[str, Any]:
    """A sampled batch as torch tensors on `device`. On the CPU the tensors share the batch's memory (no copy).

    To a GPU the copy runs on a side stream, and returns once the copy (only the copy) is done: the sampler
    reuses its buffers at the next `sample()`, so the host must not run ahead of the copy, while the GPU's
    compute on the default stream goes on meanwhile. Pinned buffers make the copy itself faster."""
    import torch

    device = torch.device(device)
    tensors = {key: torch.from_numpy(np.ascontiguousarray(value)) for key, value in batch.items()}
    if device.type == "cpu":
        return tensors
    stream = _COPY_STREAMS.get(device)
    if stream is None:
        stream = _COPY_STREAMS[device] = torch.cuda.Stream(device)
    with torch.cuda.stream(stream):
        out = {key: tensor.to(device, non_blocking=True) for key, tensor in tensors.items()}
    stream.synchronize()
    compute = torch.cuda.current_stream(device)
    for tensor in out.values():
        tensor.record_stream(compute)  # allocated on the copy stream, used on the compute stream
    return out


class TorchBatches:
    """A sampler's batches as torch tensors on `device`: the one way training loops draw them. With `prefetch`
    the next batch is drawn on a background thread while the current one trains, so the host's sampling and
    copy overlap a GPU's compute (on a CPU that thread competes with the update's own: the speed settings turn
    it on for CUDA only); without, each batch is drawn when asked for, sharing the sampler's buffers on a CPU.

    Either way the batches and their order are the sampler's, and so is `get_state`: with `prefetch` it is the
    state before the batch drawn ahead and not handed out yet, so a run resumed from it draws that batch again."""

    def __init__(self, sampler: Any, device: Any, prefetch: bool = False) -> None:
        import torch

        self.sampler, self.device = sampler, torch.device(device)
        self._thread: Any = None
        if prefetch:
            from concurrent.futures import ThreadPoolExecutor

            self._thread = ThreadPoolExecutor(1, thread_name_prefix="lompo-prefetch")
        self._ahead: tuple[dict[str, Any], Any] | None = None  # (sampler state before it, the batch's future)

    def _draw(self) -> dict[str, Any]:
        batch = to_torch(self.sampler.sample(), self.device)
        if self._thread is not None and self.device.type == "cpu":  # shared buffers: the next draw reuses them
            batch = {key: value.clone() for key, value in batch.items()}
        return batch

    def sample(self) -> dict[str, Any]:
        if self._thread is None:
            return self._draw()
        if self._ahead is None:
            self._draw_ahead()
        assert self._ahead is not None
        batch = self._ahead[1].result()  # the thread is idle from here until the next draw is submitted
        self._draw_ahead()
        return batch

    def _draw_ahead(self) -> None:
        self._ahead = (self.sampler.get_state(), self._thread.submit(self._draw))

    def get_state(self) -> dict[str, Any]:
        return self._ahead[0] if self._ahead is not None else self.sampler.get_state()

    def set_state(self, state: dict[str, Any]) -> None:
        self._settle()
        self.sampler.set_state(state)

    def _settle(self) -> None:
        """Wait for the batch drawn ahead and drop it, leaving the sampler where that draw began."""
        if self._ahead is not None:
            state, future = self._ahead
            future.result()
            self._ahead = None
            self.sampler.set_state(state)

    def close(self) -> None:
        self._settle()
        if self._thread is not None:
            self._thread.shutdown()
