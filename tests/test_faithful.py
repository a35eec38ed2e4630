"""The networks are the official ones (issue 31): each method's activations, the layer rule by image size per task
and profile, the initialisers, LOMPO's update order and its model's training windows, and fused Adam."""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from lompo_bench.algorithms import bc, cql, drqbc, lmbrl, lompo, offline_slac
from lompo_bench.algorithms.nets import (
    EnsembleLinear,
    EnsembleMLP,
    conv_layers_for,
    paper_conv_channels,
)
from lompo_bench.algorithms.registry import get_algorithm
from lompo_bench.data import SequenceSampler, open_cache, to_torch
from lompo_bench.data.ids import dataset_image_size
from lompo_bench.errors import UserError
from lompo_bench.tasks import task_names
from tests.helpers import write_synthetic_dataset

DS = "test/adroit_pen/windows-v0"
ACTION_DIM, PROPRIO_DIM = 24, 48


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp("minari")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MINARI_DATASETS_PATH", str(root))
        write_synthetic_dataset(DS, [20, 25, 30], learnable=True)
        open_cache(DS)  # builds the read cache while the variable points there
    return str(root)


@pytest.fixture
def cache(dataset, monkeypatch):
    monkeypatch.setenv("MINARI_DATASETS_PATH", dataset)
    return open_cache(DS)


def _activations(module: nn.Module) -> set[str]:
    return {type(m).__name__ for m in module.modules() if isinstance(m, nn.ReLU | nn.ELU | nn.Tanh | nn.LeakyReLU)}


def _world_model(profile: str = "smoke", image_size: int = 64, **changes) -> lompo.WorldModel:
    config = lompo.resolve_for_task(lompo.make_config(profile, **changes), "adroit_pen", image_size)
    return lompo.WorldModel(config, ACTION_DIM, PROPRIO_DIM)


# ----- 1. activations: the official cnn_act / dense_act for LOMPO, DrQ-v2's ReLU for the model-free learners -----


def test_lompos_convolutions_use_relu_and_its_dense_layers_elu() -> None:
    model = _world_model()
    assert _activations(model.encoder.convs) == {"ReLU"}
    assert _activations(model.decoder.deconvs) == {"ReLU"}
    for dense in (model.rssm.input, model.rssm.posterior, model.reward_head, model.decoder.proprio_net,
                  model.encoder.proprio_net):  # fmt: skip
        assert _activations(dense) == {"ELU"}
    heads = EnsembleMLP(2, 3, 4, 5, layers=2)  # the forward heads apply ELU functionally
    x = torch.randn(6, 3)
    hidden = torch.nn.functional.elu(x @ heads.layers[0].weight[1] + heads.layers[0].bias[1])
    torch.testing.assert_close(heads(x)[1], hidden @ heads.layers[1].weight[1] + heads.layers[1].bias[1])
    for actor in lompo.ACTORS:
        config = lompo.resolve_for_task(lompo.make_config("smoke", actor=actor), "adroit_pen")
        agent = lompo.Lompo(config, lompo.WorldModel(config, ACTION_DIM, PROPRIO_DIM), 1, 1)
        for part in (agent.actor, agent.critic, agent.critic_target):
            assert _activations(part) == {"ELU"}


@pytest.mark.parametrize("module", [bc, cql, drqbc])
def test_the_model_free_learners_use_relu_everywhere_as_drqv2(module) -> None:
    agent = _model_free_agent(module)
    found = _activations(agent)
    assert "ELU" not in found and "ReLU" in found
    assert _activations(agent.features.encoder.convs) == {"ReLU"}


def _model_free_agent(module, profile: str = "smoke") -> nn.Module:
    """The learner of `module` (BC, CQL, DrQ+BC) at `profile`, with its encoder for 64 px images."""
    classes = {bc: "BehaviorCloning", cql: "ConservativeSAC", drqbc: "DrQBC"}
    channels = (4, 4, 4, 4) if profile == "smoke" else (16, 32, 64, 128)
    config = dataclasses.replace(module.make_config(profile), conv_channels=channels)
    return getattr(module, classes[module])(config, ACTION_DIM, PROPRIO_DIM)


# ----- 2. conv layers by image size (official `_build_model`): per task and profile -----


