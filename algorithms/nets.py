"""Networks shared by the pixel algorithms (paper, Appendix C): the conv encoder and decoder, an RSSM whose
stochastic transition is an ensemble of heads sharing one GRU, small MLP heads, a tanh-Gaussian actor and twin
critics. Losses live in each algorithm's module; these classes only compute.

Images enter as uint8 (..., H, W, 3) and are checked and scaled here, in one place (`ConvEncoder.preprocess`).

Activations and initialisation are each method's own, passed in by its module: LOMPO, LMBRL and Offline SLAC use
the official LOMPO code's (ReLU in the convolutions, ELU in the dense layers, Keras's initialisers:
`keras_init`); BC, CQL and DrQ+BC use DrQ-v2's, the layout V-D4RL's implementations share (ReLU everywhere,
orthogonal weights: `drqv2_init`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

# Appendix C's sizes are plain arithmetic, kept torch-free (planning reads them without torch); here too, so that
# `nets.paper_conv_channels`, `nets.scaled_conv_channels`, ... keep working.
from lompo_bench.algorithms.paper_sizes import (  # noqa: F401
    CONV_LAYERS,
    conv_layers_for,
    image_size_for,
    paper_conv_channels,
    paper_width,
    scaled_conv_channels,
)

# The official LOMPO configuration sets the two apart: `cnn_act = 'relu'` for the convolutions and `dense_act =
# 'elu'` for every dense layer (official `lompo.py`, `define_config`), as Dreamer does.
CONV_ACT: type[nn.Module] = nn.ReLU
DENSE_ACT: type[nn.Module] = nn.ELU
# Bumped whenever the networks change so that a trained weight means something else (activations, layer shapes,
# initialisation): a run folder or checkpoint of another version is refused, never resumed or evaluated with
# networks it was not trained with. 1: ELU convolutions, padded 5-layer nets at 64 px, torch's initialisation;
# 2: the official activations, layer rule and initialisers (issue 31).
NETWORKS = 2


def mlp(in_dim: int, hidden: int, out_dim: int, layers: int, act: type[nn.Module] = DENSE_ACT) -> nn.Sequential:
    """`layers` fully-connected layers (the last one linear): the paper's "3-layer networks" are layers=3."""
    dims = [in_dim] + [hidden] * (layers - 1)
    modules: list[nn.Module] = []
    for a, b in zip(dims[:-1], dims[1:], strict=True):
        modules += [nn.Linear(a, b), act()]
    modules.append(nn.Linear(dims[-1], out_dim))
    return nn.Sequential(*modules)


def keras_init(module: nn.Module) -> nn.Module:
    """Keras's default initialisers, as every layer of the official LOMPO code has them: glorot-uniform weights
    (dense, conv and transposed-conv kernels alike) and zero biases; the GRU's input kernel glorot-uniform, its
    recurrent kernel orthogonal (over the whole 3-gate matrix, as Keras draws it), its biases zero. LayerNorm and
    other layers keep their own. Returns `module`."""
    for m in module.modules():
        if isinstance(m, nn.Linear | nn.Conv2d | nn.ConvTranspose2d):
            nn.init.xavier_uniform_(m.weight)  # fan_in + fan_out as Keras counts them, also for transposed convs
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.GRUCell):
            nn.init.xavier_uniform_(m.weight_ih)
            nn.init.orthogonal_(m.weight_hh)
            nn.init.zeros_(m.bias_ih)
            nn.init.zeros_(m.bias_hh)
        elif isinstance(m, EnsembleLinear):
            members, fan_in, fan_out = m.weight.shape
            bound = math.sqrt(6.0 / (fan_in + fan_out))  # glorot-uniform per member (official: a Dense per head)
            with torch.no_grad():
                m.weight.uniform_(-bound, bound)
                m.bias.zero_()
    return module


