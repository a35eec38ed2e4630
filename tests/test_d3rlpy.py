"""d3rlpy on the benchmark (`lompo_bench.adapters.d3rlpy`): our dataset as d3rlpy's, transition for transition, and
a d3rlpy policy scored by our evaluation, from the trained algorithm and from its saved TorchScript file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("d3rlpy", reason="d3rlpy is an extra: pip install 'lompo-bench[d3rlpy]'")

import gymnasium as gym  # noqa: E402
import torch  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

import lompo_bench  # noqa: E402
from lompo_bench.adapters.d3rlpy import import_d3rlpy, policy_from_d3rlpy, to_mdp_dataset  # noqa: E402
from lompo_bench.cli import app  # noqa: E402
from lompo_bench.data.writer import write_minari_dataset  # noqa: E402
from lompo_bench.errors import UserError  # noqa: E402
from lompo_bench.paths import run_dir  # noqa: E402
from lompo_bench.records import read_record  # noqa: E402

# torch 2.13 deprecates TorchScript, which d3rlpy's save_policy writes and the adapter reads
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")

PEN = "test/adroit_pen/d3rlpy-v0"  # 50-step episodes: a short evaluation; proprioception the adapter leaves out
LENGTHS = [6, 4, 5]
TERMINATED = 1  # the one episode that terminates; the others are truncated
runner = CliRunner()


def code(episode: int, t: int) -> int:
    """Every pixel of observation t of episode e: never 0, so d3rlpy's zero padding is told apart."""
    return 10 + 20 * episode + t


def _step_values(episode: int, n: int, action_dim: int) -> tuple[np.ndarray, np.ndarray]:
    actions = (episode / 10 + np.arange(n)[:, None] / 100 + np.arange(action_dim)[None, :] / 1000).astype(np.float32)
    return actions, (1000.0 * episode + np.arange(n)).astype(np.float32)


