"""LOMPO's world model as issue 20 left it: the official head depth, held-out episodes, kept snapshots that are
the shorter trainings themselves, the population std of the penalty, and the world-model diagnostics (library
and `lompo-bench diagnose`)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from lompo_bench.algorithms import checkpoints, diagnostics, jobs, lompo, verdicts, world_model_store
from lompo_bench.algorithms.nets import RSSM, member_spread
from lompo_bench.cli import app
from lompo_bench.data import open_cache
from lompo_bench.paths import run_dir
from lompo_bench.progress import NoProgress
from tests.helpers import write_synthetic_dataset

DATASET = "test/adroit_pen/holdout-v0"  # 20 episodes; proprio 1000 e + t names the episode of every step
EPISODES = 20


@pytest.fixture(scope="module")
def datasets(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("minari")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MINARI_DATASETS_PATH", str(root))
        write_synthetic_dataset(DATASET, [12] * EPISODES)
    return root


@pytest.fixture
def env(datasets, tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(datasets))
    monkeypatch.setenv("LOMPO_BENCH_HOME", str(tmp_path / "home"))
    return tmp_path / "home" / "runs"


def smoke(**changes) -> lompo.LompoConfig:
    return lompo.resolve_for_task(lompo.make_config("smoke", **changes), "adroit_pen")


def test_the_penalty_is_the_population_std_over_the_members() -> None:
    log_likelihoods = torch.tensor([[0.0, 1.0], [2.0, 1.0]])  # two members, two states
    assert torch.allclose(member_spread(log_likelihoods), torch.tensor([1.0, 0.0]))  # Bessel's gives 1.414
    assert member_spread(torch.ones(1, 3)).eq(0).all()  # one member: no disagreement


def test_heads_have_the_official_depth_and_the_depth_is_part_of_the_models_key() -> None:
    official = RSSM(8, 2, deter=6, stoch=3, hidden=5, members=4)
    assert len(official.priors.layers) == 2  # img2_k, img3_k
    assert sum(isinstance(m, torch.nn.Linear) for m in official.posterior) == 2  # obs1, obs2
    deeper = dataclasses.replace(smoke(), head_layers=2)
    model = lompo.WorldModel(deeper, 6, 0)
    assert len(model.rssm.priors.layers) == 3
    assert lompo.model_key(deeper) != lompo.model_key(smoke())
    assert lompo.model_key(smoke()) != lompo.model_key(dataclasses.replace(smoke(), holdout=0.05))
    # Snapshots say where copies go; they do not change the model.
    assert lompo.model_key(smoke()) == lompo.model_key(dataclasses.replace(smoke(), model_snapshots=(10, 20)))


def test_held_out_episodes_are_evenly_spaced_and_never_trained_on(env) -> None:
    assert world_model_store.holdout_episodes(40, 0.05).tolist() == [10, 30]
    assert world_model_store.holdout_episodes(200, 0.05).tolist() == list(range(10, 200, 20))
    assert world_model_store.holdout_episodes(3, 0.01).tolist() == [1]  # at least one
    # One episode cannot be held out: the model trains on it and the diagnostics measure it, in-sample, and say so.
    assert world_model_store.holdout_episodes(1, 0.05).tolist() == []
    assert diagnostics.diagnosis_episodes(1, 0.05).tolist() == [0] and not diagnostics.diagnosed_held_out(1, 0.05)
    assert diagnostics.diagnosis_episodes(40, 0.0).tolist() == [10, 30] and not diagnostics.diagnosed_held_out(40, 0.0)
    assert diagnostics.diagnosed_held_out(40, 0.05)
    assert world_model_store.training_episodes(40, 0.0) is None  # all of them, as before holdout existed
    config = smoke(holdout=0.1)
    cache = open_cache(DATASET)
    held = set(world_model_store.holdout_episodes(EPISODES, 0.1).tolist())
    assert held == {5, 15}
    model = lompo.build_model(config, cache, torch.device("cpu"))
    batches = lompo.model_batches(model, cache, seed=0, device=torch.device("cpu"))
    seen = set()
    for _ in range(60):
        seen |= set((batches.sample()["proprio"][..., 0] // 1000).long().flatten().tolist())
    batches.close()
    assert seen == set(range(EPISODES)) - held


def test_a_kept_snapshot_is_the_shorter_model_and_a_longer_one_continues_it_exactly(env, tmp_path) -> None:
    cache = open_cache(DATASET)
    cpu = torch.device("cpu")

    def model(root: Path, steps: int, **changes):
        config = smoke(model_steps=steps, seq_len=6, **changes)
        return lompo.shared_world_model(DATASET, config, cache, root, 0, cpu, NoProgress())

    long_weights, _ = model(tmp_path / "a", 30, model_snapshots=(10, 20))
    snapshot, record = model(tmp_path / "a", 10)  # found, not trained: it was kept at update 10
    assert json.loads((Path(record["folder"]) / "config.json").read_text())["snapshot_of"] == 10
    trained, _ = model(tmp_path / "b", 10)
    assert all(torch.equal(snapshot[k], trained[k]) for k in trained)
    continued, record = model(tmp_path / "b", 30)  # goes on from the 10-update model's kept checkpoint
    assert all(torch.equal(continued[k], long_weights[k]) for k in long_weights)
    steps = [e["step"] for e in record["history"] if e["phase"] == "model"]
    assert steps == sorted(set(steps)) and steps[-1] == 28  # one history, no step twice (logged every 4)


def test_diagnostics_measure_the_spread_and_leave_training_random_numbers_alone(env) -> None:
    cache = open_cache(DATASET)
    config = smoke(holdout=0.1)
    model = lompo.build_model(config, cache, torch.device("cpu"))
    before = torch.get_rng_state()
    values = diagnostics.model_diagnostics(model, cache, config, seed=0)
    assert torch.equal(torch.get_rng_state(), before)
    assert values["episodes"] == 2
    for name in ("image_nll", "reward_mse", "kl", "spread_data", "spread_uniform", "spread_corners"):
        assert np.isfinite(values[name]) and values[name] >= 0, name
    assert values["penalty_data"] == pytest.approx(config.penalty * values["spread_data"])
    assert values == diagnostics.model_diagnostics(model, cache, config, seed=0)  # its own seed: the same values


def test_the_verdict_calls_a_flat_spread_an_offset() -> None:
    values = {"spread_data": 0.4, "spread_uniform": 0.39, "reward_data": 0.1, "reward_model_data": 0.12,
              "penalty_data": 2.0, "reward_penalized_data": -1.88, "reward_mse": 0.0}  # fmt: skip
    lines = verdicts.verdict(values, penalty=5.0, held_out=False, heads=7)
    assert lines[0].startswith("in-sample")
    assert "flat offset" in lines[1]
    assert "20.0x the data's mean reward" in lines[2]
    separated = verdicts.verdict({**values, "spread_uniform": 0.6}, penalty=5.0, held_out=True, heads=7)
    assert "separates" in separated[0] and "50% higher" in separated[0]
    # One head (Offline SLAC's model): a zero spread is no offset, there is nothing to compare.
    single = verdicts.verdict({**values, "spread_data": 0.0, "spread_uniform": 0.0, "reward_mse": 0.04},
                                 penalty=0.0, held_out=True, heads=1)  # fmt: skip
    assert "no ensemble" in single[0] and not any("offset" in line or "separates" in line for line in single)
    assert "off by 0.2 per step" in single[-1]


def test_model_phase_logs_diagnostics_at_every_checkpoint(env) -> None:
    jobs.train_model("lompo", DATASET, profile="smoke", seed=0, device="cpu")
    folder = next((env / "_world_models" / DATASET).glob("seed0-*[!k]"))
    rows = [line.split(",") for line in (folder / "metrics.csv").read_text().splitlines()[1:]]
    steps = sorted({int(r[1]) for r in rows if r[0] == "diagnostics" and r[2] == "spread_data"})
    config = lompo.make_config("smoke")
    assert steps == list(range(config.checkpoint_every, config.model_steps + 1, config.checkpoint_every))


def test_diagnose_prints_a_saved_models_penalty_and_refuses_a_folder_without_one(env) -> None:
    runner = CliRunner()
    record = jobs.train("lompo", DATASET, profile="smoke", seed=0, device="cpu")
    folder = run_dir("lompo", DATASET, "smoke", 0, env)
    out = folder.parent / "diagnosis.json"
    result = runner.invoke(app, ["diagnose", str(folder), "--device", "cpu", "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "(with the run's actor)" in result.output and "actor" in result.output and "data" in result.output
    saved = json.loads(out.read_text())
    assert saved["actor"] and saved["values"]["spread_data"] > 0 and saved["verdict"]
    assert saved["values"]["disagreement_uniform"] > 0 and any("heads' means" in line for line in saved["verdict"])
    assert record["dataset_fingerprint"] == open_cache(DATASET).fingerprint
    model_folder = next((env / "_world_models" / DATASET).glob("seed0-*[!k]"))
    result = runner.invoke(app, ["diagnose", str(model_folder), "--device", "cpu", "--penalty", "2"])
    assert result.exit_code == 0, result.output
    assert "lambda 2" in result.output and "actor" not in result.output.split("spread")[0]
    # The policy in the task: the evaluation's own episode again, with the model's predictions beside it.
    result = runner.invoke(app, ["diagnose", str(folder), "--device", "cpu", "--in-task", "1", "--json", str(out)])
    assert result.exit_code == 0, result.output
    in_task = json.loads(out.read_text())["in_task"]
    assert in_task["task_return"] == pytest.approx(record["returns"][0])
    assert in_task["task_spread"] > 0 and in_task["imagined_return"] != in_task["imagined_return_penalized"]
    assert "the policy in the task, 1 evaluation episodes" in result.output and "imagined steps" in result.output
    bc = jobs.train("bc", DATASET, profile="smoke", seed=0, device="cpu")
    assert bc["algo"] == "bc"
    bad_calls = [[run_dir("bc", DATASET, "smoke", 0, env)], [env / "missing"], [model_folder, "--penalty", "-1"],
                 [model_folder, "--in-task", "1"], [folder, "--in-task", "-1"]]  # fmt: skip
    for bad in bad_calls:
        result = runner.invoke(app, ["diagnose", *map(str, bad), "--device", "cpu"])
        assert result.exit_code == 2, result.output
        assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output


def test_the_in_task_verdict_names_a_model_that_overrates_the_policy() -> None:
    values = {"task_reward": 0.4, "task_reward_model": 0.9, "task_saturated": 0.5, "task_penalty": 1.8,
              "imagined_return": 5.7, "imagined_return_penalized": -3.1, "task_return_h": 2.0,
              "horizon": 5.0}  # fmt: skip
    lines = verdicts.verdict_in_task(values)
    assert "overrates" in lines[0] and "125% more" in lines[0]
    assert "over 5 imagined steps" in lines[1] and "less than the task pays" in lines[1]
    assert "50% of the policy's action components" in lines[2]
    exploited = verdicts.verdict_in_task({**values, "imagined_return_penalized": 2.5})
    assert "the policy exploits model error" in exploited[1]
    assert "near what the task paid" in verdicts.verdict_in_task({**values, "task_reward_model": 0.45})[0]


def test_the_penalty_departures_calibrate_on_the_data_and_change_only_the_penalty(env) -> None:
    """The floor (rule 2) spares steps like the data's; the heads' means' std (rule 4) is scaled to the official
    spread at the data's actions. Both measure once as the policy phase starts and leave the model's reward alone."""

    def first_rollout(*overrides: str) -> tuple[dict, Path]:
        before = set((env / "lompo" / DATASET).iterdir()) if (env / "lompo" / DATASET).is_dir() else set()
        jobs.train("lompo", DATASET, profile="smoke", seed=0, device="cpu", overrides=overrides)
        (folder,) = set((env / "lompo" / DATASET).iterdir()) - before
        history = json.loads((folder / "metrics.json").read_text())["history"]
        return next(e for e in history if e["phase"] == "rollout"), folder

    official, _ = first_rollout()
    floored, folder = first_rollout("penalty_floor=data")
    floor = json.loads((folder / "metrics.json").read_text())["history"]
    measured = [e["spread_data"] for e in floor if e["phase"] == "diagnostics" and e["step"] == 0]
    assert len(measured) == 1 and measured[0] > 0  # u_data, measured once as the policy phase starts
    # The same first rollout (the diagnostics drew none of training's random numbers), less penalized.
    assert floored["reward_model"] == pytest.approx(official["reward_model"])
    assert floored["penalty_mean"] == pytest.approx(official["penalty_mean"])
    assert floored["reward_penalized"] > official["reward_penalized"]
    means, folder = first_rollout("penalty_measure=means")
    history = json.loads((folder / "metrics.json").read_text())["history"]
    (calibration,) = [e for e in history if e["phase"] == "diagnostics" and e["step"] == 0]
    scale = checkpoints.load_checkpoint(folder / "checkpoint.pt", torch.device("cpu"))["progress"]["measure_scale"]
    assert scale == pytest.approx(calibration["spread_data"] / calibration["disagreement_data"]) and scale > 1
    assert means["reward_model"] == pytest.approx(official["reward_model"])
    assert means["penalty_mean"] != pytest.approx(official["penalty_mean"], rel=1e-3)
    assert means["reward_penalized"] == pytest.approx(means["reward_model"] - 5.0 * means["penalty_mean"], rel=1e-4)
    for bad in ("penalty_floor=median", "penalty_measure=kl"):
        result = CliRunner().invoke(app, ["train", "--algo", "lompo", "--dataset", DATASET, "--profile", "smoke",
                                          "--set", bad])  # fmt: skip
        assert result.exit_code == 2 and bad.split("=")[0] in result.output
