"""d3rlpy on the benchmark: a lompo-bench dataset as a d3rlpy dataset, and a d3rlpy policy as a lompo-bench policy.

    pip install 'lompo-bench[d3rlpy]'

```python
import d3rlpy
import lompo_bench
from lompo_bench.adapters.d3rlpy import policy_from_d3rlpy, to_mdp_dataset

dataset_id = "lompo/walker_walk/medium-expert-cpu-v0"
dataset = to_mdp_dataset(dataset_id, frame_stack=3)
bc = d3rlpy.algos.BCConfig(observation_scaler=d3rlpy.preprocessing.PixelObservationScaler()).create(device="cpu")
bc.fit(dataset, n_steps=4000)
record = lompo_bench.evaluate_policy(policy_from_d3rlpy(bc), dataset_id, algo="d3rlpy_bc", seed=0)
lompo_bench.write_result(record)  # `lompo-bench report` shows it beside the built-ins
```

A policy saved with `bc.save_policy("bc.pt")` is scored from the command line:
`lompo-bench evaluate-policy bc.pt --format d3rlpy --dataset lompo/walker_walk/medium-expert-cpu-v0 --algo d3rlpy_bc`.

The layout, and where it differs from ours:

- Observations are the pixels alone, uint8 (3, H, W) (channels first, as d3rlpy's pixel encoders take them),
  never `state` (an agent from pixels must not read it) and not `proprio`: D'Claw's and Pen's proprioception has
  no place in a pixels-only d3rlpy encoder, so a d3rlpy agent there is a pixels-only one (a lower bound beside
  our agents, which read it). The frames are views of the dataset's read cache (memory-mapped), not copies.
- Frame stacking is d3rlpy's own (`FrameStackTransitionPicker` / `FrameStackTrajectorySlicer`): an observation is
  the last `frame_stack` frames of its episode, oldest first, concatenated on the channel axis (3 x frame_stack,
  H, W); at an episode's start the missing earlier frames are zeros (d3rlpy's rule; our own model-free learners
  repeat the first frame instead). Frames never cross an episode boundary. `policy_from_d3rlpy` stacks the
  frames it acts on by the same rule.
- Episodes are ours, one d3rlpy `Episode` each: `terminated` is our termination flag at the episode's last step;
  an episode that ends without termination (truncation by the time limit) is d3rlpy's timeout. d3rlpy keeps as
  many observations as actions per episode, so our N + 1 observations lose the last one (never paired with a
  made-up action). In a terminated episode that costs nothing (d3rlpy's next observation at a terminal is
  zeros, the value there is 0); in a truncated one d3rlpy has no next observation for the last step, so its
  last transition is not sampled: N - 1 transitions of its N (d3rlpy's own timeout convention; 1 in 500 for
  Walker).
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from lompo_bench.errors import UserError

INSTALL = "pip install 'lompo-bench[d3rlpy]'"


def import_d3rlpy() -> Any:
    """The d3rlpy module, or one line saying how to install it. Importing it imports gym 0.26, which prints an
    "unmaintained" banner on stderr: kept out of our output."""
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            import d3rlpy
            import d3rlpy.dataset  # noqa: F401
    except ModuleNotFoundError as error:
        if error.name and error.name.split(".")[0] == "d3rlpy":
            raise UserError(f"d3rlpy is not installed: {INSTALL}") from None
        raise UserError(f"d3rlpy cannot be imported ({error}): {INSTALL}") from None
    except ImportError as error:
        raise UserError(f"d3rlpy cannot be imported ({error}): {INSTALL}") from None
    return d3rlpy


def _check_frame_stack(frame_stack: Any) -> int:
    if isinstance(frame_stack, bool) or not isinstance(frame_stack, int | np.integer) or frame_stack < 1:
        raise UserError(f"frame_stack must be a whole number of frames, at least 1, not {frame_stack!r}")
    return int(frame_stack)


def to_mdp_dataset(dataset_id: str, frame_stack: int = 3, *, in_memory: bool = False, progress: Any = None) -> Any:
    """The lompo-bench dataset `dataset_id` as a d3rlpy dataset (a `d3rlpy.dataset.ReplayBuffer`, the type
    `MDPDataset` derives from and every d3rlpy `fit` takes), laid out as the module's docstring says: pixels only,
    uint8 (3 x `frame_stack`, H, W) per observation after d3rlpy's frame stacking, our episodes with their
    terminations and timeouts.

    in_memory: copy the frames into RAM, channels first (12 KiB a transition at 64 px: 240 MB for a cpu dataset),
        instead of reading them through the memory-mapped cache (any size, no copy). Sampling is faster from RAM
        (measured on Walker cpu, 3 frames, batch 100: ~19 ms a batch against ~25 ms; d3rlpy's default BC spends
        ~85 ms a step on one thread).
    progress: where building the dataset's read cache reports (its first use only)."""
    import_d3rlpy()
    from d3rlpy.constants import ActionSpace
    from d3rlpy.dataset import (
        BasicTrajectorySlicer,
        BasicTransitionPicker,
        Episode,
        FrameStackTrajectorySlicer,
        FrameStackTransitionPicker,
        InfiniteBuffer,
        ReplayBuffer,
        Signature,
    )

    from lompo_bench.data import open_cache
    from lompo_bench.data.store import CorruptDataset

    frame_stack = _check_frame_stack(frame_stack)
    cache = open_cache(dataset_id, progress)
    # (N_obs, 3, H, W): a view of the cache's (N_obs, H, W, 3) pixels, on disk until read
    pixels = np.asarray(np.load(cache.pixels_path, mmap_mode="r")).transpose(0, 3, 1, 2)
    actions = np.asarray(cache.actions, dtype=np.float32)
    rewards = np.asarray(cache.rewards, dtype=np.float32).reshape(-1, 1)
    ends = cache.terminals.astype(bool) | cache.truncations.astype(bool)
    episodes = []
    for e in range(cache.num_episodes):
        obs, first, last = (int(x) for x in (cache.obs_starts[e], cache.step_starts[e], cache.step_starts[e + 1]))
        if last == first:
            continue  # an episode without a step holds no transition
        if ends[first : last - 1].any():
            raise CorruptDataset(f"{dataset_id}: episode {e} terminates or is truncated before its last step")
        frames = pixels[obs : obs + last - first]  # the N + 1-th observation has no action: left out
        episodes.append(
            Episode(
                observations=frames if not in_memory else np.ascontiguousarray(frames),
                actions=actions[first:last],
                rewards=rewards[first:last],
                terminated=bool(cache.terminals[last - 1]),
            )
        )
    if not any(episode.transition_count for episode in episodes):
        raise UserError(f"{dataset_id} holds no transition d3rlpy can sample (every episode is one step long)")
    if frame_stack == 1:
        picker, slicer = BasicTransitionPicker(), BasicTrajectorySlicer()
    else:
        picker, slicer = FrameStackTransitionPicker(frame_stack), FrameStackTrajectorySlicer(frame_stack)
    height, width = cache.frame_shape[:2]
    return ReplayBuffer(
        InfiniteBuffer(),
        episodes=episodes,
        transition_picker=picker,
        trajectory_slicer=slicer,
        # given, not inferred: d3rlpy would log each inference on stdout
        observation_signature=Signature(dtype=[np.dtype(np.uint8)], shape=[(3, height, width)]),
        action_signature=Signature(dtype=[np.dtype(np.float32)], shape=[actions.shape[1:]]),
        reward_signature=Signature(dtype=[np.dtype(np.float32)], shape=[(1,)]),
        action_space=ActionSpace.CONTINUOUS,
        action_size=int(actions.shape[1]),
    )


