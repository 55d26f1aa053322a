"""Tests of cxrlib.data.fetch against a local HTTP server on 127.0.0.1 serving a tiny Kermany zip."""

import hashlib
import http.server
import socket
import threading
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from cxrlib.data import FetchError, fetch_dataset


def _png(seed: int) -> bytes:
    image = np.random.default_rng(seed).integers(0, 256, size=(32, 32), dtype=np.uint8)
    ok, buffer = cv2.imencode(".png", image)
    assert ok
    return buffer.tobytes()


def make_zip(path: Path, *, prefix="chest_xray/", compression=zipfile.ZIP_DEFLATED) -> Path:
    """A ChestXRay2017.zip look-alike: chest_xray/{train,test}/{NORMAL,PNEUMONIA} plus __MACOSX entries."""
    with zipfile.ZipFile(path, "w", compression=compression) as bundle:
        seed = 0
        for split in ("train", "test"):
            for label, name in (("NORMAL", "IM-{:04d}-0001.png"), ("PNEUMONIA", "person{}_bacteria_1.png")):
                for i in range(3):
                    seed += 1
                    bundle.writestr(f"{prefix}{split}/{label}/{name.format(seed)}", _png(seed))
        bundle.writestr(f"__MACOSX/{prefix}._train", b"\x00\x05\x16\x07")
    return path


def _listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


class _Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        server = self.server
        server.ranges.append(self.headers.get("Range"))
        if self.path != "/files/ChestXRay2017.zip":
            self.send_error(404)
            return
        body, start = server.payload, 0
        requested = self.headers.get("Range")
        if requested and server.honour_range:
            start = int(requested.removeprefix("bytes=").split("-")[0])
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        if server.cut_after is not None:  # send part of the body, then drop the connection
            self.wfile.write(body[start:start + server.cut_after])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body[start:])


@pytest.fixture
def server(tmp_path, monkeypatch):
    monkeypatch.setenv("no_proxy", "*")
    monkeypatch.setenv("NO_PROXY", "*")
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.payload = make_zip(tmp_path / "served.zip").read_bytes()
    httpd.ranges, httpd.honour_range, httpd.cut_after = [], True, None
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}/files/ChestXRay2017.zip"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def test_fetch_url_verifies_and_unpacks(server, tmp_path):
    digest = hashlib.sha256(server.payload).hexdigest()
    dest = tmp_path / "data"
    record = fetch_dataset(server.url, dest, sha256=digest.upper(), expected_size=len(server.payload), progress=False)
    assert set(record) == {"source", "archive", "bytes", "sha256", "root", "fetched_at"}
    assert record["sha256"] == digest and record["bytes"] == len(server.payload)
    assert record["source"] == server.url
    archive = Path(record["archive"])
    assert archive == (dest / ".downloads" / "ChestXRay2017.zip").resolve()
    assert archive.read_bytes() == server.payload
    root = Path(record["root"])
    assert root == (dest / "ChestXRay2017" / "chest_xray").resolve()
    assert len(list((root / "train" / "NORMAL").glob("*.png"))) == 3
    assert not list(dest.glob(".unpack-*")) and not list((dest / ".downloads").glob("*.part"))
    assert server.ranges == [None]
    again = fetch_dataset(server.url, dest, sha256=digest, progress=False)  # reuses archive and folder
    assert again["root"] == record["root"]
    assert server.ranges == [None]


def test_interrupted_download_resumes_with_range(server, tmp_path):
    dest = tmp_path / "data"
    half = len(server.payload) // 2
    server.cut_after = half
    with pytest.raises(FetchError, match="run the same command again to resume"):
        fetch_dataset(server.url, dest, progress=False)
    part = dest / ".downloads" / "ChestXRay2017.zip.part"
    assert part.stat().st_size == half
    assert not (dest / ".downloads" / "ChestXRay2017.zip").exists()
    assert _listing(dest) == [".downloads", ".downloads/ChestXRay2017.zip.part"]
    server.cut_after = None
    record = fetch_dataset(server.url, dest, sha256=hashlib.sha256(server.payload).hexdigest(), progress=False)
    assert server.ranges == [None, f"bytes={half}-"]
    assert Path(record["archive"]).read_bytes() == server.payload
    assert not part.exists()


