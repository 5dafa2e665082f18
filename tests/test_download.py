"""`--download` of CIFAR-10-C, offline: a local HTTP server (started here, on 127.0.0.1, with Range support)
serves a small tar in the released layout with its own MD5. Checked: the folder arrives whole and validated,
an interrupted download resumes from its .part file (the server sees the Range and sends only the rest), a
wrong checksum is one line with nothing left behind, and members that escape the folder are refused before
anything is written."""

from __future__ import annotations

import hashlib
import io
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from specreg_cli.data import download
from specreg_cli.data.cifar10c import download_cifar10c, open_cifar10c
from specreg_cli.data.datasets import load_dataset
from specreg_cli.data.download import Archive
from specreg_cli.errors import SpecregError

SPEC = "synthetic:train=64,test=8"
N = 8  # test images per severity block in the served folder


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _tar(entries: dict[str, bytes], extra=None) -> bytes:
    """A tar of ``{name: bytes}`` regular files; ``extra(tar)`` may add crafted members."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        if extra is not None:
            extra(tar)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def release_files():
    """The released layout for the first N synthetic test images: labels.npy, fog.npy and contrast.npy."""
    labels = load_dataset(SPEC, "test").labels[:N]
    rng = np.random.default_rng(0)
    files = {"labels.npy": np.tile(labels, 5).astype(np.uint8)}
    for name in ("fog", "contrast"):
        files[f"{name}.npy"] = rng.integers(0, 256, (5 * N, 32, 32, 3), dtype=np.uint8)
    return files


@pytest.fixture(scope="module")
def good_tar(release_files):
    return _tar({f"CIFAR-10-C/{name}": _npy(array) for name, array in release_files.items()})


class Server:
    """One file at /CIFAR-10-C.tar. ``cut`` bytes: the next response stops after that many body bytes (the
    connection drops); ``ignore_range``: always the whole file with 200. Logs each request's Range header
    and the body bytes it was sent."""

    def __init__(self, payload: bytes):
        self.payload, self.cut, self.ignore_range, self.log = payload, None, False, []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path != "/CIFAR-10-C.tar":
                    self.send_error(404)
                    return
                data, start = server.payload, 0
                wanted = self.headers.get("Range")
                if wanted and not server.ignore_range:
                    start = int(wanted.removeprefix("bytes=").rstrip("-"))
                    if start >= len(data):
                        self.send_error(416)
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(data) - start))
                self.end_headers()
                body = data[start:]
                if server.cut is not None:
                    body, server.cut = body[: server.cut], None
                server.log.append((wanted, len(body)))
                self.wfile.write(body)

            def log_message(self, *args):  # keep the test output clean
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/CIFAR-10-C.tar"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    def release(self, md5: str | None = None) -> Archive:
        md5 = md5 or hashlib.md5(self.payload).hexdigest()
        return Archive(self.url, md5, "CIFAR-10-C.tar", "CIFAR-10-C")

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(good_tar):
    running = Server(good_tar)
    yield running
    running.close()


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch):
    monkeypatch.setattr(download, "CHUNK_BYTES", 4096)  # many chunks per file, so a cut lands mid-file


def _leftovers(root):
    """Everything under ``root`` but the files a finished download keeps (the folder's .npy files)."""
    return sorted(
        p.relative_to(root).as_posix() for p in root.rglob("*") if "CIFAR-10-C/" not in p.as_posix()
    )


def test_download_extracts_a_validated_folder_and_drops_the_archive(server, tmp_path, release_files):
    seen = []
    folder = download_cifar10c(
        tmp_path / "CIFAR-10-C", tmp_path, lambda d, t: seen.append((d, t)), server.release()
    )
    assert folder.available() == ["fog", "contrast"]  # the released order
    for name in ("fog", "contrast"):
        assert np.array_equal(folder.array(name), release_files[f"{name}.npy"])
    assert seen[-1] == (len(server.payload), len(server.payload))
    assert _leftovers(tmp_path) == ["CIFAR-10-C"]  # no archive, .part, lock or temporary folder
    assert server.log == [(None, len(server.payload))]
    # a folder that is there is opened, not fetched again
    assert open_cifar10c(tmp_path / "CIFAR-10-C", download=True, data_dir=tmp_path).n == N
    assert len(server.log) == 1


def test_interrupted_download_resumes_from_the_part_file(server, tmp_path, release_files, monkeypatch):
    monkeypatch.setattr(download, "ATTEMPTS", 1)  # no retry within the call: the user reruns
    server.cut = 50_000
    with pytest.raises(SpecregError) as info:
        download_cifar10c(tmp_path / "c", tmp_path / "dl", release=server.release(), progress=None)
    part = tmp_path / "dl" / "CIFAR-10-C.tar.part"
    assert "interrupted" in info.value.message and "again" in info.value.hint
    kept = part.stat().st_size
    assert 0 < kept <= 50_000 and not (tmp_path / "c").exists()
    assert part.read_bytes() == server.payload[:kept]
    folder = download_cifar10c(tmp_path / "c", tmp_path / "dl", release=server.release())
    assert server.log[-1] == (f"bytes={kept}-", len(server.payload) - kept)  # only the rest was sent
    assert np.array_equal(folder.array("fog"), release_files["fog.npy"])
    assert not part.exists()


def test_a_dropped_connection_is_resumed_within_one_call(server, tmp_path):
    server.cut = 30_000
    folder = download_cifar10c(tmp_path / "c", tmp_path, release=server.release())
    assert folder.available() == ["fog", "contrast"]
    assert len(server.log) == 2 and server.log[0] == (None, 30_000) and server.log[1][0].startswith("bytes=")


def test_a_server_that_ignores_range_replaces_the_part(server, tmp_path):
    (tmp_path / "CIFAR-10-C.tar.part").write_bytes(b"x" * 1000)  # not the file's first bytes
    server.ignore_range = True
    folder = download_cifar10c(tmp_path / "c", tmp_path, release=server.release())
    assert folder.n == N and server.log == [("bytes=1000-", len(server.payload))]


def test_wrong_checksum_is_one_line_and_leaves_nothing(server, tmp_path):
    with pytest.raises(SpecregError) as info:
        download_cifar10c(tmp_path / "c", tmp_path, release=server.release(md5="0" * 32))
    assert "not the published" in info.value.message and "\n" not in str(info.value)
    assert _leftovers(tmp_path) == []


def _link(tar):
    info = tarfile.TarInfo("CIFAR-10-C/fog.npy")
    info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
    tar.addfile(info)


def _hardlink(tar):
    info = tarfile.TarInfo("CIFAR-10-C/contrast.npy")
    info.type, info.linkname = tarfile.LNKTYPE, "../../outside"
    tar.addfile(info)


def _device(tar):
    info = tarfile.TarInfo("CIFAR-10-C/dev")
    info.type = tarfile.CHRTYPE
    tar.addfile(info)


@pytest.mark.parametrize(
    "member, extra",
    [
        ("CIFAR-10-C/../evil.npy", None),  # path traversal
        ("/tmp/specreg-evil.npy", None),  # absolute
        ("elsewhere/evil.npy", None),  # outside the release's folder
        (None, _link),
        (None, _hardlink),
        (None, _device),
    ],
    ids=["dotdot", "absolute", "outside", "symlink", "hardlink", "device"],
)
def test_a_malicious_member_is_refused_before_anything_is_written(
    server, tmp_path, release_files, member, extra
):
    entries = {f"CIFAR-10-C/{name}": _npy(array) for name, array in release_files.items()}
    if member is not None:
        entries[member] = b"evil"
    server.payload = _tar(entries, extra)
    root = tmp_path / "data"
    with pytest.raises(SpecregError) as info:
        download_cifar10c(root / "CIFAR-10-C", root, release=server.release())
    assert "refused" in info.value.message and "\n" not in str(info.value)
    assert not list(tmp_path.rglob("*evil*")) and not (tmp_path / "outside").exists()
    assert _leftovers(tmp_path) == ["data", "data/CIFAR-10-C.tar"]  # the verified archive stays; no folder


def test_a_folder_with_foreign_files_is_refused(server, tmp_path, release_files):
    entries = {f"CIFAR-10-C/{name}": _npy(array) for name, array in release_files.items()}
    server.payload = _tar(entries | {"CIFAR-10-C/notes.npy": _npy(np.zeros(3))})
    with pytest.raises(SpecregError, match="not CIFAR-10-C: notes.npy"):
        download_cifar10c(tmp_path / "c", tmp_path, release=server.release())
    assert not (tmp_path / "c").exists()


def test_http_error_and_an_occupied_target_are_one_line(server, tmp_path):
    missing = Archive(server.url.replace(".tar", ".tgz"), "0" * 32, "CIFAR-10-C.tar", "CIFAR-10-C")
    with pytest.raises(SpecregError, match="HTTP 404"):
        download_cifar10c(tmp_path / "c", tmp_path, release=missing)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "mine.txt").write_text("keep me")
    with pytest.raises(SpecregError, match="exists and is not the downloaded folder"):
        open_cifar10c(tmp_path / "busy", download=True, data_dir=tmp_path, release=server.release())
    assert server.log == [] and (tmp_path / "busy" / "mine.txt").read_text() == "keep me"


