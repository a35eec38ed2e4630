"""The diagnostics' verdict in words: what a world model's diagnostic values (`algorithms/diagnostics.py`) mean,
as `lompo-bench diagnose` prints them under its table and the HTML leaderboard shows them beside a run's last
logged values. Imports nothing but the standard library, so the leaderboard says it without torch."""

from __future__ import annotations

CANDIDATES = ("data", "uniform", "actor", "corners")
# Below this many percent more spread at uniform random actions than at the data's, the verdict calls the
# separation weak: a wording threshold for people, used in no computation.
WEAK_SEPARATION = 10.0
# The values `measure` returns, in the order they are printed.
FIT = ("model_loss", "image_nll", "image_mse", "reward_mse", "kl")
# Above this many percent of the task's reward, the model's reward for the policy's actions is called an
# overestimate by `verdict_in_task`: a wording threshold for people, used in no computation.
OVERRATED = 25.0
# The values `measure_in_task` returns, in the order they are printed.
IN_TASK = (
    "task_return", "task_reward", "task_reward_model", "task_spread", "task_disagreement", "task_penalty",
    "task_saturated", "task_return_h", "imagined_return", "imagined_return_penalized",
)  # fmt: skip


def verdict_in_task(values: dict[str, float]) -> list[str]:
    """What the in-task values mean, in words: does the model overrate the policy's own actions?"""
    real, model = values["task_reward"], values["task_reward_model"]
    over = 100 * (model / real - 1) if real > 0 else float("inf") if model > real else 0.0
    lines = []
    if model > real and over > OVERRATED:
        lines.append(
            f"the model overrates the policy's actions: it predicts {model:.3g} per step where the task paid "
            f"{real:.3g}" + (f" ({over:.0f}% more)" if real > 0 else "")
        )
    else:
        lines.append(f"the model's reward for the policy's actions ({model:.3g} per step) is near what the task "
                     f"paid ({real:.3g})")  # fmt: skip
    if "imagined_return" in values:
        horizon, paid = int(values["horizon"]), values["task_return_h"]
        penalized = values["imagined_return_penalized"]
        what = (
            "even after the penalty the model promises more than the task pays: the policy exploits model error"
            if penalized > paid
            else "after the penalty the model promises less than the task pays"
        )
        lines.append(
            f"over {horizon} imagined steps from the policy's states the model promises "
            f"{values['imagined_return']:.3g} ({penalized:.3g} after the penalty) where the task paid {paid:.3g}: "
            + what
        )
    lines.append(
        f"{100 * values['task_saturated']:.0f}% of the policy's action components are at +-1 in the task; "
        f"lambda x spread at its actions {values['task_penalty']:.3g} per step"
    )
    return lines


def verdict(values: dict[str, float], *, penalty: float, held_out: bool, heads: int) -> list[str]:
    """What the values mean, in words: the lines `diagnose` prints under its table (`heads`: the model's forward
    heads; with one, as Offline SLAC's, there is no disagreement to read)."""
    lines = []
    if not held_out:
        lines.append("in-sample: this model trained on every episode, so its fit here is optimistic")
    if heads < 2:
        lines.append(
            "one forward head: no ensemble, so no disagreement and no penalty to measure (spread 0 at any action)"
        )
        return lines + _reward_fit(values)
    data, uniform = values["spread_data"], values["spread_uniform"]
    if data >= uniform:
        lines.append(
            f"the penalty is a flat offset here, not an out-of-distribution signal: its spread at the data's "
            f"actions ({data:.3f}) is no lower than at uniform random actions ({uniform:.3f})"
        )
    else:
        gap = 100 * (uniform / data - 1)
        how = "barely separates" if gap < WEAK_SEPARATION else "separates"
        lines.append(
            f"the penalty {how} the data's actions from uniform random ones: spread {data:.3f} against "
            f"{uniform:.3f} ({gap:.0f}% higher away from the data)"
        )
    scale = abs(values["reward_data"])
    offset = values["penalty_data"]
    if scale > 0 and offset > scale:
        lines.append(
            f"lambda x spread at the data's own actions is {offset:.3g} per step, {offset / scale:.1f}x the data's "
            f"mean reward ({values['reward_data']:.3g}): an imagined step that copies the data earns "
            f"{values['reward_penalized_data']:.3g}, far below the real one (lambda {penalty:g})"
        )
    else:
        lines.append(
            f"lambda x spread at the data's actions ({offset:.3g} per step) is within the data's reward scale "
            f"({values['reward_data']:.3g} per step; lambda {penalty:g})"
        )
    if values.get("disagreement_data", 0) > 0 and "disagreement_uniform" in values:
        gap = 100 * (values["disagreement_uniform"] / values["disagreement_data"] - 1)
        lines.append(
            f"the heads' means (not the penalty's measure) disagree {gap:.0f}% more at uniform random actions than "
            f"at the data's ({values['disagreement_data']:.3g} against {values['disagreement_uniform']:.3g})"
        )
    return lines + _reward_fit(values)


def _reward_fit(values: dict[str, float]) -> list[str]:
    scale, error = abs(values["reward_data"]), values["reward_mse"] ** 0.5
    if scale > 0 and error > scale:
        return [f"the reward head is off by {error:.3g} per step (rms), more than the data's mean reward"]
    return []


def table(values: dict[str, float]) -> list[tuple[str, str, str, str]]:
    """Rows (action, spread, model reward, the heads' means' std) for the actions measured, the data's own reward
    first; a value logged before the means' std was measured shows as empty."""
    rows = [("data's reward", "", f"{values['reward_data']:.4g}", "")]
    for name in CANDIDATES:
        if f"spread_{name}" in values:
            means = values.get(f"disagreement_{name}")
            rows.append((name, f"{values[f'spread_{name}']:.4f}", f"{values[f'reward_model_{name}']:.4g}",
                         "" if means is None else f"{means:.4f}"))  # fmt: skip
    return rows
