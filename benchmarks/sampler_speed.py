"""Sequence-sampling throughput on a synthetic 1M-transition dataset, against what a world model consumes.

Builds a cache of Adroit-like layout (1M transitions in 50-step episodes: ~12.5 GB of 64x64 pixels, 48-d
proprio, 45-d state, 24-d actions) in a temporary folder, then measures in the same run:
- sampler:   SequenceSampler batches of 64 x 50 (the paper's model batch): frames/s and peak RSS;
- reference: one training update of a plain RSSM-style world model of the paper's Appendix C sizes (conv encoder
             [32, 64, 128, 256] k4 s2, transposed-conv decoder, GRU 256), batch 16 x 50: frames/s.
Prints both and their ratio (target: sampler >= 10x the model), and peak RSS (target: < 2 GiB).

    python benchmarks/sampler_speed.py [--transitions 1000000] [--batches 50] [--drop-caches]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from lompo_bench.data.cache import DatasetCache
from lompo_bench.data.sampler import SequenceSampler

EPISODE = 50


def build_synthetic_cache(folder: Path, transitions: int) -> DatasetCache:
    episodes = transitions // EPISODE
    n_obs = episodes * (EPISODE + 1)
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    block = rng.integers(0, 256, (4096, 64, 64, 3), dtype=np.uint8)
    with open(folder / "pixels.npy", "wb") as f:  # plain appends, as the real cache build: RSS stays small
        header = {"descr": "|u1", "fortran_order": False, "shape": (n_obs, 64, 64, 3)}
        np.lib.format.write_array_header_2_0(f, header)
        for start in range(0, n_obs, len(block)):
            f.write(block[: min(len(block), n_obs - start)].tobytes())
    np.save(folder / "proprio.npy", np.zeros((n_obs, 48), np.float32))
    np.save(folder / "state.npy", np.zeros((n_obs, 45), np.float32))
    np.save(folder / "actions.npy", np.zeros((episodes * EPISODE, 24), np.float32))
    for name, dtype in (("rewards", np.float32), ("terminals", bool), ("truncations", bool)):
        np.save(folder / f"{name}.npy", np.zeros(episodes * EPISODE, dtype))
    np.save(folder / "obs_starts.npy", np.arange(episodes + 1, dtype=np.int64) * (EPISODE + 1))
    np.save(folder / "step_starts.npy", np.arange(episodes + 1, dtype=np.int64) * EPISODE)
    return DatasetCache.open(folder)


def reference_model_frames_per_second(updates: int = 3) -> float:
    """A plain eager fp32 world-model update of the paper's sizes: the consumer the sampler must outpace."""
    import torch
    from torch import nn

    torch.manual_seed(0)
    batch, steps, hidden, action_dim = 16, 50, 256, 24

    encoder = nn.Sequential(
        nn.Conv2d(3, 32, 4, 2), nn.ReLU(), nn.Conv2d(32, 64, 4, 2), nn.ReLU(),
        nn.Conv2d(64, 128, 4, 2), nn.ReLU(), nn.Conv2d(128, 256, 4, 2), nn.ReLU(), nn.Flatten(),
    )  # fmt: skip
    decoder = nn.Sequential(
        nn.Linear(hidden, 1024), nn.Unflatten(1, (1024, 1, 1)),
        nn.ConvTranspose2d(1024, 128, 5, 2), nn.ReLU(), nn.ConvTranspose2d(128, 64, 5, 2), nn.ReLU(),
        nn.ConvTranspose2d(64, 32, 6, 2), nn.ReLU(), nn.ConvTranspose2d(32, 3, 6, 2),
    )  # fmt: skip
    gru = nn.GRUCell(1024 + action_dim, hidden)
    params = [*encoder.parameters(), *decoder.parameters(), *gru.parameters()]
    optimizer = torch.optim.Adam(params, lr=6e-4)
    images = torch.rand(batch, steps, 3, 64, 64)
    actions = torch.rand(batch, steps, action_dim)
    seconds = []
    for _ in range(updates + 1):
        start = time.perf_counter()
        embed = encoder(images.flatten(0, 1)).view(batch, steps, -1)
        h, states = torch.zeros(batch, hidden), []
        for t in range(steps):
            h = gru(torch.cat([embed[:, t], actions[:, t]], -1), h)
            states.append(h)
        recon = decoder(torch.stack(states, 1).flatten(0, 1))
        loss = ((recon - images.flatten(0, 1)) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        seconds.append(time.perf_counter() - start)
    return batch * steps / float(np.median(seconds[1:]))  # the first update warms up allocators


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transitions", type=int, default=1_000_000)
    parser.add_argument("--batches", type=int, default=50)
    parser.add_argument("--drop-caches", action="store_true", help="drop the page cache first (root): cold reads")
    parser.add_argument("--keep", type=Path, help="build the cache here and keep it (default: a temporary folder)")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="lompo_sampler_bench_"))
    try:
        cache_dir = folder / "cache"
        start = time.perf_counter()
        cache = (
            DatasetCache.open(cache_dir) if cache_dir.exists() else build_synthetic_cache(cache_dir, args.transitions)
        )
        build_seconds = time.perf_counter() - start
        if args.drop_caches:
            os.sync()
            Path("/proc/sys/vm/drop_caches").write_text("3\n")
        sampler = SequenceSampler(cache, batch_size=64, seq_len=50, seed=0)
        sampler.sample()
        start = time.perf_counter()
        for _ in range(args.batches):
            batch = sampler.sample()
        sample_fps = args.batches * 64 * 50 / (time.perf_counter() - start)
        peak_rss_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
        assert batch["pixels"].shape == (64, 50, 64, 64, 3)
        model_fps = reference_model_frames_per_second()
        result = {
            "transitions": cache.num_steps,
            "pixels_gb": cache.pixels_path.stat().st_size / 1e9,
            "build_seconds": round(build_seconds, 1),
            "cold_page_cache": args.drop_caches,
            "sampler_frames_per_s": round(sample_fps),
            "reference_model_frames_per_s": round(model_fps),
            "ratio": round(sample_fps / model_fps, 1),
            "peak_rss_gib": round(peak_rss_gib, 2),
        }
        print(json.dumps(result, indent=2))
        print(
            f"sampler {sample_fps:.0f} frames/s vs reference model {model_fps:.0f} frames/s: "
            f"{sample_fps / model_fps:.1f}x (target >= 10x); peak RSS {peak_rss_gib:.2f} GiB (target < 2)"
        )
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
