"""Dataset generation end to end (smoke profile on Adroit Pen: 50-step episodes, seconds per run)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import minari
import numpy as np
import pytest

from lompo_bench import get_task_spec, make_task
from lompo_bench.dataset_gen import pipeline
from lompo_bench.dataset_gen.config import KINDS, dataset_id, generation_config
from lompo_bench.dataset_gen.pipeline import generate
from tests.helpers import KillAt

TASK = "adroit_pen"
IDS = [dataset_id(TASK, kind, "smoke") for kind in KINDS]


def _use_datasets_root(monkeypatch: pytest.MonkeyPatch, root: Path) -> None:
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(root))


def _contents(dataset_ids: list[str]) -> dict[str, list[dict[str, np.ndarray]]]:
    out = {}
    for ds_id in dataset_ids:
        episodes = []
        for ep in minari.load_dataset(ds_id).iterate_episodes():
            episodes.append(
                {
                    **{f"obs/{k}": v for k, v in ep.observations.items()},
                    "actions": ep.actions,
                    "rewards": ep.rewards,
                    "terminations": ep.terminations,
                    "truncations": ep.truncations,
                }
            )
        out[ds_id] = episodes
    return out


def _assert_same_contents(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for ds_id in a:
        assert len(a[ds_id]) == len(b[ds_id])
        for ep_a, ep_b in zip(a[ds_id], b[ds_id], strict=True):
            assert ep_a.keys() == ep_b.keys()
            for key in ep_a:
                np.testing.assert_array_equal(ep_a[key], ep_b[key], err_msg=f"{ds_id} {key}")


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory: pytest.TempPathFactory):
    """One uninterrupted smoke generation; yields (report, datasets root, work folder, contents)."""
    root = tmp_path_factory.mktemp("minari")
    work = tmp_path_factory.mktemp("work")
    with pytest.MonkeyPatch.context() as mp:
        _use_datasets_root(mp, root)
        report = generate(TASK, profile="smoke", seed=0, workers=1, out=work, keep_render_cache=False)
        yield report, root, work, _contents(IDS)


def test_smoke_writes_three_datasets_that_plain_minari_opens(smoke_run, monkeypatch) -> None:
    report, root, _, contents = smoke_run
    _use_datasets_root(monkeypatch, root)
    assert set(report.datasets) == set(IDS)
    spec = get_task_spec(TASK)
    env = make_task(TASK)
    for ds_id in IDS:
        dataset = minari.load_dataset(ds_id)
        assert dataset.total_steps == report.datasets[ds_id]["transitions"] > 0
        assert dataset.observation_space == env.observation_space
        for ep in dataset.iterate_episodes():
            pixels = ep.observations["pixels"]
            assert pixels.dtype == np.uint8 and pixels.shape == (len(ep.actions) + 1, 64, 64, 3)
            assert ep.observations["proprio"].shape == (len(ep.actions) + 1, 48)
            assert ep.observations["state"].dtype == np.float32
            assert ep.actions.dtype == np.float32 and np.abs(ep.actions).max() <= 1.0
            assert len(ep.actions) == spec.episode_length  # whole episodes, ending in truncation
            assert ep.truncations[-1] and not ep.truncations[:-1].any() and not ep.terminations.any()
        metadata = dataset.storage.metadata
        assert metadata["ref_min_score"] == spec.ref_min_score
        assert metadata["ref_max_score"] == pytest.approx(report.expert_return)
        assert metadata["lompo_reference_provisional"] is True
        assert metadata["lompo_profile"] == "smoke" and metadata["lompo_seed"] == 0
        assert metadata["lompo_kind"] in ds_id and "medium point" in metadata["lompo_split_rule"]
        assert metadata["code_permalink"].startswith("lompo-bench")
        assert metadata["algorithm_name"].startswith("SAC")
        assert metadata["jpeg_encoding"] is False
        resolved = json.loads(json.dumps(generation_config(TASK, "smoke").to_dict()))
        assert json.loads(metadata["lompo_generation_config"]) == resolved
        assert (root / ds_id / "sac_expert.zip").exists()
        assert dataset.recover_environment().unwrapped.task_spec.name == TASK
    env.close()


def test_dataset_pixels_equal_a_live_replay_of_its_actions(smoke_run, monkeypatch) -> None:
    """Pen starts in the same state every episode, so replaying the recorded actions live must reproduce the
    dataset's frames bit for bit: physics recorded without pixels, rendered afterwards, equals live rendering."""
    _, root, _, _ = smoke_run
    _use_datasets_root(monkeypatch, root)
    env = make_task(TASK)
    for ds_id in IDS:
        ep = next(iter(minari.load_dataset(ds_id).iterate_episodes()))
        obs, _ = env.reset(seed=123)
        np.testing.assert_array_equal(obs["pixels"], ep.observations["pixels"][0])
        for t, action in enumerate(ep.actions):
            obs, reward, *_ = env.step(action)
            np.testing.assert_array_equal(obs["pixels"], ep.observations["pixels"][t + 1], err_msg=f"{ds_id} t={t}")
            np.testing.assert_array_equal(obs["state"], ep.observations["state"][t + 1])
            assert reward == ep.rewards[t]
    env.close()


