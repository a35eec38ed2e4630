"""Every registered algorithm trains (smoke) end to end on a generated-layout dataset and on an imported V-D4RL
one, its model loss goes down, runs resume bit for bit, and its networks keep their contracts."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from lompo_bench.algorithms import checkpoints, jobs, lompo, runs
from lompo_bench.algorithms.nets import NETWORKS, RSSM, ConvDecoder, ConvEncoder, EnsembleMLP, paper_conv_channels
from lompo_bench.algorithms.registry import algorithm_names, get_algorithm
from lompo_bench.data import EpisodeReader, SequenceSampler, TransitionSampler, open_cache, to_torch
from lompo_bench.data.store import read_metadata
from lompo_bench.data.vd4rl import import_vd4rl
from lompo_bench.errors import UserError
from lompo_bench.paths import run_dir
from lompo_bench.records import normalized_score
from lompo_bench.tasks import get_task_spec
from tests.helpers import KillAt, vd4rl_file, write_synthetic_dataset

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
    assert len(saved["config"]["conv_channels"]) == 4  # the official rule: 4 conv layers at 64 px, every task
    # The latent model's loss (Eq. 8); BC's regression loss; CQL's critic loss; DrQ+BC's critic loss.
    losses_of = {"bc": ("train", "bc_loss"), "cql": ("train", "critic_loss"), "drqbc": ("train", "critic_loss")}
    phase, key = losses_of.get(algo, ("model", "model_loss"))
    losses = _history(folder, phase, key)
    if algo == "cql":
        # CQL's loss is mostly its conservative term, whose log-sum-exp over uniform actions carries a constant
        # (action_dim x log 2 per critic: 33.3 on Pen) that no learning removes; its Bellman error starts near 0
        # (zero-bias initialisation) and grows while values propagate. So: the loss falls, by more than 1.
        assert np.mean(losses[-3:]) < np.mean(losses[:3]) - 1.0, str([round(x, 2) for x in losses])
    else:
        assert np.mean(losses[-3:]) < 0.8 * np.mean(losses[:3]), str([round(x, 2) for x in losses])


def test_the_normalized_score_is_d4rls_with_the_task_references_when_the_dataset_has_none(env) -> None:
    assert normalized_score(55.0, 10.0, 100.0) == pytest.approx(50.0)
    assert normalized_score(55.0, 10.0, None) is None
    record = jobs.train("lompo", VD4RL_ID, profile="smoke", device="cpu")
    assert "ref_max_score" not in read_metadata(VD4RL_ID)  # V-D4RL has no expert reference of ours
    spec = get_task_spec("walker_walk")
    assert record["ref_min_score"] == spec.ref_min_score and record["ref_max_score"] == spec.ref_max_score
    expected = normalized_score(record["mean_return"], spec.ref_min_score, spec.ref_max_score)
    assert record["normalized_score"] == expected


@pytest.mark.parametrize(
    "algo, stage, step",
    [("lompo", "model", 45), ("lompo", "actor-critic", 15), ("cql", "CQL", 60), ("drqbc", "DrQ+BC", 60)],
)
def test_a_killed_run_resumes_to_the_same_result_as_an_uninterrupted_one(env, tmp_path, algo, stage, step) -> None:
    whole = jobs.train(algo, PEN_ID, profile="smoke", seed=3, device="cpu", out=tmp_path / "a")
    with pytest.raises(KeyboardInterrupt):
        jobs.train(
            algo, PEN_ID, profile="smoke", seed=3, device="cpu", out=tmp_path / "b", progress=KillAt(stage, step)
        )
    assert not (run_dir(algo, PEN_ID, "smoke", 3, tmp_path / "b") / "result.json").exists()
    resumed = jobs.train(algo, PEN_ID, profile="smoke", seed=3, device="cpu", out=tmp_path / "b")
    assert resumed["returns"] == whole["returns"]
    a, b = (run_dir(algo, PEN_ID, "smoke", 3, tmp_path / x) for x in "ab")
    assert json.loads((a / "metrics.json").read_text()) == json.loads((b / "metrics.json").read_text())
    # metrics.csv: the killed run's rows after its last checkpoint were dropped on resume, none doubled.
    csv_a = (a / "metrics.csv").read_text()
    assert csv_a == (b / "metrics.csv").read_text()
    history = json.loads((a / "metrics.json").read_text())
    values = sum(len(e) - 2 for e in history["history"]) + len(history["evaluations"])
    assert csv_a.startswith("phase,step,metric,value\n") and len(csv_a.splitlines()) == 1 + values
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
    runs.save_config(folder, dataclasses.replace(config, penalty=1.0), networks=NETWORKS)
    with pytest.raises(UserError, match="another config"):
        jobs.train("lompo", PEN_ID, profile="smoke", device="cpu")


def test_a_checkpoint_of_another_format_version_is_refused(tmp_path) -> None:
    torch.save({"version": checkpoints.CHECKPOINT_VERSION + 1}, tmp_path / "checkpoint.pt")
    with pytest.raises(UserError, match="checkpoint format"):
        checkpoints.load_checkpoint(tmp_path / "checkpoint.pt", torch.device("cpu"))
    (tmp_path / "checkpoint.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match="cannot read checkpoint"):
        checkpoints.load_checkpoint(tmp_path / "checkpoint.pt", torch.device("cpu"))


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
    fresh = lompo.build(reloaded.agent.config, cache, torch.device("cpu"))
    fresh.load_state_dict(state)
    observation = {"pixels": np.full((64, 64, 3), 90, np.uint8), "proprio": cache.proprio[3]}
    np.testing.assert_array_equal(reloaded.act(observation), fresh.policy().act(observation))


@pytest.mark.parametrize("algo", algorithm_names())
def test_every_registered_algorithm_keeps_the_contract(algo) -> None:
    """`registry.Algorithm` (and `WorldModelAlgorithm` for the latent-model ones): the members, keyword-only
    training entry points, and a frozen config for each profile."""
    import dataclasses
    import inspect

    from lompo_bench.algorithms.registry import Algorithm, WorldModelAlgorithm

    module = get_algorithm(algo)
    assert isinstance(module, Algorithm) and module.NAME == algo
    assert set(module.PROFILES) == {"smoke", "cpu", "paper"}
    for profile in module.PROFILES:
        config = module.make_config(profile)
        assert dataclasses.is_dataclass(config) and type(config).__dataclass_params__.frozen

    def takes_exactly(function, wanted: set[str]) -> bool:
        """Keyword-only parameters: every one of `wanted`, and nothing else without a default (LOMPO's `algo`)."""
        params = inspect.signature(function).parameters.values()
        assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params), function
        required = {p.name for p in params if p.default is inspect.Parameter.empty}
        return wanted <= {p.name for p in params} and required <= wanted

    wanted = {"dataset_id", "task", "profile", "config", "folder", "seed", "device", "progress"}
    assert takes_exactly(module.train, wanted)
    assert list(inspect.signature(module.load_policy).parameters) == ["folder", "device"]
    if isinstance(module, WorldModelAlgorithm):
        wanted = {"dataset_id", "task", "config", "seed", "device", "root", "progress", "tensorboard"}
        assert takes_exactly(module.train_world_model, wanted)
    assert isinstance(module, WorldModelAlgorithm) == (algo in ("lompo", "lmbrl", "offline_slac"))


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


