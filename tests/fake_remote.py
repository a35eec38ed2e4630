"""A Minari remote kept in a local folder, at the storage interface Minari itself uses.

What is real and what is faked: Minari's own `download_dataset`, `upload_dataset`, namespace handling and version
checks run unchanged, and so does all of lompo-bench; only the class behind `hf://` (Minari's `CloudStorage`, which
for Hugging Face calls `huggingface_hub` over the network) is replaced by `FolderStorage`, registered for the
scheme in `minari.storage.remotes._registry`. It keeps `hf://<name>` in `$FAKE_MINARI_BUCKETS/<name>/` with the
same layout a hub repository has: `<dataset id>/data/...` and `<namespace>/namespace_metadata.json`.
`fail_after_files` makes the next download stop with a connection error after that many files, as an interrupted
transfer would.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable
from pathlib import Path

from minari.storage.datasets_root_dir import get_dataset_path
from minari.storage.remotes.cloud_storage import CloudStorage

NAMESPACE_FILE = "namespace_metadata.json"


class FolderStorage(CloudStorage):
    fail_after_files: int | None = None  # set by a test; reset after the failure it causes

    def __init__(self, name: str, token: str | None = None) -> None:
        self.bucket = Path(os.environ["FAKE_MINARI_BUCKETS"]) / name
        self.bucket.mkdir(parents=True, exist_ok=True)

    # -- datasets ---------------------------------------------------------------------------------------------------
    def upload_dataset(self, dataset_id: str) -> None:
        shutil.copytree(get_dataset_path(dataset_id), self.bucket / dataset_id)

    def list_datasets(self, prefix: str | None = None) -> Iterable[str]:
        for metadata in sorted(self.bucket.rglob("data/metadata.json")):
            dataset_id = metadata.parent.parent.relative_to(self.bucket).as_posix()
            if prefix is None or dataset_id.startswith(prefix):
                yield dataset_id

    def get_dataset_metadata(self, dataset_id: str) -> dict:
        return json.loads((self.bucket / dataset_id / "data" / "metadata.json").read_text())

    def download_dataset(self, dataset_id: str, path: Path) -> None:
        source = self.bucket / dataset_id
        files = sorted(p for p in source.rglob("*") if p.is_file())
        for count, file in enumerate(files):
            if FolderStorage.fail_after_files is not None and count == FolderStorage.fail_after_files:
                FolderStorage.fail_after_files = None
                raise ConnectionError("connection reset by peer (injected by the test)")
            target = path / dataset_id / file.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(file, target)

    # -- namespaces -------------------------------------------------------------------------------------------------
    def list_namespaces(self) -> Iterable[str]:
        return sorted(p.parent.relative_to(self.bucket).as_posix() for p in self.bucket.rglob(NAMESPACE_FILE))

    def download_namespace_metadata(self, namespace: str, path: Path) -> None:
        (path / namespace).mkdir(parents=True, exist_ok=True)
        shutil.copy2(self.bucket / namespace / NAMESPACE_FILE, path / namespace / NAMESPACE_FILE)

    def upload_namespace(self, namespace: str) -> None:
        (self.bucket / namespace).mkdir(parents=True, exist_ok=True)
        shutil.copy2(get_dataset_path(namespace) / NAMESPACE_FILE, self.bucket / namespace / NAMESPACE_FILE)


def install(monkeypatch, buckets: Path) -> None:
    """Serve `hf://<name>` from `buckets/<name>` for the test."""
    from minari.storage import remotes

    monkeypatch.setenv("FAKE_MINARI_BUCKETS", str(buckets))
    monkeypatch.setitem(remotes._registry, "hf", lambda: FolderStorage)
