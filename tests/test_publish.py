"""Minari's own tools and our datasets: complete metadata, namespaces, `datasets publish` to a Minari remote and
`download` from one (a local fake of the remote's storage: see `fake_remote.py` for what is real and what is not),
and the smoke profile on every task."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lompo_bench.cli import app
from lompo_bench.data.ids import KINDS, dataset_id
from lompo_bench.data.remote import publish_checks
from lompo_bench.data.store import local_dataset_ids, read_metadata
from lompo_bench.dataset_gen.pipeline import generate
from tests import fake_remote
from tests.helpers import write_synthetic_dataset

runner = CliRunner()
LIBRARIES = {"walker_walk": "dm-control", "dclaw_screw": None, "door_open": "metaworld"}


def _refused(result) -> None:
    """Exit 2 with what is wrong (one line per problem found), never a traceback."""
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.mark.parametrize("task", ["walker_walk", "dclaw_screw", "door_open"])  # Pen: `pen_root` below
def test_smoke_generation_works_on_every_task_and_passes_publish_checks(task, tmp_path, monkeypatch) -> None:
    from minari.namespace import get_namespace_metadata, list_local_namespaces

    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    report = generate(task, profile="smoke", seed=0, workers=1, out=tmp_path / "work")
    assert sorted(report.datasets) == sorted(dataset_id(task, kind, "smoke") for kind in KINDS)
    for ds_id in report.datasets:
        assert publish_checks(ds_id, {"docs_url": "https://example.org/docs"}) == []
        metadata = read_metadata(ds_id)
        assert metadata["author"] == ["lompo-bench tests"] and metadata["author_email"]
        assert metadata["num_episodes_average_score"] == 10 and metadata["lompo_ref_min_episodes"] == 100
        wanted = {"lompo-bench", "mujoco"} | ({LIBRARIES[task]} if LIBRARIES[task] else set())
        assert {r.split("==")[0] for r in metadata["requirements"]} == wanted
    assert {"lompo", f"lompo/{task}"} <= set(list_local_namespaces())
    assert "Rafailov" in get_namespace_metadata("lompo")["citation"]
    assert task in get_namespace_metadata(f"lompo/{task}")["description"]


@pytest.fixture(scope="module")
def pen_root(tmp_path_factory) -> tuple[Path, str]:
    """A Minari root holding a smoke Pen expert dataset; tests copy it before changing anything."""
    root = tmp_path_factory.mktemp("pen") / "minari"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MINARI_DATASETS_PATH", str(root))
        report = generate("pen", kinds=("expert",), profile="smoke", workers=1, out=root.parent / "work")
    (ds_id,) = report.datasets
    return root, ds_id


@pytest.fixture
def pen(pen_root, tmp_path, monkeypatch) -> str:
    root, ds_id = pen_root
    shutil.copytree(root, tmp_path / "minari")
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    return ds_id


def test_minari_list_shows_our_datasets_with_their_author(pen) -> None:
    from minari.cli import app as minari_app

    result = CliRunner().invoke(minari_app, ["list", "local"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert pen in result.output and "lompo-bench tests" in result.output


def test_publish_check_shows_what_would_be_sent_and_changes_nothing(pen) -> None:
    before = read_metadata(pen)
    result = runner.invoke(app, ["datasets", "publish", pen, "--remote", "hf://our-org", "--check"])
    assert result.exit_code == 0, result.output
    assert "checks passed" in result.output
    for sent in ("data/main_data.hdf5", "data/metadata.json", "sac_expert.zip"):
        assert sent in result.output
    assert "cache" not in result.output
    assert "docs_url (missing) will be set to 'https://huggingface.co/datasets/our-org/lompo'" in result.output
    assert read_metadata(pen) == before


def test_publish_refuses_what_minari_or_a_reader_could_not_use(pen, tmp_path) -> None:
    from lompo_bench.data.store import dataset_path

    result = runner.invoke(app, ["datasets", "publish", pen, "--remote", "s3://bucket", "--check"])
    _refused(result)
    assert "not a Minari remote" in result.output

    write_synthetic_dataset("lompo/adroit_pen/synthetic-v0", [6, 5])  # no reference scores, no algorithm
    result = runner.invoke(
        app, ["datasets", "publish", "lompo/adroit_pen/synthetic-v0", "--remote", "hf://o", "--check"]
    )
    _refused(result)
    assert "metadata has no ref_max_score" in result.output and "metadata has no algorithm_name" in result.output

    legacy = dataset_path(pen) / "lompo_cache"
    legacy.mkdir()
    (legacy / "pixels.npy").write_bytes(b"0" * 10)
    result = runner.invoke(app, ["datasets", "publish", pen, "--remote", "hf://o", "--check"])
    _refused(result)
    assert "lompo_cache/pixels.npy is not part of the dataset" in result.output
    shutil.rmtree(legacy)

    # A namespace we describe is made before the upload (a dataset of an older lompo-bench has none); one we
    # cannot describe is refused.
    (dataset_path(pen).parent / "namespace_metadata.json").unlink()
    result = runner.invoke(app, ["datasets", "publish", pen, "--remote", "hf://o", "--check"])
    assert result.exit_code == 0 and "namespace lompo/adroit_pen (no metadata yet) will be described" in result.output
    write_synthetic_dataset("someone/adroit_pen/synthetic-v0", [6])
    result = runner.invoke(
        app, ["datasets", "publish", "someone/adroit_pen/synthetic-v0", "--remote", "hf://o", "--check"]
    )
    _refused(result)
    assert "namespace 'someone' has no description" in result.output


def test_publish_then_download_through_a_minari_remote(pen, tmp_path, monkeypatch) -> None:
    import minari

    fake_remote.install(monkeypatch, tmp_path / "buckets")
    result = runner.invoke(app, ["datasets", "publish", pen, "--remote", "hf://our-org", "--yes"])
    assert result.exit_code == 0, result.output
    bucket = tmp_path / "buckets" / "our-org"
    assert (bucket / pen / "data" / "main_data.hdf5").exists() and (bucket / pen / "sac_expert.zip").exists()
    assert json.loads((bucket / "lompo" / "namespace_metadata.json").read_text())["citation"]
    assert (bucket / "lompo" / "adroit_pen" / "namespace_metadata.json").exists()
    assert read_metadata(pen)["docs_url"] == "https://huggingface.co/datasets/our-org/lompo"
    source = tmp_path / "minari" / pen / "data" / "main_data.hdf5"

    again = runner.invoke(app, ["datasets", "publish", pen, "--remote", "hf://our-org", "--yes"])
    _refused(again)
    assert "already holds" in again.output

    # A full remote id, into an empty Minari root: installed, verified, namespaces with it, data identical.
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "elsewhere"))
    result = runner.invoke(app, ["download", f"hf://our-org/{pen}"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "elsewhere" / pen / "data" / "main_data.hdf5").read_bytes() == source.read_bytes()
    assert minari.load_dataset(pen).total_steps == 50
    namespace = json.loads((tmp_path / "elsewhere" / "lompo" / "namespace_metadata.json").read_text())
    assert "Rafailov" in namespace["citation"]
    assert runner.invoke(app, ["datasets", "verify", pen]).exit_code == 0
    assert not list((tmp_path / "elsewhere" / ".downloads").glob("minari-*"))

    # The configured Minari remote, as `minari download` itself uses it.
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "third"))
    monkeypatch.setenv("MINARI_REMOTE", "hf://our-org")
    result = runner.invoke(app, ["download", pen])
    assert result.exit_code == 0, result.output
    assert local_dataset_ids() == [pen]

    missing = runner.invoke(app, ["download", "lompo/adroit_pen/nothing-v0"])
    _refused(missing)
    assert "Couldn't find any version" in missing.output


def test_interrupted_or_bad_remote_download_never_looks_installed(pen, tmp_path, monkeypatch) -> None:
    import minari

    fake_remote.install(monkeypatch, tmp_path / "buckets")
    assert runner.invoke(app, ["datasets", "publish", pen, "--remote", "hf://org", "--yes"]).exit_code == 0
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "new"))

    fake_remote.FolderStorage.fail_after_files = 1  # metadata.json arrives, main_data.hdf5 does not
    result = runner.invoke(app, ["download", f"hf://org/{pen}"])
    _refused(result)
    assert "ConnectionError" in result.output
    assert local_dataset_ids() == [] and minari.list_local_datasets() == {}
    assert not list((tmp_path / "new" / ".downloads").glob("minari-*"))
    assert runner.invoke(app, ["download", f"hf://org/{pen}"]).exit_code == 0  # the rerun completes it
    assert local_dataset_ids() == [pen]

    # A remote copy whose files disagree with its metadata fails `datasets verify` and is not installed.
    metadata_file = tmp_path / "buckets" / "org" / pen / "data" / "metadata.json"
    metadata = json.loads(metadata_file.read_text())
    metadata["total_steps"] += 1
    metadata_file.write_text(json.dumps(metadata))
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "newer"))
    result = runner.invoke(app, ["download", f"hf://org/{pen}"])
    _refused(result)
    assert "failed its checks" in result.output and local_dataset_ids() == []


def test_download_without_a_source_says_where_one_comes_from(monkeypatch) -> None:
    monkeypatch.delenv("LOMPO_BENCH_DATA_URL", raising=False)
    result = runner.invoke(app, ["download", "lompo/walker_walk/expert-v0"])
    _refused(result)
    assert "--remote hf://<org>" in result.output and "LOMPO_BENCH_DATA_URL" in result.output
    both = runner.invoke(app, ["download", "x/y-v0", "--remote", "hf://o", "--base-url", "http://127.0.0.1:1/"])
    _refused(both)
    bad = runner.invoke(app, ["download", "hf://"])
    _refused(bad)