@pytest.mark.parametrize("size", [64, 128])
def test_paper_sized_encoder_and_decoder_map_images_and_back(size) -> None:
    channels = paper_conv_channels(size)
    encoder = ConvEncoder(channels)
    assert encoder.out_dim == 1024  # 256 x 2 x 2 for both depths
    pixels = torch.randint(0, 256, (2, 3, size, size, 3), dtype=torch.uint8)
    assert encoder(pixels).shape == (2, 3, 1024)
    decoder = ConvDecoder(288, lompo.decoder_channels(channels))
    image, proprio = decoder(torch.randn(2, 3, 288))
    assert image.shape == (2, 3, 3, size, size) and proprio is None
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


def test_the_real_buffer_holds_every_transition_of_every_episode_exactly_once(env) -> None:
    agent, _ = _agent_with_buffers(env)
    cache = open_cache(PEN_ID)
    assert agent.real.capacity == cache.num_steps  # dataset-sized, as the official code's
    agent.add_real_episodes(EpisodeReader(cache), np.arange(cache.num_episodes), born=0)
    data = {k: v[: agent.real.size] for k, v in agent.real.data.items()}
    assert agent.real.size == cache.num_steps
    torch.testing.assert_close(data["actions"], torch.as_tensor(cache.actions))  # in order, each step once
    torch.testing.assert_close(data["rewards"], torch.as_tensor(cache.rewards))
    # Consecutive transitions of an episode chain: the next state of step t is the state of step t + 1 ...
    deter = agent.model.rssm.deter
    lengths = cache.episode_lengths()
    inside = np.ones(cache.num_steps, bool)
    inside[cache.step_starts[1:] - 1] = False  # ... except across episode ends
    chained = torch.as_tensor(inside[:-1])
    torch.testing.assert_close(data["next_features"][:-1][chained, :deter], data["features"][1:][chained, :deter])
    # ... and every episode starts from the model's initial state, as evaluation does (h after one step from 0).
    first = torch.as_tensor(cache.step_starts[:-1])
    h0, z0 = agent.model.rssm.initial(len(first), torch.device("cpu"))
    h1 = agent.model.rssm.step(h0, z0, torch.zeros(len(first), agent.action_dim))
    torch.testing.assert_close(data["features"][first, :deter], h1.detach())
    assert len(lengths) == 3 and agent.real.size == lengths.sum()


