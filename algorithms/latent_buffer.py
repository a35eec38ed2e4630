"""LOMPO's latent replay buffers (Algorithm 1's real and imagined buffers): FIFOs of latent transitions kept on the
training device, each row stamped with the actor-critic update that added it (how fresh a buffer is: `freshness`)."""

from __future__ import annotations

from typing import Any

import torch


class ReplayBuffer:
    """A FIFO of latent transitions (features, action, reward, next features, terminal) on the device, each with
    `born`: the actor-critic update count when it was added (how old the policy that made it is)."""

    def __init__(self, capacity: int, feature_dim: int, action_dim: int, device: torch.device):
        self.capacity, self.size, self.cursor = capacity, 0, 0
        self.data = {
            "features": torch.zeros(capacity, feature_dim, device=device),
            "actions": torch.zeros(capacity, action_dim, device=device),
            "rewards": torch.zeros(capacity, device=device),
            "next_features": torch.zeros(capacity, feature_dim, device=device),
            "terminals": torch.zeros(capacity, device=device),
            "born": torch.zeros(capacity, dtype=torch.long, device=device),
        }

    def add(self, born: int, **batch: torch.Tensor) -> None:
        n = batch["rewards"].numel()
        rows = {key: value.detach().reshape(n, *self.data[key].shape[1:]) for key, value in batch.items()}
        if n > self.capacity:  # only the newest `capacity` rows would survive: write just those
            rows = {key: value[n - self.capacity :] for key, value in rows.items()}
            n = self.capacity
        device = self.data["rewards"].device
        rows["born"] = torch.full((n,), born, dtype=torch.long, device=device)
        index = (self.cursor + torch.arange(n, device=device)) % self.capacity
        for key, value in rows.items():
            self.data[key][index] = value.to(device, self.data[key].dtype)
        self.cursor = (self.cursor + n) % self.capacity
        self.size = min(self.size + n, self.capacity)

    def sample(self, n: int) -> dict[str, torch.Tensor]:
        index = torch.randint(0, self.size, (n,), device=self.data["rewards"].device)
        return {key: value[index] for key, value in self.data.items() if key != "born"}

    def freshness(self, now: int, prefix: str = "") -> dict[str, float]:
        """How much of the buffer the current policy made (`current_share`: the share added at update `now`) and the
        mean age of its transitions in actor-critic updates (`mean_age`), each name after `prefix`."""
        born = self.data["born"][: self.size]
        if not len(born):
            return {f"{prefix}current_share": 0.0, f"{prefix}mean_age": 0.0}
        return {
            f"{prefix}current_share": (born == now).float().mean().item(),
            f"{prefix}mean_age": (now - born).float().mean().item(),
        }

    def state_dict(self) -> dict[str, Any]:
        return {"size": self.size, "cursor": self.cursor, "data": {k: v[: self.size] for k, v in self.data.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.size, self.cursor = state["size"], state["cursor"]
        for key, value in state["data"].items():
            self.data[key][: self.size] = value
