"""World-model diagnostics: is a latent world model good enough for the policy phase, and what will LOMPO's
penalty do with it? Measured on episodes the model did not train on (its `holdout` episodes; in-sample, and said
so, when it trained on all of them), each encoded from its first step as the real buffer encodes them.

Two groups of values, each a float, logged as phase "diagnostics" (metrics.csv, TensorBoard) at every checkpoint
of the model phase and printed by `lompo-bench diagnose`:

- the model's fit: `model_loss` (Eq. 8's terms summed, as training's loss), `image_nll` (0.5 x squared error
  summed over a frame, as Eq. 8's image term), `image_mse` (per pixel, in the encoder's [-0.5, 0.5] scale),
  `reward_mse` (the reward head at the next state against the data's reward), `proprio_nll` (where the task has
  proprioception) and `kl` (posterior against each forward head, the mean over heads);
- the penalty's quantity (the std over the forward heads of their log-likelihoods of a sampled next state, the
  population std, as the rollouts compute it) one step ahead of every filtered state, at the data's actions
  (`spread_data`), at uniform random actions (`spread_uniform`), at the current actor's actions
  (`spread_actor`) and at the corners of the action box, the sign of the actor's action (`spread_corners`;
  without an actor, random corners), with the model's reward there (`reward_model_*`, the heads' mean, as the
  rollouts), the data's own reward (`reward_data`) and lambda x spread at the data's actions (`penalty_data`);
  beside it, for comparison only, the std over the heads of their means at the same actions (`disagreement_*`).

The penalty is meant to be an out-of-distribution signal: low at the data's actions, high away from them. When the
spread at the data's actions is no lower than at random actions it is a flat offset, and `verdict` says so in words
(`algorithms/verdicts.py`: the words and the value names, without torch, for the leaderboard too).

`measure_in_task` asks the question the data cannot: does the trained policy exploit the model? It runs the policy
in the task (the evaluation's episodes and seeds) and, at every state the policy filtered there, compares what the
model predicts for the policy's own action with what the task paid: one step ahead (`task_reward_model` against
`task_reward`) and over the rollouts' horizon with the policy acting in imagination as the rollouts do, without
their noise (`imagined_return`, before and after the penalty, against `task_return_h`, the next H real rewards).
`verdict_in_task` says whether the model overrates the policy's actions and whether, after the penalty, it still
promises more than the task paid (then the policy exploits it).

`diagnose` reads a saved world model (a shared model's folder or a LOMPO / LMBRL / Offline SLAC run folder) and
measures it (`model_diagnostics`); `video_strip` is the picture of a model learning that the model phase sends to
TensorBoard.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lompo_bench.algorithms import checkpoints
from lompo_bench.algorithms.evaluation import evaluate_policy
from lompo_bench.algorithms.nets import (
    NETWORKS,
    ConvEncoder,
    gaussian_kl,
    gaussian_log_prob,
    heads_disagreement,
    member_spread,
)
from lompo_bench.algorithms.verdicts import verdict, verdict_in_task
from lompo_bench.algorithms.world_model_store import MODEL_FORMAT, holdout_episodes, model_key
from lompo_bench.data import EpisodeReader, open_cache, to_torch
from lompo_bench.errors import UserError
from lompo_bench.paths import root_of_run, world_model_dir
from lompo_bench.seeds import evaluation_seed


@torch.no_grad()
def measure(
    model: Any,
    cache: Any,
    episodes: np.ndarray,
    *,
    penalty: float,
    actor: Callable[[torch.Tensor], torch.Tensor] | None = None,
    seed: int = 0,
) -> dict[str, float]:
    """The diagnostics of world model `model` (a `lompo.WorldModel`) on whole `episodes` of `cache`; `actor` maps
    latent features to actions in [-1, 1] (None: no actor yet). Draws its random numbers from a forked generator
    seeded with `seed`: training that calls it draws the same numbers as training that does not."""
    if len(episodes) == 0:
        raise ValueError("diagnostics measure on at least one episode")
    device = next(model.parameters()).device
    sums: dict[str, float] = {}
    count: dict[str, float] = {}

    def add(name: str, values: torch.Tensor) -> None:
        sums[name] = sums.get(name, 0.0) + float(values.sum())
        count[name] = count.get(name, 0.0) + values.numel()

    reader = EpisodeReader(cache)
    was_training = model.training
    model.eval()
    try:
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(seed)
            for episode in np.asarray(episodes, dtype=np.int64):
                data = to_torch(reader.read([int(episode)]), device)
                _episode(model, data, penalty, actor, add)
    finally:
        reader.close()
        model.train(was_training)
    values = {name: sums[name] / max(count[name], 1.0) for name in sums}
    # Eq. 8's loss on these episodes: the NLLs (unit-variance Normals, constants left out, as training's) + KL.
    values["model_loss"] = (
        values["image_nll"] + 0.5 * values["reward_mse"] + values["kl"] + values.get("proprio_nll", 0)
    )
    values["penalty_data"] = penalty * values["spread_data"]
    values["reward_penalized_data"] = values["reward_model_data"] - values["penalty_data"]
    values["episodes"] = float(len(episodes))
    return values


def _episode(model: Any, data: dict[str, torch.Tensor], penalty: float, actor: Any, add: Callable) -> None:
    rssm = model.rssm
    pixels, actions, rewards = data["pixels"], data["actions"], data["rewards"]  # (1, L + 1, ...), (1, L, ...)
    proprio = data["proprio"] if model.encoder.proprio_dim else None
    steps = pixels.shape[1]
    flat = pixels.reshape(steps, *pixels.shape[2:])
    embed = model.embed(flat, None if proprio is None else proprio.reshape(steps, -1)).reshape(1, steps, -1)
    led_to = torch.cat([torch.zeros_like(actions[:, :1]), actions], 1)  # no action leads to the first observation
    h, z, post_mean, post_std = rssm.observe(embed, led_to)
    features = torch.cat([h, z], -1)
    # The model's fit, as Eq. 8 measures it.
    image, proprio_mean = model.decode(features)
    target = ConvEncoder.preprocess(flat).reshape(image.shape)
    error = (image - target).pow(2)
    add("image_nll", 0.5 * error.sum((-3, -2, -1)))
    if proprio_mean is not None:
        add("proprio_nll", 0.5 * (proprio_mean - model.encoder.normalize_proprio(proprio)).pow(2).sum(-1))
    add("image_mse", error.mean((-3, -2, -1)))
    add("reward_mse", (model.reward_head(features[:, 1:]).squeeze(-1) - rewards).pow(2))
    prior_mean, prior_std = rssm.prior(h.reshape(steps, -1))
    add("kl", gaussian_kl(post_mean.reshape(1, steps, -1), post_std.reshape(1, steps, -1), prior_mean, prior_std))
    # The penalty one step ahead of every state that took an action in the data.
    h_t, z_t = h[0, :-1], z[0, :-1]
    add("reward_data", rewards[0])
    uniform = torch.rand_like(actions[0]) * 2 - 1
    choices = {"data": actions[0], "uniform": uniform}
    if actor is not None:
        choices["actor"] = actor(features[0, :-1])
        choices["corners"] = torch.where(choices["actor"] >= 0, 1.0, -1.0)
    else:
        choices["corners"] = torch.where(torch.rand_like(uniform) >= 0.5, 1.0, -1.0)
    for name, action in choices.items():
        spread, reward, means = _one_step(rssm, model.reward_head, h_t, z_t, action)
        add(f"spread_{name}", spread)
        add(f"reward_model_{name}", reward)
        add(f"disagreement_{name}", heads_disagreement(means))


def _one_step(rssm: Any, reward_head: Any, h: torch.Tensor, z: torch.Tensor, action: torch.Tensor):
    """As a rollout step computes them: the heads' log-likelihood spread of a next state sampled from a random
    head (here drawn per state) and the heads' mean reward; and the heads' means of the next state (K, N, S), for
    `heads_disagreement`, measured beside the official spread so that the two can be compared as
    out-of-distribution signals."""
    h_next = rssm.step(h, z, action)
    mean, std = rssm.prior(h_next)  # (K, N, S)
    samples = mean + std * torch.randn_like(std)
    heads = torch.randint(0, mean.shape[0], (mean.shape[1],), device=h.device)
    z_next = samples[heads, torch.arange(mean.shape[1], device=h.device)]
    log_likelihood = gaussian_log_prob(z_next.unsqueeze(0), mean, std)  # (K, N)
    spread = member_spread(log_likelihood)
    member_features = torch.cat([h_next.expand(mean.shape[0], -1, -1), samples], -1)
    return spread, reward_head(member_features).squeeze(-1).mean(0), mean


@torch.no_grad()
def measure_in_task(agent: Any, task: str, episodes: int, seed: int, image_size: int = 64) -> dict[str, float]:
    """The policy of `agent` (a `lompo.Lompo`, its world model and its penalty) in `task` for `episodes`
    evaluation episodes of run seed `seed`, the model's predictions beside what the task paid (module doc). The
    model's random numbers come from a forked generator seeded with `seed`; the policy's own, as evaluation's.
    `image_size`: the frame size of the dataset the agent was trained on (its cache's `frame_shape`)."""
    if episodes < 1:
        raise ValueError("the in-task diagnostics run at least one episode")
    device = agent.device
    rssm, c = agent.model.rssm, agent.config
    policy = agent.policy()
    steps: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor, float]] = []
    sums: dict[str, float] = {}
    count: dict[str, float] = {}

    def add(name: str, values: torch.Tensor) -> None:
        sums[name] = sums.get(name, 0.0) + float(values.sum())
        count[name] = count.get(name, 0.0) + values.numel()

    def episode_done() -> None:
        h, z, actions = (torch.cat([step[i] for step in steps]) for i in range(3))
        rewards = torch.tensor([step[3] for step in steps], device=device)
        steps.clear()
        add("task_reward", rewards)
        spread, reward_model, means = _one_step(rssm, agent.model.reward_head, h, z, actions)
        add("task_reward_model", reward_model)
        add("task_spread", spread)
        add("task_disagreement", heads_disagreement(means))
        add("task_penalty", agent.penalty_of(agent.uncertainty(spread, means)))
        add("task_saturated", (actions.abs() > 0.99).float())
        horizon = c.rollout_horizon
        if horizon < 1 or len(rewards) < horizon:
            return
        imagined = list(agent.imagine(h, z, horizon, explore=False))
        starts = len(rewards) - horizon + 1  # states with H real steps after them
        add("imagined_return", sum(step["reward_model"] for step in imagined)[:starts])
        add("imagined_return_penalized", sum(step["rewards"] for step in imagined)[:starts])
        add("task_return_h", rewards.unfold(0, horizon, 1).sum(-1))

    def on_step(reward: float, done: bool) -> None:
        steps.append((policy.h, policy.z, policy.action, reward))  # the state the policy acted from, its action
        if done:
            episode_done()

    was_training = agent.training
    agent.eval()
    try:
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(seed)
            returns = evaluate_policy(
                policy, task, episodes, evaluation_seed(seed), on_step=on_step, image_size=image_size
            )
    finally:
        agent.train(was_training)
    values = {name: sums[name] / max(count[name], 1.0) for name in sums}
    values["task_return"] = float(np.mean(returns))
    values["episodes"] = float(episodes)
    values["horizon"] = float(c.rollout_horizon)
    return values


