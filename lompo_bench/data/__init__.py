"""Data access: locating Minari datasets, the read-optimised cache, batch samplers, downloads, imports.

Imports only `lompo_bench.tasks` and `lompo_bench.errors` of ours.
"""

from lompo_bench.data.cache import DatasetCache, build_cache, open_cache, verify_cache
from lompo_bench.data.sampler import EpisodeReader, SequenceSampler, TorchBatches, TransitionSampler, to_torch
from lompo_bench.data.store import (
    CorruptDataset,
    DatasetNotFound,
    dataset_path,
    dataset_task,
    datasets_root,
    local_dataset_ids,
)

__all__ = [
    "CorruptDataset",
    "DatasetCache",
    "DatasetNotFound",
    "EpisodeReader",
    "SequenceSampler",
    "TorchBatches",
    "TransitionSampler",
    "build_cache",
    "dataset_path",
    "dataset_task",
    "datasets_root",
    "local_dataset_ids",
    "open_cache",
    "to_torch",
    "verify_cache",
]