def test_same_seed_gives_identical_datasets(smoke_run, tmp_path, monkeypatch) -> None:
    _, _, _, contents = smoke_run
    _use_datasets_root(monkeypatch, tmp_path / "minari")
    generate(TASK, profile="smoke", seed=0, workers=2, out=tmp_path / "work")  # two workers: order-independent
    _assert_same_contents(_contents(IDS), contents)


def test_interrupted_write_is_invisible_and_a_rerun_matches(smoke_run, tmp_path, monkeypatch) -> None:
    _, _, _, contents = smoke_run
    _use_datasets_root(monkeypatch, tmp_path / "minari")
    original = pipeline.write_dataset

    def dies_half_way(ds_id, *args, **kwargs):
        if ds_id == IDS[1]:  # the second dataset: the first is finished, the second is being written
            episodes = args[3]
            next(iter(episodes))
            raise KeyboardInterrupt("killed while writing")
        return original(ds_id, *args, **kwargs)

    monkeypatch.setattr(pipeline, "write_dataset", dies_half_way)
    with pytest.raises(KeyboardInterrupt):
        generate(TASK, profile="smoke", seed=0, workers=1, out=tmp_path / "work")
    assert set(minari.list_local_datasets()) == {IDS[0]}  # the half-written one is not visible
    monkeypatch.setattr(pipeline, "write_dataset", original)
    generate(TASK, profile="smoke", seed=0, workers=1, out=tmp_path / "work")
    _assert_same_contents(_contents(IDS), contents)


def test_killed_process_resumes_and_matches(smoke_run, tmp_path, monkeypatch) -> None:
    """A real SIGKILL once training has finished; the rerun skips training and finishes the rest."""
    _, _, _, contents = smoke_run
    env = {**os.environ, "MINARI_DATASETS_PATH": str(tmp_path / "minari")}
    _use_datasets_root(monkeypatch, tmp_path / "minari")
    work = tmp_path / "work"
    command = [
        sys.executable,
        "-m",
        "lompo_bench.cli",
        "generate",
        "--env",
        TASK,
        "--profile",
        "smoke",
        "--workers",
        "1",
        "--out",
        str(work),
    ]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    done = work / TASK / "smoke-seed0" / "train" / "done.json"
    deadline = time.monotonic() + 120
    while not done.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert done.exists()
    trained = done.read_text()
    generate(TASK, profile="smoke", seed=0, workers=1, out=work)
    assert done.read_text() == trained  # training was not redone
    _assert_same_contents(_contents(IDS), contents)