def test_rollout_penalty_is_zero_when_the_forward_models_agree_and_positive_when_they_do_not(env) -> None:
    agent, batch = _agent_with_buffers(env)
    stats = agent.add_imagined(batch, born=0)
    assert stats["penalty_mean"] > 0
    assert stats["reward_penalized"] == pytest.approx(stats["reward_model"] - 5.0 * stats["penalty_mean"], rel=1e-4)
    with torch.no_grad():
        for layer in agent.model.rssm.priors.layers:  # every forward model becomes a copy of the first
            layer.weight[:] = layer.weight[:1]
            layer.bias[:] = layer.bias[:1]
    agent.imagined.size = agent.imagined.cursor = 0
    stats = agent.add_imagined(batch, born=7)
    assert stats["penalty_mean"] == pytest.approx(0.0, abs=1e-4)
    config = agent.config
    starts = config.model_batch * config.seq_len  # every posterior state of the batch starts a rollout
    assert agent.imagined.size == min(starts * config.rollout_horizon, agent.imagined.capacity)
    data = {k: v[: agent.imagined.size] for k, v in agent.imagined.data.items()}
    assert (data["terminals"] == 0).all() and (data["born"] == 7).all()
    assert stats["imagined_current_share"] == 1.0 and stats["imagined_mean_age"] == 0.0


def test_rollouts_act_with_the_deterministic_actor_plus_clipped_noise(env) -> None:
    agent, _ = _agent_with_buffers(env)
    features = torch.randn(4000, agent.model.rssm.feature_dim)
    clean = agent.act(features, explore=False)
    noisy = agent.act(features, explore=True)
    assert torch.equal(clean, agent.act(features, explore=False))  # no noise when acting in the task
    assert noisy.abs().max() <= 1.0
    inside = (clean.abs() < 0.5) & (noisy.abs() < 1.0)  # where clipping cannot act
    assert (noisy - clean)[inside].std().item() == pytest.approx(agent.config.rollout_noise, rel=0.1)


def test_actor_critic_updates_draw_half_real_half_imagined(env, monkeypatch) -> None:
    agent, batch = _agent_with_buffers(env)
    cache = open_cache(PEN_ID)
    agent.add_real_episodes(EpisodeReader(cache), np.arange(cache.num_episodes), born=0)
    agent.add_imagined(batch, born=0)
    asked = []
    for name in ("real", "imagined"):
        buffer = getattr(agent, name)
        original = buffer.sample
        monkeypatch.setattr(
            buffer, "sample", lambda n, original=original, name=name: asked.append((name, n)) or original(n)
        )
    losses = agent.ac_update()
    half = agent.config.ac_batch // 2
    assert asked == [("real", half), ("imagined", agent.config.ac_batch - half)]
    assert {"q_real", "q_imagined", "q_policy_minus_data", "actor_saturated"} <= set(losses)
    assert 0.0 <= losses["actor_saturated"] <= 1.0


