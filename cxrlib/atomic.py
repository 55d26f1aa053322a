"""Atomic file writes, the one home for them: write to a temporary name beside the target, then rename onto it.

:func:`atomic_path` is the primitive (any writer that wants a path: ``np.save``, ``model.save``, ``fig.savefig``);
:func:`write_bytes`, :func:`write_text`, :func:`write_json` and :func:`write_csv` cover the common records.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["atomic_path", "write_bytes", "write_text", "write_json", "write_csv"]


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` to write to; on success it replaces ``path``.

    The temporary name ends with the target's own name, so suffixes that writers insist on
    (``.npy``, ``.weights.h5``, ``.keras``) are kept; it carries the process id and a random token,
    so concurrent writers never share one. If the block raises, the temporary file is removed and
    ``path`` is left as it was: readers never see a half-written file. Missing parent folders are made.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{os.getpid()}-{secrets.token_hex(4)}.tmp-{path.name}")
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes(data: bytes, path: str | os.PathLike) -> Path:
    """Write bytes to ``path`` atomically; return the path."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data must be bytes, got {type(data).__name__}")
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(text: str, path: str | os.PathLike) -> Path:
    """Write UTF-8 text to ``path`` atomically; return the path."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json(record, path: str | os.PathLike) -> Path:
    """Write a JSON record (indented; values JSON cannot hold as strings) to ``path`` atomically; return the path."""
    return write_text(json.dumps(record, indent=2, default=str) + "\n", path)


def write_csv(frame, path: str | os.PathLike) -> Path:
    """Write a pandas DataFrame as CSV without its index to ``path`` atomically; return the path."""
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)
    return Path(path)