def _hdf5_digests(root: Path, dataset_ids: list[str]) -> dict[str, str]:
    """sha256 of each dataset's `main_data.hdf5` (its steps; the metadata beside it names the code's commit)."""
    return {
        ds_id: hashlib.sha256((root / ds_id / "data" / "main_data.hdf5").read_bytes()).hexdigest()
        for ds_id in dataset_ids
    }


# Seed 4 is a smoke run whose medium point leaves two episodes before it and two after, and whose generator's
# first and second permutations of two start differently: drawn first (alone, as before issue 20's fix) and drawn
# after medium-replay (as in every `--kind all` run), medium-expert gets different episodes.
SEED_THAT_TELLS_DRAWS_APART = 4


def test_a_kind_written_alone_is_byte_identical_to_the_all_kinds_one(tmp_path, monkeypatch) -> None:
    from lompo_bench.dataset_gen.recording import EpisodeStore
    from lompo_bench.dataset_gen.splits import split_training_episodes, trim_to_size

    seed, medium_expert, expert = SEED_THAT_TELLS_DRAWS_APART, IDS[1], IDS[2]
    _use_datasets_root(monkeypatch, tmp_path / "all")
    generate(TASK, profile="smoke", seed=seed, workers=1, out=tmp_path / "work-all")
    every_kind = _hdf5_digests(tmp_path / "all", IDS)
    run = tmp_path / "work-all" / TASK / f"smoke-seed{seed}"
    splits = json.loads((run / "splits.json").read_text())
    episodes = EpisodeStore(run / "train" / "recording", "train").episodes
    _, after = split_training_episodes(episodes, splits["lompo_medium_point"])
    drawn_first = trim_to_size(
        after, generation_config(TASK, "smoke").sizes["medium-expert"], np.random.default_rng(seed)
    )
    assert [[r.source, r.chunk, r.index] for r in drawn_first] != splits["medium-expert"], (
        f"seed {seed} no longer tells a first draw from the all-kinds one: this test would pass on the old code"
    )

    # One kind alone, then the work folder resumed with another kind alone.
    _use_datasets_root(monkeypatch, tmp_path / "alone")
    generate(TASK, kinds="medium-expert", profile="smoke", seed=seed, workers=1, out=tmp_path / "work-alone")
    generate(TASK, kinds="expert", profile="smoke", seed=seed, workers=1, out=tmp_path / "work-alone")
    assert _hdf5_digests(tmp_path / "alone", [medium_expert, expert]) == {
        ds_id: every_kind[ds_id] for ds_id in (medium_expert, expert)
    }


def test_a_render_of_other_episodes_left_by_an_interrupted_run_is_not_reused(smoke_run, tmp_path, monkeypatch) -> None:
    """An interrupted run that drew other medium-expert episodes leaves frames of those (its `episodes.json` naming
    them). A resumed `--kind all` run renders them again."""
    _, _, _, contents = smoke_run
    _use_datasets_root(monkeypatch, tmp_path / "minari")
    work = tmp_path / "work"
    original_trim, original_write = pipeline.trim_kinds, pipeline.write_dataset

    def other_medium_expert(candidates, sizes, seed):
        drawn = original_trim(candidates, sizes, seed)
        others = [ref for ref in candidates["medium-expert"] if ref not in drawn["medium-expert"]]
        return drawn | {"medium-expert": others[:1]}

    def killed(*args, **kwargs):
        raise KeyboardInterrupt("killed before writing")

    monkeypatch.setattr(pipeline, "trim_kinds", other_medium_expert)
    monkeypatch.setattr(pipeline, "write_dataset", killed)
    with pytest.raises(KeyboardInterrupt):
        generate(TASK, kinds="medium-expert", profile="smoke", seed=0, workers=1, out=work)
    stale = work / TASK / "smoke-seed0" / "render" / "medium-expert"
    assert (stale / "done").exists()
    monkeypatch.setattr(pipeline, "trim_kinds", original_trim)
    monkeypatch.setattr(pipeline, "write_dataset", original_write)
    generate(TASK, profile="smoke", seed=0, workers=1, out=work)
    _assert_same_contents(_contents(IDS), contents)


