"""`lompo-bench generate`: the stages from SAC training to Minari datasets, each resumable.

Stages, with what marks each as finished (a rerun skips finished stages and resumes the one in progress):
1. train   SAC from state, recording physics states             `train/done.json` (checkpoints inside)
2. expert  rollouts of the stochastic expert                    `expert/done.json`
3. split   the paper's kinds as episode lists (`splits.py`)     `splits.json`
4. render  pixels from the saved physics states, all cores      `render/<kind>/unit_*.npy`, `render/<kind>/done`
5. write   one Minari dataset per kind, renamed into place      the dataset folder under its final id

A dataset's content depends only on its task, profile, seed and kind: `--kind medium-expert` alone writes what
`--kind all` writes under that id, and a run interrupted and resumed with other kinds writes the same too.

Everything lives in a work folder `<out>/<task>/<profile>-seed<seed>/` beside `config.json`, the resolved
generation config. The render cache is deleted once every requested dataset is written (unless asked to keep it).
One process works in a work folder at a time (`exclusive_workdir`): a second `generate` of it is refused in one line.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from lompo_bench import seeds
from lompo_bench.data.ids import DatasetId
from lompo_bench.data.store import dataset_exists
from lompo_bench.data.writer import DatasetExists
from lompo_bench.dataset_gen.config import (
    ABLATION_FACTORS,
    ABLATION_RUNS,
    KINDS,
    GenerationConfig,
    ablation_dataset_id,
    dataset_id,
    generation_config,
    resolve_kinds,
    resolve_workers,
)
from lompo_bench.dataset_gen.experts import expert_episodes, record_expert_rollouts, train_expert
from lompo_bench.dataset_gen.minari_writer import write_dataset
from lompo_bench.dataset_gen.recording import Episode, EpisodeRef, EpisodeStore
from lompo_bench.dataset_gen.reference import RANDOM_EPISODES
from lompo_bench.dataset_gen.render import plan_units, read_unit_frames, render_units
from lompo_bench.dataset_gen.splits import (
    SPLIT_RULE,
    medium_point,
    split_training_episodes,
    subsample,
    trim_kinds,
    trim_to_size,
)
from lompo_bench.errors import UserError, naming_full_disk
from lompo_bench.files import exclusive_folder, write_json
from lompo_bench.paths import lompo_home
from lompo_bench.progress import NoProgress, Progress
from lompo_bench.tasks import get_task_spec, make_task


def default_workdir_root() -> Path:
    """`$LOMPO_BENCH_HOME/generate`, by default `~/.lompo_bench/generate`."""
    return lompo_home() / "generate"


@dataclass
class GenerationReport:
    task: str
    profile: str
    seed: int
    expert_return: float
    datasets: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> sizes
    stage_seconds: dict[str, float] = field(default_factory=dict)
    frames_per_second: float = float("nan")

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def workdir_of(root: Path, config: GenerationConfig, seed: int) -> Path:
    """The work folder of a (task, profile, seed) under `root`: `<root>/<task>/<profile>-seed<seed>/`."""
    return root / config.task / f"{config.profile}-seed{seed}"


def _refs_to_json(refs: list[EpisodeRef]) -> list[list[Any]]:
    return [[r.source, r.chunk, r.index] for r in refs]


@contextlib.contextmanager
def exclusive_workdir(workdir: Path) -> Iterator[None]:
    """Hold a work folder for one `generate` process: a second process on it is refused in one line (two would
    train, render and delete the render cache under each other). The lock dies with its holder, so a killed
    generation can be resumed."""
    with exclusive_folder(workdir, "generating"):
        yield


class _Run:
    """One (task, profile, seed) work folder: its config, its recordings and its stages. Use it in a `with`
    block: the folder is held (`exclusive_workdir`) from construction to the block's end."""

    def __init__(self, config: GenerationConfig, seed: int, root: Path, progress: Progress) -> None:
        self.config, self.seed, self.progress = config, seed, progress
        self.workdir = workdir_of(root, config, seed)
        with contextlib.ExitStack() as held:
            held.enter_context(exclusive_workdir(self.workdir))  # before anything in the folder is read or written
            saved = self.workdir / "config.json"
            resolved = json.loads(json.dumps({"seed": seed, **config.to_dict()}))
            if saved.exists() and json.loads(saved.read_text()) != resolved:
                raise UserError(f"{self.workdir} holds a run with another config; use another --out or delete it")
            write_json(saved, resolved)
            self._held = held.pop_all()  # released by __exit__
        self.spec = get_task_spec(config.task)
        self.seconds: dict[str, float] = {}
        self.frames_rendered, self.render_seconds = 0, 0.0

    def __enter__(self) -> _Run:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._held.close()

    @contextlib.contextmanager
    def _timed(self, stage: str, total: int) -> Iterator[Progress]:
        """The stage's progress bar for the block; its wall time is added to `seconds[stage]`."""
        started = time.perf_counter()
        self.progress.start(stage, total)
        try:
            yield self.progress
        finally:
            self.progress.finish()
            self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - started

    # -- stages ---------------------------------------------------------------------------------------------------
    def train(self) -> dict[str, Any]:
        with self._timed("train SAC", self.config.sac_steps) as bar:
            return train_expert(self.config, self.workdir, self.seed, bar)

    def expert_rollouts(self, expert_return: float, transitions: int) -> EpisodeStore:
        with self._timed("expert rollouts", transitions) as bar:
            folder = record_expert_rollouts(self.config, self.workdir, self.seed, transitions, expert_return, bar)
        return EpisodeStore(folder, "expert")

    @property
    def recording(self) -> Path:
        """The folder of SAC training's recorded episodes (stage 1)."""
        return self.workdir / "train" / "recording"

    def training_episodes(self) -> EpisodeStore:
        return EpisodeStore(self.recording, "train")

    def medium_split(self, summary: dict[str, Any]) -> tuple[int, list[EpisodeRef], list[EpisodeRef]]:
        """The medium point of the trained run `summary` describes (an agent step), and its whole training
        episodes before and after it: medium-replay's and medium-expert's candidates (`splits.py`)."""
        config = self.config
        point = medium_point(
            summary["evals"], self.spec.ref_min_score, summary["expert_return"], config.medium_fraction,
            config.never_medium,
        )  # fmt: skip
        before, after = split_training_episodes(self.training_episodes().episodes, point)
        return point, before, after

    def folders(self) -> dict[str, Path]:
        return {"train": self.recording, "expert": self.workdir / "expert"}

    def drop_render_cache(self) -> None:
        """Delete the rendered frames (stage 4), once every requested dataset is written."""
        shutil.rmtree(self.workdir / "render", ignore_errors=True)

    def render(self, name: str, refs: list[EpisodeRef], workers: int, folders: dict[str, Path]) -> Path:
        """Render the episodes' frames into `render/<name>/`; counts frames and seconds actually rendered now.

        The folder names the episodes it holds frames of (`episodes.json`); one holding other episodes, or not
        saying which, is rendered again: unit files are resumed by index alone."""
        out = self.workdir / "render" / name
        listing = _refs_to_json(refs)
        marker = out / "episodes.json"
        if out.exists() and (not marker.exists() or json.loads(marker.read_text()) != listing):
            shutil.rmtree(out)
        if (out / "done").exists():
            return out
        out.mkdir(parents=True, exist_ok=True)
        write_json(marker, listing)
        units = plan_units(refs, folders, self.config.render_chunk)
        total = sum(u.frames for u in units)
        t0 = time.perf_counter()
        with self._timed(f"render {name}", total) as bar:
            self.frames_rendered += render_units(
                self.config.task, units, out, workers=workers, image_size=self.config.image_size, progress=bar
            )
        self.render_seconds += time.perf_counter() - t0
        (out / "done").write_text(json.dumps({"units": len(units), "frames": total}))
        return out

    def write(self, ds_id: str, refs: list[EpisodeRef], render_dir: Path, folders: dict[str, Path], meta: dict) -> None:
        if dataset_exists(ds_id):
            return
        env = make_task(self.config.task, image_size=self.config.image_size)  # its observation and action spaces
        try:
            self._write(ds_id, refs, render_dir, folders, meta, env)
        finally:  # also when the write fails (a full disk): a renderer left to the collector complains at exit
            env.close()

    def _write(
        self, ds_id: str, refs: list[EpisodeRef], render_dir: Path, folders: dict[str, Path], meta: dict, env: Any
    ) -> None:
        stores = {name: EpisodeStore(path, name) for name, path in folders.items()}
        units = plan_units(refs, folders, self.config.render_chunk)
        by_folder = {str(path): name for name, path in folders.items()}

        def episodes(bar: Progress) -> Iterator[tuple[Episode, np.ndarray]]:
            written = 0
            for unit in units:
                frames, offset = read_unit_frames(render_dir, unit.index), 0
                for folder, chunk, index in unit.episodes:
                    store = stores[by_folder[folder]]
                    episode = store.load(store.get(chunk, index))
                    yield episode, frames[offset : offset + len(episode) + 1]
                    offset += len(episode) + 1
                    written += len(episode)
                    bar.update(written)

        with self._timed(f"write {DatasetId.parse(ds_id).leaf}", sum(r.length for r in refs)) as bar:
            try:
                write_dataset(
                    ds_id,
                    gym.spec(self.spec.gym_id),  # Minari's recover_environment() rebuilds the task from it
                    env.observation_space,
                    env.action_space,
                    episodes(bar),
                    meta,
                    extra_files={"sac_expert.zip": self.workdir / "train" / "expert.zip"},
                    replace=False,
                )
            except DatasetExists:  # another process (another --out or --seed) wrote it meanwhile: kept, as above
                pass

    def metadata(self, kind: str, expert_return: float, extra: dict[str, Any]) -> dict[str, Any]:
        provisional = self.spec.ref_max_score is None or self.spec.ref_provisional
        size = self.config.image_size
        return {
            "algorithm_name": "SAC from ground-truth state (stable-baselines3 2.9.2), images rendered afterwards",
            "description": (
                f"LOMPO benchmark, {self.spec.name} {kind}: {self.spec.description} "
                f"{size}x{size} pixels, action repeat {self.spec.action_repeat}, profile {self.config.profile}."
            ),
            "ref_min_score": self.spec.ref_min_score,
            # Until a paper-profile expert exists for the task, this run's own expert is the reference.
            "ref_max_score": expert_return if self.spec.ref_max_score is None else self.spec.ref_max_score,
            # Minari has one count for both references: the expert's (the reference a normalized score of 100
            # means); the random policy's count is stored beside it.
            "num_episodes_average_score": expert_episodes(self.config),
            "lompo_ref_min_episodes": RANDOM_EPISODES,
            "lompo_kind": kind,
            "lompo_profile": self.config.profile,
            "lompo_seed": self.seed,
            "lompo_expert_return": expert_return,
            "lompo_reference_provisional": provisional,
            "lompo_split_rule": SPLIT_RULE,
            "lompo_generation_config": json.dumps(self.config.to_dict()),
            **extra,
        }


