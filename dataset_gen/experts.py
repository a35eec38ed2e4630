"""SAC experts trained from ground-truth state, with every transition recorded for the datasets.

stable-baselines3 SAC learns on the task's `state` observation with the task's action repeat. A wrapper hands SB3
the state (and, where a task has one, the dense shaping reward: Door Open's sparse success flag alone gives SAC
nothing to learn from) and records each transition with its physics state, so images can be rendered later.

Training is resumable, bit for bit: at checkpoints (always at an episode end) the model, the replay buffer, the
recording, the evaluation log and every random state SAC draws from are saved together; a rerun resumes from the
last one, drops what came after it, and records what an uninterrupted run records (`_ExpertTraining` says how).
"""

from __future__ import annotations

import copy
import json
import pickle
import random
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from lompo_bench import seeds
from lompo_bench.dataset_gen.config import GenerationConfig
from lompo_bench.dataset_gen.recording import EpisodeRecorder, drop_chunks_from
from lompo_bench.files import atomic_dir, atomic_file, write_json
from lompo_bench.progress import NoProgress, Progress
from lompo_bench.tasks import PixelTask, make_task


class RecordingStateEnv(gym.Wrapper):
    """The task as SB3 sees it: `state` observations, the training reward; records every transition."""

    def __init__(self, env: PixelTask, recorder: EpisodeRecorder | None = None) -> None:
        super().__init__(env)
        self.observation_space = env.observation_space["state"]
        self.recorder = recorder
        self.agent_steps = 0  # steps taken through this wrapper, including before a resume (set by the trainer)
        # The state of the task's generator just before the latest reset, which that reset drew the episode's
        # start from: a resumed training restores it and redoes the reset (`_ExpertTraining`).
        self.rng_before_reset: dict[str, Any] | None = None

    def _record_obs(self, obs: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        task: PixelTask = self.env.unwrapped
        proprio = obs.get("proprio", np.empty(0, dtype=np.float32))
        return task.get_physics_state(), obs["state"], proprio

    def reset(self, **kwargs: Any) -> tuple[np.ndarray, dict]:
        self.rng_before_reset = copy.deepcopy(self.env.unwrapped.np_random.bit_generator.state)
        obs, info = self.env.reset(**kwargs)
        if self.recorder is not None:
            self.recorder.begin(*self._record_obs(obs), start_step=self.agent_steps)
        return obs["state"], info

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.agent_steps += 1
        if self.recorder is not None:
            self.recorder.add(np.clip(action, -1, 1), reward, terminated, truncated, *self._record_obs(obs))
        return obs["state"], float(info.get("shaping_reward", reward)), terminated, truncated, info


def expert_episodes(config: GenerationConfig) -> int:
    """Episodes the expert's return (a dataset's reference `ref_max_score`) is the mean of."""
    return max(10, config.eval_episodes)


def evaluate(model: Any, env: PixelTask, episodes: int, seed: int, *, deterministic: bool = True) -> list[float]:
    """Returns (in the task's own reward) of `episodes` episodes of the policy, the env reset with seed, seed+1..."""
    returns = []
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        total, done = 0.0, False
        while not done:
            action, _ = model.predict(obs["state"], deterministic=deterministic)
            obs, reward, terminated, truncated, _ = env.step(action)
            total += reward
            done = terminated or truncated
        returns.append(total)
    return returns


@dataclass
class TrainingState:
    """What a checkpoint remembers besides the model and the replay buffer."""

    num_timesteps: int = 0
    chunks: int = 0  # recording chunks written up to this checkpoint
    next_eval: int = 0
    next_checkpoint: int = 0
    evals: list[tuple[int, float]] | None = None  # (agent step, mean evaluation return)
    seconds: float = 0.0  # training wall time so far, over all resumes

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self)))

    @classmethod
    def load(cls, path: Path) -> TrainingState:
        data = json.loads(path.read_text())
        data["evals"] = [tuple(e) for e in data["evals"]]
        return cls(**data)


