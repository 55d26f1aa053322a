"""Atomic file writes: write to a temporary name beside the target, then rename onto it."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["atomic_path"]


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