@torch.no_grad()
def video_strip(model: Any, batch: dict[str, torch.Tensor], sequences: int = 3, context: int = 5) -> np.ndarray:
    """What the official code shows of a model learning: for a few sequences of a batch, a row of true frames,
    a row of reconstructions (posterior means decoded) and a row of open-loop predictions (filtered over the
    first `context` steps, then imagined from the actions) of `model` (a `lompo.WorldModel`). Departure, for
    pictures only: the official open loop steps a forward head drawn at random and samples z from it; ours takes
    the mean over the heads of their means, which draws no random numbers, so a run is the same with or without
    its pictures. uint8 (H, W, 3)."""
    pixels, actions = batch["pixels"][:sequences], batch["prev_actions"][:sequences]
    proprio = batch.get("proprio")
    proprio = proprio[:sequences] if proprio is not None and model.encoder.proprio_dim else None
    steps = pixels.shape[1]
    flat = pixels.reshape(-1, *pixels.shape[2:])
    embed = model.embed(flat, None if proprio is None else proprio.reshape(flat.shape[0], -1))
    h, z, _, _ = model.rssm.observe(embed.reshape(sequences, steps, -1), actions, sample=False)
    recon = model.decode(torch.cat([h, z], -1))[0]
    h_t, z_t, imagined = h[:, context - 1], z[:, context - 1], []
    for t in range(context, steps):
        h_t = model.rssm.step(h_t, z_t, actions[:, t])
        z_t = model.rssm.prior(h_t)[0].mean(0)  # the heads' means, averaged
        imagined.append(torch.cat([h_t, z_t], -1))
    open_loop = torch.cat([recon[:, :context], model.decode(torch.stack(imagined, 1))[0]], 1)

    def frames(x: torch.Tensor) -> torch.Tensor:  # (N, T, 3, H, W) in [-0.5, 0.5] -> (N, H, T*W, 3) uint8
        x = ((x + 0.5).clamp(0, 1) * 255).to(torch.uint8).permute(0, 3, 1, 4, 2)
        return x.reshape(x.shape[0], x.shape[1], -1, 3)

    truth = pixels.permute(0, 2, 1, 3, 4).reshape(sequences, pixels.shape[2], -1, 3)
    rows = torch.stack([truth, frames(recon), frames(open_loop)], 1)  # (N, 3, H, T*W, 3)
    return rows.reshape(-1, rows.shape[-2], 3).cpu().numpy()


