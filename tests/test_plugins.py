"""Algorithms from outside the package and policies trained anywhere: the example plugin (examples/tiny_bc) goes
through train, evaluate, runs, report and reproduce exactly as a built-in, found as an installed entry point or as
a module on the path; plugins that fail or fall short are one line each and never hide the built-ins; and
`lompo_bench.evaluate_policy` scores any policy as the built-ins are scored."""

from __future__ import annotations

import importlib.metadata
import json
import os
import pickle
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import lompo_bench
from lompo_bench import get_task_spec, seeds
from lompo_bench.algorithms import evaluation, registry
from lompo_bench.algorithms.registry import ENTRY_POINT_GROUP, check_algorithm, list_algorithms, resolve
from lompo_bench.cli import app
from lompo_bench.data.ids import dataset_id
from lompo_bench.errors import UserError
from lompo_bench.leaderboard.reproduce import plan, run_job
from lompo_bench.paths import run_dir
from tests.helpers import write_synthetic_dataset

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "tiny_bc"
PEN = dataset_id("adroit_pen", "expert", "smoke")  # a Table I dataset of the smoke profile
CLAW = "test/dclaw_screw/policy-v0"  # random starts and proprio: where the evaluation seeds matter
LARGE = "test/adroit_pen/frames128-v0"  # 128 px frames, as the paper profile's Pen
runner = CliRunner()


def _lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def datasets(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("minari")
    references = {"ref_min_score": -500.0, "ref_max_score": 5000.0}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MINARI_DATASETS_PATH", str(root))
        write_synthetic_dataset(PEN, [20, 25], learnable=True,
                                metadata={"lompo_kind": "expert", "lompo_profile": "smoke", **references})  # fmt: skip
        write_synthetic_dataset(CLAW, [10], task="dclaw_screw", metadata=references)
        write_synthetic_dataset(LARGE, [20, 25], image_size=128, metadata=references)
    return root


@pytest.fixture
def env(datasets, tmp_path, monkeypatch) -> Path:
    """The datasets, a fresh home, and the example package's folder on the path (as PYTHONPATH would put it)."""
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(datasets))
    monkeypatch.setenv("LOMPO_BENCH_HOME", str(tmp_path / "home"))
    monkeypatch.syspath_prepend(str(EXAMPLE))
    return tmp_path / "home" / "runs"


def _install(monkeypatch, **points: str) -> None:
    """Pretend packages declaring these entry points (name -> value) are installed."""
    real = importlib.metadata.entry_points
    fake = importlib.metadata.EntryPoints(
        importlib.metadata.EntryPoint(name, value, ENTRY_POINT_GROUP) for name, value in points.items()
    )

    def entry_points(**params):
        return fake if params.get("group") == ENTRY_POINT_GROUP else real(**params)

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)


def _example_entry_point() -> dict[str, str]:
    """The entry points the example's own pyproject.toml declares (what `pip install` would register)."""
    project = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())["project"]
    return project["entry-points"][ENTRY_POINT_GROUP]


def test_the_example_package_declares_its_algorithm_under_its_name() -> None:
    points = _example_entry_point()
    assert points == {"tiny_bc": "tiny_bc"} and (EXAMPLE / "tiny_bc.py").exists()


