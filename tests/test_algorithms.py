"""Every registered algorithm trains (smoke) end to end on a generated-layout dataset and on an imported V-D4RL
one, its model loss goes down, runs resume bit for bit, and its networks keep their contracts."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from algorithms import jobs, lompo, runs
from algorithms.nets import RSSM, ConvDecoder, ConvEncoder, EnsembleMLP, paper_conv_channels
from algorithms.registry import algorithm_names, get_algorithm
from lompo_bench.data import SequenceSampler, open_cache, to_torch
from lompo_bench.data.store import read_metadata
from lompo_bench.data.vd4rl import import_vd4rl
from lompo_bench.errors import UserError
from lompo_bench.paths import run_dir
from lompo_bench.tasks import get_task_spec
from tests.helpers import vd4rl_file, write_synthetic_dataset

PEN_ID = "test/adroit_pen/synthetic-v0"  # our layout: 5 conv layers, proprioception
VD4RL_ID = "vd4rl/walker_walk/medium-replay-v0"  # imported: 4 conv layers, pixels only


@pytest.fixture(scope="module")
def datasets(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("minari")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MINARI_DATASETS_PATH", str(root))
        write_synthetic_dataset(PEN_ID, [20, 25, 30], learnable=True)
        source = root.parent / "vd4rl_npz"
        source.mkdir()
        vd4rl_file(source / "000.npz", [60, 45], seed=0)
        import_vd4rl(source, "walker", "medium-replay")
    return root


@pytest.fixture
def env(datasets, tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(datasets))
    monkeypatch.setenv("LOMPO_BENCH_HOME", str(tmp_path / "home"))
    return tmp_path / "home" / "runs"


def _history(folder: Path, phase: str, key: str) -> list[float]:
    metrics = json.loads((folder / "metrics.json").read_text())
    return [row[key] for row in metrics["history"] if row["phase"] == phase]


@pytest.mark.parametrize("algo", algorithm_names())
@pytest.mark.parametrize("dataset_id", [PEN_ID, VD4RL_ID])
def test_smoke_training_runs_end_to_end_and_the_model_loss_goes_down(env, algo, dataset_id) -> None:
    record = jobs.train(algo, dataset_id, profile="smoke", seed=0, device="cpu")
    folder = run_dir(algo, dataset_id, "smoke", 0, env)
    assert record == json.loads((folder / "result.json").read_text())
    assert record["algo"] == algo and record["dataset_id"] == dataset_id and record["episodes"] == 1
    assert np.isfinite(record["mean_return"])
    saved = json.loads((folder / "config.json").read_text())
    assert record["code_version"] == saved["code_version"]  # the code that trained, recorded at the start
    assert saved["task"] == ("adroit_pen" if dataset_id == PEN_ID else "walker_walk")
    assert len(saved["config"]["conv_channels"]) == (5 if dataset_id == PEN_ID else 4)  # Appendix C per task
    # The latent model's loss (Eq. 8); BC's regression loss; CQL's Bellman error.
    phase, key = {"bc": ("train", "bc_loss"), "cql": ("train", "bellman")}.get(algo, ("model", "model_loss"))
    losses = _history(folder, phase, key)
    assert np.mean(losses[-3:]) < 0.8 * np.mean(losses[:3]), str([round(x, 2) for x in losses])


def test_the_normalized_score_is_d4rls_with_the_task_references_when_the_dataset_has_none(env) -> None:
    assert runs.normalized_score(55.0, 10.0, 100.0) == pytest.approx(50.0)
    assert runs.normalized_score(55.0, 10.0, None) is None
    record = jobs.train("lompo", VD4RL_ID, profile="smoke", device="cpu")
    assert "ref_max_score" not in read_metadata(VD4RL_ID)  # V-D4RL has no expert reference of ours
    spec = get_task_spec("walker_walk")
    assert record["ref_min_score"] == spec.ref_min_score and record["ref_max_score"] == spec.ref_max_score
    expected = runs.normalized_score(record["mean_return"], spec.ref_min_score, spec.ref_max_score)
    assert record["normalized_score"] == expected


class _KillAt:
    """A progress callback that raises once a stage has reached `step`, as a killed job would stop."""

    def __init__(self, stage_prefix: str, step: int):
        self.prefix, self.step, self.stage = stage_prefix, step, ""

    def start(self, stage: str, total: int) -> None:
        self.stage = stage

    def update(self, completed: int, message: str = "") -> None:
        if self.stage.startswith(self.prefix) and completed >= self.step:
            raise KeyboardInterrupt

    def finish(self) -> None:
        pass


@pytest.mark.parametrize(
    "algo, stage, step", [("lompo", "model", 45), ("lompo", "actor-critic", 15), ("cql", "CQL", 60)]
)
def test_a_killed_run_resumes_to_the_same_result_as_an_uninterrupted_one(env, tmp_path, algo, stage, step) -> None:
    whole = jobs.train(algo, PEN_ID, profile="smoke", seed=3, device="cpu", out=tmp_path / "a")
    with pytest.raises(KeyboardInterrupt):
        jobs.train(
            algo, PEN_ID, profile="smoke", seed=3, device="cpu", out=tmp_path / "b", progress=_KillAt(stage, step)
        )
    assert not (run_dir(algo, PEN_ID, "smoke", 3, tmp_path / "b") / "result.json").exists()
    resumed = jobs.train(algo, PEN_ID, profile="smoke", seed=3, device="cpu", out=tmp_path / "b")
    assert resumed["returns"] == whole["returns"]
    a, b = (run_dir(algo, PEN_ID, "smoke", 3, tmp_path / x) for x in "ab")
    assert json.loads((a / "metrics.json").read_text()) == json.loads((b / "metrics.json").read_text())
    weights_a = torch.load(a / "checkpoint.pt", weights_only=False)["training"]["modules"]
    weights_b = torch.load(b / "checkpoint.pt", weights_only=False)["training"]["modules"]
    assert all(torch.equal(weights_a[k], weights_b[k]) for k in weights_a)


def test_different_seeds_give_different_runs(env, tmp_path) -> None:
    first = jobs.train("lompo", PEN_ID, profile="smoke", seed=0, device="cpu")
    other = jobs.train("lompo", PEN_ID, profile="smoke", seed=1, device="cpu")
    a, b = (run_dir("lompo", PEN_ID, "smoke", s, env) for s in (0, 1))
    assert _history(a, "model", "model_loss") != _history(b, "model", "model_loss")
    assert first["seed"] == 0 and other["seed"] == 1


def test_a_run_folder_with_another_config_is_refused(env) -> None:
    folder = run_dir("lompo", PEN_ID, "smoke", 0, env)
    config = lompo.resolve_for_task(lompo.make_config("smoke"), "adroit_pen")
    runs.save_config(folder, dataclasses.replace(config, penalty=1.0))
    with pytest.raises(UserError, match="another config"):
        jobs.train("lompo", PEN_ID, profile="smoke", device="cpu")


def test_a_checkpoint_of_another_format_version_is_refused(tmp_path) -> None:
    torch.save({"version": runs.CHECKPOINT_VERSION + 1}, tmp_path / "checkpoint.pt")
    with pytest.raises(UserError, match="checkpoint format"):
        runs.load_checkpoint(tmp_path / "checkpoint.pt", torch.device("cpu"))
    (tmp_path / "checkpoint.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match="cannot read checkpoint"):
        runs.load_checkpoint(tmp_path / "checkpoint.pt", torch.device("cpu"))


def test_evaluate_reloads_the_trained_policy_and_acts_as_it_did(env) -> None:
    with pytest.raises(UserError, match="train it first"):
        jobs.evaluate("lompo", PEN_ID, profile="smoke", device="cpu")
    jobs.train("lompo", PEN_ID, profile="smoke", device="cpu")
    record = jobs.evaluate("lompo", PEN_ID, profile="smoke", episodes=2, device="cpu")
    assert record["episodes"] == 2 and len(record["returns"]) == 2
    folder = run_dir("lompo", PEN_ID, "smoke", 0, env)
    assert json.loads((folder / "evaluation.json").read_text()) == record
    # The reloaded policy is the trained one: same actions for the same observations.
    cache = open_cache(PEN_ID)
    state = torch.load(folder / "checkpoint.pt", weights_only=False)["training"]["modules"]
    reloaded = lompo.load_policy(folder, torch.device("cpu"))
    config = reloaded.agent.config
    fresh = lompo.Lompo(config, cache.actions.shape[1], cache.proprio.shape[1], torch.device("cpu"))
    fresh.load_state_dict(state)
    observation = {"pixels": np.full((64, 64, 3), 90, np.uint8), "proprio": cache.proprio[3]}
    np.testing.assert_array_equal(reloaded.act(observation), fresh.policy().act(observation))


def test_unknown_algorithm_profile_and_device_are_one_line_user_errors(env) -> None:
    with pytest.raises(UserError, match="did you mean lompo"):
        get_algorithm("lompoo")
    with pytest.raises(UserError, match="unknown profile"):
        jobs.train("lompo", PEN_ID, profile="huge")
    with pytest.raises(UserError, match="no dataset"):
        jobs.train("lompo", "test/adroit_pen/missing-v0", profile="smoke")
    if not torch.cuda.is_available():
        with pytest.raises(UserError, match="no CUDA"):
            jobs.train("lompo", PEN_ID, profile="smoke", device="cuda")


# ----- the networks' contracts (Appendix C sizes) -----


@pytest.mark.parametrize("task", ["walker_walk", "adroit_pen"])
def test_paper_sized_encoder_and_decoder_map_64_px_images_and_back(task) -> None:
    channels = paper_conv_channels(task)
    encoder = ConvEncoder(channels)
    assert encoder.out_dim == 1024  # 256 x 2 x 2 for both depths
    pixels = torch.randint(0, 256, (2, 3, 64, 64, 3), dtype=torch.uint8)
    assert encoder(pixels).shape == (2, 3, 1024)
    decoder = ConvDecoder(288, lompo.decoder_channels(channels))
    image, proprio = decoder(torch.randn(2, 3, 288))
    assert image.shape == (2, 3, 3, 64, 64) and proprio is None
    with pytest.raises(TypeError, match="uint8"):
        encoder(pixels.float())


def test_rssm_heads_share_the_gru_but_have_their_own_weights() -> None:
    torch.manual_seed(0)
    rssm = RSSM(embed_dim=10, action_dim=2, deter=8, stoch=3, hidden=8, members=4)
    h, z, mean, std = rssm.observe(torch.randn(5, 6, 10), torch.randn(5, 6, 2))
    assert h.shape == (5, 6, 8) and z.shape == mean.shape == std.shape == (5, 6, 3)
    prior_mean, prior_std = rssm.prior(h[:, -1])
    assert prior_mean.shape == (4, 5, 3) and (prior_std >= rssm.min_std).all()
    assert not torch.allclose(prior_mean[0], prior_mean[1])  # independent heads
    ensemble = EnsembleMLP(3, 4, 5, 2, layers=3)
    x = torch.randn(7, 4)
    for k in range(3):  # each member is an ordinary MLP over the same input
        y = x
        for i, layer in enumerate(ensemble.layers):
            y = y @ layer.weight[k] + layer.bias[k]
            y = torch.nn.functional.elu(y) if i < 2 else y
        torch.testing.assert_close(ensemble(x)[k], y)


def _agent_with_buffers(env) -> tuple[lompo.Lompo, dict[str, torch.Tensor]]:
    config = lompo.resolve_for_task(lompo.make_config("smoke"), "adroit_pen")
    cache = open_cache(PEN_ID)
    torch.manual_seed(0)
    agent = lompo.build(config, cache, torch.device("cpu"))
    batch = to_torch(SequenceSampler(cache, config.model_batch, config.seq_len).sample())
    return agent, batch


def test_real_transitions_pair_consecutive_inferred_states_with_the_data(env) -> None:
    agent, batch = _agent_with_buffers(env)
    agent.add_real(batch)
    steps = batch["actions"].shape[1] - 1
    assert agent.real.size == batch["actions"].shape[0] * steps
    torch.testing.assert_close(agent.real.data["actions"][: agent.real.size], batch["actions"][:, :-1].flatten(0, 1))
    torch.testing.assert_close(agent.real.data["rewards"][: agent.real.size], batch["rewards"][:, :-1].flatten())
    features = agent.real.data["features"][: agent.real.size].view(-1, steps, agent.rssm.feature_dim)
    next_features = agent.real.data["next_features"][: agent.real.size].view(-1, steps, agent.rssm.feature_dim)
    torch.testing.assert_close(next_features[:, :-1, : agent.rssm.deter], features[:, 1:, : agent.rssm.deter])


def test_rollout_penalty_is_zero_when_the_forward_models_agree_and_positive_when_they_do_not(env) -> None:
    agent, batch = _agent_with_buffers(env)
    stats = agent.add_imagined(batch, random_actions=True)
    assert stats["rollout_uncertainty"] > 0
    with torch.no_grad():
        for layer in agent.rssm.priors.layers:  # every forward model becomes a copy of the first
            layer.weight[:] = layer.weight[:1]
            layer.bias[:] = layer.bias[:1]
    agent.imagined.size = agent.imagined.cursor = 0
    stats = agent.add_imagined(batch, random_actions=True)
    assert stats["rollout_uncertainty"] == pytest.approx(0.0, abs=1e-4)
    config = agent.config
    assert agent.imagined.size == config.rollout_starts * config.rollout_horizon
    data = {k: v[: agent.imagined.size] for k, v in agent.imagined.data.items()}
    assert (data["terminals"] == 0).all()


def test_actor_critic_updates_draw_half_real_half_imagined(env, monkeypatch) -> None:
    agent, batch = _agent_with_buffers(env)
    agent.add_real(batch)
    agent.add_imagined(batch, random_actions=True)
    asked = []
    for name in ("real", "imagined"):
        buffer = getattr(agent, name)
        original = buffer.sample
        monkeypatch.setattr(
            buffer, "sample", lambda n, original=original, name=name: asked.append((name, n)) or original(n)
        )
    agent.ac_update()
    half = agent.config.ac_batch // 2
    assert asked == [("real", half), ("imagined", agent.config.ac_batch - half)]


CHECKPOINTS = Path(__file__).parent / "data" / "checkpoints"


@pytest.mark.parametrize("algo", sorted(p.name for p in CHECKPOINTS.iterdir()))
def test_checkpoints_written_by_earlier_code_still_load_and_act_the_same(algo) -> None:
    """tests/data/make_checkpoints.py wrote these with checkpoint format 1; a refactor that renames a module or
    changes a network's shape breaks this test, and then needs a format bump and a converter."""
    from tests.data.make_checkpoints import fixed_observation

    folder = CHECKPOINTS / algo
    policy = get_algorithm(algo).load_policy(folder, torch.device("cpu"))
    policy.reset()
    expected = json.loads((folder / "expected_action.json").read_text())
    np.testing.assert_allclose(policy.act(fixed_observation()), expected, atol=1e-5)