# ----- a saved world model's diagnosis (LOMPO, LMBRL, Offline SLAC: `lompo-bench diagnose`) -----


def diagnosis_episodes(num_episodes: int, holdout: float) -> np.ndarray:
    """The episodes diagnostics measure on: the model's held-out ones, or (a model trained on every episode) the
    same evenly spaced 1 in 20 of them, in-sample; a dataset of one episode (none can be held out) gives it."""
    chosen = holdout_episodes(num_episodes, holdout if holdout > 0 else 0.05)
    return chosen if len(chosen) else np.arange(num_episodes)


def diagnosed_held_out(num_episodes: int, holdout: float) -> bool:
    """Whether the diagnosis episodes are episodes the model did not train on."""
    return holdout > 0 and len(holdout_episodes(num_episodes, holdout)) > 0


def diagnosis_penalty(config: Any) -> float:
    """The lambda diagnostics weigh the spread with: the config's, or for a config without a penalty (LMBRL, which
    shares LOMPO's model) LOMPO's default, so a shared model's log does not depend on who trained it."""
    from lompo_bench.algorithms.lompo import LompoConfig  # lompo imports this module

    return config.penalty if config.penalty > 0 else LompoConfig.penalty


def model_diagnostics(
    model: Any, cache: Any, config: Any, seed: int, actor: Any | None = None, penalty: float | None = None
) -> dict[str, float]:
    """`measure` on the diagnosis episodes of `model` (a `lompo.WorldModel` of `config`); `actor`: a policy
    phase's agent (a `lompo.Lompo`), whose actor's actions (without exploration noise) are measured too."""
    return measure(
        model, cache, diagnosis_episodes(cache.num_episodes, config.holdout),
        penalty=diagnosis_penalty(config) if penalty is None else penalty,
        actor=None if actor is None else (lambda features: actor.act(features, explore=False)),
        seed=seed,
    )  # fmt: skip