@pytest.fixture(scope="module")
def datasets(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("minari")
    env = lompo_bench.make_task("adroit_pen")
    spaces, action_dim = env.observation_space.spaces, env.action_space.shape[0]

    def episodes():
        for e, n in enumerate(LENGTHS):
            actions, rewards = _step_values(e, n, action_dim)
            observations = {
                "pixels": np.array([np.full(spaces["pixels"].shape, code(e, t), np.uint8) for t in range(n + 1)]),
                "proprio": np.full((n + 1, spaces["proprio"].shape[0]), 7.0, np.float32),
                "state": np.full((n + 1, spaces["state"].shape[0]), 250.0, np.float32),  # a value no pixel has
            }
            ends = np.arange(n) == n - 1
            yield {"observations": observations, "actions": actions, "rewards": rewards,
                   "terminations": ends & (e == TERMINATED), "truncations": ends & (e != TERMINATED)}  # fmt: skip

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MINARI_DATASETS_PATH", str(root))
        spec = gym.spec(lompo_bench.get_task_spec("adroit_pen").gym_id)
        write_minari_dataset(PEN, spec, env.observation_space, env.action_space, episodes(), {})
    env.close()
    return root


@pytest.fixture
def env(datasets, tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(datasets))
    monkeypatch.setenv("LOMPO_BENCH_HOME", str(tmp_path / "home"))
    return tmp_path / "home" / "runs"


def _stacked(episode: int, t: int, frames: int) -> np.ndarray:
    """What the adapter documents: frames t - frames + 1 .. t of the episode, oldest first, zeros before its start."""
    values = [code(episode, k) if k >= 0 else 0 for k in range(t - frames + 1, t + 1)]
    return np.concatenate([np.full((3, 64, 64), v, np.uint8) for v in values])


def test_the_dataset_is_ours_transition_for_transition_with_episodes_apart_and_no_state(env) -> None:
    action_dim = lompo_bench.make_task("adroit_pen", pixels=False).action_space.shape[0]
    for frames, in_memory in ((3, False), (1, False), (3, True)):
        dataset = to_mdp_dataset(PEN, frame_stack=frames, in_memory=in_memory)
        info = dataset.dataset_info
        assert info.observation_signature.shape == [(3, 64, 64)] and info.action_size == action_dim
        assert [len(episode.observations) for episode in dataset.episodes] == LENGTHS  # not the N + 1-th
        # a terminated episode keeps all its transitions; a truncated one d3rlpy's N - 1 (no next observation)
        counts = [n if e == TERMINATED else n - 1 for e, n in enumerate(LENGTHS)]
        assert dataset.transition_count == sum(counts)
        for e, (episode, n) in enumerate(zip(dataset.episodes, LENGTHS, strict=True)):
            assert episode.terminated == (e == TERMINATED) and episode.transition_count == counts[e]
            actions, rewards = _step_values(e, n, action_dim)
            for t in range(episode.transition_count):
                transition = dataset.transition_picker(episode, t)
                assert isinstance(transition.observation, np.ndarray)  # pixels alone: no tuple, no state
                assert transition.observation.dtype == np.uint8
                np.testing.assert_array_equal(transition.observation, _stacked(e, t, frames))
                np.testing.assert_array_equal(transition.action, actions[t])
                assert transition.reward.tolist() == [rewards[t]]
                terminal = e == TERMINATED and t == n - 1
                assert transition.terminal == float(terminal)
                expected_next = np.zeros((3 * frames, 64, 64), np.uint8) if terminal else _stacked(e, t + 1, frames)
                np.testing.assert_array_equal(transition.next_observation, expected_next)
    with pytest.raises(UserError, match="frame_stack"):
        to_mdp_dataset(PEN, frame_stack=0)
    with pytest.raises(UserError):
        to_mdp_dataset("test/adroit_pen/missing-v0")


def test_a_tiny_d3rlpy_bc_is_scored_from_the_algorithm_and_from_its_saved_policy(env, tmp_path) -> None:
    d3rlpy = import_d3rlpy()
    torch.manual_seed(0)
    dataset = to_mdp_dataset(PEN, frame_stack=3)
    bc = d3rlpy.algos.BCConfig(
        batch_size=4,
        encoder_factory=d3rlpy.models.encoders.PixelEncoderFactory(filters=[[4, 8, 8]], feature_size=8),
        observation_scaler=d3rlpy.preprocessing.PixelObservationScaler(),
    ).create(device="cpu")
    bc.fit(dataset, n_steps=4, n_steps_per_epoch=4, logger_adapter=d3rlpy.logging.NoopAdapterFactory(),
           show_progress=False)  # fmt: skip
    bc.save_policy(str(tmp_path / "bc.pt"))
    policy, saved = policy_from_d3rlpy(bc), policy_from_d3rlpy(tmp_path / "bc.pt")
    assert policy.frame_stack == saved.frame_stack == 3  # read from the algorithm and from the file

    # The policies see what training saw: the dataset's stacked observation at each step, zeros before the start.
    episode = dataset.episodes[2]
    for each in (policy, saved):
        each.reset()
        for t in range(4):
            action = each.act({"pixels": np.full((64, 64, 3), code(2, t), np.uint8), "proprio": np.zeros(24)})
            expected = bc.predict(dataset.transition_picker(episode, t).observation[None])[0]
            assert action.dtype == np.float32 and np.all(np.abs(action) <= 1)
            np.testing.assert_allclose(action, expected, atol=1e-5)

    record = lompo_bench.evaluate_policy(policy, PEN, algo="d3rlpy_bc", seed=0, episodes=1)
    assert record["episodes"] == 1 and record["algo"] == "d3rlpy_bc"
    result = runner.invoke(app, ["evaluate-policy", str(tmp_path / "bc.pt"), "--format", "d3rlpy", "--dataset", PEN,
                                 "--algo", "d3rlpy_bc", "--episodes", "1"])  # fmt: skip
    assert result.exit_code == 0, result.output
    path = run_dir("d3rlpy_bc", PEN, "paper", 0, env) / "result.json"
    written = read_record(path)
    assert written["returns"] == pytest.approx(record["returns"])  # same episodes, same actions
    assert written["code_version"] == "d3rlpy saved policy bc.pt"

    bc.save(str(tmp_path / "bc.d3"))  # d3rlpy's own save of the whole algorithm reads back too
    assert policy_from_d3rlpy(tmp_path / "bc.d3").frame_stack == 3


def test_bad_input_is_one_line(env, tmp_path) -> None:
    d3rlpy = import_d3rlpy()
    dataset = to_mdp_dataset(PEN, frame_stack=2)
    bc = d3rlpy.algos.BCConfig(
        encoder_factory=d3rlpy.models.encoders.PixelEncoderFactory(filters=[[4, 8, 8]], feature_size=8)
    ).create(device="cpu")
    with pytest.raises(UserError, match="not built"):
        policy_from_d3rlpy(bc)
    bc.build_with_dataset(dataset)
    with pytest.raises(UserError, match="a stack of 2 frames"):
        policy_from_d3rlpy(bc, frame_stack=3)
    with pytest.raises(UserError, match="not a list"):
        policy_from_d3rlpy([])
    with pytest.raises(UserError, match="no d3rlpy policy file"):
        policy_from_d3rlpy(tmp_path / "missing.pt")
    bc.save_policy(str(tmp_path / "two.pt"))
    (tmp_path / "junk.pt").write_text("not a model")
    base = ["evaluate-policy", "--dataset", PEN, "--episodes", "1"]
    for command in (
        [*base[:1], str(tmp_path / "junk.pt"), *base[1:], "--format", "d3rlpy"],  # not TorchScript
        [*base[:1], str(tmp_path / "two.pt"), *base[1:], "--format", "d3rlpy", "--frame-stack", "3"],  # 2 frames
        [*base[:1], str(tmp_path / "two.pt"), *base[1:], "--format", "d3rlpy", "--frame-stack", "0"],
        [*base[:1], str(tmp_path / "two.pt"), *base[1:], "--format", "onnx"],
        [*base[:1], str(tmp_path / "two.pt"), *base[1:], "--frame-stack", "2"],  # for --format d3rlpy only
        [*base[:1], str(tmp_path / "two.pt"), *base[1:]],  # a d3rlpy file read as our torch format
    ):
        result = runner.invoke(app, command)
        assert result.exit_code == 2 and "Traceback" not in result.output, (command, result.output)
        assert len([line for line in result.stderr.splitlines() if line.strip()]) == 1, (command, result.output)
    assert not env.exists()  # nothing written by any of them


def test_without_d3rlpy_the_error_says_how_to_install_it_and_its_import_prints_no_gym_banner(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "d3rlpy", None)  # what a missing package looks like to `import`
    with pytest.raises(UserError, match=r"pip install 'lompo-bench\[d3rlpy\]'"):
        import_d3rlpy()
    monkeypatch.undo()
    code = "from lompo_bench.adapters.d3rlpy import import_d3rlpy; import_d3rlpy()"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "Gym has been unmaintained" not in done.stderr + done.stdout, done.stderr
