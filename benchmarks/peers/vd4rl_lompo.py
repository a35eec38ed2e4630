"""V-D4RL's TensorFlow port of LOMPO (conglu1997/v-d4rl, `baselines/lompo/`) on a lompo-bench dataset, scored by
lompo-bench (issue 32, item 2).

    ~/peers/venv-lompo/bin/python benchmarks/peers/vd4rl_lompo.py --checkout ~/peers/v-d4rl --seed 0

What it does, in order:
1. converts the dataset into the npz episodes the port reads (`tools.load_episodes`, `tools.count_episodes`), once
   per dataset content under `--work`: one file per episode, `<name>-<N + 1>.npz`, Dreamer's layout: `image`
   (N + 1, H, W, 3) uint8, `action` and `reward` of the step that led to each image (zeros at the first),
   `discount` (0 after a termination, else 1), `is_first`, `is_last`, `is_terminal`;
2. builds the port's config (`run.define_config()`) with the budget (below) and `--set` overrides, and runs what
   the port's `run.main` runs: `Lompo(...)`, `fit_model`, `_process_data_to_latent`, imagined rollouts up to
   `start_training`, then cycles of `train_agent(agent_iters_per_step)` and `_add_data(1)` until
   `agent_train_steps`, but without its per-cycle evaluation episode in its own environment (`tools.simulate`);
   `fit_model`'s loop (the next batch, `_model_train_step`) is the script's, so that the run can checkpoint between
   two updates (`PortResume`, every `--checkpoint-minutes`; without the pickles of the model `fit_model` writes
   every 5,000 updates): a killed run resumes with the same command, not bit-identically (the class says why);
3. scores the trained agent with `lompo_bench.evaluate_policy` through `LompoPolicy` (the port's own `policy`:
   the RSSM filters each frame with the previous action, the deterministic actor's action, no noise) and files the
   record under `leaderboard/results/peers/vd4rl_lompo[...]/`.

Budgets (`--budget`): `ours` (the default here, issue 32's "at our cpu budget"): our LOMPO cpu profile's updates x
batch, read from `algorithms/lompo.py` (model 9,000 x 16 sequences of 32; actor-critic 40,000 x 128 real + 128
imagined; 10,000 imagined transitions before the first update); `samples`: the port's batches (64 x 50;
256 + 256) at the same numbers of samples (1,440 and 20,000 updates). `--sizes peer` (default) keeps the port's
networks (cnn_depth 32, deter 256); `--sizes cpu` takes our cpu profile's (cnn_depth 16, deter 128).
`start_training` cannot stay the port's 50,000: its imagined buffer holds as many transitions as the dataset
(20,000 here), so the port's own loop would never end; it is our 10,000 (half the buffer, as 50K of V-D4RL's 100K).

Compatibility with TensorFlow 2.21 / TFP 0.25 (run-time; the checkout is never edited; `peer.json` lists them):
- `TF_USE_LEGACY_KERAS=1` with `tf-keras` installed: the port is Keras 2 code (`tfkl.GRUCell` called with a list
  state, `get_initial_state(None, batch, dtype)`, layers tracked by `tf.Module`); TFP 0.25 needs tf-keras anyway.
- `tensorflow.keras.mixed_precision.experimental` no longer exists; the port only calls
  `prec.global_policy().compute_dtype`, which the non-experimental module has: the module is given an
  `experimental` attribute pointing to itself (the file edit would be `from tensorflow.keras import
  mixed_precision as prec` in run.py and models.py).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before torch or TensorFlow loads
os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # the port is Keras 2 code: tf.keras means tf-keras
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import argparse  # noqa: E402
import importlib  # noqa: E402
import random  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import types  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import common  # noqa: E402
import numpy as np  # noqa: E402

from lompo_bench.errors import UserError  # noqa: E402
from lompo_bench.progress import LineProgress  # noqa: E402

PEER = "vd4rl"
HOW = (
    "git clone https://github.com/conglu1997/v-d4rl ~/peers/v-d4rl, then run this script with "
    "~/peers/venv-lompo/bin/python (benchmarks/peers/README.md)"
)
EDITS = [
    "TF_USE_LEGACY_KERAS=1 with tf-keras 2.21 (the port is Keras 2 code)",
    "tensorflow.keras.mixed_precision.experimental -> the module itself (global_policy() only)",
]


def import_peer(checkout: Path, threads: int) -> tuple[Any, Any]:
    """TensorFlow (one thread) and the port's `baselines.lompo.run`, imported from the checkout with the
    run-time compatibility changes of the module's docstring."""
    try:
        import tensorflow as tf
        import tensorflow_probability  # noqa: F401
        import tf_keras  # noqa: F401
    except ModuleNotFoundError as error:
        raise UserError(f"{error.name} is not installed in this Python ({sys.executable}): {HOW}") from None
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    # `from tensorflow.keras.mixed_precision import experimental` imports TensorFlow's own module of that name
    # (not the tf_keras module `from tensorflow.keras import mixed_precision` returns): give it the attribute.
    mixed_precision = importlib.import_module("tensorflow.keras.mixed_precision")
    if not hasattr(mixed_precision, "experimental"):
        mixed_precision.experimental = mixed_precision  # the port reads global_policy() only
    sys.path.insert(0, str(checkout))
    from baselines.lompo import run

    return tf, run