def test_cifar10_download_goes_through_the_same_code(server, tmp_path, monkeypatch):
    """--download of CIFAR-10: a .tar.gz of cifar-10-batches-py in the official pickle format, MD5-checked,
    unpacked whole, then read by the reader."""
    import gzip
    import pickle

    from specreg_cli.data import cifar10

    rng = np.random.default_rng(1)
    entries, test_images = {}, None
    for name in cifar10.TRAIN_FILES + cifar10.TEST_FILES:
        images = rng.integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
        data = images.transpose(0, 3, 1, 2).reshape(3, 3072)  # official: rows of CHW bytes
        entries[f"{cifar10.FOLDER}/{name}"] = pickle.dumps({b"labels": [1, 2, 3], b"data": data})
        test_images = images
    server.payload = gzip.compress(_tar(entries), mtime=0)
    archive = Archive(
        server.url, hashlib.md5(server.payload).hexdigest(), "cifar-10-python.tar.gz", cifar10.FOLDER
    )
    monkeypatch.setattr(cifar10, "ARCHIVE", archive)
    test = load_dataset("cifar10", "test", data_dir=tmp_path, download=True)
    assert np.array_equal(test.images, test_images) and list(test.labels) == [1, 2, 3]
    assert sorted(p.name for p in tmp_path.iterdir()) == [cifar10.FOLDER]  # the archive is gone
    monkeypatch.setattr(cifar10, "ARCHIVE", Archive(server.url, "0" * 32, "c.tar.gz", cifar10.FOLDER))
    with pytest.raises(SpecregError, match="not the published"):
        load_dataset("cifar10", "test", data_dir=tmp_path / "other", download=True)
