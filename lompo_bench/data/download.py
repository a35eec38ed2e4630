"""Sharing datasets: `datasets pack` writes an archive and a manifest entry; `download` fetches and installs one.
`fetch_dataset` is what the `download` command calls: it picks the source (a Minari remote, `remote.py`, or an HTTP
mirror, here) and fetches from it.

Manifest (`manifest.json` at the server's base URL), format version 1:

    {"format_version": 1,
     "datasets": [{"id": "lompo/walker_walk/expert-v0", "url": "lompo__walker_walk__expert-v0.tar",
                   "size": 1234, "sha256": "...", "format_version": 1}]}

`url` is absolute or relative to the base URL. The archive is a tar of the dataset folder (`<id>/data/...` and
the expert policy; never the local cache). A download resumes with HTTP Range from a partial file kept under
`<datasets root>/.downloads/`, is checked against the manifest's size and sha256, and is unpacked into a hidden
folder that is renamed into place: a partial download is never visible as a dataset. Archives with absolute
paths, `..`, links or members outside the dataset's own folder are refused.
"""

from __future__ import annotations

import json
import os
import tarfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lompo_bench.data.cache import LEGACY_CACHE_DIR, file_sha256
from lompo_bench.data.metadata import ensure_namespaces
from lompo_bench.data.store import dataset_path, datasets_root, is_dataset
from lompo_bench.errors import UserError
from lompo_bench.files import atomic_dir, atomic_file

FORMAT_VERSION = 1
BASE_URL_ENV = "LOMPO_BENCH_DATA_URL"
MANIFEST = "manifest.json"
_BLOCK = 1 << 20

ByteProgress = Callable[[int, int], None]  # (bytes done, bytes total)


class DownloadError(UserError):
    """Network failure, missing file on the server, size or checksum mismatch, unsafe archive."""


def archive_name(dataset_id: str) -> str:
    return dataset_id.replace("/", "__") + ".tar"


def base_url(flag: str | None) -> str:
    """The server to download from: the flag, else $LOMPO_BENCH_DATA_URL. lompo-bench runs no server of its own."""
    url = flag or os.environ.get(BASE_URL_ENV)
    if not url:
        raise UserError(
            f"no dataset server given: pass --base-url URL or set {BASE_URL_ENV} "
            "(anyone can host datasets made with `lompo-bench datasets pack`)"
        )
    return url.rstrip("/") + "/"


# -- pack -----------------------------------------------------------------------------------------------------------
def pack(dataset_id: str, out_dir: Path) -> dict[str, Any]:
    """Write `<out_dir>/<id with / as __>.tar` and add (or replace) its entry in `<out_dir>/manifest.json`."""
    source = dataset_path(dataset_id)
    out_dir.mkdir(parents=True, exist_ok=True)
    archive = out_dir / archive_name(dataset_id)
    with atomic_file(archive) as tmp, tarfile.open(tmp, "w") as tar:
        for path in sorted(source.rglob("*")):
            relative = path.relative_to(source)
            # Not a read cache an older lompo-bench kept inside, nor its lock or a half-built one.
            if relative.parts[0].lstrip(".").startswith(LEGACY_CACHE_DIR) or not path.is_file():
                continue
            tar.add(path, arcname=f"{dataset_id}/{relative.as_posix()}", recursive=False)
    entry = {
        "id": dataset_id,
        "url": archive.name,
        "size": archive.stat().st_size,
        "sha256": file_sha256(archive),
        "format_version": FORMAT_VERSION,
    }
    manifest_path = out_dir / MANIFEST
    manifest = {"format_version": FORMAT_VERSION, "datasets": []}
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text())
    manifest["datasets"] = [d for d in manifest["datasets"] if d["id"] != dataset_id] + [entry]
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    return entry


