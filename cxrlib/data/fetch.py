"""Fetch the Kermany chest X-ray archive: resumable download, checksum, atomic unpacking.

Official sources (download by hand when this machine has no internet, then pass the local path):

- Kermany D, Zhang K, Goldbaum M. *Labeled Optical Coherence Tomography (OCT) and Chest X-Ray
  Images for Classification*, Mendeley Data v2, 2018, doi:10.17632/rscbjbr9sj.2 (CC BY 4.0).
  The chest X-rays are the archive ``ChestXRay2017.zip``, which unpacks to
  ``chest_xray/{train,test}/{NORMAL,PNEUMONIA}``.
- Kaggle data set "Chest X-Ray Images (Pneumonia)" (paultimothymooney/chest-xray-pneumonia), the
  same images as ``chest_xray/{train,val,test}/...``.

No URL is built in: pass the archive's download link (http/https) or a local ``.zip`` path, and its
SHA-256 when you know it. :func:`fetch_dataset` keeps the download in ``data_dir/.downloads`` (an
interrupted transfer resumes with an HTTP Range request), unpacks into a hidden temporary folder
inside ``data_dir`` and moves it into place with one ``os.replace``, so a half-unpacked data set is
never visible.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from datetime import datetime, timezone
from pathlib import Path

from tqdm.auto import tqdm

from .manifest import DatasetLayoutError, find_dataset_root, sha256_file

__all__ = ["FetchError", "fetch_dataset"]

_CHUNK = 1 << 20
_MARKER = ".fetched.json"


class FetchError(RuntimeError):
    """A data set that could not be downloaded, verified or unpacked."""


def _is_url(source: str) -> bool:
    return urllib.parse.urlsplit(source).scheme.lower() in ("http", "https")


def _archive_name(url: str) -> str:
    name = Path(urllib.parse.unquote(urllib.parse.urlsplit(url).path)).name
    return name if name and not name.startswith(".") else "dataset.zip"


def _content_range_start(header: str | None) -> int | None:
    # "bytes 100-999/1000" -> 100
    if not header or not header.startswith("bytes "):
        return None
    try:
        return int(header[6:].split("-", 1)[0])
    except ValueError:
        return None


def _download(url: str, part: Path, *, expected_size: int | None, progress: bool, timeout: float) -> None:
    """Download ``url`` into ``part``, resuming from what ``part`` already holds."""
    offset = part.stat().st_size if part.exists() else 0
    if expected_size is not None and offset > expected_size:
        part.unlink()
        offset = 0
    request = urllib.request.Request(url, headers={"User-Agent": "cxrlib-fetch"})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as error:
        if error.code == 416 and offset:  # the partial file does not fit what the server has: start over
            part.unlink()
            return _download(url, part, expected_size=expected_size, progress=progress, timeout=timeout)
        raise FetchError(f"download of {url} failed: HTTP {error.code} {error.reason}; check the link") from error
    except (urllib.error.URLError, OSError) as error:
        raise FetchError(
            f"could not reach {url} ({getattr(error, 'reason', error)}); check the link and the network, "
            "or download the archive by hand and pass its local path"
        ) from error
    with response:
        if offset and response.status == 206 and _content_range_start(response.headers.get("Content-Range")) != offset:
            response.close()  # a range we did not ask for: start over without Range
            part.unlink(missing_ok=True)
            return _download(url, part, expected_size=expected_size, progress=progress, timeout=timeout)
        if offset and response.status == 206:
            mode = "ab"
        else:  # no Range asked, or the server ignored it: clean restart from byte 0
            mode, offset = "wb", 0
        length = response.headers.get("Content-Length")
        remaining = int(length) if length is not None else None
        total = offset + remaining if remaining is not None else expected_size
        received = 0
        bar = tqdm(total=total, initial=offset, unit="B", unit_scale=True, unit_divisor=1024,
                   desc=part.name.removesuffix(".part"), disable=not progress)
        try:
            with open(part, mode) as handle:
                while True:
                    chunk = response.read(_CHUNK)
                    if not chunk:
                        break
                    handle.write(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
        except (OSError, http.client.HTTPException) as error:  # connection reset, timeout, bad chunk
            raise FetchError(
                f"download of {url} interrupted after {offset + received} bytes ({error}); run the same command "
                f"again to resume from the partial file {part}"
            ) from error
        finally:
            bar.close()
    if remaining is not None and received < remaining:
        raise FetchError(
            f"download of {url} interrupted after {offset + received} of {offset + remaining} bytes; run the same "
            f"command again to resume from the partial file {part}"
        )


def _verify(archive: Path, *, sha256: str | None, expected_size: int | None, delete: bool) -> str:
    """Check size and checksum; return the SHA-256. On a mismatch delete the file (when ``delete``)."""
    size = archive.stat().st_size
    problem = None
    if expected_size is not None and size != expected_size:
        problem = f"has {size} bytes, expected {expected_size}"
    digest = sha256_file(archive)
    if problem is None and sha256 is not None and digest != sha256.lower():
        problem = f"has SHA-256 {digest}, expected {sha256.lower()}"
    if problem:
        if delete:
            archive.unlink()
        action = "it was deleted; fetch it again" if delete else "download it again"
        raise FetchError(f"archive {archive} {problem}: the file is incomplete or not the expected one; {action} "
                         "(or check the expected value)")
    return digest


def _unpack(archive: Path, data_dir: Path, digest: str, *, progress: bool) -> Path:
    """Unpack ``archive`` to ``data_dir/<stem>`` atomically; return the Kermany root inside it."""
    target = data_dir / archive.stem
    if target.exists():
        marker = target / _MARKER
        recorded = json.loads(marker.read_text()).get("sha256") if marker.is_file() else None
        if recorded != digest:
            raise FetchError(
                f"{target} already exists and was not unpacked from this archive; remove it, "
                "or choose another --dest, or use it directly as data_dir"
            )
        return find_dataset_root(target)
    if not zipfile.is_zipfile(archive):
        raise FetchError(f"{archive} is not a zip archive (corrupt or wrong file); fetch it again")
    with zipfile.ZipFile(archive) as bundle:
        needed = sum(member.file_size for member in bundle.infolist())
    free = shutil.disk_usage(data_dir).free
    if needed > free:
        raise FetchError(f"{archive.name} unpacks to {needed / 2**30:.2f} GiB but {data_dir} has only "
                         f"{free / 2**30:.2f} GiB free; free some space or choose another --dest")
    scratch = Path(tempfile.mkdtemp(prefix=".unpack-", dir=data_dir))
    try:
        with zipfile.ZipFile(archive) as bundle:
            for member in tqdm(bundle.infolist(), desc=f"unpack {archive.name}", unit="file", disable=not progress):
                bundle.extract(member, scratch)
        root = find_dataset_root(scratch)
        (scratch / _MARKER).write_text(json.dumps({"archive": archive.name, "sha256": digest}))
        os.replace(scratch, target)
    except BaseException as error:  # interrupted too: leave no scratch folder behind
        shutil.rmtree(scratch, ignore_errors=True)
        if isinstance(error, DatasetLayoutError):
            raise FetchError(f"{archive} does not hold the Kermany chest X-ray data set: {error}") from error
        if isinstance(error, (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError)):
            raise FetchError(f"{archive} could not be unpacked ({error}); the archive is corrupt: fetch it again") from error
        raise
    return target / root.relative_to(scratch)


def fetch_dataset(source, data_dir, *, sha256: str | None = None, expected_size: int | None = None,
                  progress: bool = True, timeout: float = 60) -> dict:
    """Download (or take) the Kermany zip archive, verify it, unpack it and locate the data.

    Parameters
    ----------
    source : str or Path
        An http(s) link to the archive, or the path of a local ``.zip``.
    data_dir : str or Path
        Destination folder (created). Downloads go to ``data_dir/.downloads/``; the archive
        unpacks to ``data_dir/<archive stem>/``. Fetching the same archive again reuses both.
    sha256 : str, optional
        Expected SHA-256 (hex) of the archive.
    expected_size : int, optional
        Expected size of the archive in bytes.
    progress : bool, optional
        Show progress bars.
    timeout : float, optional
        Seconds to wait on the network before giving up.

    Returns
    -------
    record : dict
        ``source``, ``archive`` (local path), ``bytes``, ``sha256``, ``root`` (the folder that
        holds train/ and test/) and ``fetched_at`` (UTC, ISO 8601): store it in run.json.

    Raises
    ------
    FetchError
        Unreachable link, interrupted transfer (run again to resume), size or checksum
        mismatch (the bad download is deleted), corrupt archive or wrong contents
        (``data_dir`` is left unchanged).
    """
    if sha256 is not None and (len(sha256) != 64 or any(c not in "0123456789abcdefABCDEF" for c in sha256)):
        raise ValueError(f"sha256={sha256!r}: expected 64 hexadecimal characters")
    if expected_size is not None and (isinstance(expected_size, bool) or not isinstance(expected_size, int)
                                      or expected_size < 1):
        raise ValueError(f"expected_size={expected_size!r}: expected a positive number of bytes")
    if not timeout > 0:
        raise ValueError(f"timeout={timeout!r}: expected a positive number of seconds")
    source = str(source)
    data_dir = Path(data_dir).expanduser()
    if data_dir.exists() and not data_dir.is_dir():
        raise FetchError(f"destination {data_dir} is a file; pass a folder as --dest")
    if _is_url(source):
        downloads = data_dir / ".downloads"
        downloads.mkdir(parents=True, exist_ok=True)
        archive = downloads / _archive_name(source)
        digest = None
        if archive.exists():
            try:
                digest = _verify(archive, sha256=sha256, expected_size=expected_size, delete=True)
            except FetchError:
                pass  # a stale or different archive: deleted, download it again
        if digest is None:
            part = archive.with_name(archive.name + ".part")
            _download(source, part, expected_size=expected_size, progress=progress, timeout=timeout)
            digest = _verify(part, sha256=sha256, expected_size=expected_size, delete=True)
            os.replace(part, archive)
    else:
        archive = Path(source).expanduser()
        if archive.is_dir():
            raise FetchError(f"{archive} is a folder, not an archive; if it holds the data, use it as data_dir directly")
        if not archive.is_file():
            raise FetchError(f"{archive} does not exist; pass an http(s) link or the path of a downloaded .zip")
        digest = _verify(archive, sha256=sha256, expected_size=expected_size, delete=False)
        data_dir.mkdir(parents=True, exist_ok=True)
    archive = archive.resolve()
    root = _unpack(archive, data_dir.resolve(), digest, progress=progress)
    return {
        "source": source,
        "archive": str(archive),
        "bytes": archive.stat().st_size,
        "sha256": digest,
        "root": str(root),
        "fetched_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
