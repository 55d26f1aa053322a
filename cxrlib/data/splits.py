"""Splits of a manifest: the patient-level validation carve-out, leakage between subsets, class counts."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .manifest import CLASSES, check_manifest, has_hashes, sha256_file

__all__ = ["split_train_validation", "patient_key", "leakage_report", "class_counts"]

_SUBSET_ORDER = {"train": 0, "val": 1, "test": 2}


def _group_column(manifest: pd.DataFrame, by: str | None) -> str:
    column = by if by is not None else ("subset" if "subset" in manifest.columns else "split")
    if column not in ("subset", "split"):
        raise ValueError(f"by={by!r}: expected 'subset', 'split' or None (subset when present, else split)")
    if column not in manifest.columns:
        raise ValueError(f"by={by!r}: the manifest has no {column!r} column; run split_train_validation first")
    return column

# --------------------------------------------------------------------------- split


def split_train_validation(manifest: pd.DataFrame, *, val_fraction: float = 0.15, seed: int = 0) -> pd.DataFrame:
    """Carve a patient-level, class-stratified validation subset out of the train pool.

    The train pool is every row of the release's ``train`` folder **and** of its official
    ``val`` folder (16 images in the release, too few to select a model on). Patients are
    assigned whole, with scikit-learn's ``StratifiedGroupKFold(n_splits=round(1 / val_fraction),
    shuffle=True, random_state=seed)``: its first fold becomes ``val``, so the realised
    share is close to ``1 / n_splits`` (0.15 -> 7 folds -> about 14 %). Test rows are untouched.

    Parameters
    ----------
    manifest : DataFrame
        From :func:`build_manifest` (needs ``split``, ``label``, ``patient_id``).
    val_fraction : float, optional
        Share of the train pool to hold out, in (0, 0.5].
    seed : int, optional
        Seed of the shuffle.

    Returns
    -------
    manifest : DataFrame
        A copy with the column ``subset`` in {'train', 'val', 'test'}.
    """
    from sklearn.model_selection import StratifiedGroupKFold

    check_manifest(manifest, columns=("path", "split", "label", "patient_id"))
    if isinstance(val_fraction, bool) or not isinstance(val_fraction, (int, float)) or not 0 < val_fraction <= 0.5:
        raise ValueError(f"val_fraction={val_fraction!r}: expected a number in (0, 0.5]")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed={seed!r}: expected a non-negative integer")
    result = manifest.copy()
    pool = result.index[result["split"].isin(["train", "val"])]
    n_splits = max(2, round(1 / val_fraction))
    pool_labels = result.loc[pool, "label"]
    pool_groups = result.loc[pool, "patient_id"]
    fewest = pool_groups.groupby(pool_labels).nunique().reindex(list(CLASSES), fill_value=0).min()
    if fewest < n_splits:
        raise ValueError(
            f"val_fraction={val_fraction!r} needs at least {n_splits} patients of each class in the train pool, "
            f"found {fewest} for the rarest class; use a larger data set or a larger val_fraction"
        )
    folds = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=int(seed))
    _, val_positions = next(folds.split(np.zeros(len(pool)), pool_labels.to_numpy(), pool_groups.to_numpy()))
    result["subset"] = "test"
    result.loc[pool, "subset"] = "train"
    result.loc[pool[val_positions], "subset"] = "val"
    missing = set(CLASSES) - set(result.loc[result["subset"] == "val", "label"])
    if missing:
        warnings.warn(f"the validation subset has no {sorted(missing)} image; its AUC is undefined", stacklevel=2)
    return result


# --------------------------------------------------------------------------- leakage and provenance


def patient_key(manifest: pd.DataFrame) -> pd.Series:
    """Each image's patient as the release numbers them: the file name's patient number and the pneumonia subtype.

    Kermany's file names number bacterial and viral pneumonia patients in separate sequences (``person12_bacteria_*``
    and ``person12_virus_*`` are the 12th patient of each), so a number alone may name two children.

    Returns
    -------
    key : Series of str
        ``patient_id`` for images without a subtype, ``patient_id/subtype`` (``person12/virus``) otherwise.
    """
    check_manifest(manifest, columns=("patient_id",))
    subtype = manifest["subtype"].fillna("") if "subtype" in manifest.columns else ""
    return manifest["patient_id"].where(subtype == "", manifest["patient_id"] + "/" + subtype)



def leakage_report(manifest: pd.DataFrame, *, by: str | None = None, progress: bool = True) -> dict:
    """Byte-identical files and patients shared between subsets.

    Parameters
    ----------
    manifest : DataFrame
        From :func:`build_manifest`; ``sha256`` is computed when missing.
    by : {'subset', 'split', None}, optional
        The partition to check; None: ``subset`` when present, else ``split``.
    progress : bool, optional
        Progress bar while hashing.

    Returns
    -------
    report : dict
        ``duplicate_groups``: DataFrame, one row per set of identical files (``group``, ``sha256``,
        ``n_files``, ``paths`` tuple, ``subsets``, ``labels``, ``crosses_subsets``, ``label_conflict``).
        ``cross_split_patients``: DataFrame indexed by ``patient_id``, image counts per subset, for
        patient numbers in more than one subset. ``summary``: dict of counts; ``n_cross_split_patients`` counts
        patient numbers, ``n_cross_split_patients_by_subtype`` patients keyed by number and subtype
        (:func:`patient_key`).
    """
    check_manifest(manifest, columns=("path", "split", "label", "patient_id"))
    column = _group_column(manifest, by)
    if has_hashes(manifest):
        hashes = manifest["sha256"]
    else:
        hashes = pd.Series(
            [sha256_file(p) for p in tqdm(manifest["path"], desc="sha256", unit="file", disable=not progress)],
            index=manifest.index,
        )
    frame = manifest.assign(sha256=hashes)
    duplicated = frame[frame.duplicated("sha256", keep=False)].sort_values(["sha256", "path"])
    groups = []
    for number, (digest, rows) in enumerate(duplicated.groupby("sha256", sort=True)):
        subsets = sorted(set(rows[column]), key=lambda s: _SUBSET_ORDER.get(s, 9))
        labels = sorted(set(rows["label"]))
        groups.append({
            "group": number,
            "sha256": digest,
            "n_files": len(rows),
            "paths": tuple(rows["path"]),
            "subsets": ",".join(subsets),
            "labels": ",".join(labels),
            "crosses_subsets": len(subsets) > 1,
            "label_conflict": len(labels) > 1,
        })
    duplicate_groups = pd.DataFrame(groups, columns=[
        "group", "sha256", "n_files", "paths", "subsets", "labels", "crosses_subsets", "label_conflict"])
    counts = pd.crosstab(frame["patient_id"], frame[column])
    counts = counts[[c for c in sorted(counts.columns, key=lambda s: _SUBSET_ORDER.get(s, 9))]]
    counts.columns.name = None
    cross = counts[(counts > 0).sum(axis=1) > 1].sort_index()
    by_subtype = frame.groupby(patient_key(frame))[column].nunique()
    summary = {
        "by": column,
        "n_images": int(len(frame)),
        "n_patients": int(frame["patient_id"].nunique()),
        "n_duplicate_groups": int(len(duplicate_groups)),
        "n_duplicate_files": int(duplicate_groups["n_files"].sum()) if len(duplicate_groups) else 0,
        "n_groups_crossing_subsets": int(duplicate_groups["crosses_subsets"].sum()) if len(duplicate_groups) else 0,
        "n_groups_label_conflict": int(duplicate_groups["label_conflict"].sum()) if len(duplicate_groups) else 0,
        "n_cross_split_patients": int(len(cross)),
        "n_cross_split_patients_by_subtype": int((by_subtype > 1).sum()),
    }
    return {"duplicate_groups": duplicate_groups, "cross_split_patients": cross, "summary": summary}

# --------------------------------------------------------------------------- EDA tables


def class_counts(manifest: pd.DataFrame, *, by: str | None = None) -> pd.DataFrame:
    """Images per subset (or split) and class.

    Returns
    -------
    counts : DataFrame
        Index: the subsets present, in train/val/test order; columns NORMAL, PNEUMONIA, total.
    """
    check_manifest(manifest, columns=("label", "split"))
    column = _group_column(manifest, by)
    counts = pd.crosstab(manifest[column], manifest["label"]).reindex(columns=list(CLASSES), fill_value=0)
    counts = counts.loc[sorted(counts.index, key=lambda s: _SUBSET_ORDER.get(s, 9))]
    counts["total"] = counts.sum(axis=1)
    counts.index.name, counts.columns.name = column, None
    return counts