def _split(run: _Run, summary: dict[str, Any], kinds: tuple[str, ...]) -> tuple[dict[str, list[EpisodeRef]], dict]:
    """The episode lists of `kinds` (stage 3), and of both medium kinds, saved as `splits.json`; recomputed
    identically on a rerun.

    Both medium kinds are drawn whichever kinds are written, and before the expert's (`splits.trim_kinds`), so a
    kind gets the episodes a `--kind all` run gives it. The expert's rollouts (stage 2) run only when its kind is
    written: its draw is the last, so no other kind's depends on it."""
    config, spec = run.config, run.spec
    expert_return = summary["expert_return"]
    point, before, after = run.medium_split(summary)
    candidates = {"medium-replay": before, "medium-expert": after}
    for kind, episodes in candidates.items():
        if kind in kinds and not episodes:  # a kind not written may be empty: its draw takes no numbers then
            raise UserError(
                f"{spec.name}: no whole training episode falls in {kind} (medium point at agent step {point} "
                f"of {config.sac_steps}); train longer or evaluate more often"
            )
    if "expert" in kinds:
        candidates["expert"] = run.expert_rollouts(expert_return, config.sizes["expert"]).episodes
    drawn = trim_kinds(candidates, config.sizes, run.seed)
    info = {"lompo_medium_point": point, "lompo_medium_threshold_fraction": config.medium_fraction}
    write_json(run.workdir / "splits.json", {k: _refs_to_json(v) for k, v in drawn.items()} | info)
    return {kind: drawn[kind] for kind in kinds}, info