def diagnose(folder: Path, device: torch.device, *, penalty: float | None = None, in_task: int = 0) -> dict[str, Any]:
    """The diagnostics of a saved world model: `folder` is a shared model's folder (finished or still training)
    or a run folder of LOMPO, LMBRL or Offline SLAC (its world model, and its actor once the policy phase began).
    `in_task` > 0: also that many evaluation episodes of the run's policy in the task (`measure_in_task`; a run
    folder only). Returns the values, the verdict's lines and what was measured; a folder with no world model, or
    `in_task` without a policy, is a UserError."""
    from lompo_bench.algorithms.lompo import Lompo, WorldModel, saved_config  # lompo imports this module

    context_path = folder / "config.json"
    try:
        context = json.loads(context_path.read_text())
    except (OSError, ValueError):
        raise UserError(f"{folder} holds no world model (no readable config.json)") from None
    agent_state = None
    if context.get("model_format", MODEL_FORMAT) != MODEL_FORMAT or context.get("networks", NETWORKS) != NETWORKS:
        raise UserError(f"{folder} was trained with networks this version of lompo-bench no longer builds; retrain it")
    if "model" in context:  # a shared world model's folder
        config = saved_config(context["model"])
        dataset_id, seed, model_folder = context["dataset_id"], context["seed"], folder
    elif "config" in context and {"conv_channels", "ensemble", "penalty"} <= set(context["config"]):
        config = saved_config(context["config"])
        dataset_id, seed = context["dataset_id"], context["seed"]
        model_folder = world_model_dir(root_of_run(folder, dataset_id), dataset_id, seed, model_key(config))
        run_state = checkpoints.load_checkpoint(folder / "checkpoint.pt", device)
        if run_state is not None:
            agent_state = run_state["training"]["modules"]
    else:
        raise UserError(
            f"{folder} holds no world model: neither a world model folder nor a LOMPO / LMBRL / Offline SLAC run"
        )
    if in_task and agent_state is None:
        raise UserError(
            f"--in-task needs a LOMPO / LMBRL / Offline SLAC run folder whose policy phase has begun, not {folder}"
        )
    cache = open_cache(dataset_id)
    model = WorldModel(config, int(cache.actions.shape[1]), int(cache.proprio.shape[1]), device)
    agent = None
    if agent_state is not None:
        agent = Lompo(config, model, 1, 1)
        agent.load_state_dict(agent_state)
        agent.spread_floor = run_state["progress"].get("spread_floor", 0.0)  # as the run's rollouts penalized
        agent.measure_scale = run_state["progress"].get("measure_scale", 1.0)
        history = run_state["progress"]["history"]
    else:
        saved = checkpoints.load_checkpoint(model_folder / "model.pt", device)
        if saved is not None:
            modules, history = saved["modules"], saved["history"]
        else:  # still training: its last checkpoint
            state = checkpoints.load_checkpoint(model_folder / "checkpoint.pt", device)
            if state is None:
                raise UserError(f"{folder} holds no world model yet (nothing trained in {model_folder})")
            modules, history = state["training"]["modules"], state["progress"]["history"]
        model.load_state_dict(modules)
    steps = max((entry["step"] for entry in history if entry.get("phase") == "model"), default=0)
    used = diagnosis_penalty(config) if penalty is None else penalty
    values = model_diagnostics(model, cache, config, seed, agent, used)
    held_out = diagnosed_held_out(cache.num_episodes, config.holdout)
    task_values = {}
    if in_task:
        task_values = measure_in_task(agent, context["task"], in_task, seed, cache.frame_shape[0])
    return {
        "folder": str(folder),
        "dataset_id": dataset_id,
        "model_steps": steps,
        "held_out": held_out,
        "penalty": used,
        "actor": agent is not None,
        "values": values,
        "verdict": verdict(values, penalty=used, held_out=held_out, heads=config.ensemble),
        "in_task": task_values,
        "in_task_verdict": verdict_in_task(task_values) if task_values else [],
    }