def drqv2_init(module: nn.Module) -> nn.Module:
    """DrQ-v2's `utils.weight_init`, which V-D4RL's BC, CQL and DrQ+BC apply to every network: orthogonal weights
    (gain sqrt(2), ReLU's, for convolutions; 1 for linear layers) and zero biases. Returns `module`."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.orthogonal_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Conv2d | nn.ConvTranspose2d):
            nn.init.orthogonal_(m.weight, nn.init.calculate_gain("relu"))
            nn.init.zeros_(m.bias)
    return module


KERAS_ADAM_EPS = 1e-7  # `tf.optimizers.Adam`'s default epsilon, the official LOMPO optimizers' (PyTorch's: 1e-8)


def adam(params: Any, lr: float, eps: float = 1e-8) -> torch.optim.Adam:
    """Adam as every algorithm here uses it, with PyTorch's fused kernel: the same update in one pass over the
    parameters (the optimizer step 2.3-2.5 ms against 6.7-15.7 ms on one CPU thread, docs/PERFORMANCE.md)."""
    return torch.optim.Adam(params, lr=lr, eps=eps, fused=True)


class ConvEncoder(nn.Module):
    """Kernel 4, stride 2, unpadded convolutions (Appendix C; official `ConvEncoder` / `ConvEncoderLarge`): 4 layers
    at 64 px (64 -> 31 -> 14 -> 6 -> 2), 5 at 128 px (128 -> 63 -> 30 -> 14 -> 6 -> 2), then the flattened 2x2 map;
    the layer count gives the image size (`image_size_for`). Proprioception, normalized by the dataset's
    statistics, is concatenated through a small MLP where the task has it (departure: the official proprio path
    cannot run; Appendix A gives D'Claw and Pen proprioception)."""

    def __init__(
        self,
        channels: Sequence[int],
        proprio_dim: int = 0,
        proprio_embed: int = 64,
        frames: int = 1,
        conv_act: type[nn.Module] = CONV_ACT,
        dense_act: type[nn.Module] = DENSE_ACT,
    ):
        super().__init__()
        self.image_size = image_size_for(len(channels))
        self.frames = frames  # > 1: stacked frames (..., F, H, W, 3) enter as 3F channels (model-free learners)
        layers: list[nn.Module] = []
        in_ch, size = 3 * frames, self.image_size
        for ch in channels:
            layers += [nn.Conv2d(in_ch, ch, 4, 2), conv_act()]
            in_ch, size = ch, (size - 4) // 2 + 1
        self.convs = nn.Sequential(*layers, nn.Flatten())
        self.proprio_dim = proprio_dim
        self.register_buffer("proprio_mean", torch.zeros(proprio_dim))
        self.register_buffer("proprio_std", torch.ones(proprio_dim))
        self.proprio_net = mlp(proprio_dim, proprio_embed, proprio_embed, 2, dense_act) if proprio_dim else None
        self.out_dim = in_ch * size * size + (proprio_embed if proprio_dim else 0)

    @staticmethod
    def preprocess(pixels: torch.Tensor) -> torch.Tensor:
        """uint8 (N, H, W, 3) -> float (N, 3, H, W) in [-0.5, 0.5]."""
        if pixels.dtype != torch.uint8:
            raise TypeError(f"pixels must be uint8 (0-255), got {pixels.dtype}")
        return pixels.permute(0, 3, 1, 2).float().div_(255.0).sub_(0.5)

    def normalize_proprio(self, proprio: torch.Tensor) -> torch.Tensor:
        return (proprio - self.proprio_mean) / self.proprio_std

    def forward(self, pixels: torch.Tensor, proprio: torch.Tensor | None = None, augment: bool = False) -> torch.Tensor:
        """Features (..., out_dim) of uint8 pixels (..., H, W, 3), or (..., F, H, W, 3) with F stacked frames.
        `augment` applies DrQ's random shift (the model-free learners train with it)."""
        image_dims = 3 if self.frames == 1 else 4
        if pixels.shape[-3:-1] != (self.image_size, self.image_size):
            raise ValueError(
                f"this encoder takes {self.image_size} px images ({len(self.convs) // 2} conv layers), "
                f"not {tuple(pixels.shape[-3:-1])}"
            )
        lead = pixels.shape[:-image_dims]
        x = self.preprocess(pixels.reshape(-1, *pixels.shape[-3:]))
        x = x.reshape(-1, 3 * self.frames, *x.shape[-2:])
        if augment:
            x = random_shift(x)
        features = self.convs(x).reshape(*lead, -1)
        if self.proprio_net is not None:
            features = torch.cat([features, self.proprio_net(self.normalize_proprio(proprio))], -1)
        return features


class NatureEncoder(ConvEncoder):
    """The Nature-DQN conv stack (32 8x8 stride 4, 64 4x4 stride 2, 64 3x3 stride 1, ReLU), d3rlpy's default pixel
    encoder, in ConvEncoder's interface (stacked frames, proprio, the shift augmentation). Only for BC's `encoder`
    ablation (issue 32 item 3: one difference from d3rlpy's BC at a time); pixels are preprocessed as ours."""

    def __init__(self, image_size: int, proprio_dim: int = 0, proprio_embed: int = 64, frames: int = 1):
        nn.Module.__init__(self)
        self.image_size = image_size
        self.frames = frames
        layers: list[nn.Module] = []
        in_ch, size = 3 * frames, image_size
        for ch, kernel, stride in ((32, 8, 4), (64, 4, 2), (64, 3, 1)):
            layers += [nn.Conv2d(in_ch, ch, kernel, stride), nn.ReLU()]
            in_ch, size = ch, (size - kernel) // stride + 1
        self.convs = nn.Sequential(*layers, nn.Flatten())
        self.proprio_dim = proprio_dim
        self.register_buffer("proprio_mean", torch.zeros(proprio_dim))
        self.register_buffer("proprio_std", torch.ones(proprio_dim))
        self.proprio_net = mlp(proprio_dim, proprio_embed, proprio_embed, 2, nn.ReLU) if proprio_dim else None
        self.out_dim = in_ch * size * size + (proprio_embed if proprio_dim else 0)


ENCODERS = ("paper", "nature")


class PixelFeatures(nn.Module):
    """The model-free learners' (BC, CQL, DrQ+BC) view of an observation: the conv encoder over `frames` stacked
    frames (plus proprio) and DrQ's trunk (Linear, LayerNorm, tanh) down to `trunk` features. ReLU throughout, as
    DrQ-v2's encoder, which V-D4RL's BC, CQL and DrQ+BC share. `encoder="nature"` (BC's ablation only): d3rlpy's
    pixel encoder instead, Nature-DQN convs then Linear to `trunk` and ReLU (d3rlpy's 512-unit feature layer)."""

    def __init__(self, channels: Sequence[int], proprio_dim: int, frames: int, trunk: int, encoder: str = "paper"):
        super().__init__()
        if encoder == "nature":
            self.encoder: ConvEncoder = NatureEncoder(image_size_for(len(channels)), proprio_dim, frames=frames)
            self.trunk = nn.Sequential(nn.Linear(self.encoder.out_dim, trunk), nn.ReLU())
            return
        self.encoder = ConvEncoder(channels, proprio_dim, frames=frames, conv_act=nn.ReLU, dense_act=nn.ReLU)
        self.trunk = nn.Sequential(nn.Linear(self.encoder.out_dim, trunk), nn.LayerNorm(trunk), nn.Tanh())

    def forward(self, pixels: torch.Tensor, proprio: torch.Tensor | None, augment: bool = False) -> torch.Tensor:
        return self.trunk(self.encoder(pixels, proprio if self.encoder.proprio_dim else None, augment))


def random_shift(images: torch.Tensor, pad: int = 4) -> torch.Tensor:
    """DrQ's augmentation: pad by replicating the border, then crop back at a random offset per image."""
    n, _, h, w = images.shape
    padded = F.pad(images, (pad, pad, pad, pad), mode="replicate")
    shift = torch.randint(0, 2 * pad + 1, (n, 2), device=images.device)
    rows = (torch.arange(h, device=images.device) + shift[:, :1]).view(n, 1, h, 1).expand(n, 1, h, w)
    cols = (torch.arange(w, device=images.device) + shift[:, 1:]).view(n, 1, 1, w).expand(n, 1, h, w)
    flat = rows * (w + 2 * pad) + cols
    channels = padded.shape[1]
    out = padded.flatten(2).gather(2, flat.flatten(2).expand(n, channels, h * w))
    return out.view(n, channels, h, w)


class ConvDecoder(nn.Module):
    """Transposed convolutions from a 1x1 map back to the image (Appendix C; official `ConvDecoder` /
    `ConvDecoderLarge`), plus an MLP for proprioception. A dense layer to a 1x1 map of 8 x channels[0] (1024 at
    the paper's sizes), then stride-2, unpadded layers: 4 layers of kernels [5, 5, 6, 6] to 64 px
    (1 -> 5 -> 13 -> 30 -> 64), 5 layers of kernels [5, 5, 5, 6, 6] to 128 px (1 -> 5 -> 13 -> 29 -> 62 -> 128).
    (Appendix C's printed kernels for five layers, [5, 5, 5, 4, 4], cannot reach 128 px from 1x1; the official
    code's can.)"""

    KERNELS = {4: (5, 5, 6, 6), 5: (5, 5, 5, 6, 6)}

    def __init__(
        self,
        feature_dim: int,
        channels: Sequence[int],
        proprio_dim: int = 0,
        hidden: int = 256,
        conv_act: type[nn.Module] = CONV_ACT,
        dense_act: type[nn.Module] = DENSE_ACT,
    ):
        super().__init__()
        if len(channels) not in self.KERNELS:
            raise ValueError(f"decoders have 4 or 5 layers, not {len(channels)}")
        self.image_size = image_size_for(len(channels))
        self.first_shape = (8 * channels[0], 1, 1)
        self.project = nn.Linear(feature_dim, math.prod(self.first_shape))  # official `h1`: no activation
        layers: list[nn.Module] = []
        in_ch = self.first_shape[0]
        for i, (ch, k) in enumerate(zip(channels, self.KERNELS[len(channels)], strict=True)):
            layers.append(nn.ConvTranspose2d(in_ch, ch, k, 2))
            if i < len(channels) - 1:
                layers.append(conv_act())
            in_ch = ch
        self.deconvs = nn.Sequential(*layers)
        # The official proprio decoder (`DenseDecoder((propriodim,), 3, num_units)`): 3 hidden layers.
        self.proprio_net = mlp(feature_dim, hidden, proprio_dim, 4, dense_act) if proprio_dim else None

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Mean image (..., 3, H, W) in the encoder's [-0.5, 0.5] scale, and normalized proprio (or None)."""
        lead = features.shape[:-1]
        x = self.project(features.reshape(-1, features.shape[-1])).reshape(-1, *self.first_shape)
        image = self.deconvs(x)
        image = image.reshape(*lead, *image.shape[1:])
        proprio = self.proprio_net(features) if self.proprio_net is not None else None
        return image, proprio


class EnsembleLinear(nn.Module):
    """K independent linear layers evaluated in one batched matmul: input (K, N, in) -> (K, N, out)."""

    def __init__(self, members: int, in_dim: int, out_dim: int):
        super().__init__()
        bound = 1 / math.sqrt(in_dim)  # nn.Linear's default initialization, per member
        self.weight = nn.Parameter(torch.empty(members, in_dim, out_dim).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(members, 1, out_dim).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(self.bias, x, self.weight)


class EnsembleMLP(nn.Module):
    """K MLPs of the same shape (the forward models' stochastic heads), all evaluated together."""

    def __init__(self, members: int, in_dim: int, hidden: int, out_dim: int, layers: int):
        super().__init__()
        dims = [in_dim] + [hidden] * (layers - 1) + [out_dim]
        self.members = members
        self.layers = nn.ModuleList(EnsembleLinear(members, a, b) for a, b in zip(dims[:-1], dims[1:], strict=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (N, in) -> (K, N, out)."""
        x = x.unsqueeze(0).expand(self.members, *x.shape)
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = F.elu(x)
        return x


def _gaussian(params: torch.Tensor, min_std: float) -> tuple[torch.Tensor, torch.Tensor]:
    mean, raw_std = params.chunk(2, -1)
    return mean, F.softplus(raw_std) + min_std


class RSSM(nn.Module):
    """Recurrent state-space model (PlaNet/Dreamer) with an ensemble of stochastic forward heads (paper, Eq. 11).

    One GRU cell carries the deterministic state h and is shared by the inference model and every forward model;
    each of the K forward models is its own MLP head p_k(z_t | h_t); the inference model q(z_t | h_t, e_t) is one MLP.
    A latent state is (h, z); its feature vector, on which the reward head and the actor-critic act, is [h, z].
    """

    def __init__(
        self,
        embed_dim: int,
        action_dim: int,
        deter: int,
        stoch: int,
        hidden: int,
        members: int,
        min_std: float = 0.1,
        head_layers: int = 1,
    ):
        super().__init__()
        self.deter, self.stoch, self.members, self.min_std = deter, stoch, members, min_std
        self.action_dim = action_dim
        self.input = nn.Sequential(nn.Linear(stoch + action_dim, hidden), DENSE_ACT())  # official `img1`
        self.gru = nn.GRUCell(hidden, deter)
        # `head_layers` hidden layers in each forward head and in the inference model: the official code has one
        # (`img2_k` then `img3_k`; `obs1` then `obs2`).
        self.priors = EnsembleMLP(members, deter, hidden, 2 * stoch, head_layers + 1)
        self.posterior = mlp(deter + embed_dim, hidden, 2 * stoch, head_layers + 1)

    @property
    def feature_dim(self) -> int:
        return self.deter + self.stoch

    def initial(self, batch: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.zeros(batch, self.deter, device=device), torch.zeros(batch, self.stoch, device=device)

    def step(self, h: torch.Tensor, z: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """The deterministic transition h' = GRU(h, [z, a])."""
        return self.gru(self.input(torch.cat([z, action], -1)), h)

    def prior(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Every forward model's Gaussian over z given h: mean and std of shape (K, N, stoch)."""
        return _gaussian(self.priors(h), self.min_std)

    def infer(self, h: torch.Tensor, embed: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The inference model's Gaussian over z given h and the observation's embedding."""
        return _gaussian(self.posterior(torch.cat([h, embed], -1)), self.min_std)

    def observe(
        self, embed: torch.Tensor, prev_actions: torch.Tensor, sample: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Filter a window: embed (B, T, E) and prev_actions (B, T, A), where prev_actions[:, t] is the action that
        led to observation t (zero at an episode's first observation), as the official `observe` takes the
        dataset's actions (Dreamer's layout).

        Returns h, z (B, T, .) and the posterior mean and std. The window starts from the zero state (windows are
        sampled inside episodes, and a window that starts mid-episode starts from zero as the official code's
        does), stepped by the action that led to its first observation.
        """
        batch, steps = embed.shape[:2]
        h, z = self.initial(batch, embed.device)
        hs, zs, means, stds = [], [], [], []
        for t in range(steps):
            h = self.step(h, z, prev_actions[:, t])
            mean, std = self.infer(h, embed[:, t])
            z = mean + std * torch.randn_like(std) if sample else mean
            hs.append(h)
            zs.append(z)
            means.append(mean)
            stds.append(std)
        return torch.stack(hs, 1), torch.stack(zs, 1), torch.stack(means, 1), torch.stack(stds, 1)


def gaussian_kl(mean_q: torch.Tensor, std_q: torch.Tensor, mean_p: torch.Tensor, std_p: torch.Tensor) -> torch.Tensor:
    """KL(q || p) between diagonal Gaussians, summed over the last dimension."""
    var_ratio = (std_q / std_p) ** 2
    return 0.5 * (var_ratio + ((mean_q - mean_p) / std_p) ** 2 - 1 - var_ratio.log()).sum(-1)


def member_spread(values: torch.Tensor) -> torch.Tensor:
    """The std over ensemble members (dimension 0): LOMPO's penalty, the population std as the official code's
    `tf.math.reduce_std` (not Bessel's, which is sqrt(K / (K - 1)) larger: 1.08x for 7 members). One member: 0."""
    return values.std(0, correction=0)


def heads_disagreement(means: torch.Tensor) -> torch.Tensor:
    """The std over the heads of their predicted means (K, N, S), averaged over the latent dimensions: (N,). The
    other common measure of ensemble disagreement (diagnostics measure it beside the penalty's spread;
    `penalty_measure="means"` penalizes with it)."""
    return member_spread(means).mean(-1)


def gaussian_log_prob(x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """log N(x; mean, std), summed over the last dimension."""
    return (-0.5 * ((x - mean) / std) ** 2 - std.log() - 0.5 * math.log(2 * math.pi)).sum(-1)


class Actor(nn.Module):
    """Tanh-squashed Gaussian policy over features (SAC), 3 layers of `hidden` units (Appendix C)."""

    def __init__(
        self, feature_dim: int, action_dim: int, hidden: int = 256, layers: int = 3, act: type[nn.Module] = DENSE_ACT
    ):
        super().__init__()
        self.net = mlp(feature_dim, hidden, 2 * action_dim, layers, act)

    def forward(self, features: torch.Tensor, deterministic: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """An action in (-1, 1) and its log-probability."""
        mean, log_std = self.net(features).chunk(2, -1)
        log_std = log_std.clamp(-5.0, 2.0)
        std = log_std.exp()
        raw = mean if deterministic else mean + std * torch.randn_like(std)
        action = torch.tanh(raw)
        log_prob = gaussian_log_prob(raw, mean, std) - (2 * (math.log(2) - raw - F.softplus(-2 * raw))).sum(-1)
        return action, log_prob


class DeterministicActor(nn.Module):
    """The official LOMPO actor: an MLP ending in tanh, a deterministic action in (-1, 1); exploration noise, where
    wanted, is added outside (TD3/DDPG-style)."""

    def __init__(self, feature_dim: int, action_dim: int, hidden: int = 256, layers: int = 4):
        super().__init__()
        self.net = mlp(feature_dim, hidden, action_dim, layers)  # official `ActorNetwork`: dense_act (ELU)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.net(features))


class TwinCritic(nn.Module):
    """Two Q networks over [features, action] (clipped double Q), 3 layers of `hidden` units each."""

    def __init__(
        self, feature_dim: int, action_dim: int, hidden: int = 256, layers: int = 3, act: type[nn.Module] = DENSE_ACT
    ):
        super().__init__()
        self.q1 = mlp(feature_dim + action_dim, hidden, 1, layers, act)
        self.q2 = mlp(feature_dim + action_dim, hidden, 1, layers, act)

    def forward(self, features: torch.Tensor, action: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.cat([features, action], -1)
        return self.q1(x).squeeze(-1), self.q2(x).squeeze(-1)