def test_an_installed_plugin_is_listed_with_its_origin_and_a_broken_one_hides_nothing(env, monkeypatch) -> None:
    _install(monkeypatch, **_example_entry_point(), broken="no_such_plugin_module", bc="tiny_bc")
    result = runner.invoke(app, ["algos"], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    lines = [line.split(maxsplit=1) for line in _lines(result.output) if not line.startswith(("profiles", "your"))]
    assert [name for name, text in lines if text.startswith("built-in:")] == registry.algorithm_names()
    (tiny,) = [text for name, text in lines if name == "tiny_bc"]
    assert tiny.startswith("entry point tiny_bc = tiny_bc") and "example plugin" in tiny
    (broken,) = [text for name, text in lines if name == "broken"]
    assert broken.startswith("BROKEN") and "ModuleNotFoundError" in broken
    assert [s.error for s in list_algorithms() if s.name == "bc" and s.origin != "built-in"] == [
        "never loaded: bc is a built-in algorithm's name"
    ]
    assert resolve("bc")[0].__name__ == "lompo_bench.algorithms.bc"  # a package can never replace a built-in
    result = runner.invoke(app, ["train", "--algo", "broken", "--dataset", PEN, "--profile", "smoke"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    (line,) = _lines(result.output)
    assert "entry point broken = no_such_plugin_module" in line and "failed to import" in line
    assert not env.exists()  # nothing written


def test_a_module_that_falls_short_of_the_contract_is_one_line_naming_what_it_lacks(env, tmp_path, monkeypatch):
    package = tmp_path / "outside"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "half.py").write_text(
        "NAME = 'half'\nPROFILES = {'smoke': 1, 'cpu': 2}\n"
        "def make_config(profile, **overrides):\n    return PROFILES[profile]\n"
        "def train(*, dataset_id, task, config, folder, seed, device):\n    return {}\n"
    )
    (package / "mimic.py").write_text((EXAMPLE / "tiny_bc.py").read_text().replace('NAME = "tiny_bc"', 'NAME = "bc"'))
    (package / "renamed.py").write_text((EXAMPLE / "tiny_bc.py").read_text().replace('"tiny_bc"', '"other"'))
    monkeypatch.syspath_prepend(str(tmp_path))
    result = runner.invoke(app, ["train", "--algo", "outside.half", "--dataset", PEN, "--profile", "smoke"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    (line,) = _lines(result.output)
    assert "outside.half is not a lompo-bench algorithm" in line
    assert "PROFILES['paper']" in line and "load_policy()" in line and "'profile'" in line  # train lacks profile
    with pytest.raises(UserError, match="a built-in algorithm's name"):
        resolve("outside.mimic")  # its runs would be filed and reported as BC's
    _install(monkeypatch, tiny="outside.renamed")
    with pytest.raises(UserError, match="entry point tiny = outside.renamed.*NAME is 'other'"):
        resolve("tiny")
    with pytest.raises(UserError, match="no module 'nowhere'"):
        resolve("nowhere.algo")
    with pytest.raises(UserError, match="has no 'ALGO'"):
        resolve("outside.half:ALGO")
    for name in ("bc", "lompo"):  # the built-ins pass the same load-time check
        assert check_algorithm(registry.get_algorithm(name), name) is registry.get_algorithm(name)
    assert not env.exists()


def test_the_example_plugin_trains_evaluates_lists_and_reports_like_a_built_in(env, tmp_path, monkeypatch) -> None:
    _install(monkeypatch, **_example_entry_point())
    args = ["--algo", "tiny_bc", "--dataset", PEN, "--profile", "smoke", "--device", "cpu"]
    result = runner.invoke(app, ["train", *args])
    assert result.exit_code == 0, result.output
    assert f"tiny_bc on {PEN} (smoke, seed 0): return" in result.output
    folder = run_dir("tiny_bc", PEN, "smoke", 0, env)
    record = json.loads((folder / "result.json").read_text())
    assert record["algo"] == "tiny_bc" and record["episodes"] == 1 and record["normalized_score"] is not None
    assert {"config.json", "checkpoint.pt", "metrics.csv"} <= {p.name for p in folder.iterdir()}
    again = runner.invoke(app, ["train", *args])  # a finished run is resumed, not retrained
    assert again.exit_code == 0 and json.loads((folder / "result.json").read_text()) == record

    result = runner.invoke(app, ["evaluate", *args, "--episodes", "2"])
    assert result.exit_code == 0, result.output
    assert json.loads((folder / "evaluation.json").read_text())["episodes"] == 2
    result = runner.invoke(app, ["runs"])
    (line,) = [line for line in result.output.splitlines() if "tiny_bc" in line]
    assert "done" in line and "train 30/30" in line

    result = runner.invoke(app, ["report", "--profile", "smoke", "--to", str(tmp_path / "lb")])
    assert result.exit_code == 0, result.output
    header = next(line for line in result.output.splitlines() if line.startswith("| Environment"))
    assert header.endswith("| CQL | BC | tiny_bc (not in the paper) |")  # the paper's five first, then ours
    pen = next(line for line in result.output.splitlines() if line.startswith("| Adroit Pen | expert"))
    assert f"{record['normalized_score']:.1f}†" in pen.split("|")[-2]  # our score alone: the paper has none
    claims = (tmp_path / "lb" / "claims.md").read_text()
    assert "tiny_bc" not in claims  # the paper's claims stay about the paper's algorithms

    result = runner.invoke(app, ["reproduce", "--plan", "--profile", "smoke", "--env", "pen", "--kind", "expert",
                                 "--algo", "tiny_bc", "--seeds", "2"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"[done] train tiny_bc on {PEN} (smoke, seed 0)" in result.output
    assert f"[todo] train tiny_bc on {PEN} (smoke, seed 1)" in result.output


def test_a_plugin_named_by_module_path_runs_the_same_on_a_fresh_worker(env, monkeypatch) -> None:
    """`--algo package.module` travels with its jobs as that path: a worker (a fresh process, as on Ray) resolves
    it to the same algorithm, and the record lands where `report` reads it, under the algorithm's NAME."""
    from lompo_bench.leaderboard.cluster import _record_path, run_on_worker

    monkeypatch.syspath_prepend(str(REPO))  # examples/ as a namespace package
    spec = "examples.tiny_bc.tiny_bc"
    (job,) = [j for j in plan("smoke", tasks=["pen"], algos=[spec], seeds=1, kinds=["expert"]) if j.action == "train"]
    assert (job.algo, job.algo_module) == ("tiny_bc", spec)
    assert f"lompo-bench train --algo {spec} --dataset {PEN}" in job.command()
    code = ("import pickle, sys; from lompo_bench.algorithms.registry import resolve;"
            " job = pickle.loads(sys.stdin.buffer.read()); module, source = resolve(job.algo_reference);"
            " print(module.NAME, source.reference)")  # fmt: skip
    fresh = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}  # the path: its cwd only
    worker = subprocess.run([sys.executable, "-c", code], input=pickle.dumps(job), capture_output=True, cwd=REPO,
                            check=True, env=fresh)  # fmt: skip
    assert worker.stdout.decode().split() == ["tiny_bc", spec]
    kind, record = run_on_worker(job, env, "cpu", run_job)  # the Ray task's body, with the job function it gets
    assert kind == "record" and record["algo"] == "tiny_bc"
    assert _record_path(env, job) == run_dir("tiny_bc", PEN, "smoke", 0, env) / "result.json"
    assert json.loads(_record_path(env, job).read_text()) == record


class _Recorder:
    """A policy trained "elsewhere": zero actions, remembering what it was shown."""

    def __init__(self, action_dim: int) -> None:
        self.action_dim, self.keys, self.resets = action_dim, set(), 0

    def reset(self) -> None:
        self.resets += 1

    def act(self, observation: dict) -> np.ndarray:
        self.keys |= set(observation)
        return np.zeros(self.action_dim, np.float32)


def test_evaluate_policy_scores_any_policy_with_the_built_ins_episodes_and_seeds(env) -> None:
    policy = _Recorder(9)
    record = lompo_bench.evaluate_policy(policy, CLAW, algo="mine", seed=3, episodes=2, profile="cpu")
    assert record["algo"] == "mine" and record["task"] == "dclaw_screw" and record["episodes"] == 2
    assert policy.keys == {"pixels", "proprio"} and policy.resets == 2  # never the low-dimensional state
    # The same reset seeds as a built-in run of seed 3 (D'Claw starts at random: other seeds give other returns).
    same = evaluation.evaluate_policy(_Recorder(9), "dclaw_screw", 2, seeds.evaluation_seed(3))
    other = evaluation.evaluate_policy(_Recorder(9), "dclaw_screw", 2, seeds.evaluation_seed(4))
    assert record["returns"] == same and record["returns"] != other
    assert record["normalized_score"] == pytest.approx(100 * (np.mean(same) + 500) / 5500)
    as_callable = lompo_bench.evaluate_policy(lambda observation: np.zeros(9), CLAW, algo="mine", seed=3, episodes=2)
    assert as_callable["returns"] == same and as_callable["profile"] == "paper"  # the dataset names no profile

    path = lompo_bench.write_result(record, env)
    assert path == run_dir("mine", CLAW, "cpu", 3, env) / "result.json"
    with pytest.raises(UserError, match="already holds a result"):
        lompo_bench.write_result(record, env)
    assert lompo_bench.write_result(record, env, overwrite=True) == path
    result = runner.invoke(app, ["runs"])
    (line,) = [line for line in result.output.splitlines() if "mine" in line]
    assert "done" in line


def test_evaluate_policy_refuses_bad_input_in_one_line_and_writes_nothing(env) -> None:
    with pytest.raises(UserError, match=r"shape \(5,\); dclaw_screw takes actions of shape \(9,\)"):
        lompo_bench.evaluate_policy(lambda observation: np.zeros(5), CLAW, algo="mine", episodes=1)
    with pytest.raises(UserError, match="no dataset"):
        lompo_bench.evaluate_policy(_Recorder(9), "test/dclaw_screw/missing-v0", algo="mine", episodes=1)
    with pytest.raises(UserError, match="built-in algorithm's name"):
        lompo_bench.evaluate_policy(_Recorder(9), CLAW, algo="bc", episodes=1)
    with pytest.raises(UserError, match="a policy is a callable"):
        lompo_bench.evaluate_policy(object(), CLAW, algo="mine", episodes=1)
    with pytest.raises(UserError, match="NaN"):
        lompo_bench.evaluate_policy(lambda observation: np.full(9, np.nan), CLAW, algo="mine", episodes=1)
    assert not env.exists()


class _ZeroPolicy(torch.nn.Module):
    def __init__(self, action_dim: int) -> None:
        super().__init__()
        self.action_dim = action_dim

    def forward(self, pixels: torch.Tensor, proprio: torch.Tensor) -> torch.Tensor:
        return torch.zeros(self.action_dim) * pixels.float().mean()


@pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")  # torch 2.13 deprecates TorchScript; still read
def test_evaluate_policy_command_scores_a_saved_torch_policy_and_files_it_for_report(env, tmp_path) -> None:
    good, wrong, junk = tmp_path / "zero_policy.pt", tmp_path / "wrong.pt", tmp_path / "junk.pt"
    torch.jit.save(torch.jit.script(_ZeroPolicy(9)), good)
    torch.jit.save(torch.jit.script(_ZeroPolicy(4)), wrong)
    junk.write_text("not a model")
    base = ["evaluate-policy", "--dataset", CLAW, "--episodes", "1"]
    for command in (
        [*base[:1], str(wrong), *base[1:]],  # wrong action shape
        [*base[:1], str(junk), *base[1:]],  # not TorchScript
        [*base[:1], str(tmp_path / "none.pt"), *base[1:]],  # no file
        [*base[:1], str(good), "--dataset", "test/dclaw_screw/missing-v0"],
        [*base[:1], str(good), *base[1:], "--algo", "lompo"],
        [*base[:1], str(good), *base[1:], "--episodes", "0"],
    ):
        result = runner.invoke(app, command)
        assert result.exit_code == 2 and "Traceback" not in result.output, (command, result.output)
        assert len(_lines(result.stderr)) == 1, (command, result.output)  # (after "evaluation: started" or not)
    assert not env.exists()  # nothing written by any of them
    result = runner.invoke(app, [*base[:1], str(good), *base[1:]])
    assert result.exit_code == 0, result.output
    path = run_dir("zero_policy", CLAW, "paper", 0, env) / "result.json"
    assert f"written: {path}" in result.output and json.loads(path.read_text())["algo"] == "zero_policy"
    again = runner.invoke(app, [*base[:1], str(good), *base[1:]])
    assert again.exit_code == 2 and "already holds a result" in again.output
    exported = tmp_path / "exported.pt2"  # torch.export's format, TorchScript's successor
    example = (torch.zeros(64, 64, 3, dtype=torch.uint8), torch.zeros(27))
    torch.export.save(torch.export.export(_ZeroPolicy(9), example), exported)
    result = runner.invoke(app, [*base[:1], str(exported), *base[1:], "--seed", "1"])
    assert result.exit_code == 0, result.output
    assert json.loads((run_dir("exported", CLAW, "paper", 1, env) / "result.json").read_text())["returns"] == (
        evaluation.evaluate_policy(_Recorder(9), "dclaw_screw", 1, seeds.evaluation_seed(1))
    )


class _SizeChecked:
    """Zero actions, checking that every frame it is shown is `size` pixels a side."""

    def __init__(self, size: int, action_dim: int) -> None:
        self.size, self.action_dim, self.steps = size, action_dim, 0

    def reset(self) -> None:
        pass

    def act(self, observation: dict) -> np.ndarray:
        assert observation["pixels"].shape == (self.size, self.size, 3), observation["pixels"].shape
        self.steps += 1
        return np.zeros(self.action_dim, np.float32)


def test_a_policy_is_evaluated_at_the_frame_size_of_the_dataset_it_was_trained_on(env, monkeypatch) -> None:
    """128 px datasets (the paper profile's D'Claw, Pen and Door) are evaluated at 128 px: the evaluation itself,
    an outside policy's, and a run's final evaluation, its evaluations during training and `evaluate`'s; a run
    saved before the frame size was recorded is evaluated at 64 px, the size of every dataset then."""
    from lompo_bench.algorithms import runs

    large, small = _SizeChecked(128, 24), _SizeChecked(64, 24)
    evaluation.evaluate_policy(large, "adroit_pen", 1, seeds.evaluation_seed(0), image_size=128)
    evaluation.evaluate_policy(small, "adroit_pen", 1, seeds.evaluation_seed(0))  # the default: 64 px
    assert large.steps == small.steps == get_task_spec("adroit_pen").episode_length
    outside = _SizeChecked(128, 24)
    lompo_bench.evaluate_policy(outside, LARGE, algo="mine", episodes=1)
    assert outside.steps > 0

    sizes = []  # the size of every pixel env the run's evaluations make
    real = lompo_bench.tasks.make_task

    def recording(name: str, **kwargs):
        if kwargs.get("pixels", True):
            sizes.append(kwargs.get("image_size", 64))
        return real(name, **kwargs)

    monkeypatch.setattr(lompo_bench.tasks, "make_task", recording)
    _install(monkeypatch, **_example_entry_point())
    args = ["--algo", "tiny_bc", "--dataset", LARGE, "--profile", "smoke", "--device", "cpu"]
    for command in (["train", *args], ["evaluate", *args, "--episodes", "1"]):
        result = runner.invoke(app, command)
        assert result.exit_code == 0, result.output
    assert sizes == [128, 128]  # the final evaluation, then `evaluate`'s
    folder = run_dir("tiny_bc", LARGE, "smoke", 0, env)
    config_path = folder / "config.json"
    assert json.loads(config_path.read_text())["image_size"] == 128
    during = _SizeChecked(128, 24)
    runs.RunState(folder, step=0).evaluate(during, "adroit_pen", 1, seed=0, step=1)
    assert during.steps > 0
    saved = json.loads(config_path.read_text())
    del saved["image_size"]  # as a run saved before the frame size was
    config_path.write_text(json.dumps(saved))
    assert runs.run_image_size(folder) == 64