def convert(dataset_id: str, work: Path) -> tuple[Path, dict[str, Any]]:
    """Our dataset as the port's npz episodes (module docstring), once per content:
    `<work>/vd4rl-npz/<fingerprint>/`. Returns the folder and what it holds."""
    from lompo_bench.data import open_cache

    cache = open_cache(dataset_id)
    target = work / "vd4rl-npz" / cache.fingerprint
    info = {
        "episodes": cache.num_episodes,
        "transitions": cache.num_steps,
        "frame_shape": list(cache.frame_shape),
        "action_dim": int(cache.actions.shape[1]),
        "folder": str(target),
    }

    def write(partial: Path) -> None:
        pixels = np.load(cache.pixels_path, mmap_mode="r")
        for e in range(cache.num_episodes):
            o0, s0, s1 = int(cache.obs_starts[e]), int(cache.step_starts[e]), int(cache.step_starts[e + 1])
            n = s1 - s0
            if n < 1:
                continue
            action = np.zeros((n + 1, cache.actions.shape[1]), np.float32)
            action[1:] = cache.actions[s0:s1]
            reward = np.zeros(n + 1, np.float32)
            reward[1:] = cache.rewards[s0:s1]
            is_terminal = np.zeros(n + 1, bool)
            is_terminal[1:] = cache.terminals[s0:s1].astype(bool)
            is_first, is_last = np.zeros(n + 1, bool), np.zeros(n + 1, bool)
            is_first[0], is_last[-1] = True, True
            np.savez(
                partial / f"episode{e:05d}-{n + 1}.npz",
                image=np.asarray(pixels[o0 : o0 + n + 1]),
                action=action,
                reward=reward,
                discount=(1.0 - is_terminal).astype(np.float32),
                is_first=is_first,
                is_last=is_last,
                is_terminal=is_terminal,
            )

    common.build_once(target, dataset_id, write)
    return target, info


def budget_settings(mode: str, sizes: str) -> dict[str, Any]:
    """The port's config keys for a budget (module docstring), from our LOMPO cpu profile."""
    from lompo_bench.algorithms.lompo import PROFILES

    cpu = PROFILES["cpu"]
    real_batch = round(cpu.ac_batch * cpu.real_fraction)  # the port's agent_batch_size is each half's
    settings: dict[str, Any] = {
        "start_training": cpu.initial_latent,
        "horizon": cpu.rollout_horizon,
        "lmbd": cpu.penalty,
        "agent_iters_per_step": cpu.ac_cycle,
    }
    if mode == "ours":
        settings |= {
            "model_train_steps": cpu.model_steps,
            "model_batch_size": cpu.model_batch,
            "model_batch_length": cpu.seq_len,
            "agent_train_steps": cpu.ac_updates,
            "agent_batch_size": real_batch,
        }
    else:  # the port's batches (its defaults) for as many samples
        settings |= {
            "model_train_steps": round(cpu.model_steps * cpu.model_batch * cpu.seq_len / (64 * 50)),
            "agent_train_steps": round(cpu.ac_updates * cpu.ac_batch / (2 * 256)),
        }
    if sizes == "cpu":
        settings |= {"cnn_depth": round(32 * cpu.conv_scale), "deter_size": cpu.deter, "num_units": cpu.ac_hidden}
    return settings