@pytest.mark.parametrize("profile", ["smoke", "cpu", "paper"])
@pytest.mark.parametrize("task", task_names())
def test_every_task_and_profile_gets_the_official_net_for_its_image_size(task, profile) -> None:
    size = dataset_image_size(task, profile)
    expected = 5 if profile == "paper" and task != "walker_walk" else 4
    assert size == {4: 64, 5: 128}[expected]
    for module in (lompo, lmbrl, offline_slac):
        config = lompo.resolve_for_task(module.make_config(profile), task, size)
        assert len(config.conv_channels) == expected == conv_layers_for(size)


def test_the_128_px_nets_are_the_official_large_ones_and_the_64_px_ones_the_small() -> None:
    large = _world_model("paper", 128)
    sizes, x = [], torch.zeros(1, 3, 128, 128)
    for layer in large.encoder.convs:
        x = layer(x)
        if isinstance(layer, nn.Conv2d):
            sizes.append(x.shape[-1])
            assert layer.padding == (0, 0) and layer.kernel_size == (4, 4) and layer.stride == (2, 2)
    assert sizes == [63, 30, 14, 6, 2] and large.encoder.out_dim == 1024 + 64  # + the proprio embedding
    deconvs = [m for m in large.decoder.deconvs if isinstance(m, nn.ConvTranspose2d)]
    assert [m.kernel_size[0] for m in deconvs] == [5, 5, 5, 6, 6]
    assert [m.out_channels for m in deconvs] == [128, 64, 32, 32, 3] and large.decoder.first_shape == (1024, 1, 1)
    image, _ = large.decoder(torch.zeros(2, large.rssm.feature_dim))
    assert image.shape == (2, 3, 128, 128)
    small = _world_model("paper", 64)
    deconvs = [m for m in small.decoder.deconvs if isinstance(m, nn.ConvTranspose2d)]
    assert [m.kernel_size[0] for m in deconvs] == [5, 5, 6, 6] and all(m.padding == (0, 0) for m in deconvs)
    assert small.decoder(torch.zeros(1, small.rssm.feature_dim))[0].shape == (1, 3, 64, 64)
    with pytest.raises(ValueError, match="128 px"):  # the large net refuses 64 px frames instead of padding
        large.encoder(torch.zeros(1, 64, 64, 3, dtype=torch.uint8))
    with pytest.raises(ValueError, match="64 or 128"):
        paper_conv_channels(84)


# ----- 3. initialisation: Keras's for LOMPO, LMBRL, Offline SLAC; DrQ-v2's for the model-free learners -----


def _glorot_std(fan_in: int, fan_out: int) -> float:
    return math.sqrt(2.0 / (fan_in + fan_out))  # the std of U(-sqrt(6 / (in + out)), +sqrt(6 / (in + out)))


def _assert_orthonormal(matrix: torch.Tensor, gain: float = 1.0) -> None:
    m = matrix.reshape(matrix.shape[0], -1) / gain
    gram = m @ m.T if m.shape[0] <= m.shape[1] else m.T @ m
    torch.testing.assert_close(gram, torch.eye(gram.shape[0]), atol=1e-4, rtol=0)


def test_lompos_layers_start_as_keras_initialises_them() -> None:
    torch.manual_seed(0)
    model = _world_model("paper", 64)
    config = model.config
    agent = lompo.Lompo(config, model, 1, 1)
    checked = 0
    for name, m in agent.named_modules():
        if isinstance(m, nn.Linear | nn.Conv2d | nn.ConvTranspose2d):
            receptive = m.weight[0, 0].numel()
            fan_in, fan_out = m.weight.shape[1] * receptive, m.weight.shape[0] * receptive
            assert m.weight.std().item() == pytest.approx(_glorot_std(fan_in, fan_out), rel=0.12), name
            assert not m.bias.any(), name
            checked += 1
    assert checked > 20
    gru = model.rssm.gru
    assert gru.weight_ih.std().item() == pytest.approx(_glorot_std(*reversed(gru.weight_ih.shape)), rel=0.05)
    _assert_orthonormal(gru.weight_hh)  # Keras's orthogonal recurrent kernel
    assert not gru.bias_ih.any() and not gru.bias_hh.any()
    for layer in model.rssm.priors.layers:
        assert isinstance(layer, EnsembleLinear) and not layer.bias.any()
        members, fan_in, fan_out = layer.weight.shape
        for k in range(members):  # glorot per head, as each official head is its own Dense layer
            assert layer.weight[k].std().item() == pytest.approx(_glorot_std(fan_in, fan_out), rel=0.12)