def test_imagined_data_is_refreshed_from_the_current_policy_once_per_cycle(env) -> None:
    jobs.train("lompo", PEN_ID, profile="smoke", seed=0, device="cpu")
    folder = run_dir("lompo", PEN_ID, "smoke", 0, env)
    config = lompo.make_config("smoke")
    rollouts = [row for row in json.loads((folder / "metrics.json").read_text())["history"]
                if row["phase"] == "rollout" and row["step"] > 0]  # fmt: skip
    cycles = config.ac_updates // config.ac_cycle
    assert [row["step"] for row in rollouts] == [config.ac_cycle * (i + 1) for i in range(cycles)]
    assert all(row["imagined_current_share"] > 0 for row in rollouts)
    born = torch.load(folder / "checkpoint.pt", weights_only=False)["training"]["imagined"]["data"]["born"]
    assert set(born.tolist()) <= {config.ac_cycle * i for i in range(cycles + 1)}


def test_evaluation_samples_the_latent_state_as_training_does(env) -> None:
    agent, _ = _agent_with_buffers(env)
    cache = open_cache(PEN_ID)
    observation = {"pixels": np.full((64, 64, 3), 90, np.uint8), "proprio": cache.proprio[3]}
    policy = agent.policy()
    action = policy.act(observation)
    with torch.no_grad():
        pixels, proprio = torch.as_tensor(observation["pixels"])[None], torch.as_tensor(cache.proprio[3])[None]
        embed = agent.model.encoder(pixels, proprio)
        mean, std = agent.model.rssm.infer(policy.h, embed)
    assert not torch.allclose(policy.z, mean)  # a sample, not the posterior mean
    assert ((policy.z - mean).abs() < 6 * std).all()
    np.testing.assert_array_equal(agent.policy().act(observation), action)  # its own seeded generator


def test_lompo_and_lmbrl_share_one_trained_world_model(env) -> None:
    jobs.train("lompo", PEN_ID, profile="smoke", seed=2, device="cpu")
    jobs.train("lmbrl", PEN_ID, profile="smoke", seed=2, device="cpu")
    jobs.train("offline_slac", PEN_ID, profile="smoke", seed=2, device="cpu")
    folders = {algo: run_dir(algo, PEN_ID, "smoke", 2, env) for algo in ("lompo", "lmbrl", "offline_slac")}
    models = {algo: torch.load(f / "checkpoint.pt", weights_only=False)["progress"]["model_folder"]
              for algo, f in folders.items()}  # fmt: skip
    assert models["lompo"] == models["lmbrl"] != models["offline_slac"]  # one forward model is another model
    assert len(list((env / "_world_models" / PEN_ID).glob("seed2-*/model.pt"))) == 2
    assert _history(folders["lompo"], "model", "model_loss") == _history(folders["lmbrl"], "model", "model_loss")
    weights = [torch.load(folders[a] / "checkpoint.pt", weights_only=False)["training"]["modules"] for a in
               ("lompo", "lmbrl")]  # fmt: skip
    model_keys = [k for k in weights[0] if k.startswith("model.")]
    assert model_keys and all(torch.equal(weights[0][k], weights[1][k]) for k in model_keys)


def test_the_model_key_changes_with_the_model_config_only() -> None:
    config = lompo.resolve_for_task(lompo.make_config("cpu"), "walker_walk")
    assert lompo.model_key(config) == lompo.model_key(dataclasses.replace(config, penalty=0.0, actor="deterministic"))
    assert lompo.model_key(config) != lompo.model_key(dataclasses.replace(config, stoch=32))
    assert lompo.model_key(config) != lompo.model_key(dataclasses.replace(config, ensemble=1))


def test_a_format_1_lompo_checkpoint_is_refused_with_the_reason(tmp_path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"algo": "lompo", "config": {}}))
    torch.save({"version": 1, "training": {"modules": {}}}, tmp_path / "checkpoint.pt")
    with pytest.raises(UserError, match="format 1 of lompo.*rework to the official implementation"):
        checkpoints.load_checkpoint(tmp_path / "checkpoint.pt", torch.device("cpu"))
    (tmp_path / "config.json").write_text(json.dumps({"algo": "cql", "config": {}}))
    assert checkpoints.load_checkpoint(tmp_path / "checkpoint.pt", torch.device("cpu"))["version"] == 3