DCLAW = "dclaw_screw"
DCLAW_IDS = [dataset_id(DCLAW, kind, "smoke") for kind in KINDS]


@pytest.fixture(scope="module")
def dclaw_run(tmp_path_factory: pytest.TempPathFactory):
    """One uninterrupted D'Claw smoke generation (400 SAC steps, episodes of 100, a checkpoint every 200, an
    evaluation after each episode); yields (datasets root, work folder)."""
    root = tmp_path_factory.mktemp("minari-dclaw")
    work = tmp_path_factory.mktemp("work-dclaw")
    with pytest.MonkeyPatch.context() as mp:
        _use_datasets_root(mp, root)
        generate(DCLAW, profile="smoke", seed=0, workers=1, out=work)
    yield root, work


def _recording(work: Path) -> dict[str, dict[str, np.ndarray]]:
    """Every chunk of SAC training's recording (all training episodes, not only those a dataset drew)."""
    out = {}
    for path in sorted((work / DCLAW / "smoke-seed0" / "train" / "recording").glob("chunk_*.npz")):
        with np.load(path) as data:
            out[path.name] = {key: data[key] for key in data.files}
    return out


@pytest.mark.parametrize(
    "kill, resumed_from",
    [
        (("step", 250), 200),  # mid-episode, between two checkpoints (a kill soon after the log shows 200/400)
        (("log", 300), 200),  # as the log shows 300/400: at an episode's end, after its evaluation
        (("expert choice", None), 400),  # training done, the expert being chosen
    ],
    ids=["step-250", "log-300", "expert-choice"],
)
def test_generation_killed_during_sac_training_resumes_to_byte_identical_datasets(
    dclaw_run, tmp_path, monkeypatch, kill, resumed_from
) -> None:
    """Issue 33: a resumed SAC training used to record other episodes than an uninterrupted one (its checkpoint,
    taken inside SB3's step, missed the step's transition, gradient update and episode count, and the resumed run
    drew from reseeded random generators and restarted the task's episode sequence), so a resumed `generate` wrote
    other data under the same ids. Killed at each point, then rerun: the same recording, summary and datasets."""
    from lompo_bench import seeds
    from lompo_bench.dataset_gen import experts

    whole_root, whole_work = dclaw_run
    _use_datasets_root(monkeypatch, tmp_path / "minari")
    work = tmp_path / "work"
    how, at = kill
    with pytest.MonkeyPatch.context() as patch:
        if how == "step":
            original_step = experts.RecordingStateEnv.step

            def step(env, action):
                if env.recorder is not None and env.recorder.directory.name == "recording" and env.agent_steps == at:
                    raise KeyboardInterrupt(f"killed before agent step {at + 1}")
                return original_step(env, action)

            patch.setattr(experts.RecordingStateEnv, "step", step)
        if how == "expert choice":
            original_evaluate = experts.evaluate

            def evaluate(model, env, episodes, seed, **kwargs):
                if seed == seeds.EXPERT_CHOICE:
                    raise KeyboardInterrupt("killed while choosing the expert")
                return original_evaluate(model, env, episodes, seed, **kwargs)

            patch.setattr(experts, "evaluate", evaluate)
        progress = KillAt("train SAC", at) if how == "log" else None
        with pytest.raises(KeyboardInterrupt):
            generate(DCLAW, profile="smoke", seed=0, workers=1, out=work, progress=progress)
    train = work / DCLAW / "smoke-seed0" / "train"
    assert not (train / "done.json").exists()
    # The rerun resumes from a checkpoint, not from the start.
    assert json.loads((train / "checkpoint" / "state.json").read_text())["num_timesteps"] == resumed_from

    generate(DCLAW, profile="smoke", seed=0, workers=1, out=work)
    whole, resumed = _recording(whole_work), _recording(work)
    assert whole.keys() == resumed.keys()
    for chunk in whole:
        for key in whole[chunk]:
            np.testing.assert_array_equal(resumed[chunk][key], whole[chunk][key], err_msg=f"{chunk} {key}")
    done = [w / DCLAW / "smoke-seed0" / "train" / "done.json" for w in (whole_work, work)]
    summaries = [json.loads(path.read_text()) for path in done]
    for summary in summaries:
        del summary["training_seconds"]
    assert summaries[1] == summaries[0]
    assert _hdf5_digests(tmp_path / "minari", DCLAW_IDS) == _hdf5_digests(whole_root, DCLAW_IDS)