@pytest.mark.parametrize("module", [bc, cql, drqbc])
def test_the_model_free_learners_start_as_drqv2s_weight_init(module) -> None:
    torch.manual_seed(0)
    agent = _model_free_agent(module, "cpu")
    convs = linears = 0
    for name, m in agent.named_modules():
        if isinstance(m, nn.Conv2d):
            _assert_orthonormal(m.weight.detach(), gain=math.sqrt(2))
            convs += 1
        elif isinstance(m, nn.Linear):
            _assert_orthonormal(m.weight.detach())
            linears += 1
        else:
            continue
        assert not m.bias.any(), name
    assert convs == 4 * (2 if module is cql else 1) and linears >= 5


# ----- 4. decoding every frame at the paper profile -----


def test_the_paper_profile_decodes_every_frame_and_the_cpu_profile_half() -> None:
    assert lompo.make_config("paper").decode_fraction == 1.0
    assert lmbrl.make_config("paper").decode_fraction == offline_slac.make_config("paper").decode_fraction == 1.0
    assert lompo.make_config("cpu").decode_fraction == 0.5


# ----- 5. the official update order: both losses on the pre-update critics -----


def _latent_agent(actor: str) -> lompo.Lompo:
    torch.manual_seed(3)
    config = lompo.resolve_for_task(lompo.make_config("smoke", actor=actor, ac_batch=64), "adroit_pen")
    agent = lompo.Lompo(config, lompo.WorldModel(config, ACTION_DIM, PROPRIO_DIM), 256, 256)
    feature_dim = agent.model.rssm.feature_dim
    for buffer in (agent.real, agent.imagined):
        buffer.add(0, features=torch.randn(256, feature_dim), actions=torch.rand(256, ACTION_DIM) * 2 - 1,
                   rewards=torch.randn(256), next_features=torch.randn(256, feature_dim),
                   terminals=torch.zeros(256))  # fmt: skip
    return agent


@pytest.mark.parametrize("actor", lompo.ACTORS)
def test_the_actors_gradient_is_the_one_the_pre_update_critics_give(actor) -> None:
    agent = _latent_agent(actor)
    before = copy.deepcopy(agent)
    torch.manual_seed(11)
    agent.ac_update()
    # The same batch and noise, the actor's loss through the critics as they were before the update.
    torch.manual_seed(11)
    batch, _ = before._sample()
    if actor == "sac":
        with torch.no_grad():  # the target's draw comes first in the update: keep the generator in step
            before.actor(batch["next_features"])
        action, log_prob = before.actor(batch["features"])
        alpha = before.log_alpha.exp().detach()
        loss = (alpha * log_prob - torch.min(*before.critic(batch["features"], action))).mean()
    else:
        loss = -torch.min(*before.critic(batch["features"], before.actor(batch["features"]))).mean()
    expected = torch.autograd.grad(loss, list(before.actor.parameters()))
    norm = torch.sqrt(sum(g.pow(2).sum() for g in expected))
    scale = min(1.0, before.config.grad_clip / (norm.item() + 1e-6))
    for got, want in zip([p.grad for p in agent.actor.parameters()], expected, strict=True):
        torch.testing.assert_close(got, want * scale, atol=1e-6, rtol=1e-4)
    # And the critics did change in this update: an actor differentiated through updated critics would differ.
    pairs = zip(agent.critic.parameters(), before.critic.parameters(), strict=True)
    assert any(not torch.equal(a, b) for a, b in pairs)


# ----- 6. the model's training windows: the action and reward that led to each observation -----


def test_a_window_starts_with_the_datasets_previous_action_and_may_end_on_the_last_observation(cache) -> None:
    sampler = SequenceSampler(cache, batch_size=64, seq_len=10, seed=0)
    lengths = cache.episode_lengths()
    assert sampler.num_windows == int(sum(n + 1 - 10 + 1 for n in lengths))  # N + 1 observations per episode
    seen_mid, seen_start, seen_last = False, False, False
    for _ in range(10):
        batch = sampler.sample()
        for b in range(64):
            episode, t0 = divmod(int(batch["proprio"][b, 0, 0]), 1000)
            steps = cache.step_starts[episode] + t0 + np.arange(10) - 1  # the step that led to each observation
            for t in range(10):
                if t0 + t == 0:
                    assert not batch["prev_actions"][b, t].any() and batch["prev_rewards"][b, t] == 0
                    assert batch["is_first"][b, t]
                else:
                    np.testing.assert_array_equal(batch["prev_actions"][b, t], cache.actions[steps[t]])
                    assert batch["prev_rewards"][b, t] == cache.rewards[steps[t]]
                    assert not batch["is_first"][b, t]
            seen_start |= t0 == 0
            seen_mid |= t0 > 0 and bool(batch["prev_actions"][b, 0].any())
            seen_last |= t0 + 9 == lengths[episode]
    assert seen_start and seen_mid and seen_last


