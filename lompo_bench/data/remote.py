"""Minari remotes (`hf://<org>`, `gcp://<bucket>`): `download` through `minari.download_dataset`, and `datasets
publish` through `minari.upload_dataset`, with our checks around both.

Minari resolves a remote from a full id (`hf://<org>/<namespace>/<name>-vN`) or `$MINARI_REMOTE`, but some of its
calls (namespace metadata, upload) read only `$MINARI_REMOTE`; we set it for the duration of each call, so one
remote is used throughout.

A download goes into a hidden staging root (`<datasets root>/.downloads/minari-<digest>/`, which Minari's listing
skips), is verified there (`datasets verify`'s checks), and only then renamed to its id: an interrupted or bad
download never looks installed. Namespace metadata that came with it is kept unless ours is already there.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from lompo_bench.data.ids import DatasetId
from lompo_bench.data.metadata import ensure_namespaces, missing_fields, missing_namespaces, namespace_metadata
from lompo_bench.data.store import dataset_path, datasets_root, is_dataset, read_metadata
from lompo_bench.errors import UserError

SCHEMES = ("hf", "gcp")
# Files a published dataset may hold besides Minari's `data/`: the SAC expert that generated it (a deliberate
# part of our datasets: `recover_environment` + this policy reproduce the expert data).
EXTRA_FILES = ("sac_expert.zip",)
NAMESPACE_FILE = "namespace_metadata.json"


class RemoteError(UserError):
    """A remote that cannot be reached, a dataset it does not hold, a download that fails its checks."""


def parse_remote(remote: str) -> str:
    """`hf://<org>` or `gcp://<bucket>`, checked; `UserError` otherwise."""
    scheme, sep, name = remote.partition("://")
    if not sep or scheme not in SCHEMES or not name or "/" in name.strip("/"):
        raise UserError(f"{remote!r} is not a Minari remote; use hf://<organisation> or gcp://<bucket>")
    return f"{scheme}://{name.strip('/')}"


def split_full_id(text: str) -> tuple[str | None, str]:
    """`hf://org/lompo/walker_walk/expert-v0` -> (`hf://org`, `lompo/walker_walk/expert-v0`); a plain id ->
    (None, id)."""
    if "://" not in text:
        return None, text
    scheme, rest = text.split("://", 1)
    name, _, dataset_id = rest.partition("/")
    if not dataset_id:
        raise UserError(f"{text!r} names a remote but no dataset (like hf://org/lompo/walker_walk/expert-v0)")
    return parse_remote(f"{scheme}://{name}"), dataset_id


@contextlib.contextmanager
def _minari_settings(remote: str, datasets: Path | None = None) -> Iterator[None]:
    """`$MINARI_REMOTE` (and `$MINARI_DATASETS_PATH` when given) set for the block, restored after."""
    wanted = {"MINARI_REMOTE": remote, **({"MINARI_DATASETS_PATH": str(datasets)} if datasets else {})}
    saved = {key: os.environ.get(key) for key in wanted}
    os.environ.update(wanted)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextlib.contextmanager
def _remote_errors(remote: str, doing: str) -> Iterator[None]:
    """Minari's and the hub clients' failures as one line each."""
    try:
        with contextlib.redirect_stdout(None):  # Minari prints "from Farama servers" whatever the remote is
            yield
    except ImportError as error:
        extra = "hf" if remote.startswith("hf://") else "gcs"
        raise RemoteError(f'{doing}: {error.name or error} is missing; pip install "minari[{extra}]"') from None
    except (UserError, KeyboardInterrupt):
        raise
    except Exception as error:  # noqa: BLE001  (network, auth and not-found errors of two client libraries)
        raise RemoteError(f"{doing} ({remote}): {type(error).__name__}: {error}") from None


def download(text: str, remote: str | None = None) -> Path:
    """Fetch `text` (a full `hf://...`/`gcp://...` id, or an id with `remote`) through Minari, verify it, and
    install it where Minari looks; returns its folder (at once if it is already installed)."""
    from lompo_bench.data.inspect import verify

    full_remote, dataset_id = split_full_id(text)
    remote = full_remote or (parse_remote(remote) if remote else None)
    if remote is None:
        raise UserError(f"no remote for {dataset_id!r}: give a full id (hf://<org>/{dataset_id}) or --remote")
    root = datasets_root()
    if is_dataset(root / dataset_id):
        return root / dataset_id
    digest = hashlib.sha256(f"{remote}/{dataset_id}".encode()).hexdigest()[:12]
    staging = root / ".downloads" / f"minari-{digest}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        import minari

        with _minari_settings(remote, staging), _remote_errors(remote, f"downloading {dataset_id}"):
            try:
                minari.download_dataset(dataset_id)
            except ValueError as error:  # Minari's "not found" / "incompatible version" messages
                raise RemoteError(f"{remote}: {error}") from None
            if not is_dataset(staging / dataset_id):
                raise RemoteError(f"{remote}/{dataset_id}: the download holds no Minari dataset")
            problems = verify(dataset_id)
        if problems:
            raise RemoteError(f"{remote}/{dataset_id} failed its checks: {'; '.join(problems[:3])}")
        _keep_namespaces(staging, root, dataset_id)
        final = root / dataset_id
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging / dataset_id, final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    ensure_namespaces(dataset_id)
    return final


def _keep_namespaces(staging: Path, root: Path, dataset_id: str) -> None:
    """Copy the namespace metadata that came with a download into the datasets root, where none is yet."""
    for namespace in DatasetId.parse(dataset_id).namespaces:
        name = Path(namespace) / NAMESPACE_FILE
        if (staging / name).exists() and not (root / name).exists():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(staging / name, root / name)


# -- publish --------------------------------------------------------------------------------------------------------
def hub_page(remote: str, dataset_id: str) -> str | None:
    """The web page of a dataset published to `remote` (Hugging Face: its repository), for `docs_url`."""
    scheme, _, name = remote.partition("://")
    if scheme != "hf":
        return None
    return f"https://huggingface.co/datasets/{name}/{DatasetId.parse(dataset_id).top}"


def metadata_to_set(dataset_id: str, supplied: dict[str, str | None]) -> dict[str, str]:
    """Of the `supplied` fields, those the dataset lacks (one it has is part of what was generated: kept)."""
    missing = set(missing_fields(read_metadata(dataset_id)))
    return {key: value for key, value in supplied.items() if value and key in missing}


def set_metadata(dataset_id: str, fields: dict[str, str]) -> None:
    """Write `fields` into the dataset's metadata (Minari keeps `author`/`author_email` as sets)."""
    from minari.dataset.minari_storage import MinariStorage

    if fields:
        sets = {key: ({value} if key in ("author", "author_email") else value) for key, value in fields.items()}
        MinariStorage.read(dataset_path(dataset_id) / "data").update_metadata(sets)