def test_ablation_mixes_three_runs_and_subsamples(tmp_path, monkeypatch) -> None:
    from lompo_bench.dataset_gen.config import ABLATION_RUNS, ablation_dataset_id
    from lompo_bench.dataset_gen.pipeline import generate_ablation

    _use_datasets_root(monkeypatch, tmp_path / "minari")
    sizes = generate_ablation(profile="smoke", seed=0, workers=1, out=tmp_path / "work", keep_render_cache=True)
    render = tmp_path / "work" / "dclaw_screw" / "smoke-seed0" / "render"
    assert sorted(p.name for p in render.iterdir()) == ["ablation-div1", "ablation-div25", "ablation-div5"]  # kept
    # Rerun with every dataset written: nothing is rendered, and now the cache goes.
    assert generate_ablation(profile="smoke", seed=0, workers=1, out=tmp_path / "work") == sizes
    assert not render.exists()
    full, div5, div25 = (ablation_dataset_id(f, "smoke") for f in (1, 5, 25))
    assert list(sizes) == [full, div5, div25]
    assert sizes[full] >= generation_config("dclaw", "smoke").ablation_size
    assert sizes[full] >= sizes[div5] >= sizes[div25] > 0
    for seed in range(ABLATION_RUNS):  # three separate SAC runs
        assert (tmp_path / "work" / "dclaw_screw" / f"smoke-seed{seed}" / "train" / "done.json").exists()
    for ds_id in sizes:
        dataset = minari.load_dataset(ds_id)
        assert dataset.total_steps == sizes[ds_id]
        assert dataset.storage.metadata["lompo_ablation_runs"] == ABLATION_RUNS


def test_training_killed_after_a_checkpoint_resumes_from_it(tmp_path, monkeypatch) -> None:
    from lompo_bench.dataset_gen import experts
    from lompo_bench.dataset_gen.recording import EpisodeStore

    _use_datasets_root(monkeypatch, tmp_path / "minari")
    config = generation_config(TASK, "smoke")  # 4 episodes of 50 steps, evaluations after each, checkpoint at 100
    original = experts.evaluate

    def killed_at_step_150(model, env, episodes, seed, **kwargs):
        if seed == 10_000 + 150:
            raise KeyboardInterrupt("killed during training")
        return original(model, env, episodes, seed, **kwargs)

    monkeypatch.setattr(experts, "evaluate", killed_at_step_150)
    with pytest.raises(KeyboardInterrupt):
        experts.train_expert(config, tmp_path / "run", seed=0)
    train = tmp_path / "run" / "train"
    assert (train / "checkpoint" / "state.json").exists() and not (train / "done.json").exists()
    assert json.loads((train / "checkpoint" / "state.json").read_text())["num_timesteps"] == 100
    monkeypatch.setattr(experts, "evaluate", original)
    summary = experts.train_expert(config, tmp_path / "run", seed=0)
    assert [step for step, _ in summary["evals"]] == [50, 100, 150, 200]
    starts = [ref.start_step for ref in EpisodeStore(train / "recording", "train").episodes]
    assert starts == [0, 50, 100, 150]  # nothing lost, nothing twice
    assert not (train / "checkpoint").exists()  # the replay buffer is dropped once training is done


