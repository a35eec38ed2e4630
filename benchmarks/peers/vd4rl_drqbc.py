"""V-D4RL's pixel BC, DrQ+CQL and DrQ+BC (conglu1997/v-d4rl, `drqbc/`) on a lompo-bench dataset, scored by
lompo-bench (issue 32, item 2).

    ~/peers/venv-drqbc/bin/python benchmarks/peers/vd4rl_drqbc.py drqbc --checkout ~/peers/v-d4rl --seed 0

What it does, in order:
1. converts the dataset into the hdf5 layout V-D4RL's `utils.load_offline_dataset_into_buffer` reads (once per
   dataset content, under `--work`): per episode N + 1 rows, `observation` (3, H, W) uint8, `action` (the one that
   led to the row's observation; zeros in the first row), `reward` (received with it; 0 in the first), `discount`
   (0 after a termination, else 1), `step_type` (0 first, 1 mid, 2 last);
2. composes V-D4RL's own hydra config (`drqbc/cfgs`) with the method's command line from V-D4RL's README (bc:
   `algo=bc`; cql: `algo=cql cql_importance_sample=false min_q_weight=10`; drqbc: `nstep=3`, the default algo
   drqv2), `device=cpu`, the budget's `batch_size` and `num_train_frames`, and `--set` overrides;
3. builds the agent with `hydra.utils.instantiate` as V-D4RL's `train.py` does, loads the data into V-D4RL's
   `EfficientReplayBuffer` with V-D4RL's loader, and runs `train.py`'s offline loop (`agent.update(buffer, step)`
   for every loop step; the agents update on every second one) without its own evaluation, logger and videos;
   with a checkpoint every `--checkpoint-minutes` (10) of training (`common.LoopCheckpoint`: the agent, the loop
   step, every random state): killed at any point, the same command resumes and ends with the same weights as a
   run never stopped (checked on a 40-update run killed at update 16: every tensor and the returns equal);
4. scores the agent with `lompo_bench.evaluate_policy` through `VD4RLPolicy` (V-D4RL's `FrameStackWrapper`
   stacking: channels first, the first frame repeated at an episode's start; `agent.act(..., eval_mode=True)`,
   the actor's mean) and files the record under `leaderboard/results/peers/vd4rl_<method>[_batch<B>]/`.

Compatibility with our data, made at run time (the checkout is never edited; `peer.json` lists them):
- V-D4RL's `drqv2.Encoder` hard-codes `repr_dim = 32 * 35 * 35`, its conv output at 84 px; our frames are 64 px
  (32 * 25 * 25 = 20,000). The encoder's constructor is wrapped to measure `repr_dim` from its own conv stack
  (39,200 at 84 px, as the constant): the one-line equivalent is `self.repr_dim = 32 * 25 * 25` in drqv2.py.
- `dmc.py` (imported by `utils.py`) imports `envs.distracting_control.suite`, which imports TensorFlow to read
  background videos for V-D4RL's distracting datasets only; that module is replaced by an empty stand-in.
- Hydra 1.3 (the registry's; V-D4RL's environment pins 1.1.0 on Python 3.8) spells the algorithm group
  `algo@_global_=<name>` where V-D4RL's README writes `algo=<name>`; its `config.yaml` names the
  `submitit_local` launcher, so `hydra-submitit-launcher` is installed beside it.
- The actor's noise schedule `linear(1.0,0.1,250000)` spans 250K of V-D4RL's 1.1M loop steps; at a shorter budget
  its span is scaled to the same share (as our DrQ+BC cpu profile scales its own); `--keep-schedule` keeps 250K.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before torch loads: one thread unless asked otherwise
os.environ.setdefault("MUJOCO_GL", "egl")

import argparse  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402
import types  # noqa: E402
from collections import deque  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import common  # noqa: E402
import numpy as np  # noqa: E402

from lompo_bench.errors import UserError  # noqa: E402

PEER = "vd4rl"
HOW = (
    "git clone https://github.com/conglu1997/v-d4rl ~/peers/v-d4rl, then run this script with "
    "~/peers/venv-drqbc/bin/python (benchmarks/peers/README.md)"
)
# Each method as V-D4RL's README runs it (its "DrQ+BC", "DrQ+CQL" and "BC" commands), in hydra 1.3's spelling.
METHOD_OVERRIDES = {
    "bc": ["algo@_global_=bc"],
    "cql": ["algo@_global_=cql", "cql_importance_sample=false", "min_q_weight=10"],
    "drqbc": ["algo@_global_=drqv2", "nstep=3"],
}
SCHEDULE = re.compile(r"linear\((.+),(.+),(.+)\)")


def import_peer(checkout: Path) -> dict[str, Any]:
    """V-D4RL's drqbc modules, imported from the checkout (its folder and the repository root on sys.path, as its
    own imports need: `import utils`, `from drqbc.numpy_replay_buffer import ...`), with the two run-time
    compatibility changes of the module's docstring."""
    try:
        import hydra  # noqa: F401
    except ModuleNotFoundError:
        raise UserError(f"hydra is not installed in this Python ({sys.executable}): {HOW}") from None
    import torch

    sys.path[:0] = [str(checkout / "drqbc"), str(checkout)]
    # dmc.py imports it at load; only V-D4RL's distracting datasets use it, and it would import TensorFlow.
    stand_in = types.ModuleType("envs.distracting_control.suite")
    stand_in.__doc__ = "lompo-bench stand-in: V-D4RL's distracting-control suite is not used here"
    stand_in.distracting_wrapper = None
    sys.modules.setdefault(stand_in.__name__, stand_in)
    import drqv2
    import numpy_replay_buffer
    import utils

    if not getattr(drqv2.Encoder.__init__, "_lompo_measured_repr_dim", False):
        constructor = drqv2.Encoder.__init__

        def measured_repr_dim(self: Any, obs_shape: Any) -> None:
            constructor(self, obs_shape)
            with torch.no_grad():  # the conv stack's output size at the observation's own size (no RNG drawn)
                self.repr_dim = int(self.convnet(torch.zeros(1, *obs_shape)).numel())

        measured_repr_dim._lompo_measured_repr_dim = True  # type: ignore[attr-defined]
        drqv2.Encoder.__init__ = measured_repr_dim  # bcagent and cql import this same class
    return {"drqv2": drqv2, "utils": utils, "buffer": numpy_replay_buffer}


