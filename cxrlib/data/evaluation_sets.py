"""Further evaluation sets (a Kermany-layout folder, a CSV of ``path,label``, or a folder of one label) as manifest rows.

A profile's ``evaluation_sets`` are appended to the manifest by notebook 01, preprocessed like every image (02) and
scored by every arm at the thresholds chosen on validation (04); they are never trained or tuned on.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .manifest import DatasetLayoutError, is_image

__all__ = ["evaluation_set_manifest"]


def evaluation_set_manifest(name, spec):
    """Manifest rows of one extra evaluation set, in the columns of :func:`cxrlib.data.build_manifest`.

    Parameters
    ----------
    name : str
        The set's name; it becomes the rows' ``split`` and ``subset``.
    spec : dict
        One of: ``{"kermany": folder}`` (a folder laid out as ``<folder>/{NORMAL,PNEUMONIA}/*`` or a Kermany root
        whose ``test`` split is used); ``{"csv": path}`` (columns ``path,label``; relative paths are read from the
        CSV's folder); ``{"images": folder, "glob": "*", "label": "NORMAL"}`` (every matching image has one label).

    Returns
    -------
    pandas.DataFrame
        ``path``, ``filename``, ``split``, ``subset``, ``label``, ``patient_id`` (the file stem: one image per patient
        unless the set says otherwise), ``subtype`` (empty).
    """
    spec = dict(spec)
    kinds = [k for k in ("kermany", "csv", "images") if spec.get(k)]
    if len(kinds) != 1:
        raise ValueError(f"evaluation set {name!r}: give exactly one of 'kermany', 'csv' or 'images', got {spec}")
    kind = kinds[0]
    if kind == "images":
        folder = Path(spec["images"]).expanduser()
        label = spec.get("label")
        if label not in ("NORMAL", "PNEUMONIA"):
            raise ValueError(f"evaluation set {name!r}: 'images' needs label: NORMAL or PNEUMONIA, got {label!r}")
        paths = sorted(p for p in folder.glob(spec.get("glob") or "*") if p.is_file() and is_image(p))
        rows = [(p, label) for p in paths]
    elif kind == "csv":
        table = pd.read_csv(Path(spec["csv"]).expanduser())
        if not {"path", "label"} <= set(table.columns):
            raise ValueError(f"evaluation set {name!r}: the CSV needs columns path,label, got {list(table.columns)}")
        base = Path(spec["csv"]).expanduser().parent
        rows = [((base / p) if not Path(p).is_absolute() else Path(p), label) for p, label in
                zip(table["path"], table["label"])]
    else:
        folder = Path(spec["kermany"]).expanduser()
        if (folder / "test").is_dir():
            folder = folder / "test"
        rows = [(p, label) for label in ("NORMAL", "PNEUMONIA") if (folder / label).is_dir()
                for p in sorted((folder / label).iterdir()) if is_image(p)]
    bad = sorted({str(label) for _, label in rows} - {"NORMAL", "PNEUMONIA"})
    if bad:
        raise ValueError(f"evaluation set {name!r}: labels {bad} are refused; use NORMAL or PNEUMONIA")
    missing = [str(p) for p, _ in rows if not Path(p).is_file()]
    if not rows or missing:
        raise DatasetLayoutError(f"evaluation set {name!r} ({kind}: {spec[kind]}) has "
                                 + (f"missing files, e.g. {missing[0]}" if missing else "no images")
                                 + "; check the path and the glob")
    return pd.DataFrame({"path": [str(Path(p).resolve()) for p, _ in rows],
                         "filename": [Path(p).name for p, _ in rows], "split": name, "subset": name,
                         "label": [label for _, label in rows], "patient_id": [Path(p).stem for p, _ in rows],
                         "subtype": ""})