def test_server_ignoring_range_restarts_cleanly(server, tmp_path):
    dest = tmp_path / "data"
    (dest / ".downloads").mkdir(parents=True)
    (dest / ".downloads" / "ChestXRay2017.zip.part").write_bytes(b"garbage-that-is-not-the-start")
    server.honour_range = False
    record = fetch_dataset(server.url, dest, sha256=hashlib.sha256(server.payload).hexdigest(), progress=False)
    assert server.ranges == ["bytes=29-"]
    assert Path(record["archive"]).read_bytes() == server.payload


def test_partial_file_larger_than_remote_restarts(server, tmp_path):
    dest = tmp_path / "data"
    (dest / ".downloads").mkdir(parents=True)
    too_big = len(server.payload) + 10
    (dest / ".downloads" / "ChestXRay2017.zip.part").write_bytes(b"x" * too_big)
    record = fetch_dataset(server.url, dest, progress=False)
    assert server.ranges == [f"bytes={too_big}-", None]  # 416, then a clean restart
    assert Path(record["archive"]).read_bytes() == server.payload
    (dest / ".downloads" / "ChestXRay2017.zip").unlink()
    (dest / ".downloads" / "ChestXRay2017.zip.part").write_bytes(b"x" * too_big)
    server.ranges.clear()
    fetch_dataset(server.url, tmp_path / "data", expected_size=len(server.payload), progress=False)
    assert server.ranges == [None]  # larger than expected_size: dropped before asking


def test_checksum_mismatch_deletes_download(server, tmp_path):
    dest = tmp_path / "data"
    with pytest.raises(FetchError, match="expected 0{64}.*deleted"):
        fetch_dataset(server.url, dest, sha256="0" * 64, progress=False)
    assert _listing(dest) == [".downloads"]


def test_size_mismatch_deletes_download(server, tmp_path):
    dest = tmp_path / "data"
    with pytest.raises(FetchError, match=f"has {len(server.payload)} bytes, expected 12"):
        fetch_dataset(server.url, dest, expected_size=12, progress=False)
    assert _listing(dest) == [".downloads"]


def test_http_error_and_unreachable(server, tmp_path):
    with pytest.raises(FetchError, match="HTTP 404"):
        fetch_dataset(server.url.replace("ChestXRay2017", "other"), tmp_path / "data", progress=False)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(FetchError, match="could not reach"):
        fetch_dataset(f"http://127.0.0.1:{port}/x.zip", tmp_path / "data", timeout=5, progress=False)


def test_local_archive(tmp_path):
    archive = make_zip(tmp_path / "ChestXRay2017.zip")
    dest = tmp_path / "data"
    record = fetch_dataset(archive, dest, sha256=hashlib.sha256(archive.read_bytes()).hexdigest(), progress=False)
    assert record["archive"] == str(archive.resolve())
    assert record["source"] == str(archive)
    assert Path(record["root"]) == (dest / "ChestXRay2017" / "chest_xray").resolve()
    assert not (dest / ".downloads").exists()
    assert (dest / "ChestXRay2017" / "__MACOSX").is_dir()  # unpacked as is, ignored by find_dataset_root


def test_local_archive_without_top_folder(tmp_path):
    archive = make_zip(tmp_path / "flat.zip", prefix="")
    record = fetch_dataset(archive, tmp_path / "data", progress=False)
    assert Path(record["root"]) == (tmp_path / "data" / "flat").resolve()


def test_local_checksum_mismatch_keeps_users_file(tmp_path):
    archive = make_zip(tmp_path / "ChestXRay2017.zip")
    with pytest.raises(FetchError, match="SHA-256"):
        fetch_dataset(archive, tmp_path / "data", sha256="a" * 64, progress=False)
    assert archive.exists()