class D3rlpyPolicy:
    """A d3rlpy policy as lompo-bench evaluates one (`EpisodePolicy`: `reset()`, `act(observation)`): keeps the
    episode's last `frame_stack` frames as `to_mdp_dataset` stacks them (channels first, oldest first, zeros before
    the episode's first frame), hands them to `predict` as one batched uint8 array (1, 3 x frame_stack, H, W) and
    returns its action as float32, clipped to [-1, 1]."""

    def __init__(self, predict: Callable[[np.ndarray], Any], frame_stack: int, name: str) -> None:
        self.predict, self.frame_stack, self.name = predict, _check_frame_stack(frame_stack), name
        self._frames: np.ndarray | None = None

    def reset(self) -> None:
        self._frames = None

    def act(self, observation: dict[str, np.ndarray]) -> np.ndarray:
        frame = np.asarray(observation["pixels"])
        if frame.ndim != 3 or frame.shape[-1] != 3:
            raise UserError(f"{self.name}: pixels of shape {frame.shape}, not (H, W, 3)")
        if self._frames is None:
            self._frames = np.zeros((self.frame_stack, 3, *frame.shape[:2]), np.uint8)
        self._frames[:-1] = self._frames[1:].copy()
        self._frames[-1] = frame.transpose(2, 0, 1)
        action = np.asarray(self.predict(self._frames.reshape(1, -1, *frame.shape[:2])), dtype=np.float32)
        if action.ndim != 2 or action.shape[0] != 1:
            raise UserError(f"{self.name} returned actions of shape {action.shape} for one observation, not (1, A)")
        return np.clip(action[0], -1.0, 1.0)


def _last_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[-1] if lines else type(error).__name__


def _frames_in(channels: int, what: str, frame_stack: int | None) -> int:
    """The frame stack a policy taking `channels` input channels was trained with, checked against the caller's."""
    if channels % 3:
        raise UserError(f"{what} takes {channels} input channels: not a stack of RGB frames (3 per frame)")
    if frame_stack is not None and channels != 3 * frame_stack:
        raise UserError(
            f"{what} takes {channels} input channels: a stack of {channels // 3} frames (to_mdp_dataset's "
            f"frame_stack), not {frame_stack}"
        )
    return channels // 3


