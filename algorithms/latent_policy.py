"""A latent agent's policy in the task (LOMPO, LMBRL, Offline SLAC): `LatentPolicy` acts from pixels through the
world model's inference model, and `load_policy` rebuilds it from a finished run's folder (for `evaluate`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from lompo_bench.algorithms import runs
from lompo_bench.algorithms.lompo_config import saved_config

if TYPE_CHECKING:
    from lompo_bench.algorithms.lompo import Lompo


class LatentPolicy:
    """Acts in the task from pixels: filters the latent state with the inference model, sampling z as in training
    (official `policy`: the actor only ever saw sampled states), and takes the actor's action without noise.
    The samples come from the policy's own generator, so acting neither depends on nor disturbs training's."""

    def __init__(self, agent: Lompo, seed: int = 0):
        self.agent = agent
        self.generator = torch.Generator(agent.device).manual_seed(seed)
        self.reset()

    def reset(self) -> None:
        self.h, self.z = self.agent.model.rssm.initial(1, self.agent.device)
        self.action = torch.zeros(1, self.agent.action_dim, device=self.agent.device)

    @torch.no_grad()
    def act(self, observation: dict[str, np.ndarray]) -> np.ndarray:
        agent, model = self.agent, self.agent.model
        pixels = torch.as_tensor(observation["pixels"], device=agent.device).unsqueeze(0)
        proprio = None
        if model.encoder.proprio_dim:
            proprio = torch.as_tensor(observation["proprio"], dtype=torch.float32, device=agent.device).unsqueeze(0)
        embed = model.embed(pixels, proprio)
        self.h = model.rssm.step(self.h, self.z, self.action)
        mean, std = model.rssm.infer(self.h, embed)
        self.z = mean + std * torch.randn(std.shape, generator=self.generator, device=std.device)
        self.action = agent.act(torch.cat([self.h, self.z], -1), explore=False)
        return self.action[0].cpu().numpy()


def load_policy(folder: Path, device: torch.device) -> LatentPolicy:
    """The trained policy of a finished run folder (for `evaluate`)."""
    from lompo_bench.algorithms.lompo import Lompo, WorldModel  # lompo imports this module

    record, state = runs.load_finished(folder, device)
    config = saved_config(record["config"])
    model = WorldModel(config, record["action_dim"], record["proprio_dim"], device)
    agent = Lompo(config, model, 1, 1)  # acting needs no buffers
    agent.load_state_dict(state["training"]["modules"])
    return agent.policy()