def generate(
    task: str,
    *,
    kinds: str | tuple[str, ...] = KINDS,
    profile: str = "cpu",
    seed: int = 0,
    workers: int | None = None,
    out: Path | None = None,
    progress: Progress | None = None,
    keep_render_cache: bool = False,
) -> GenerationReport:
    """Make the paper's datasets of `task` as Minari datasets `lompo/<task>/<kind>[-<profile>]-vN` (`dataset_id`),
    frames of `config.image_size` pixels. Bad input (a seed out of range, an unknown profile or kind) is one line
    before anything is written; a full disk is an OSError (ENOSPC) naming the folder that is full."""
    seeds.check_generation_seed(seed)
    config = generation_config(task, profile)
    kinds = resolve_kinds(kinds)
    workers = resolve_workers(workers)
    root = out or default_workdir_root()
    # Writes through open files (SAC's checkpoints, recordings, rendered units) raise a full disk's error naming
    # no file: the work folder is named then. The datasets' writer names the datasets' folder itself.
    with naming_full_disk(workdir_of(root, config, seed)), _Run(config, seed, root, progress or NoProgress()) as run:
        return _generate(run, kinds, workers, keep_render_cache)


def _generate(run: _Run, kinds: tuple[str, ...], workers: int, keep_render_cache: bool) -> GenerationReport:
    """`generate` in a held work folder."""
    profile, seed = run.config.profile, run.seed
    summary = run.train()
    chosen, info = _split(run, summary, kinds)
    report = GenerationReport(run.spec.name, profile, seed, summary["expert_return"])
    for kind in kinds:
        ds_id = dataset_id(run.spec.name, kind, profile)
        refs = chosen[kind]
        if not dataset_exists(ds_id):
            render_dir = run.render(kind, refs, workers, run.folders())
            run.write(ds_id, refs, render_dir, run.folders(), run.metadata(kind, summary["expert_return"], info))
        report.datasets[ds_id] = {
            "transitions": sum(r.length for r in refs),
            "episodes": len(refs),
            "mean_return": float(np.mean([r.episode_return for r in refs])),
        }
    if not keep_render_cache:
        run.drop_render_cache()
    report.stage_seconds = dict(run.seconds)
    # A resumed training's own clock covers every session; the stage timer above only this one.
    report.stage_seconds["train SAC (all sessions)"] = summary["training_seconds"]
    if run.render_seconds:
        report.frames_per_second = run.frames_rendered / run.render_seconds
    write_json(run.workdir / "report.json", report.to_dict())
    return report