def test_cqls_conservative_term_trains_the_encoder_through_both_sides(env) -> None:
    from lompo_bench.algorithms import cql

    config = cql.make_config("smoke")
    config = dataclasses.replace(config, conv_channels=(4, 4, 4, 4))
    cache = open_cache(PEN_ID)
    agent = cql.build(config, cache, torch.device("cpu"))
    sampler = TransitionSampler(cache, 8, frame_stack=config.frames)
    batch = to_torch(sampler.sample())
    features = agent.features(batch["pixels"], batch["proprio"], augment=False)
    q_data = tuple(q.detach() for q in agent.critic(features, batch["actions"]))  # only the log-sum-exp side
    agent._conservative_gap(features, q_data).backward()
    grads = [p.grad for p in agent.features.encoder.parameters() if p.grad is not None]
    assert grads and any(g.abs().sum() > 0 for g in grads)
    assert cql.make_config("cpu").cql_weight == 10.0  # V-D4RL's weight for pixels


CHECKPOINTS = Path(__file__).parent / "data" / "checkpoints"


@pytest.mark.parametrize("algo", sorted(p.name for p in CHECKPOINTS.iterdir()))
def test_checkpoints_written_by_earlier_code_still_load_and_act_the_same(algo) -> None:
    """tests/data/make_checkpoints.py wrote these (all with the networks of nets.NETWORKS 2); a refactor that renames
    a module or changes a network's shape breaks this test, and then needs a format bump and a converter (or, where
    the networks themselves change, a NETWORKS bump, which refuses the older runs: tests/test_faithful.py)."""
    from tests.data.make_checkpoints import fixed_observation

    folder = CHECKPOINTS / algo
    policy = get_algorithm(algo).load_policy(folder, torch.device("cpu"))
    policy.reset()
    expected = json.loads((folder / "expected_action.json").read_text())
    np.testing.assert_allclose(policy.act(fixed_observation()), expected, atol=1e-5)


