"""The trivial floor: how much a logistic regression on global image statistics already solves, with no anatomy.

File size, exposure and framing differ between the classes of a data set for reasons that are not the disease; the
floor (:func:`trivial_floor`, on :func:`image_statistics`) is what a network's AUC must be read against.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from ..data.images import read_radiograph

__all__ = ["STATISTICS", "image_statistics", "fit_trivial_floor", "trivial_floor"]

#: The global image statistics of the trivial floor (``source_*`` and ``aspect`` vary only where the data does).
STATISTICS = ("file_bytes", "mean", "sd", "p05", "p95", "border_mean", "border_sd", "center_mean", "center_sd",
              "source_height", "source_width", "aspect")
_BORDER = 16 / 224  # the border band: 16 px at the 224-px copies' size


def image_statistics(paths, *, progress=True):
    """Global statistics of each image file, the trivial floor's features.

    Parameters
    ----------
    paths : sequence of str or Path
    progress : bool

    Returns
    -------
    pandas.DataFrame
        One row per path, the columns of :data:`STATISTICS`: the file's size in bytes; grey-level mean, SD, 5th and
        95th percentile of the whole image; mean and SD of a border band (16/224 of the side) and of the central
        half; the source height, width and aspect ratio (height / width).
    """
    from tqdm.auto import tqdm

    rows = []
    for path in tqdm(list(paths), desc="image statistics", disable=not progress, leave=False):
        image = read_radiograph(path).astype(np.float32)
        height, width = image.shape
        band = max(1, round(_BORDER * min(height, width)))
        border = np.ones(image.shape, bool)
        border[band:-band, band:-band] = False
        center = image[height // 4: 3 * height // 4, width // 4: 3 * width // 4]
        p05, p95 = np.percentile(image, [5, 95])
        rows.append({"file_bytes": float(os.path.getsize(path)), "mean": float(image.mean()), "sd": float(image.std()),
                     "p05": float(p05), "p95": float(p95), "border_mean": float(image[border].mean()),
                     "border_sd": float(image[border].std()), "center_mean": float(center.mean()),
                     "center_sd": float(center.std()), "source_height": float(height), "source_width": float(width),
                     "aspect": height / width})
    return pd.DataFrame(rows, columns=list(STATISTICS))


def fit_trivial_floor(features, labels, *, seed=0):
    """A standardised, class-balanced logistic regression on :func:`image_statistics` (scikit-learn).

    Parameters
    ----------
    features : pandas.DataFrame
        Training rows of :func:`image_statistics`.
    labels : (N,) array of 0/1
    seed : int

    Returns
    -------
    sklearn.pipeline.Pipeline
        ``predict_proba(features)[:, 1]`` is its P(pneumonia).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    labels = np.asarray(labels).astype(int)
    if len(features) != len(labels) or set(np.unique(labels)) != {0, 1}:
        raise ValueError("features and labels must have one row per image and labels both classes (0 and 1)")
    model = make_pipeline(StandardScaler(), LogisticRegression(class_weight="balanced", max_iter=2000,
                                                               random_state=seed))
    return model.fit(features[list(STATISTICS)].to_numpy(np.float64), labels)


def trivial_floor(table, *, seed=0, n_boot=2000):
    """The trivial floor of a study: fitted on train, its threshold chosen on validation, scored on test.

    Parameters
    ----------
    table : pandas.DataFrame
        Rows of ``processed.csv`` with ``subset`` (train, val, test), ``path``, ``label`` and ``patient_id``.
    seed, n_boot
        As in :func:`fit_trivial_floor` and :func:`cxrlib.evaluation.evaluate_seeds`.

    Returns
    -------
    dict
        ``scores`` (subset -> P(pneumonia) per row, in the table's order), ``threshold`` (Youden's J on
        validation), ``record`` (:func:`cxrlib.evaluation.evaluate_seeds` on test: metrics with patient-bootstrap
        intervals), ``file_size_roc_auc`` (the file size alone, its direction taken from train) and
        ``larger_files_pneumonia`` (that direction).
    """
    from sklearn.metrics import roc_auc_score

    from ..evaluation.intervals import evaluate_seeds
    from ..evaluation.operating_points import operating_thresholds

    parts = {name: table[table["subset"] == name].reset_index(drop=True) for name in ("train", "val", "test")}
    statistics = {name: image_statistics(rows["path"]) for name, rows in parts.items()}
    labels = {name: (rows["label"] == "PNEUMONIA").to_numpy(int) for name, rows in parts.items()}
    model = fit_trivial_floor(statistics["train"], labels["train"], seed=seed)
    scores = {name: model.predict_proba(x[list(STATISTICS)].to_numpy(np.float64))[:, 1]
              for name, x in statistics.items()}
    threshold = operating_thresholds(labels["val"], scores["val"])["youden"]
    record = evaluate_seeds(labels["test"], [scores["test"]], [threshold],
                            groups=parts["test"]["patient_id"].to_numpy(), n_boot=n_boot, seed=seed)
    sizes = {name: x["file_bytes"].to_numpy(np.float64) for name, x in statistics.items()}
    larger = bool(roc_auc_score(labels["train"], sizes["train"]) >= 0.5)
    return {"scores": scores, "threshold": float(threshold), "record": record,
            "file_size_roc_auc": float(roc_auc_score(labels["test"], (1 if larger else -1) * sizes["test"])),
            "larger_files_pneumonia": larger}
