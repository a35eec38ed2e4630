"""The speed levers (issue 13): "auto" picks per device in one place, bf16 reaches only the convolutions, every
lever trains, decoding a subset of steps estimates the full image loss without bias, models trained before the
levers keep their key, runs record what "auto" became, and `lompo-bench bench` prints its table."""

from __future__ import annotations

import dataclasses
import hashlib
import json

import pytest
import torch
from typer.testing import CliRunner

from lompo_bench.algorithms import bench, jobs, lompo, speed
from lompo_bench.algorithms.world_model_store import MODEL_FIELDS, MODEL_FORMAT
from lompo_bench.cli import app
from tests.helpers import write_synthetic_dataset

DATASET = "test/adroit_pen/speed-v0"


def smoke(task: str = "walker_walk", **overrides) -> lompo.LompoConfig:
    return bench.task_config("smoke", task, **overrides)


@pytest.mark.parametrize(
    ("flags", "kind", "auto"),
    [
        (frozenset({"avx2", "amx_bf16", "avx512_bf16"}), "cpu-amx", "bf16"),
        (frozenset({"avx2", "avx512_bf16"}), "cpu-bf16", "bf16"),
        (frozenset({"avx2"}), "cpu", "fp32"),
    ],
)
def test_auto_precision_is_bf16_only_where_the_cpu_computes_bf16_natively(monkeypatch, flags, kind, auto) -> None:
    monkeypatch.setattr(speed, "cpu_flags", lambda: flags)
    cpu = torch.device("cpu")
    assert speed.device_kind(cpu) == kind
    assert speed.resolve_precision("auto", cpu) == auto
    assert speed.resolve_precision("fp32", cpu) == "fp32" and speed.resolve_precision("bf16", cpu) == "bf16"
    assert speed.resolve_channels_last(None, cpu) is True and speed.resolve_channels_last(False, cpu) is False
    with pytest.raises(ValueError, match="precision"):
        speed.resolve_precision("fp16", cpu)


def test_bf16_reaches_the_convolutions_only(monkeypatch) -> None:
    config = smoke("dclaw_screw", precision="bf16")
    model = bench.model(config, "dclaw_screw")
    seen: dict[str, torch.dtype] = {}

    def record(name: str):
        def hook(module, inputs, output) -> None:
            seen.setdefault(name, output.dtype)

        return hook

    model.encoder.convs[0].register_forward_hook(record("encoder"))
    model.decoder.deconvs[0].register_forward_hook(record("decoder"))
    model.rssm.gru.register_forward_hook(record("gru"))
    loss, _ = model.loss(bench.synthetic_batch(config, "dclaw_screw"))
    assert seen == {"encoder": torch.bfloat16, "decoder": torch.bfloat16, "gru": torch.float32}
    assert loss.dtype == torch.float32
    assert all(p.dtype == torch.float32 for p in model.parameters())  # fp32 master weights
    fp32 = bench.model(dataclasses.replace(config, precision="fp32"), "dclaw_screw")
    fp32.encoder.convs[0].register_forward_hook(record("fp32"))
    fp32.embed(bench.synthetic_batch(config, "dclaw_screw")["pixels"][:1, :1], torch.zeros(1, 1, 27))
    assert seen["fp32"] == torch.float32


@pytest.mark.parametrize("lever", list(bench.LEVERS))
def test_every_lever_trains_the_model(lever) -> None:
    config = smoke(model_lr=2e-3, **bench.LEVERS[lever])
    model, batch = bench.model(config), bench.synthetic_batch(config)
    batch["pixels"][:] = batch["pixels"][0, 0]  # one frame everywhere: a decoder can learn it
    # 60 updates: from Keras's initialisation the loss falls 17-19% by then (8-9% at 30).
    losses = [model.update(batch)["model_loss"] for _ in range(60)]
    assert sum(losses[-5:]) < 0.9 * sum(losses[:5]), losses


def test_channels_last_keeps_the_checkpoint_and_the_function() -> None:
    plain = bench.model(smoke(precision="fp32", channels_last=False))
    nhwc = bench.model(smoke(precision="fp32", channels_last=True))
    assert nhwc.encoder.convs[0].weight.is_contiguous(memory_format=torch.channels_last)
    nhwc.load_state_dict(plain.state_dict())
    pixels = bench.synthetic_batch(smoke())["pixels"][0]
    torch.testing.assert_close(nhwc.embed(pixels), plain.embed(pixels), rtol=1e-4, atol=1e-5)