def test_the_model_steps_its_first_state_with_the_previous_action_and_predicts_every_reward(cache) -> None:
    torch.manual_seed(0)
    model = _world_model(decode_fraction=1.0)
    batch = to_torch(SequenceSampler(cache, 4, 8, seed=1).sample())
    embed = model.embed(batch["pixels"], batch["proprio"])
    h = model.rssm.observe(embed, batch["prev_actions"], sample=False)[0]
    changed = dict(batch, prev_actions=batch["prev_actions"].clone())
    changed["prev_actions"][:, 0] += 1.0
    h_changed = model.rssm.observe(embed, changed["prev_actions"], sample=False)[0]
    assert not torch.allclose(h[:, 0], h_changed[:, 0])  # the first state already depends on the action before it
    # Every reward of the window is a target, the first one included.
    torch.manual_seed(5)
    _, losses = model.loss(batch)
    first = dict(batch, prev_rewards=batch["prev_rewards"].clone())
    first["prev_rewards"][:, 0] += 10.0
    torch.manual_seed(5)
    _, shifted = model.loss(first)
    assert shifted["reward_nll"] > losses["reward_nll"] + 1.0


# ----- 8. fused Adam in every optimizer -----


def test_every_optimizer_is_fused_adam() -> None:
    model = _world_model()
    agent = lompo.Lompo(model.config, model, 1, 1)
    optimizers = [model.optimizer, agent.actor_optimizer, agent.critic_optimizer]
    for module in (bc, cql, drqbc):
        learner = _model_free_agent(module)
        optimizers += [v for v in vars(learner).values() if isinstance(v, torch.optim.Optimizer)]
    assert len(optimizers) >= 9
    assert all(isinstance(o, torch.optim.Adam) and o.param_groups[0]["fused"] for o in optimizers)


# ----- runs and checkpoints of the networks before this change -----


def test_a_run_of_the_earlier_networks_is_refused_in_one_line(tmp_path) -> None:
    source = Path(__file__).parent / "data" / "checkpoints" / "bc"
    folder = tmp_path / "bc"
    shutil.copytree(source, folder)
    record = json.loads((folder / "config.json").read_text())
    del record["networks"]  # as every run saved before the field existed
    (folder / "config.json").write_text(json.dumps(record))
    with pytest.raises(UserError, match="networks of version 1"):
        get_algorithm("bc").load_policy(folder, torch.device("cpu"))


def test_bcs_ablation_settings_default_to_ours_and_take_d3rlpys_values() -> None:
    """Issue 32 item 3: BC's ablation settings leave the profile's networks as they are by default, and each
    other value builds d3rlpy's piece (Nature-DQN convs + a ReLU feature layer, a linear head, PyTorch's init)."""
    channels = paper_conv_channels(64)

    def build(**overrides):
        config = dataclasses.replace(bc.make_config("cpu", **overrides), conv_channels=channels)
        return bc.BehaviorCloning(config, 6, 0)

    ours = build()
    assert isinstance(ours.features.trunk[1], nn.LayerNorm) and len(ours.policy) == 5  # 3 Linear, 2 ReLU
    nature = build(encoder="nature", trunk=512)
    convs = [m for m in nature.features.encoder.convs if isinstance(m, nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size[0], c.stride[0]) for c in convs] == [(32, 8, 4), (64, 4, 2), (64, 3, 1)]
    assert nature.features.encoder.out_dim == 64 * 4 * 4 and isinstance(nature.features.trunk[1], nn.ReLU)
    pixels = torch.randint(0, 256, (2, 3, 64, 64, 3), dtype=torch.uint8)
    assert nature(pixels, None, augment=True).shape == (2, 6)
    assert [type(m) for m in build(head_layers=1).policy] == [nn.Linear]
    torch.manual_seed(0)
    default_init = build(init="torch").policy[0].bias
    assert default_init.abs().sum() > 0  # PyTorch's uniform biases, where DrQ-v2's init zeroes them
    assert ours.policy[0].bias.abs().sum() == 0
    for bad in ({"encoder": "resnet"}, {"init": "xavier"}):
        with pytest.raises(UserError, match="must be one of"):
            bc.make_config("cpu", **bad)