def publish_checks(dataset_id: str, to_set: dict[str, str] | None = None) -> list[str]:
    """Why `dataset_id` cannot be published yet (empty: it can): incomplete metadata (fields in `to_set` count as
    present: they are written before the upload), a namespace without metadata that we cannot describe (ours are
    created before the upload), files that are not part of the dataset, failed integrity checks."""
    from lompo_bench.data.inspect import verify

    problems = []
    for key in missing_fields({**read_metadata(dataset_id), **(to_set or {})}):
        hint = {
            "author": "--author or $LOMPO_BENCH_AUTHOR",
            "author_email": "--author-email or $LOMPO_BENCH_AUTHOR_EMAIL",
            "docs_url": "--docs-url",
        }.get(key, "regenerate it with this lompo-bench")
        problems.append(f"metadata has no {key} ({hint})")
    for name in missing_namespaces(dataset_id):
        if not namespace_metadata(name):  # ours are made before the upload (`ensure_namespaces`)
            problems.append(f"namespace {name!r} has no description (Minari's upload needs its metadata)")
    for path, _ in files_to_send(dataset_id):
        if not (path.startswith("data/") or path in EXTRA_FILES):
            problems.append(f"{path} is not part of the dataset (an old read cache? open the dataset once to move it)")
    problems += verify(dataset_id)
    return problems


def files_to_send(dataset_id: str) -> list[tuple[str, int]]:
    """(path in the dataset folder, bytes) of what an upload sends: the whole folder, as Minari's remotes do."""
    folder = dataset_path(dataset_id)
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    return [(p.relative_to(folder).as_posix(), p.stat().st_size) for p in files]


def publish(dataset_id: str, remote: str, token: str | None = None) -> None:
    """Upload through `minari.upload_dataset` (with its namespaces); the caller ran `publish_checks`. Refuses a
    dataset id the remote already holds: a published id names one content for good (bump the version)."""
    import minari

    remote = parse_remote(remote)
    with _minari_settings(remote), _remote_errors(remote, f"publishing {dataset_id}"):
        if dataset_id in minari.list_remote_datasets(remote_path=remote, prefix=dataset_id):
            raise RemoteError(f"{remote} already holds {dataset_id}; published ids never change: bump its version")
        minari.upload_dataset(dataset_id, token)