def convert(dataset_id: str, work: Path, episodes_per_file: int = 50) -> tuple[Path, dict[str, Any]]:
    """Our dataset as V-D4RL hdf5 files (module docstring), once per content: `<work>/vd4rl-hdf5/<fingerprint>/`.
    Returns the folder and what it holds."""
    import h5py

    from lompo_bench.data import open_cache

    cache = open_cache(dataset_id)
    target = work / "vd4rl-hdf5" / cache.fingerprint
    episodes = [e for e in range(cache.num_episodes) if cache.step_starts[e + 1] > cache.step_starts[e]]
    info = {
        "episodes": len(episodes),  # those with a step: an episode without a transition has no row to write
        "transitions": cache.num_steps,
        "frame_shape": list(cache.frame_shape),
        "action_dim": int(cache.actions.shape[1]),
        "folder": str(target),
    }

    def write(partial: Path) -> None:
        pixels = np.load(cache.pixels_path, mmap_mode="r")
        for number, first in enumerate(range(0, len(episodes), episodes_per_file)):
            rows: dict[str, list[np.ndarray]] = {
                k: [] for k in ("observation", "action", "reward", "discount", "step_type")
            }
            for e in episodes[first : first + episodes_per_file]:
                o0, s0, s1 = int(cache.obs_starts[e]), int(cache.step_starts[e]), int(cache.step_starts[e + 1])
                n = s1 - s0
                rows["observation"].append(np.ascontiguousarray(pixels[o0 : o0 + n + 1].transpose(0, 3, 1, 2)))
                action = np.zeros((n + 1, cache.actions.shape[1]), np.float32)
                action[1:] = cache.actions[s0:s1]
                reward = np.zeros(n + 1, np.float32)
                reward[1:] = cache.rewards[s0:s1]
                discount = np.ones(n + 1, np.float32)
                discount[1:] = 1.0 - cache.terminals[s0:s1].astype(np.float32)
                step_type = np.ones(n + 1, np.uint8)
                step_type[0], step_type[-1] = 0, 2
                for key, value in (
                    ("action", action),
                    ("reward", reward),
                    ("discount", discount),
                    ("step_type", step_type),
                ):
                    rows[key].append(value)
            with h5py.File(partial / f"episodes_{number:04d}.hdf5", "w") as f:
                for key, parts in rows.items():
                    f.create_dataset(key, data=np.concatenate(parts))

    common.build_once(target, dataset_id, write)
    return target, info