def test_decoding_a_subset_of_steps_estimates_the_full_image_loss_without_bias() -> None:
    config = smoke(precision="fp32", seq_len=8)
    model, batch = bench.model(config), bench.synthetic_batch(config)

    def mean_image_nll(fraction: float) -> float:
        torch.manual_seed(3)
        with torch.no_grad():
            return sum(model.loss(batch, fraction)[1]["image_nll"] for _ in range(200)) / 200

    full, quarter = mean_image_nll(1.0), mean_image_nll(0.25)
    assert abs(quarter - full) < 0.01 * full
    torch.manual_seed(3)
    with torch.no_grad():
        draws = {round(model.loss(batch, 0.25)[1]["image_nll"], 3) for _ in range(10)}
    assert len(draws) > 1  # the subsets really vary


def test_a_models_key_is_what_trains_it_not_how_it_computes() -> None:
    config = dataclasses.replace(smoke(), precision="fp32", decode_fraction=1.0)
    fields = {name: getattr(config, name) for name in MODEL_FIELDS}
    digest = hashlib.sha256(json.dumps({"format": MODEL_FORMAT, **fields}, sort_keys=True, default=list).encode())
    assert lompo.model_key(config) == digest.hexdigest()[:12]
    changed = ({"precision": "bf16"}, {"precision": "auto"}, {"decode_fraction": 0.5}, {"head_layers": 2},
               {"holdout": 0.05})  # fmt: skip
    for other in changed:
        assert lompo.model_key(dataclasses.replace(config, **other)) != lompo.model_key(config)
    for same in ({"channels_last": True}, {"compile": True}):  # how it computes, not what
        assert lompo.model_key(dataclasses.replace(config, **same)) == lompo.model_key(config)


def test_a_run_records_what_auto_became(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    write_synthetic_dataset(DATASET, [20, 25], learnable=True)
    folder = jobs.train_model("lompo", DATASET, profile="smoke", seed=0, device="cpu")
    recorded = json.loads((folder / "config.json").read_text())
    assert recorded["model"]["precision"] == "auto"
    assert recorded["speed"] == lompo.model_speed(smoke("adroit_pen"), torch.device("cpu"))
    assert recorded["speed"]["precision"] in ("fp32", "bf16") and recorded["speed"]["device_kind"].startswith("cpu")


def test_bench_prints_one_table_and_refuses_bad_input() -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["bench", "--profile", "smoke", "--updates", "1", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    rows = [line for line in result.output.splitlines() if line.startswith("| model update, smoke")]
    assert len(rows) == len(bench.LEVERS) - 1 + len(bench.LAYOUTS) + 1  # levers, defaults per layout, the limit
    assert all(row.split("|")[4].strip().endswith("x") for row in rows)  # a ratio against fp32 eager
    assert "| actor-critic update, smoke" in result.output and "| imagined rollouts, smoke" in result.output
    for bad in (["--profile", "huge"], ["--updates", "0"], ["--dataset", "nobody/none/none-v0"]):
        result = runner.invoke(app, ["bench", *bad])
        assert result.exit_code == 2 and result.output.count("\n") == 1, (bad, result.output)


def test_prefetched_batches_are_the_samplers_and_resume_where_it_left_off(tmp_path, monkeypatch) -> None:
    from lompo_bench.data import SequenceSampler, TorchBatches, open_cache

    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    write_synthetic_dataset(DATASET, [20, 25, 30])
    cache = open_cache(DATASET)

    def batches(prefetch: bool) -> TorchBatches:
        return TorchBatches(SequenceSampler(cache, 4, 8, seed=3), "cpu", prefetch=prefetch)

    plain, ahead = batches(False), batches(True)
    for _ in range(3):
        expected, got = plain.sample(), ahead.sample()
        assert all(torch.equal(expected[key], got[key]) for key in expected)
    state = ahead.get_state()  # taken while the 4th batch is drawn ahead: it must be drawn again after a resume
    assert state == plain.get_state()
    resumed = batches(True)
    resumed.set_state(state)
    expected = plain.sample()
    assert all(torch.equal(expected[key], value) for key, value in resumed.sample().items())
    ahead.close(), resumed.close()


def test_a_model_trained_with_prefetching_is_the_same_model(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    write_synthetic_dataset(DATASET, [20, 25], learnable=True)
    weights = []
    for prefetch in ("false", "true"):
        folder = jobs.train_model("lompo", DATASET, profile="smoke", seed=0, device="cpu",
                                  out=tmp_path / prefetch, overrides=(f"prefetch={prefetch}",))  # fmt: skip
        assert json.loads((folder / "config.json").read_text())["speed"]["prefetch"] is (prefetch == "true")
        weights.append(torch.load(folder / "model.pt", weights_only=False)["modules"])
    assert all(torch.equal(weights[0][key], weights[1][key]) for key in weights[0])