# -- download -------------------------------------------------------------------------------------------------------
def _open(url: str, headers: dict[str, str] | None = None, timeout: float = 30.0):
    request = urllib.request.Request(url, headers=headers or {})
    try:
        return urllib.request.urlopen(request, timeout=timeout)  # noqa: S310  (http(s) URLs the user gave)
    except urllib.error.HTTPError as error:
        if error.code == 404:
            raise DownloadError(f"{url} was not found on the server (HTTP 404)") from None
        raise DownloadError(f"{url}: HTTP {error.code} {error.reason}") from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise DownloadError(f"network failure fetching {url}: {reason}") from None


def fetch_manifest(base: str) -> dict[str, Any]:
    url = urllib.parse.urljoin(base, MANIFEST)
    with _open(url) as response:
        try:
            manifest = json.loads(response.read())
        except ValueError:
            raise DownloadError(f"{url} is not a JSON manifest") from None
    if not isinstance(manifest, dict):
        raise DownloadError(f"{url} is not a manifest: a JSON object with format_version and datasets")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise DownloadError(f"{url}: manifest format {manifest.get('format_version')}, this lompo-bench reads 1")
    _check_entries(url, manifest.get("datasets"))
    return manifest


# What each manifest entry must hold, and of which type (a bool is no size).
_ENTRY_FIELDS = {"id": str, "url": str, "size": int, "sha256": str}


def _check_entries(url: str, entries: Any) -> None:
    """One line naming the first malformed entry of a manifest's `datasets` list, before anything is fetched."""
    if not isinstance(entries, list):
        raise DownloadError(f"{url}: the manifest's datasets is not a list")
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise DownloadError(f"{url}: manifest entry {index} is not an object")
        for name, kind in _ENTRY_FIELDS.items():
            value = entry.get(name)
            if not isinstance(value, kind) or isinstance(value, bool):
                raise DownloadError(
                    f"{url}: manifest entry {index} ({entry.get('id', 'no id')!r}) has no valid {name!r}: "
                    f"a {kind.__name__} is needed, not {value!r}"
                )
        if entry["size"] < 0 or len(entry["sha256"]) != 64 or not all(c in "0123456789abcdef" for c in entry["sha256"]):
            raise DownloadError(f"{url}: manifest entry {index} ({entry['id']!r}) has a bad size or sha256")


def _fetch_resumable(url: str, target: Path, size: int, progress: ByteProgress | None) -> None:
    """Download into `target`, continuing a partial file with a Range request; stops at `size` bytes."""
    have = target.stat().st_size if target.exists() else 0
    if have > size:
        target.unlink()
        have = 0
    if have == size:
        return
    headers = {"Range": f"bytes={have}-"} if have else {}
    with _open(url, headers) as response:
        if have and response.status != 206:  # the server ignored the range: start over
            have = 0
        with open(target, "ab" if have else "wb") as f:
            done = have
            try:
                while block := response.read(_BLOCK):
                    f.write(block)
                    done += len(block)
                    if progress is not None:
                        progress(done, size)
            except (OSError, urllib.error.URLError) as error:
                raise DownloadError(
                    f"network failure fetching {url} at byte {done}: {error}; rerun to resume"
                ) from None
    got = target.stat().st_size
    if got < size:
        raise DownloadError(f"connection closed at byte {got} of {size} fetching {url}; rerun to resume")
    if got > size:
        target.unlink()
        raise DownloadError(f"{url} is larger than the manifest says ({got} > {size} bytes)")


def _safe_members(tar: tarfile.TarFile, dataset_id: str) -> list[tarfile.TarInfo]:
    members = tar.getmembers()
    for member in members:
        name = member.name
        if name.startswith("/") or ".." in Path(name).parts:
            raise DownloadError(f"refusing archive member {name!r}: absolute path or '..'")
        if not (member.isfile() or member.isdir()):
            raise DownloadError(f"refusing archive member {name!r}: links and devices are not allowed")
        if not (name == dataset_id or name.startswith(dataset_id + "/")):
            raise DownloadError(f"refusing archive member {name!r}: outside the dataset's folder {dataset_id}")
    return members


