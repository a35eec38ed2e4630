"""The schedule of the single-phase model-free learners (BC, CQL, DrQ+BC): updates, evaluations, checkpoints, the
final evaluation; and their shared entry points (`FrameStackLearner`: an algorithm module's `build`, `train` and
`load_policy` in one line; `train_on_transitions`, `load_frame_stack_policy`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from lompo_bench.algorithms import runs
from lompo_bench.algorithms.nets import scaled_conv_channels
from lompo_bench.algorithms.runs import RunState, finish_run
from lompo_bench.data import TorchBatches, TransitionSampler, open_cache
from lompo_bench.data.cache import DatasetCache
from lompo_bench.progress import NoProgress, Progress


def train_on_transitions(
    build: Callable[[Any, Any, torch.device], Any],
    *,
    algo: str,
    stage: str,
    dataset_id: str,
    task: str,
    profile: str,
    config: Any,
    folder: Path,
    seed: int,
    device: torch.device,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """An algorithm's `train` for a learner on frame-stacked transitions: the encoder channels for the dataset's
    image size filled into `config` (the saved config is the one that ran), the run started or resumed in
    `folder`, `build(config, cache, device)` seeded with `seed`, then `train_model_free`; returns the record."""
    cache = open_cache(dataset_id, progress)
    config = dataclasses.replace(
        config, conv_channels=scaled_conv_channels(config.conv_channels, config.conv_scale, cache.frame_shape[0])
    )
    runs.start_run(folder, config, algo=algo, dataset_id=dataset_id, task=task, seed=seed, device=device, cache=cache)
    torch.manual_seed(seed)
    agent = build(config, cache, device)
    sampler = TransitionSampler(cache, config.batch, frame_stack=config.frames, seed=seed)
    return train_model_free(
        agent, sampler, algo=algo, stage=stage, config=config, dataset_id=dataset_id, task=task, profile=profile,
        seed=seed, folder=folder, device=device, progress=progress,
    )  # fmt: skip


def load_frame_stack_policy(folder: Path, device: torch.device, config_class: type, agent_class: type) -> Any:
    """The evaluation policy of a finished run of such a learner: `agent_class(config, action_dim, proprio_dim)`
    from the run's saved config, with its trained weights."""
    record, state = runs.load_finished(folder, device)
    config = config_class(**{**record["config"], "conv_channels": tuple(record["config"]["conv_channels"])})
    agent = agent_class(config, record["action_dim"], record["proprio_dim"]).to(device)
    agent.load_state_dict(state["training"]["modules"])
    return agent.policy_for_task(device)


@dataclass(frozen=True)
class FrameStackLearner:
    """An algorithm module's `build`, `train` and `load_policy` for a learner on frame-stacked transitions whose
    agent is `agent_class(config, action_dim, proprio_dim)` with a `features` trunk (`nets.PixelFeatures`), and
    `update`, `training_state`, `load_training_state` and `policy_for_task` (the `train_model_free` contract).
    A module binds them at its top level, as the plugin contract asks (docs/ALGORITHMS.md):
    `LEARNER = FrameStackLearner(NAME, stage, Config, Agent)`, then `train, load_policy = LEARNER.train, ...`."""

    name: str  # the algorithm's NAME: its records' algo
    stage: str  # the training stage's name on the progress bar
    config_class: type
    agent_class: type
    after_stats: Callable[[Any], None] | None = None  # called on a new agent once it holds the proprio stats

    def build(self, config: Any, cache: DatasetCache, device: torch.device) -> Any:
        """A new agent for `cache`'s action and proprio sizes, its encoder given the dataset's proprio stats."""
        agent = self.agent_class(config, cache.actions.shape[1], cache.proprio.shape[1])
        runs.set_proprio_stats(agent.features.encoder, cache)
        if self.after_stats is not None:
            self.after_stats(agent)
        return agent.to(device)

    def load_policy(self, folder: Path, device: torch.device) -> Any:
        """The evaluation policy of a finished run in `folder` (`load_frame_stack_policy`)."""
        return load_frame_stack_policy(folder, device, self.config_class, self.agent_class)

    def train(
        self,
        *,
        dataset_id: str,
        task: str,
        profile: str,
        config: Any,
        folder: Path,
        seed: int,
        device: torch.device,
        progress: Progress | None = None,
    ) -> dict[str, Any]:
        """Train on `dataset_id`, resuming from `folder`'s checkpoint (`train_on_transitions`); returns the result
        record."""
        return train_on_transitions(
            self.build, algo=self.name, stage=self.stage, dataset_id=dataset_id, task=task, profile=profile,
            config=config, folder=folder, seed=seed, device=device, progress=progress,
        )  # fmt: skip


def train_model_free(
    agent: Any,
    sampler: Any,
    *,
    algo: str,
    stage: str,
    config: Any,
    dataset_id: str,
    task: str,
    profile: str,
    seed: int,
    folder: Path,
    device: Any,
    progress: Progress | None,
) -> dict[str, Any]:
    """The schedule of the single-phase learners (BC, CQL, DrQ+BC): `config.steps` calls of `agent.update(batch)`
    with the loss history, evaluations every `config.eval_every` steps, checkpoints every `config.checkpoint_every` (a
    killed run continues from the last one), then the final evaluation. `agent` exposes update,
    training_state, load_training_state and policy_for_task; `sampler` get_state / set_state."""
    progress = progress or NoProgress()
    run = RunState(folder, step=0)
    batches = TorchBatches(sampler, device)
    run.resume(device, agent, batches)

    def checkpoint() -> None:
        run.checkpoint(agent, batches)

    if run.data["phase"] == "train":
        progress.start(stage, config.steps)
        while run.data["step"] < config.steps:
            losses = agent.update(batches.sample())
            run.data["step"] += 1
            step = run.data["step"]
            if step % config.log_every == 0 or step == 1:
                run.log("train", step, losses)
            progress.update(step, " ".join(f"{k} {v:.3g}" for k, v in list(losses.items())[:2]))
            if step % config.eval_every == 0 and step < config.steps:
                run.evaluate(agent.policy_for_task(device), task, config.eval_episodes, seed, step)
            if step % config.checkpoint_every == 0:
                checkpoint()
        progress.finish()
        run.data["phase"] = "evaluate"
        checkpoint()
    return finish_run(
        run,
        algo=algo,
        dataset_id=dataset_id,
        task=task,
        profile=profile,
        seed=seed,
        policy=agent.policy_for_task(device),
        episodes=config.eval_episodes,
        save=checkpoint,
        progress=progress,
    )