def test_the_paper_profile_renders_dclaw_pen_and_door_at_128_px_and_everything_else_at_64() -> None:
    """The official code's networks follow the image size (64 px: 4 conv layers, 128 px: 5) and Appendix C gives
    D'Claw, Pen and Door 5 layers: their paper-profile frames are 128 px; Walker's, and every cpu and smoke
    profile's frames (a departure for cost), 64 px."""
    from lompo_bench import task_names
    from lompo_bench.dataset_gen.config import PAPER_DATASET_SIZE

    paper = {task: generation_config(task, "paper").image_size for task in PAPER_DATASET_SIZE}
    assert paper == {"walker_walk": 64, "dclaw_screw": 128, "adroit_pen": 128, "door_open": 128}
    for profile in ("cpu", "smoke"):
        assert {generation_config(task, profile).image_size for task in task_names()} == {64}


def test_frames_are_rendered_declared_and_described_at_the_configs_image_size(tmp_path, monkeypatch) -> None:
    """A 128 px config (the paper profile's D'Claw, Pen and Door) renders 128 px frames, the live task's, declares
    them in the dataset's observation space and says so in its description (here the smoke profile's Pen made
    128 px, for speed)."""
    _use_datasets_root(monkeypatch, tmp_path / "minari")
    large = dataclasses.replace(generation_config(TASK, "smoke"), image_size=128)
    monkeypatch.setattr(pipeline, "generation_config", lambda task, profile: large)
    report = generate(TASK, kinds="expert", profile="smoke", seed=0, workers=1, out=tmp_path / "work")
    (ds_id,) = report.datasets
    dataset = minari.load_dataset(ds_id)
    env = make_task(TASK, image_size=128)
    assert dataset.observation_space == env.observation_space
    episode = next(iter(dataset.iterate_episodes()))
    assert episode.observations["pixels"].shape == (len(episode.actions) + 1, 128, 128, 3)
    first, _ = env.reset(seed=123)  # Pen starts in the same state every episode
    np.testing.assert_array_equal(first["pixels"], episode.observations["pixels"][0])
    env.close()
    metadata = dataset.storage.metadata
    assert "128x128 pixels" in metadata["description"] and "64x64" not in metadata["description"]
    assert json.loads(metadata["lompo_generation_config"])["image_size"] == 128


def test_bad_kinds_and_workers_fail_before_any_work(tmp_path) -> None:
    from lompo_bench.errors import UserError

    for kwargs in ({"workers": 0}, {"kinds": ("expert", "best")}, {"kinds": "best"}):
        with pytest.raises(UserError):
            generate(TASK, profile="smoke", out=tmp_path, **kwargs)
    assert not (tmp_path / TASK / "smoke-seed0" / "train").exists()


def test_the_expert_is_the_better_of_the_final_and_the_best_evaluated_policy(smoke_run) -> None:
    from stable_baselines3 import SAC

    from lompo_bench.dataset_gen.experts import evaluate

    report, _, work, _ = smoke_run
    train_dir = next(work.rglob("train/done.json")).parent
    summary = json.loads((train_dir / "done.json").read_text())
    assert (train_dir / "best.zip").exists()  # saved at the best evaluation during training
    assert summary["expert_return"] >= summary["final_policy_return"]
    assert summary["expert_source"] == "final" or summary["expert_source"].startswith("best evaluation (step ")
    assert report.expert_return == summary["expert_return"]
    # expert.zip is the chosen policy: re-evaluated on the same episodes it scores the expert return.
    env = make_task(TASK, pixels=False)
    episodes = max(10, generation_config(TASK, "smoke").eval_episodes)
    returns = evaluate(SAC.load(train_dir / "expert.zip", device="cpu"), env, episodes, seed=20_000)
    env.close()
    assert float(np.mean(returns)) == pytest.approx(summary["expert_return"])
