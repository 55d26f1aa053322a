"""The run's JSON records merged key by key (:func:`update_json`): a later notebook adds to what an earlier one wrote."""

import json
from pathlib import Path

import numpy as np

from ..atomic import write_text

__all__ = ["update_json"]


def _merge(base, updates):
    for key, value in updates.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value
    return base


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, np.ndarray)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return None if not np.isfinite(obj) else float(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj


def update_json(path, updates):
    """Merge ``updates`` into the JSON file at ``path`` (created if absent), atomically.

    Nested dicts are merged key by key, so a later notebook adds to what an
    earlier one wrote instead of replacing it. NaN becomes null.

    Parameters
    ----------
    path : str or Path
        JSON file (e.g. run_dir/metrics.json).
    updates : dict
        Keys to add or replace.

    Returns
    -------
    dict
        The merged content as written.
    """
    if not isinstance(updates, dict):
        raise TypeError(f"updates must be a dict, got {type(updates).__name__}")
    path = Path(path)
    content = json.loads(path.read_text()) if path.exists() else {}
    content = _merge(content, _jsonable(updates))
    write_text(json.dumps(content, indent=2, allow_nan=False), path)
    return content
