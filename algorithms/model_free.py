"""The schedule of the single-phase model-free learners (BC, CQL): updates, evaluations, checkpoints, the
final evaluation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from algorithms.runs import RunState, finish_run
from lompo_bench.data import TorchBatches
from lompo_bench.progress import NoProgress, Progress


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
    """The schedule of the single-phase learners (BC, CQL): `config.steps` calls of `agent.update(batch)` with the
    loss history, evaluations every `config.eval_every` steps, checkpoints every `config.checkpoint_every` (a
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