def _algo_predict(algo: Any, frame_stack: int | None) -> tuple[Callable[[np.ndarray], Any], int]:
    """`algo.predict` and its frame stack, after checking that the algorithm is built and takes pixels."""
    if not callable(getattr(algo, "predict", None)):
        raise UserError(
            f"policy_from_d3rlpy takes a d3rlpy algorithm, a saved policy (.pt, d3rlpy's save_policy) or a saved "
            f"algorithm (.d3, d3rlpy's save), not a {type(algo).__name__}"
        )
    impl = getattr(algo, "impl", None)
    if impl is None:
        raise UserError("the d3rlpy algorithm is not built yet: train it (fit) or build it (build_with_dataset) first")
    shape = tuple(getattr(impl, "observation_shape", ()) or ())
    if len(shape) != 3 or not isinstance(shape[0], int):
        raise UserError(f"the d3rlpy algorithm takes observations of shape {shape}, not pixels (3 x frames, H, W)")
    return algo.predict, _frames_in(shape[0], "the d3rlpy algorithm", frame_stack)


def saved_policy_channels(module: Any) -> int | None:
    """The input channels of a TorchScript policy saved by d3rlpy (a traced graph: its first convolution's
    weight), or None where the graph has none to read (an encoder without convolutions, another kind of file)."""
    try:
        for node in module.graph.nodes():
            if node.kind() in ("aten::_convolution", "aten::conv2d"):
                weight = node.inputsAt(1).toIValue()
                return int(weight.shape[1]) if weight is not None and weight.dim() == 4 else None
    except Exception:  # torch's graph API differs across kinds of module: no answer rather than an error
        return None
    return None


def _script_predict(path: Path, device: Any, frame_stack: int | None) -> tuple[Callable[[np.ndarray], Any], int]:
    """A TorchScript file saved by d3rlpy's `save_policy`, and its frame stack: it takes one batched float tensor
    of the dataset's pixel values (0-255: an observation scaler the algorithm was trained with is inside the
    file) and returns the greedy actions."""
    import torch

    try:
        module = torch.jit.load(str(path), map_location=device)
    except Exception as error:  # torch raises many kinds (RuntimeError, zip and pickle errors) for a bad file
        raise UserError(f"cannot load {path} as a TorchScript policy: {_last_line(error)}") from None
    channels = saved_policy_channels(module)
    if channels is not None:
        frame_stack = _frames_in(channels, f"the saved policy {path.name}", frame_stack)
    elif frame_stack is None:
        raise UserError(f"cannot read the frame stack of {path.name} from the file: pass frame_stack (--frame-stack)")

    def predict(x: np.ndarray) -> np.ndarray:
        tensor = torch.as_tensor(x, dtype=torch.float32, device=device)
        try:
            with torch.no_grad():
                out = module(tensor)
        except Exception as error:  # TorchScript's errors carry its own traceback; the cause is the last line
            raise UserError(
                f"the saved policy {path.name} failed on an observation of shape {tuple(x.shape)} (a d3rlpy "
                f"policy from pixels, saved with save_policy?): {_last_line(error)}"
            ) from None
        if not isinstance(out, torch.Tensor):
            raise UserError(f"the saved policy {path.name} returned {type(out).__name__}, not a tensor of actions")
        return out.detach().cpu().numpy()

    return predict, frame_stack


def policy_from_d3rlpy(source: Any, frame_stack: int | None = None, device: str = "cpu") -> D3rlpyPolicy:
    """A d3rlpy policy as a lompo-bench policy for `lompo_bench.evaluate_policy` (`D3rlpyPolicy`).

    source: a trained d3rlpy algorithm (its `predict`), a TorchScript file its `save_policy("policy.pt")` wrote
        (needs torch only, not d3rlpy), or a `.d3` file its `save("model.d3")` wrote (`d3rlpy.load_learnable`).
    frame_stack: the one its dataset was made with (`to_mdp_dataset`); default: read from the policy (its input
        channels / 3), which a given value must agree with.
    device: where a saved file runs (cpu, cuda[:N]); a trained algorithm runs on its own device.
    """
    if frame_stack is not None:
        frame_stack = _check_frame_stack(frame_stack)
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        if not path.is_file():
            raise UserError(f"no d3rlpy policy file {path}")
        if path.suffix == ".d3":
            d3rlpy = import_d3rlpy()
            try:
                algo = d3rlpy.load_learnable(str(path), device=device)
            except Exception as error:  # a bad file: pickle, zip or torch errors
                raise UserError(f"cannot load {path} as a d3rlpy algorithm: {_last_line(error)}") from None
            return D3rlpyPolicy(*_algo_predict(algo, frame_stack), path.name)
        if path.suffix == ".onnx":
            raise UserError(f"{path}: ONNX policies are not read here; save the policy as TorchScript (.pt)")
        return D3rlpyPolicy(*_script_predict(path, device, frame_stack), path.name)
    return D3rlpyPolicy(*_algo_predict(source, frame_stack), type(source).__name__)
