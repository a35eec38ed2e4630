"""How fast the world model computes: the levers and, for "auto", the one place that picks them per device.

The levers (each a `LompoConfig` switch, measured in `benchmarks/model_speed.py`, written up in
docs/PERFORMANCE.md):
- `precision`: "bf16" runs the convolutions (encoder and decoder, most of a model update's FLOPs) under bf16
  autocast with fp32 master weights; the RSSM, the heads and every loss stay fp32 (a recurrent state and Gaussian
  log-densities lose too much in bf16's 8-bit mantissa). "fp32": all fp32.
- `channels_last`: NHWC convolution weights (oneDNN's and cuDNN's fast layout); frames arrive NHWC anyway.
- `compile`: `torch.compile` of the encoder and decoder (in place: checkpoints keep their keys).
- `prefetch`: the next model batch drawn on a thread while the current one trains (`data.TorchBatches`).

"auto" resolves here, from the device, into the concrete value the run's saved config records. Importing this module
needs no torch (a config's `precision` is checked against PRECISIONS when planning): the functions that call torch
import it.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

PRECISIONS = ("auto", "fp32", "bf16")


@functools.cache
def cpu_field(name: str) -> str:
    """A field of the first CPU in Linux's /proc/cpuinfo ("model name", "flags"); "" where there is none."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == name:
            return value.strip()
    return ""


def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags (empty where unknown)."""
    return frozenset(cpu_field("flags").split())


def cpu_native_bf16() -> bool:
    """Whether this CPU multiplies bf16 natively: AMX tiles (Intel Sapphire Rapids on) or AVX512-BF16 (AMD Zen 4
    on, Intel Cooper Lake). Without either, bf16 is emulated (not measured here: every CPU we had has one)."""
    return bool({"amx_bf16", "avx512_bf16"} & cpu_flags())


def device_kind(device: torch.device) -> str:
    """The device as the speed choice sees it: "cuda", "cpu-amx", "cpu-bf16" or "cpu"."""
    if device.type == "cuda":
        return "cuda"
    if "amx_bf16" in cpu_flags():
        return "cpu-amx"
    return "cpu-bf16" if cpu_native_bf16() else "cpu"


def resolve_precision(precision: str, device: torch.device) -> str:
    """ "auto": bf16 where the device computes it natively (CUDA with bf16 support, a CPU with AMX or AVX512-BF16),
    else fp32. Measured on the project's CPUs (docs/PERFORMANCE.md): bf16 autocast with channels_last gave the
    paper-size model update 1.58x (AVX512-BF16, no AMX) and 1.68x (AMX) over fp32."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision {precision!r}: choose from {', '.join(PRECISIONS)}")
    if precision != "auto":
        return precision
    if device.type == "cuda":
        import torch

        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if cpu_native_bf16() else "fp32"


def resolve_channels_last(channels_last: bool | None, device: torch.device) -> bool:
    """None ("auto"): on, on every device measured (CPU: 1.03x fp32 at cpu sizes, 1.22x at paper sizes; CUDA:
    cuDNN's tensor-core kernels want NHWC, not measured here)."""
    return True if channels_last is None else channels_last


def resolve_prefetch(prefetch: bool | None, device: torch.device) -> bool:
    """None ("auto"): draw the next batch on a thread for CUDA, where it overlaps the GPU's compute; not on a CPU,
    where the thread would compete with the update's own (the model update waits 0.1-0.3% of its time for
    data there, `lompo-bench bench`)."""
    return device.type == "cuda" if prefetch is None else prefetch


def choose(
    *, precision: str, channels_last: bool | None, compile: bool, prefetch: bool | None, device: torch.device
) -> dict[str, Any]:
    """What a model with these settings runs as on `device` ("auto" made concrete), as its records keep it."""
    return {
        "device_kind": device_kind(device),
        "precision": resolve_precision(precision, device),
        "channels_last": resolve_channels_last(channels_last, device),
        "compile": compile,
        "prefetch": resolve_prefetch(prefetch, device),
    }


def model_speed(config: Any, device: torch.device) -> dict[str, Any]:
    """How the model of `config` (a `LompoConfig`) computes on `device`: its speed settings with "auto" made
    concrete."""
    return choose(precision=config.precision, channels_last=config.channels_last, compile=config.compile,
                  prefetch=config.prefetch, device=device)  # fmt: skip


def autocast(device: torch.device, precision: str) -> torch.autocast:
    """The context the world model's convolutions run under: bf16 autocast, or a disabled one for fp32."""
    import torch

    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")