def compose(checkout: Path, overrides: list[str]) -> Any:
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    try:
        with initialize_config_dir(config_dir=str(checkout / "drqbc" / "cfgs"), version_base=None):
            return hydra_compose(config_name="config", overrides=overrides)
    except (HydraException, OmegaConfBaseException) as error:
        lines = [line for line in str(error).splitlines() if line.strip()]
        raise UserError(f"V-D4RL's config refused {overrides}: {lines[0] if lines else error}") from None


def scaled_schedule(schedule: str, frames: int, default_frames: int) -> str:
    """The noise schedule with its span scaled to the same share of `frames` as of `default_frames`."""
    match = SCHEDULE.fullmatch(schedule.replace(" ", ""))
    if not match:
        return schedule
    start, end, span = match.groups()
    return f"linear({start},{end},{max(1, round(float(span) * frames / default_frames))})"


class VD4RLPolicy:
    """A V-D4RL agent as lompo-bench evaluates one: frames stacked as V-D4RL's `dmc.FrameStackWrapper` stacks them
    (channels first, oldest first, the episode's first frame repeated `frame_stack` times at reset), the action
    `agent.act(stack, step, eval_mode=True)` (the actor's mean) under V-D4RL's `utils.eval_mode`."""

    def __init__(self, agent: Any, utils: Any, frame_stack: int, step: int) -> None:
        self.agent, self.utils, self.step = agent, utils, step
        self.frames: deque[np.ndarray] = deque(maxlen=frame_stack)

    def reset(self) -> None:
        self.frames.clear()

    def act(self, observation: dict[str, np.ndarray]) -> np.ndarray:
        import torch

        frame = np.asarray(observation["pixels"]).transpose(2, 0, 1).copy()
        if not self.frames:
            self.frames.extend([frame] * self.frames.maxlen)
        else:
            self.frames.append(frame)
        with torch.no_grad(), self.utils.eval_mode(self.agent):
            return np.asarray(self.agent.act(np.concatenate(list(self.frames), 0), self.step, eval_mode=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("method", choices=tuple(METHOD_OVERRIDES))
    parser.add_argument("--checkout", type=Path, help="V-D4RL's scratch checkout (default $VD4RL)")
    parser.add_argument("--work", type=Path, help="converted data and trained agents ($LOMPO_BENCH_HOME/peers)")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a further hydra override of V-D4RL's config (repeatable)",
    )
    parser.add_argument(
        "--keep-schedule",
        action="store_true",
        help="keep V-D4RL's 250K-step noise schedule instead of scaling it to the budget",
    )
    common.add_common_arguments(parser, resumable=True)
    args = parser.parse_args()
    common.check_args(args)
    from lompo_bench.paths import lompo_home

    checkout = common.find_checkout(args.checkout, "VD4RL", "drqbc/drqv2.py", HOW)
    work = (args.work or lompo_home() / "peers").expanduser()
    peer = import_peer(checkout)
    defaults = compose(checkout, METHOD_OVERRIDES[args.method])
    peer_batch = int(defaults.batch_size)
    budget = common.pick_budget(args.method, peer_batch, args)
    name = common.run_name(PEER, args.method, budget.batch, peer_batch)
    common.check_target(args, budget, name)
    common.limit_threads(args.threads)

    frames = 2 * budget.updates  # train.py's offline loop: an update on every second loop step
    overrides = [
        *METHOD_OVERRIDES[args.method],
        "device=cpu",
        f"batch_size={budget.batch}",
        f"seed={args.seed}",
        f"num_train_frames={frames}",
    ]
    if not args.keep_schedule:
        schedule = scaled_schedule(str(defaults.stddev_schedule), frames, int(defaults.num_train_frames))
        overrides.append(f"stddev_schedule='{schedule}'")
    overrides += args.overrides
    cfg = compose(checkout, overrides)
    commit = common.git_commit(checkout)
    common.say(
        f"{name}: V-D4RL drqbc @ {commit[:12]} {args.method} on {args.dataset}, seed {args.seed}, "
        f"{budget.updates} updates x {budget.batch} (budget {budget.mode}); overrides {' '.join(overrides)}"
    )

    folder, data = convert(args.dataset, work)
    import hydra
    import torch

    from lompo_bench.data.store import dataset_frame_shape
    from lompo_bench.progress import LineProgress

    height, width, channels = dataset_frame_shape(args.dataset)
    peer["utils"].set_seed_everywhere(cfg.seed)
    agent_cfg = cfg.agent
    agent_cfg.obs_shape = (channels * cfg.frame_stack, height, width)
    agent_cfg.action_shape = (data["action_dim"],)
    agent = hydra.utils.instantiate(agent_cfg)
    buffer = peer["buffer"].EfficientReplayBuffer(
        cfg.replay_buffer_size, cfg.batch_size, cfg.nstep, cfg.discount, cfg.frame_stack
    )
    peer["utils"].load_offline_dataset_into_buffer(folder, buffer, cfg.frame_stack, cfg.replay_buffer_size)
    # V-D4RL's loader prints and skips a file it cannot read: check that every row arrived (each episode takes
    # frame_stack rows for its first observation, then one per transition).
    expected = data["episodes"] * cfg.frame_stack + data["transitions"]
    if buffer.index == -1 or len(buffer) != expected:
        raise UserError(f"V-D4RL's loader read {max(len(buffer), 0)} of {expected} rows from {folder}")

    snapshot = work / "vd4rl-agents" / name / args.dataset / f"seed{args.seed}.pt"
    checkpoint = common.LoopCheckpoint(
        snapshot.with_suffix(".checkpoint"),
        identity={
            "peer_commit": commit,
            "overrides": overrides,
            "dataset": args.dataset,
            "data": {k: v for k, v in data.items() if k != "folder"} | {"fingerprint": Path(data["folder"]).name},
            "script_format": 1,
        },
        every_seconds=60 * args.checkpoint_minutes,
        fresh=args.fresh,
    )
    start, metrics, carried = 0, {}, (0.0, 0.0)
    resumed = checkpoint.load()  # after the agent's construction and the buffer's load: its random states win
    if resumed is not None:
        agent, start, metrics, carried = (
            resumed["objects"]["agent"],
            resumed["step"],
            resumed["metrics"],
            resumed["seconds"],
        )
        common.say(f"resumed at loop step {start} of {frames}")
    progress = LineProgress(common.say)
    progress.start(f"V-D4RL {args.method}", budget.updates)
    with common.Timer(carried) as training:
        for step in range(start, frames):
            metrics = agent.update(buffer, step) or metrics
            if step % 2 == 0:
                progress.update(step // 2 + 1, " ".join(f"{k} {v:.3g}" for k, v in list(metrics.items())[:2]))
            if checkpoint.due() or step + 1 == frames:
                checkpoint.save(step + 1, {"agent": agent}, metrics, training)
    progress.finish()
    snapshot.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"agent": agent, "config": dict(cfg)}, snapshot)  # as train.py's save_snapshot: the whole agent

    from omegaconf import OmegaConf

    common.evaluate_and_file(
        VD4RLPolicy(agent, peer["utils"], cfg.frame_stack, frames),
        args=args,
        budget=budget,
        name=name,
        code_version=f"peer conglu1997/v-d4rl@{commit} drqbc {' '.join(overrides)}; repr_dim measured at "
        f"{height} px; benchmarks/peers/vd4rl_drqbc.py",
        training=training,
        details={
            "peer": "conglu1997/v-d4rl drqbc",
            "peer_commit": commit,
            "method": args.method,
            "hydra_overrides": overrides,
            "compatibility_edits": [
                f"drqv2.Encoder.repr_dim measured from its conv stack: {agent.encoder.repr_dim} at {height} px "
                "(hard-coded 32*35*35 = 39200, the 84 px value)",
                "envs.distracting_control.suite replaced by an empty module (imports TensorFlow; distracting "
                "datasets only)",
                "hydra 1.3: algo@_global_=<algo> for the README's algo=<algo>; hydra-submitit-launcher installed",
            ],
            "data": data,
            "agent_snapshot": str(snapshot),
            "last_metrics": {k: float(v) for k, v in metrics.items()},
            "resumed_at_loop_step": start,
            "config": OmegaConf.to_container(cfg, resolve=True),
        },
    )
    checkpoint.discard()  # the record and the agent's snapshot are written: nothing left to resume


if __name__ == "__main__":
    common.run_main(main)
