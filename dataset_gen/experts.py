"""SAC experts trained from ground-truth state, with every transition recorded for the datasets.

stable-baselines3 SAC learns on the task's `state` observation with the task's action repeat. A wrapper hands SB3
the state (and, where a task has one, the dense shaping reward: Door Open's sparse success flag alone gives SAC
nothing to learn from) and records each transition with its physics state, so images can be rendered later.

Training is resumable: at checkpoints (always at an episode end) the model, the replay buffer, the recording
and the evaluation log are saved together; a rerun resumes from the last one and drops what came after it.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from dataset_gen.config import GenerationConfig
from dataset_gen.recording import EpisodeRecorder, drop_chunks_from
from lompo_bench import seeds
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

    def _record_obs(self, obs: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        task: PixelTask = self.env.unwrapped
        proprio = obs.get("proprio", np.empty(0, dtype=np.float32))
        return task.get_physics_state(), obs["state"], proprio

    def reset(self, **kwargs: Any) -> tuple[np.ndarray, dict]:
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
    from stable_baselines3 import SAC
    from stable_baselines3.common.callbacks import BaseCallback

    progress = progress or NoProgress()
    torch.set_num_threads(1)  # small MLPs are fastest on one thread, and one thread keeps runs reproducible
    train_dir = workdir / "train"
    done_file = train_dir / "done.json"
    if done_file.exists():
        return json.loads(done_file.read_text())
    recording_dir = train_dir / "recording"
    checkpoint_dir = train_dir / "checkpoint"
    train_dir.mkdir(parents=True, exist_ok=True)

    state = TrainingState(next_eval=config.eval_every, next_checkpoint=config.checkpoint_every, evals=[])
    if (checkpoint_dir / "state.json").exists():
        state = TrainingState.load(checkpoint_dir / "state.json")
    drop_chunks_from(recording_dir, state.chunks)  # written after the checkpoint: the resumed run redoes them
    recorder = EpisodeRecorder(recording_dir, chunk_steps=config.checkpoint_every, first_chunk=state.chunks)
    recorder.eval_level = state.evals[-1][1] if state.evals else float("nan")
    env = RecordingStateEnv(make_task(config.task, pixels=False), recorder)
    env.agent_steps = state.num_timesteps
    eval_env = make_task(config.task, pixels=False)  # one for all evaluations: every reset is seeded
    if state.num_timesteps:
        model = SAC.load(checkpoint_dir / "model.zip", env=env, device="cpu")
        model.load_replay_buffer(checkpoint_dir / "replay_buffer.pkl")
    else:
        model = _sac(env, config, seed)
    started = time.perf_counter() - state.seconds

    def save_checkpoint(num_timesteps: int) -> None:
        recorder.flush()
        state.num_timesteps, state.chunks = num_timesteps, recorder.chunks_written
        state.seconds = time.perf_counter() - started
        with atomic_dir(checkpoint_dir) as tmp:
            model.save(tmp / "model.zip")
            model.save_replay_buffer(tmp / "replay_buffer.pkl")
            state.save(tmp / "state.json")

    class Callback(BaseCallback):
        def _on_step(self) -> bool:
            if not self.locals["dones"][0]:  # evaluations and checkpoints only at episode ends
                return True
            steps = self.num_timesteps
            if steps >= state.next_eval:
                first = seeds.EXPERT_TRAINING_EVALUATION + steps
                level = float(np.mean(evaluate(model, eval_env, config.eval_episodes, seed=first)))
                if not state.evals or level > max(r for _, r in state.evals):
                    # The best-evaluated policy so far: an expert candidate when SAC later degrades (Pen does).
                    with atomic_file(train_dir / "best.zip") as tmp:
                        model.save(tmp)
                state.evals.append((steps, level))
                recorder.eval_level = level
                # The evaluation log, for people watching a long run (the checkpoint holds the authoritative copy).
                log = [{"step": s, "return": r} for s, r in state.evals]
                (train_dir / "evals.json").write_text(json.dumps(log, indent=1))
                state.next_eval = steps + config.eval_every
            if steps >= state.next_checkpoint:
                state.next_checkpoint = steps + config.checkpoint_every
                save_checkpoint(steps)
            level = f"eval {state.evals[-1][1]:.1f}" if state.evals else "no eval yet"
            progress.update(steps, level)
            return True

    remaining = config.sac_steps - state.num_timesteps
    if remaining > 0:
        model.learn(total_timesteps=remaining, reset_num_timesteps=state.num_timesteps == 0, callback=Callback())
    recorder.flush()
    # The expert is the better of the final policy and the best-evaluated one, each re-evaluated on the same
    # fresh episodes (the checkpoint-time evaluation alone would favour a lucky one).
    episodes = expert_episodes(config)
    final_returns = evaluate(model, eval_env, episodes, seed=seeds.EXPERT_CHOICE)
    source, expert_returns = "final", final_returns
    if (train_dir / "best.zip").exists():
        best = SAC.load(train_dir / "best.zip", device="cpu")
        best_returns = evaluate(best, eval_env, episodes, seed=seeds.EXPERT_CHOICE)
        if np.mean(best_returns) > np.mean(final_returns):
            best_step = max(state.evals, key=lambda e: e[1])[0]
            source, expert_returns, model = f"best evaluation (step {best_step})", best_returns, best
    model.save(train_dir / "expert.zip")
    summary = {
        "seed": seed,
        "sac_steps": config.sac_steps,
        "evals": state.evals,
        "expert_return": float(np.mean(expert_returns)),
        "expert_return_std": float(np.std(expert_returns)),
        "expert_source": source,
        "final_policy_return": float(np.mean(final_returns)),
        "training_seconds": time.perf_counter() - started,
    }
    env.close()
    eval_env.close()
    write_json(done_file, summary)
    shutil.rmtree(checkpoint_dir, ignore_errors=True)  # the replay buffer is large and no longer needed
    return summary


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