def generate_ablation(
    *,
    profile: str = "cpu",
    seed: int = 0,
    workers: int | None = None,
    out: Path | None = None,
    progress: Progress | None = None,
    keep_render_cache: bool = False,
) -> dict[str, int]:
    """Appendix B: a D'Claw medium-expert dataset mixed from 3 SAC runs, and its /5 and /25 episode sub-samples.
    The render cache (in the first run's work folder) is deleted at the end unless `keep_render_cache`."""
    seeds.check_generation_seed(seed)
    if seed + ABLATION_RUNS - 1 > seeds.MAX_GENERATION_SEED:  # its runs' seeds: seed, seed + 1, ...
        raise UserError(
            f"the ablation trains {ABLATION_RUNS} SAC runs, of seeds {seed} and up: its generation seed must be at "
            f"most {seeds.MAX_GENERATION_SEED - ABLATION_RUNS + 1:,}, not {seed}"
        )
    config = generation_config("dclaw", profile)
    workers = resolve_workers(workers)
    root = out or default_workdir_root()
    with naming_full_disk(root / config.task), contextlib.ExitStack() as held:
        progress = progress or NoProgress()
        runs = [held.enter_context(_Run(config, seed + i, root, progress)) for i in range(ABLATION_RUNS)]
        return _generate_ablation(runs, seed, workers, keep_render_cache)


def _generate_ablation(runs: list[_Run], seed: int, workers: int, keep_render_cache: bool) -> dict[str, int]:
    """`generate_ablation` in held work folders."""
    config, profile = runs[0].config, runs[0].config.profile
    pool: list[EpisodeRef] = []
    folders: dict[str, Path] = {}
    expert_returns = []
    for run in runs:
        summary = run.train()
        expert_returns.append(summary["expert_return"])
        _, _, after = run.medium_split(summary)
        name = f"seed{run.seed}"
        folders[name] = run.recording
        pool += [dataclasses.replace(r, source=name) for r in after]
    if not pool:
        raise UserError("no SAC run reached medium level with whole episodes after it; train longer (another profile)")
    # The full dataset, then /5, then /25, always all three (drawn even when some exist): each one's content is the
    # same whichever of them a run still has to write.
    rng = np.random.default_rng(seed)
    full = trim_to_size(pool, config.ablation_size, rng)
    ablation = runs[0]
    sizes = {}
    for factor in ABLATION_FACTORS:
        refs = full if factor == 1 else subsample(full, factor, rng)
        ds_id = ablation_dataset_id(factor, profile)
        sizes[ds_id] = sum(r.length for r in refs)
        if dataset_exists(ds_id):
            continue
        render_dir = ablation.render(f"ablation-div{factor}", refs, workers, folders)
        meta = ablation.metadata(
            "medium-expert",
            float(np.mean(expert_returns)),
            {"lompo_ablation_factor": factor, "lompo_ablation_runs": ABLATION_RUNS},
        )
        ablation.write(ds_id, refs, render_dir, folders, meta)
    if not keep_render_cache:
        ablation.drop_render_cache()
    return sizes
