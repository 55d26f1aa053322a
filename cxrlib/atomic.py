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

__all__ = ["atomic_path", "write_bytes", "write_text", "write_json", "write_csv", "relative_paths"]


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


def write_json(record, path: str | os.PathLike, *, relative_to: str | os.PathLike | None = None) -> Path:
    """Write a JSON record (indented; values JSON cannot hold as strings) to ``path`` atomically; return the path.

    ``relative_to``: a folder; absolute paths in the record are written relative to it (:func:`relative_paths`).
    """
    if relative_to is not None:
        record = relative_paths(record, relative_to)
    return write_text(json.dumps(record, indent=2, default=str) + "\n", path)


def write_csv(frame, path: str | os.PathLike, *, relative_to: str | os.PathLike | None = None) -> Path:
    """Write a pandas DataFrame as CSV without its index to ``path`` atomically; return the path.

    ``relative_to``: a folder; columns of absolute paths are written relative to it (:func:`relative_paths`).
    """
    if relative_to is not None:
        frame = relative_paths(frame, relative_to)
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)
    return Path(path)


def _is_absolute_path(value) -> bool:
    return isinstance(value, str) and len(value) > 1 and os.path.isabs(value)


def relative_paths(value, base: str | os.PathLike):
    """``value`` with its absolute paths rewritten relative to the folder ``base``.

    Records in a run folder name files relative to that folder, so they hold no path of the machine that wrote
    them and still resolve from it (the notebooks run with the run folder as their working directory). A string,
    list, tuple or dict is rewritten recursively; a pandas DataFrame column is rewritten when all its non-empty
    cells are absolute paths. Everything else is returned as it is.
    """
    base = os.fspath(base)
    if _is_absolute_path(value):
        return os.path.relpath(value, base)
    if isinstance(value, dict):
        return {key: relative_paths(item, base) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(relative_paths(item, base) for item in value)
    if hasattr(value, "columns") and hasattr(value, "assign"):
        columns = {}
        for name in value.columns:
            cells = value[name]
            filled = cells[cells.map(lambda cell: isinstance(cell, str) and cell != "")]
            if len(filled) and filled.map(_is_absolute_path).all():
                columns[name] = cells.map(lambda cell: os.path.relpath(cell, base) if _is_absolute_path(cell) else cell)
        return value.assign(**columns) if columns else value
    return value