class PortResume:
    """The port's training made resumable from outside it (the port itself has none: `save_model` / `save_agent`
    pickle the networks' weights, not the optimisers', and its loops restart from zero). Every `every_seconds`,
    between two model updates or two actor-critic cycles: the networks and the three Adam optimisers' variables
    (`tf.train.Checkpoint`, into a new folder), then a `common.LoopCheckpoint` naming that folder with the phase,
    the counters, the latent buffer (in the actor-critic phase), the port's own RandomState, numpy's and python's
    random states; older folders go after the state file is renamed into place, so a kill leaves one whole pair.

    Not restored, so a resumed run is not the run an unstopped one would have been (an unstopped run stays the
    port's own loop): the port's model batches come from a `tf.data` generator whose sampler is seeded 0 at every
    start (a resumed model phase sees the sequence of batches from its beginning again), and TensorFlow's
    op-level random state (`tf.random.set_seed` is set again at the start)."""

    NETWORKS = ("_encode", "_dynamics", "_decode", "_reward", "_pcont", "_proprio")
    AGENT = ("_qf1", "_qf2", "_target_qf1", "_target_qf2", "_actor")
    OPTIMIZERS = ("_model_opt", "_qf_opt", "_actor_opt")

    def __init__(self, folder: Path, identity: dict[str, Any], every_seconds: float, fresh: bool) -> None:
        if fresh:
            shutil.rmtree(folder, ignore_errors=True)
        self.folder = folder
        self.loop = common.LoopCheckpoint(folder / "state.pt", identity, every_seconds)

    def _variables(self, tf: Any, agent: Any) -> Any:
        parts = {name.lstrip("_"): getattr(agent, name) for name in self.NETWORKS + self.AGENT if hasattr(agent, name)}
        parts |= {name.lstrip("_") + "_adam": getattr(agent, name)._opt for name in self.OPTIMIZERS}
        return tf.train.Checkpoint(**parts)

    def load(self, tf: Any, agent: Any) -> dict[str, Any] | None:
        """The saved progress, with every restorable state put back into `agent` (variables of networks not
        built yet, and Adam's slots, are restored as they are created); None when there is no checkpoint."""
        state = self.loop.load()
        if state is None:
            return None
        saved = state["objects"]
        try:
            status = self._variables(tf, agent).read(str(self.folder / saved["variables"]))
            status.assert_existing_objects_matched()  # every variable that exists now had its value saved
        except (tf.errors.OpError, AssertionError, ValueError) as error:
            first = (str(error).strip().splitlines() or [type(error).__name__])[0]
            raise UserError(f"{self.folder} does not restore ({first}): pass --fresh to discard it") from None
        if saved["latent_buffer"] is not None:
            agent.latent_buffer.__dict__.update(saved["latent_buffer"])
        agent._random.set_state(saved["agent_random"])
        agent._model_step, agent._agent_step = saved["steps"]
        return {**saved["progress"], "seconds": state["seconds"]}

    def due(self) -> bool:
        return self.loop.due()

    def save(self, tf: Any, agent: Any, progress: dict[str, Any], timer: common.Timer) -> None:
        name = f"variables-{time.time_ns()}"
        self._variables(tf, agent).write(str(self.folder / name / "checkpoint"))
        objects = {
            "variables": f"{name}/checkpoint",
            "progress": dict(progress),
            "latent_buffer": dict(agent.latent_buffer.__dict__) if progress["phase"] != "model" else None,
            "agent_random": agent._random.get_state(),
            "steps": (agent._model_step, agent._agent_step),
        }
        self.loop.save(0, objects, {}, timer)
        for old in self.folder.glob("variables-*"):
            if old.name != name:
                shutil.rmtree(old, ignore_errors=True)

    def discard(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


class LompoPolicy:
    """The port's agent as lompo-bench evaluates one: `agent.policy(obs, state, training=False)` on each frame
    (the RSSM's posterior from the frame and the previous action, the actor's deterministic action; at an
    episode's start the zero state and a zero action, as the port's `__call__` resets), one observation at a
    time. The port's observations also carry the last reward (its `RewardObs` wrapper; the policy reads only the
    image): 0 here."""

    def __init__(self, agent: Any) -> None:
        self.agent, self.state = agent, None

    def reset(self) -> None:
        self.state = None

    def act(self, observation: dict[str, np.ndarray]) -> np.ndarray:
        obs = {"image": np.asarray(observation["pixels"])[None], "reward": np.zeros(1, np.float32)}
        action, self.state = self.agent.policy(obs, self.state, False)
        return np.asarray(action, dtype=np.float32)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checkout", type=Path, help="V-D4RL's scratch checkout (default $VD4RL)")
    parser.add_argument("--work", type=Path, help="converted data and the port's logdir ($LOMPO_BENCH_HOME/peers)")
    parser.add_argument(
        "--sizes",
        choices=("peer", "cpu"),
        default="peer",
        help="peer: the port's networks (default); cpu: our cpu profile's sizes",
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a further value of the port's define_config() (repeatable; a custom run: --root)",
    )
    parser.add_argument(
        "--reuse-model",
        action="store_true",
        help="load the world model a finished earlier run of this name and seed left (load_model)",
    )
    common.add_common_arguments(parser, resumable=True)
    parser.set_defaults(budget="ours")
    args = parser.parse_args()
    common.check_args(args)
    if args.steps is not None or args.batch is not None:
        raise UserError("LOMPO has two phases: give model_train_steps, agent_train_steps, ... with --set KEY=VALUE")
    from lompo_bench.paths import lompo_home

    checkout = common.find_checkout(args.checkout, "VD4RL", "baselines/lompo/run.py", HOW)
    work = (args.work or lompo_home() / "peers").expanduser()
    settings = budget_settings(args.budget, args.sizes)
    overrides = dict(item.split("=", 1) for item in args.overrides if "=" in item)
    if len(overrides) != len(args.overrides):
        raise UserError("--set takes KEY=VALUE")
    name = (
        "vd4rl_lompo" + ("" if args.budget == "ours" else "_peerbatch") + ("" if args.sizes == "peer" else "_cpusizes")
    )
    mode = "custom" if overrides else args.budget
    agent_batch = 2 * int(overrides.get("agent_batch_size", settings.get("agent_batch_size", 256)))
    budget = common.Budget(int(overrides.get("agent_train_steps", settings["agent_train_steps"])), agent_batch, mode)
    common.check_target(args, budget, name)
    tf, run = import_peer(checkout, args.threads)
    common.limit_threads(args.threads)

    config = run.define_config()
    for key, value in settings.items():
        config[key] = value
    for key, text in overrides.items():
        if key not in config:
            raise UserError(f"the port's config has no {key!r}")
        config[key] = run.tools.args_type(config[key])(text)
    folder, data = convert(args.dataset, work)
    config.seed = args.seed
    config.datadir = folder
    config.logdir = work / "vd4rl-lompo" / name / args.dataset / f"seed{args.seed}"
    config.loaddir = config.logdir
    config.load_model = bool(args.reuse_model and (config.logdir / "final_model" / "encode.pkl").exists())
    config.logdir.mkdir(parents=True, exist_ok=True)
    if config.start_training > data["transitions"]:
        raise UserError(
            f"start_training {config.start_training} exceeds the imagined buffer (the dataset's "
            f"{data['transitions']} transitions): the port's loop would never end"
        )
    commit = common.git_commit(checkout)
    common.say(
        f"{name}: V-D4RL LOMPO port @ {commit[:12]} on {args.dataset}, seed {args.seed}; "
        + ", ".join(f"{k}={config[k]}" for k in sorted({*settings, *overrides}))
    )

    # run.main's seeding, then its schedule without its environments and per-cycle evaluation episode.
    os.environ["PYTHONHASHSEED"] = str(config.seed)
    random.seed(config.seed)
    np.random.seed(config.seed)
    tf.random.set_seed(config.seed)
    writer = tf.summary.create_file_writer(str(config.logdir / "tensorboard"), max_queue=1000, flush_millis=20000)
    writer.set_as_default()
    action_space = types.SimpleNamespace(shape=(data["action_dim"],))
    resume = PortResume(
        config.logdir / "resume",
        identity={
            "peer_commit": commit,
            "config": {k: str(v) for k, v in sorted(config.items()) if k != "load_model"},
            "dataset": args.dataset,
            "fingerprint": Path(folder).name,
            "script_format": 1,
        },
        every_seconds=60 * args.checkpoint_minutes,
        fresh=args.fresh,
    )
    progress: dict[str, Any] = {"phase": "model", "cycles": 0, "phases": {}}

    def phase(label: str, timer: common.Timer, updates: int | None = None) -> None:
        """A phase's seconds (`updates`: those this process made), added to those of the earlier processes of a
        resumed run that finished their part of it (a killed process's part of a phase is not counted)."""
        entry = progress["phases"].setdefault(label, {"seconds": 0.0, "cpu_seconds": 0.0})
        entry["seconds"] = round(entry["seconds"] + timer.seconds, 2)
        entry["cpu_seconds"] = round(entry["cpu_seconds"] + timer.cpu_seconds, 2)
        rate = f", {timer.cpu_seconds / updates:.4f} s CPU per update" if updates else ""
        if updates:
            entry["cpu_seconds_per_update"] = round(timer.cpu_seconds / updates, 5)  # this process's
        common.say(f"{label}: {timer.seconds:.1f} s wall, {timer.cpu_seconds:.1f} s CPU{rate}")

    with common.Timer() as training:
        with common.Timer() as timer:  # builds the networks on 10 model batches (the port's __init__)
            agent = run.Lompo(config, config.datadir, action_space, writer)
        resumed = resume.load(tf, agent)  # after the build: the variables exist, the random states win
        if resumed is not None:
            training.carried = resumed.pop("seconds")
            progress = resumed
            common.say(
                f"resumed in the {progress['phase']} phase: model step {agent._model_step}, "
                f"actor-critic step {agent._agent_step}"
            )
        phase("model built", timer)
        if progress["phase"] == "model":
            first = agent._model_step
            with common.Timer() as timer:
                if config.load_model:
                    agent.load_model(config.loaddir / "final_model")
                else:  # fit_model's loop (a batch, `_model_train_step`), here so that it can stop between updates
                    # The port prints nothing while its model trains (its TensorBoard scalars come every log_every
                    # = 1,000 updates, and the ten at step 0 are its build's evaluation passes, an untrained
                    # decoder's): a line a minute with the count, rate and ETA.
                    bar = LineProgress(common.say, every_seconds=60.0)
                    bar.start("model (the port's)", int(config.model_train_steps))
                    while agent._model_step < int(config.model_train_steps):
                        agent._model_train_step(next(agent._dataset))
                        bar.update(agent._model_step)
                        if resume.due():
                            resume.save(tf, agent, progress, training)
                    bar.finish()
                    agent.save_model(config.logdir / "final_model")  # as fit_model ends
            phase("model", timer, None if config.load_model else agent._model_step - first)
            with common.Timer() as timer:
                agent._process_data_to_latent()
                while agent.latent_buffer._latent_stored_steps < config.start_training:
                    agent._generate_latent_data(next(agent._dataset))
            phase("latent buffers", timer)
            progress["phase"] = "actor-critic"
            resume.save(tf, agent, progress, training)
        else:  # the port's episode iterator where it was: every episode once, then one per cycle
            episodes = len(list(Path(config.datadir).glob("*.npz")))
            for _ in range((episodes + progress["cycles"]) % episodes):
                next(agent._episode_iterator)
        first = agent._agent_step
        with common.Timer() as timer:
            while agent._agent_step < int(config.agent_train_steps):
                agent.train_agent(config.agent_iters_per_step)
                if config.sample:
                    agent._add_data(num_episodes=1)
                else:
                    agent._process_data_to_latent(num_episodes=1)
                progress["cycles"] += 1
                common.say(f"actor-critic: {agent._agent_step}/{int(config.agent_train_steps)} updates")
                if resume.due():
                    resume.save(tf, agent, progress, training)
        phase("actor-critic", timer, agent._agent_step - first)
        if progress["phase"] != "trained":
            progress["phase"] = "trained"
            resume.save(tf, agent, progress, training)
    writer.flush()

    # TensorFlow 2.21 and MuJoCo's EGL renderer segfault in one process (exit 139; docs/BASELINES.md): the task
    # runs in a child process that never imports TensorFlow, the port's policy here.
    common.evaluate_and_file_apart(
        LompoPolicy(agent),
        args=args,
        budget=budget,
        name=name,
        code_version=f"peer conglu1997/v-d4rl@{commit} baselines/lompo "
        + " ".join(f"{k}={config[k]}" for k in sorted({*settings, *overrides}))
        + "; benchmarks/peers/vd4rl_lompo.py",
        training=training,
        details={
            "peer": "conglu1997/v-d4rl baselines/lompo",
            "peer_commit": commit,
            "method": "lompo",
            "budget_settings": settings,
            "overrides": overrides,
            "phases": progress["phases"],
            "actor_critic_cycles": progress["cycles"],
            "compatibility_edits": EDITS,
            "versions": {"tensorflow": tf.__version__},
            "data": data,
            "logdir": str(config.logdir),
            "config": {k: str(v) for k, v in config.items()},
        },
    )
    resume.discard()  # the record is written: nothing left to resume


if __name__ == "__main__":
    common.run_main(main)
