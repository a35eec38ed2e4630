"""`datasets pack` and `download` against real HTTP servers on 127.0.0.1: healthy, dropping, corrupting."""

from __future__ import annotations

import http.server
import json
import tarfile
import threading
from io import BytesIO
from pathlib import Path

import pytest

from lompo_bench.data import SequenceSampler, open_cache
from lompo_bench.data.download import DownloadError, archive_name, download, pack
from lompo_bench.errors import UserError

from .helpers import write_synthetic_dataset

DS = "test/pen/shared-v0"


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves files from `root` with Range support; `mode` makes it drop connections or corrupt bytes."""

    root: Path
    mode = "ok"  # "ok", "drop-once" (close half-way on the first archive request), "corrupt"
    dropped = False
    ranges: list[str] = []

    def log_message(self, *args) -> None:  # keep test output quiet
        pass

    def do_GET(self) -> None:  # noqa: N802
        path = self.root / self.path.lstrip("/")
        if not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        if self.mode == "corrupt" and path.suffix == ".tar":
            data = data[:100] + bytes([data[100] ^ 0xFF]) + data[101:]
        start = 0
        if "Range" in self.headers:
            type(self).ranges.append(self.headers["Range"])
            start = int(self.headers["Range"].split("=")[1].split("-")[0])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.mode == "drop-once" and path.suffix == ".tar" and not type(self).dropped:
            type(self).dropped = True
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.connection.shutdown(2)  # the connection dies half-way
            return
        self.wfile.write(body)


@pytest.fixture()
def server(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    handler = type("Handler", (_Handler,), {"root": served, "mode": "ok", "dropped": False, "ranges": []})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield handler, served, f"http://127.0.0.1:{httpd.server_port}/"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture()
def shared(tmp_path, monkeypatch, server):
    """A dataset packed into the server's folder; then the local copy is removed (another machine)."""
    handler, served, url = server
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "here"))
    write_synthetic_dataset(DS, [50, 60])
    open_cache(DS)  # the cache must not travel
    entry = pack(DS, served)
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "elsewhere"))
    return handler, url, entry


def _archive_members(path: Path) -> list[str]:
    with tarfile.open(path) as tar:
        return tar.getnames()


def test_pack_writes_an_archive_and_manifest_without_the_cache(shared, server) -> None:
    _, served, _ = server
    _, _, entry = shared
    manifest = json.loads((served / "manifest.json").read_text())
    assert manifest["format_version"] == 1 and manifest["datasets"] == [entry]
    names = _archive_members(served / archive_name(DS))
    assert f"{DS}/data/main_data.hdf5" in names and not any("lompo_cache" in n for n in names)


def test_download_installs_a_dataset_that_trains(shared, tmp_path) -> None:
    _, url, _ = shared
    seen = []
    path = download(DS, url, progress=lambda done, total: seen.append((done, total)))
    assert path == tmp_path / "elsewhere" / DS
    assert seen[-1][0] == seen[-1][1] > 0
    batch = SequenceSampler(open_cache(DS), batch_size=2, seq_len=50).sample()
    assert batch["pixels"].shape == (2, 50, 64, 64, 3)
    assert not (tmp_path / "elsewhere" / ".downloads" / f"{shared[2]['sha256']}.partial").exists()


def test_a_dropped_connection_resumes_with_a_range_request(shared, tmp_path) -> None:
    handler, url, _ = shared
    handler.mode = "drop-once"
    with pytest.raises(DownloadError, match="rerun to resume"):
        download(DS, url)
    assert not (tmp_path / "elsewhere" / DS).exists()  # nothing visible after a partial download
    download(DS, url)
    assert handler.ranges and handler.ranges[0].startswith("bytes=") and handler.ranges[0] != "bytes=0-"
    assert (tmp_path / "elsewhere" / DS / "data" / "metadata.json").exists()


def test_a_corrupted_file_fails_the_checksum_and_is_deleted(shared, tmp_path) -> None:
    handler, url, entry = shared
    handler.mode = "corrupt"
    with pytest.raises(DownloadError, match="checksum mismatch"):
        download(DS, url)
    assert not (tmp_path / "elsewhere" / DS).exists()
    assert not (tmp_path / "elsewhere" / ".downloads" / f"{entry['sha256']}.partial").exists()
    handler.mode = "ok"
    download(DS, url)


def test_unknown_id_missing_file_and_no_server(shared, server) -> None:
    _, url, _ = shared
    _, served, _ = server
    with pytest.raises(DownloadError, match="not in"):
        download("test/pen/other-v0", url)
    (served / archive_name(DS)).unlink()
    with pytest.raises(DownloadError, match="404"):
        download(DS, url)
    with pytest.raises(DownloadError, match="network failure"):
        download(DS, "http://127.0.0.1:9/")  # the discard port: nothing listens
    with pytest.raises(UserError, match="--base-url"):
        download(DS, None)


def test_archives_escaping_the_dataset_folder_are_refused(tmp_path, monkeypatch, server) -> None:
    _, served, url = server
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "victim"))
    for bad in ("../evil.txt", "/etc/evil.txt", "other/dataset/data/x"):
        archive = served / archive_name(DS)
        with tarfile.open(archive, "w") as tar:
            info = tarfile.TarInfo(bad)
            info.size = 4
            tar.addfile(info, BytesIO(b"evil"))
        from lompo_bench.data.cache import file_sha256

        entry = {
            "id": DS,
            "url": archive.name,
            "size": archive.stat().st_size,
            "sha256": file_sha256(archive),
            "format_version": 1,
        }
        (served / "manifest.json").write_text(json.dumps({"format_version": 1, "datasets": [entry]}))
        with pytest.raises(DownloadError, match="refusing"):
            download(DS, url)
        assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "victim" / DS).exists()
        assert not list((tmp_path / "victim" / ".downloads").glob("*.partial"))  # the refused file is gone