@pytest.mark.skipif(importlib.util.find_spec("tensorboard") is None, reason="needs the tensorboard extra")
def test_tensorboard_logging_shows_losses_and_model_frames_and_changes_nothing(env, tmp_path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    plain = jobs.train("lompo", PEN_ID, profile="smoke", seed=5, device="cpu", out=tmp_path / "plain")
    with pytest.raises(KeyboardInterrupt):  # killed in the actor-critic phase, then resumed
        jobs.train("lompo", PEN_ID, profile="smoke", seed=5, device="cpu", out=tmp_path / "tb",
                   logger="tensorboard", progress=KillAt("actor-critic", 15))  # fmt: skip
    logged = jobs.train("lompo", PEN_ID, profile="smoke", seed=5, device="cpu", out=tmp_path / "tb",
                        logger="tensorboard")  # fmt: skip
    assert logged["returns"] == plain["returns"]  # drawing frames draws no random numbers
    folder = run_dir("lompo", PEN_ID, "smoke", 5, tmp_path / "tb")
    scalars = EventAccumulator(str(folder / "tensorboard" / "scalars")).Reload()
    assert {"model/model_loss", "policy/critic_loss", "evaluation/final_mean_return"} <= set(scalars.Tags()["scalars"])
    steps = [event.step for event in scalars.Scalars("policy/critic_loss")]
    assert steps == sorted(set(steps))  # the resume left no step twice
    history = json.loads((folder / "metrics.json").read_text())["history"]
    assert len(steps) == sum(1 for row in history if row["phase"] == "policy")
    (model,) = (tmp_path / "tb" / "_world_models").rglob("model.pt")
    images = EventAccumulator(str(model.parent / "tensorboard" / "images")).Reload()
    (tag,) = images.Tags()["images"]
    frame = images.Images(tag)[-1]
    assert frame.width == 64 * 8 and frame.height == 64 * 3 * 3  # 8 steps; truth, reconstruction, open loop x 3
    with pytest.raises(UserError, match="unknown logger"):
        jobs.train("lompo", PEN_ID, profile="smoke", device="cpu", logger="wandb")


def test_a_format_2_bc_checkpoint_is_renamed_into_format_3_and_others_are_read_as_they_are(tmp_path) -> None:
    weights = {
        "encoder.convs.0.weight": torch.ones(1),
        "trunk.0.bias": torch.zeros(1),
        "policy.0.weight": torch.ones(1),
    }
    for algo, expected in (
        ("bc", {"features.encoder.convs.0.weight", "features.trunk.0.bias", "policy.0.weight"}),
        ("cql", set(weights)),
    ):
        (tmp_path / "config.json").write_text(json.dumps({"algo": algo, "config": {}}))
        torch.save({"version": 2, "training": {"modules": weights}}, tmp_path / "checkpoint.pt")
        state = checkpoints.load_checkpoint(tmp_path / "checkpoint.pt", torch.device("cpu"))
        assert state["version"] == checkpoints.CHECKPOINT_VERSION and set(state["training"]["modules"]) == expected


def _drqbc_on_a_fixed_batch(**overrides):
    from lompo_bench.algorithms import drqbc

    config = dataclasses.replace(drqbc.make_config("smoke"), conv_channels=(4, 4, 4, 4), **overrides)
    cache = open_cache(PEN_ID)
    torch.manual_seed(0)
    agent = drqbc.build(config, cache, torch.device("cpu"))
    batch = to_torch(TransitionSampler(cache, 8, frame_stack=config.frames, seed=0).sample())
    return agent, batch


def test_drqbcs_actor_loss_is_td3_bc_with_q_normalised_by_a_constant_lambda(env) -> None:
    from lompo_bench.algorithms import drqbc

    agent, batch = _drqbc_on_a_fixed_batch(actor_noise=False)  # pi(s) itself, as TD3+BC writes the loss
    embedding = agent.encode(batch["pixels"], batch["proprio"]).detach()
    parts = agent.actor_loss(embedding, batch["actions"], std=0.0)
    parts["loss"].backward()
    assert all(p.grad is None for p in [*agent.critic.parameters(), *agent.features.parameters()])  # actor only
    grads = [p.grad.clone() for p in agent.actor.parameters()]

    agent.actor_optimizer.zero_grad(set_to_none=True)
    pi = agent.policy(embedding)
    q = torch.min(*agent.critic(agent.features.trunk(embedding), pi))
    lam = 2.5 / q.abs().mean().item()  # alpha / mean |Q|, a number: no gradient flows through it
    expected = -lam * q.mean() + ((pi - batch["actions"]) ** 2).mean()  # mean over batch and action dimensions
    assert parts["loss"].item() == pytest.approx(expected.item(), rel=1e-6)
    assert parts["lambda"].item() == pytest.approx(lam, rel=1e-6)
    assert parts["bc"].item() == pytest.approx(((pi - batch["actions"]) ** 2).mean().item(), rel=1e-6)
    expected.backward()
    for got, want in zip(grads, (p.grad for p in agent.actor.parameters()), strict=True):
        torch.testing.assert_close(got, want)
    assert drqbc.make_config("paper").alpha == 2.5 and drqbc.make_config("cpu").alpha == 2.5  # TD3+BC's alpha


def test_drqbc_smooths_its_target_with_clipped_scheduled_noise_and_can_delay_the_actor(env) -> None:
    agent, batch = _drqbc_on_a_fixed_batch(actor_every=2, noise_start=1.0, noise_end=0.1, noise_decay=10)
    noisy = agent.with_noise(torch.zeros(10_000, 3), std=100.0)
    assert noisy.abs().max() <= agent.config.noise_clip and noisy.abs().max() > 0.9 * agent.config.noise_clip
    stds = []
    for update in range(4):
        stds.append(agent.noise_std())
        actor_before = [p.clone() for p in agent.actor.parameters()]
        losses = agent.update(batch)
        actor_moved = any(not torch.equal(a, b) for a, b in zip(actor_before, agent.actor.parameters(), strict=True))
        assert ("actor_loss" in losses) == actor_moved == (update % 2 == 0)  # TD3+BC's delayed policy updates
    assert stds == pytest.approx([1.0, 0.91, 0.82, 0.73])  # linear from noise_start to noise_end over noise_decay
    agent.updates.fill_(25)
    assert agent.noise_std() == pytest.approx(0.1)