def _sac(env: gym.Env, config: GenerationConfig, seed: int):
    from stable_baselines3 import SAC

    sac = config.sac
    return SAC(
        "MlpPolicy",
        env,
        learning_rate=sac.learning_rate,
        buffer_size=sac.buffer_size,
        learning_starts=sac.learning_starts,
        batch_size=sac.batch_size,
        tau=sac.tau,
        gamma=sac.gamma,
        train_freq=sac.train_freq,
        gradient_steps=sac.gradient_steps,
        policy_kwargs={"net_arch": list(sac.net_arch)},
        seed=seed,
        device="cpu",  # small MLPs: a GPU would spend its time in transfers
        verbose=0,
    )


def train_expert(
    config: GenerationConfig, workdir: Path, seed: int, progress: Progress | None = None
) -> dict[str, Any]:
    """Train (or resume) SAC with recording into `workdir/train`; returns the summary saved as `train/done.json`.
    Reports agent steps to `progress` (a started stage)."""
    import torch

    torch.set_num_threads(1)  # small MLPs are fastest on one thread, and one thread keeps runs reproducible
    done_file = workdir / "train" / "done.json"
    if done_file.exists():
        return json.loads(done_file.read_text())
    training = _ExpertTraining(config, workdir / "train", seed, progress or NoProgress())
    training.learn()
    summary = training.choose_expert()
    write_json(done_file, summary)
    shutil.rmtree(training.checkpoint_dir, ignore_errors=True)  # the replay buffer is large and no longer needed
    return summary