def download(dataset_id: str, base: str | None = None, progress: ByteProgress | None = None) -> Path:
    """Fetch dataset `dataset_id` from the server's manifest and install it where Minari looks."""
    server = base_url(base)
    manifest = fetch_manifest(server)
    entry = next((d for d in manifest.get("datasets", []) if d.get("id") == dataset_id), None)
    if entry is None:
        known = ", ".join(d.get("id", "?") for d in manifest.get("datasets", [])) or "none"
        raise DownloadError(f"{dataset_id!r} is not in {server}{MANIFEST} (it lists: {known})")
    root = datasets_root()
    final = root / dataset_id
    if is_dataset(final):
        return final
    downloads = root / ".downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    partial_file = downloads / f"{entry['sha256']}.partial"
    _fetch_resumable(urllib.parse.urljoin(server, entry["url"]), partial_file, int(entry["size"]), progress)
    if file_sha256(partial_file) != entry["sha256"]:
        partial_file.unlink()
        raise DownloadError(f"checksum mismatch for {dataset_id}: the file is corrupt and was deleted; rerun")
    final.parent.mkdir(parents=True, exist_ok=True)
    # A refused archive is deleted like a corrupt one: its checksum matched, so fetching it again gives the same.
    try:
        with atomic_dir(final) as staging, tarfile.open(partial_file) as tar:
            members = _safe_members(tar, dataset_id)
            for member in members:  # `<id>/data/...` in the archive, `data/...` in the dataset's folder
                member.name = member.name[len(dataset_id) + 1 :]
            tar.extractall(staging, members=[m for m in members if m.name], filter="data")
            if not is_dataset(staging):
                raise DownloadError(f"{dataset_id}: the archive holds no Minari dataset")
    except (tarfile.TarError, DownloadError) as error:
        partial_file.unlink()
        if isinstance(error, DownloadError):
            raise
        raise DownloadError(f"{dataset_id}: the archive cannot be unpacked: {error}") from None
    partial_file.unlink()
    ensure_namespaces(dataset_id)
    return final


# -- the source of `lompo-bench download` ---------------------------------------------------------------------------
def choose_source(dataset_id: str, remote: str | None = None, base: str | None = None) -> tuple[str, str | None]:
    """Where `download` fetches `dataset_id` from, in order: a full hf://... or gcp://... id's own remote, `remote`,
    `base`, $MINARI_REMOTE, $LOMPO_BENCH_DATA_URL. ("minari", the remote) or ("http", `base`: None means
    $LOMPO_BENCH_DATA_URL); `UserError` for both flags, or for no source at all."""
    from lompo_bench.data.remote import split_full_id

    if base and remote:
        raise UserError("give either --remote (a Minari remote) or --base-url (an HTTP mirror), not both")
    full_remote, _ = split_full_id(dataset_id)
    use_remote = full_remote or remote or (None if base else os.environ.get("MINARI_REMOTE"))
    if use_remote:
        return "minari", use_remote  # a full id's own remote wins
    if not (base or os.environ.get(BASE_URL_ENV)):
        raise UserError(
            f"no source for {dataset_id}: give a full id (hf://<org>/{dataset_id}), --remote hf://<org>, "
            f"--base-url URL, or set MINARI_REMOTE or {BASE_URL_ENV}"
        )
    return "http", base


def fetch_dataset(
    dataset_id: str,
    remote: str | None = None,
    base: str | None = None,
    progress: ByteProgress | None = None,
    say: Callable[[str], None] | None = None,
) -> Path:
    """`lompo-bench download`: fetch `dataset_id` from the source `choose_source` picks and install it where Minari
    looks; returns its folder. `say` hears which Minari remote is used; `progress` follows an HTTP download."""
    kind, where = choose_source(dataset_id, remote, base)
    if kind == "minari":
        from lompo_bench.data import remote as minari_remote

        if say is not None:
            say(f"fetching {dataset_id} through Minari from {where}")
        return minari_remote.download(dataset_id, where)
    return download(dataset_id, where, progress=progress)