def test_unpacking_is_never_visible_half_done(tmp_path, monkeypatch):
    archive = make_zip(tmp_path / "ChestXRay2017.zip")
    target = tmp_path / "data" / "ChestXRay2017"
    seen = []
    original = zipfile.ZipFile.extract

    def extract(self, member, path=None, pwd=None):
        seen.append(target.exists())
        return original(self, member, path, pwd)

    monkeypatch.setattr(zipfile.ZipFile, "extract", extract)
    fetch_dataset(archive, tmp_path / "data", progress=False)
    assert len(seen) == 13 and not any(seen)
    assert target.is_dir()


def test_interrupted_unpacking_leaves_nothing(tmp_path, monkeypatch):
    archive = make_zip(tmp_path / "ChestXRay2017.zip")
    calls = []
    original = zipfile.ZipFile.extract

    def wrapped(self, member, path=None, pwd=None):
        calls.append(member)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return original(self, member, path, pwd)

    monkeypatch.setattr(zipfile.ZipFile, "extract", wrapped)
    with pytest.raises(KeyboardInterrupt):
        fetch_dataset(archive, tmp_path / "data", progress=False)
    assert _listing(tmp_path / "data") == []


def _corrupt_copy(archive: Path, target: Path) -> Path:
    data = bytearray(archive.read_bytes())
    member = _png(1)
    at = data.find(member) + len(member) // 2
    data[at] ^= 0xFF
    target.write_bytes(bytes(data))
    return target


@pytest.mark.parametrize("kind", ["crc", "truncated", "not_zip", "wrong_contents"])
def test_bad_archive_leaves_data_dir_unchanged(tmp_path, kind):
    dest = tmp_path / "data"
    dest.mkdir()
    (dest / "keep.txt").write_text("mine")
    if kind == "crc":
        archive = _corrupt_copy(make_zip(tmp_path / "ok.zip", compression=zipfile.ZIP_STORED),
                                tmp_path / "ChestXRay2017.zip")
    elif kind == "truncated":
        full = make_zip(tmp_path / "ok.zip").read_bytes()
        archive = tmp_path / "ChestXRay2017.zip"
        archive.write_bytes(full[: len(full) // 2])
    elif kind == "not_zip":
        archive = tmp_path / "ChestXRay2017.zip"
        archive.write_text("<html>login required</html>")
    else:
        archive = tmp_path / "ChestXRay2017.zip"
        with zipfile.ZipFile(archive, "w") as bundle:
            bundle.writestr("readme.txt", "no images here")
    before = _listing(dest)
    with pytest.raises(FetchError) as info:
        fetch_dataset(archive, dest, progress=False)
    message = str(info.value)
    assert str(archive.resolve()) in message
    assert ("Kermany" if kind == "wrong_contents" else "corrupt") in message
    assert _listing(dest) == before


def test_refusals(tmp_path):
    with pytest.raises(FetchError, match="does not exist"):
        fetch_dataset(tmp_path / "missing.zip", tmp_path / "data", progress=False)
    with pytest.raises(FetchError, match="is a folder"):
        fetch_dataset(tmp_path, tmp_path / "data", progress=False)
    with pytest.raises(ValueError, match="sha256="):
        fetch_dataset(tmp_path / "missing.zip", tmp_path / "data", sha256="abc")
    with pytest.raises(ValueError, match="expected_size="):
        fetch_dataset(tmp_path / "missing.zip", tmp_path / "data", expected_size=0)
    archive = make_zip(tmp_path / "ChestXRay2017.zip")
    (tmp_path / "data" / "ChestXRay2017").mkdir(parents=True)
    with pytest.raises(FetchError, match="already exists"):
        fetch_dataset(archive, tmp_path / "data", progress=False)


def test_an_archive_larger_than_the_free_space_is_refused_before_unpacking(tmp_path, monkeypatch):
    import collections

    from cxrlib.data import fetch as fetch_module

    archive = make_zip(tmp_path / "ChestXRay2017.zip")
    usage = collections.namedtuple("usage", "total used free")
    monkeypatch.setattr(fetch_module.shutil, "disk_usage", lambda path: usage(10, 10, 5))
    dest = tmp_path / "data"
    with pytest.raises(FetchError, match=r"unpacks to .* GiB but .* has only .* GiB free"):
        fetch_dataset(archive, dest, progress=False)
    assert not (dest / "ChestXRay2017").exists() and not list(dest.glob(".unpack-*"))