class _ExpertTraining:
    """One SAC run of `train_expert`: resumed from its checkpoint, recording every episode, evaluated at episode
    ends (`on_step`) and checkpointed at the next agent step's start (`on_rollout_start`), then the expert chosen
    (`choose_expert`).

    A resumed run records what an uninterrupted one records, bit for bit. So a checkpoint is taken where SB3 is
    between two agent steps, not inside its per-step callback (which SB3 calls before it stores the step's
    transition in the replay buffer, counts the episode and makes the step's gradient update), and it holds, besides
    the model and the replay buffer, every random state the rest of training draws from (`RANDOM_STATES`): torch's
    (the policy's action samples), numpy's (SB3's replay-buffer batches), python's, the action space's (SB3's
    warm-up actions) and the task's just before its latest reset (the next episode's start). The resumed run
    restores the task's and redoes that reset (the first reset of its `learn`), and restores the others where the
    uninterrupted run saved them, at the start of the next agent step. `SAC.load` would reseed them all with the
    run's first seed."""

    RANDOM_STATES = "random_states.pkl"

    def __init__(self, config: GenerationConfig, train_dir: Path, seed: int, progress: Progress):
        from stable_baselines3 import SAC

        self.config, self.train_dir, self.seed, self.progress = config, train_dir, seed, progress
        self.checkpoint_dir = train_dir / "checkpoint"
        recording_dir = train_dir / "recording"
        train_dir.mkdir(parents=True, exist_ok=True)
        state = TrainingState(next_eval=config.eval_every, next_checkpoint=config.checkpoint_every, evals=[])
        # A checkpoint without random states is of a version that took it inside the agent step: it cannot be
        # continued as the uninterrupted run would be, so training starts over.
        if (self.checkpoint_dir / "state.json").exists() and (self.checkpoint_dir / self.RANDOM_STATES).exists():
            state = TrainingState.load(self.checkpoint_dir / "state.json")
        self.state = state
        drop_chunks_from(recording_dir, state.chunks)  # written after the checkpoint: the resumed run redoes them
        self.recorder = EpisodeRecorder(recording_dir, chunk_steps=config.checkpoint_every, first_chunk=state.chunks)
        self.recorder.eval_level = state.evals[-1][1] if state.evals else float("nan")
        self.env = RecordingStateEnv(make_task(config.task, pixels=False), self.recorder)
        self.env.agent_steps = state.num_timesteps
        self.eval_env = make_task(config.task, pixels=False)  # one for all evaluations: every reset is seeded
        self.checkpoint_due = False  # set at an episode end, done at the next agent step's start
        self.random_states: dict[str, Any] | None = None  # to restore at the resumed run's first agent step
        if state.num_timesteps:
            # Loaded without the env, whose seeding would make its first reset start episode 0 again; set_env
            # drops the checkpoint's observation, so `learn` redoes the reset the checkpoint came after.
            self.model = SAC.load(self.checkpoint_dir / "model.zip", device="cpu")
            self.model.set_env(self.env, force_reset=True)
            self.model.load_replay_buffer(self.checkpoint_dir / "replay_buffer.pkl")
            self.random_states = pickle.loads((self.checkpoint_dir / self.RANDOM_STATES).read_bytes())
            self.env.unwrapped.np_random.bit_generator.state = self.random_states["env_before_reset"]
        else:
            self.model = _sac(self.env, config, seed)
        self.started = time.perf_counter() - state.seconds

    def learn(self) -> None:
        remaining = self.config.sac_steps - self.state.num_timesteps
        if remaining > 0:
            self.model.learn(total_timesteps=remaining, reset_num_timesteps=self.state.num_timesteps == 0,
                             callback=_callback(self))  # fmt: skip
            # The final model, so that a run killed while choosing the expert does not train again.
            self.checkpoint()
        self.recorder.flush()

    def on_rollout_start(self) -> None:
        """SB3's callback at the start of every agent step, where the previous one is complete (stored, counted,
        learned from): restore a resumed run's random states, or take a checkpoint that is due."""
        if self.random_states is not None:
            self._restore_random_states(self.random_states)
            self.random_states = None
        if self.checkpoint_due:
            self.checkpoint()

    def on_step(self, sb3_locals: dict[str, Any]) -> bool:
        """SB3's callback after every agent step: at an episode's end, evaluate and mark a checkpoint when due."""
        if not sb3_locals["dones"][0]:  # evaluations and checkpoints only at episode ends
            return True
        steps, state = self.model.num_timesteps, self.state
        if steps >= state.next_eval:
            self.evaluate(steps)
            state.next_eval = steps + self.config.eval_every
        if steps >= state.next_checkpoint:
            state.next_checkpoint = steps + self.config.checkpoint_every
            self.checkpoint_due = True
        self.progress.update(steps, f"eval {state.evals[-1][1]:.1f}" if state.evals else "no eval yet")
        return True

    def _random_states(self) -> dict[str, Any]:
        import torch

        return {
            "python": random.getstate(),
            "numpy": np.random.get_state(),
            "torch": torch.get_rng_state(),
            "action_space": copy.deepcopy(self.model.action_space.np_random.bit_generator.state),
            "env_before_reset": self.env.rng_before_reset,
        }

    def _restore_random_states(self, states: dict[str, Any]) -> None:
        import torch

        random.setstate(states["python"])
        np.random.set_state(states["numpy"])
        torch.set_rng_state(states["torch"])
        self.model.action_space.np_random.bit_generator.state = states["action_space"]

    def evaluate(self, steps: int) -> None:
        """Evaluate the policy; keep it as `best.zip` when it is the best so far."""
        first = seeds.EXPERT_TRAINING_EVALUATION + steps
        level = float(np.mean(evaluate(self.model, self.eval_env, self.config.eval_episodes, seed=first)))
        if not self.state.evals or level > max(r for _, r in self.state.evals):
            # The best-evaluated policy so far: an expert candidate when SAC later degrades (Pen does).
            with atomic_file(self.train_dir / "best.zip") as tmp:
                self.model.save(tmp)
        self.state.evals.append((steps, level))
        self.recorder.eval_level = level
        # The evaluation log, for people watching a long run (the checkpoint holds the authoritative copy).
        log = [{"step": s, "return": r} for s, r in self.state.evals]
        (self.train_dir / "evals.json").write_text(json.dumps(log, indent=1))

    def checkpoint(self) -> None:
        """Save everything the rest of training depends on; only between agent steps (`on_rollout_start`)."""
        self.checkpoint_due = False
        self.recorder.flush()
        self.state.num_timesteps, self.state.chunks = self.model.num_timesteps, self.recorder.chunks_written
        self.state.seconds = time.perf_counter() - self.started
        with atomic_dir(self.checkpoint_dir) as tmp:
            self.model.save(tmp / "model.zip")
            self.model.save_replay_buffer(tmp / "replay_buffer.pkl")
            (tmp / self.RANDOM_STATES).write_bytes(pickle.dumps(self._random_states()))
            self.state.save(tmp / "state.json")

    def choose_expert(self) -> dict[str, Any]:
        """The expert is the better of the final policy and the best-evaluated one, each re-evaluated on the same
        fresh episodes (the checkpoint-time evaluation alone would favour a lucky one); saved as `expert.zip`.
        Returns the training's summary."""
        from stable_baselines3 import SAC

        episodes = expert_episodes(self.config)
        final_returns = evaluate(self.model, self.eval_env, episodes, seed=seeds.EXPERT_CHOICE)
        source, expert_returns, expert = "final", final_returns, self.model
        if (self.train_dir / "best.zip").exists():
            best = SAC.load(self.train_dir / "best.zip", device="cpu")
            best_returns = evaluate(best, self.eval_env, episodes, seed=seeds.EXPERT_CHOICE)
            if np.mean(best_returns) > np.mean(final_returns):
                best_step = max(self.state.evals, key=lambda e: e[1])[0]
                source, expert_returns, expert = f"best evaluation (step {best_step})", best_returns, best
        expert.save(self.train_dir / "expert.zip")
        self.env.close()
        self.eval_env.close()
        return {
            "seed": self.seed,
            "sac_steps": self.config.sac_steps,
            "evals": self.state.evals,
            "expert_return": float(np.mean(expert_returns)),
            "expert_return_std": float(np.std(expert_returns)),
            "expert_source": source,
            "final_policy_return": float(np.mean(final_returns)),
            "training_seconds": time.perf_counter() - self.started,
        }


def _callback(training: _ExpertTraining):
    """The SB3 callback of `training`: its `on_rollout_start` at the start of every agent step, its `on_step`
    after it (a function, so that SB3 is imported only when training, as everywhere in this module)."""
    from stable_baselines3.common.callbacks import BaseCallback

    class Callback(BaseCallback):
        def _on_rollout_start(self) -> None:
            training.on_rollout_start()

        def _on_step(self) -> bool:
            return training.on_step(self.locals)

    return Callback()


def record_expert_rollouts(
    config: GenerationConfig,
    workdir: Path,
    seed: int,
    transitions: int,
    expert_return: float,
    progress: Progress | None = None,
) -> Path:
    """Roll out the stochastic SAC expert (as the paper's expert datasets) for at least `transitions` steps;
    reports them to `progress` (a started stage)."""
    import torch
    from stable_baselines3 import SAC

    progress = progress or NoProgress()
    torch.set_num_threads(1)
    out = workdir / "expert"
    done_file = out / "done.json"
    if done_file.exists():
        return out
    shutil.rmtree(out, ignore_errors=True)  # a killed rollout restarts: it is cheap next to training
    recorder = EpisodeRecorder(out, chunk_steps=max(transitions, 1))
    recorder.eval_level = expert_return
    model = SAC.load(workdir / "train" / "expert.zip", device="cpu")
    model.set_random_seed(seed + 1)
    env = RecordingStateEnv(make_task(config.task, pixels=False), recorder)
    recorded, episode = 0, 0
    while recorded < transitions:
        obs, _ = env.reset(seed=seeds.expert_rollout_seed(seed, episode))
        done = False
        while not done:
            action, _ = model.predict(obs, deterministic=False)
            obs, _, terminated, truncated, _ = env.step(action)
            recorded += 1
            done = terminated or truncated
        episode += 1
        progress.update(min(recorded, transitions), f"{episode} episodes")
    recorder.flush()
    env.close()
    (out / "done.json").write_text(json.dumps({"episodes": episode, "transitions": recorded}))
    return out
