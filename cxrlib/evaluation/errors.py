"""Where the errors fall: calibration of the probabilities, and error rates per group (class, pneumonia subtype)."""

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from .checks import check_labels, check_scores

__all__ = ["calibration", "ERROR_MEASURES", "errors_by_group"]


def calibration(y_true, y_score, *, n_bins=10, min_count=20, confidence=0.95):
    """Observed PNEUMONIA fraction per score bin, with Wilson intervals, and the Brier score.

    The bins are ``n_bins`` equal-width probability bins; sweeping from 0 upwards, a bin with fewer than
    ``min_count`` images joins the next one (a short last bin joins the one before), so that no point rests on a
    handful of images. Equal-count (quantile) bins are not used: with confident models most of their edges pile
    up near 0 and 1.

    Parameters
    ----------
    y_true : (N,) array of 0/1
        True labels.
    y_score : (N,) float array
        Predicted probability of PNEUMONIA.
    n_bins : int
        Equal-width bins before merging.
    min_count : int
        Fewest images per bin after merging (unless there are fewer images in all).
    confidence : float
        Coverage of the Wilson interval of each bin's observed fraction.

    Returns
    -------
    dict
        ``edges`` (bin edges), ``prob_pred`` (mean predicted probability per bin), ``prob_true`` (observed
        PNEUMONIA fraction), ``ci_low``, ``ci_high``, ``count`` (images per bin), ``rule`` (the bin rule in
        words), ``brier``.
    """
    from statsmodels.stats.proportion import proportion_confint

    y = check_labels(y_true)
    s = check_scores(y_score, y.size)
    for name, value in (("n_bins", n_bins), ("min_count", min_count)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    uniform = np.linspace(0.0, 1.0, n_bins + 1)
    upper, pending = [], 0
    for i, count in enumerate(np.bincount(np.searchsorted(uniform[1:-1], s, side="right"), minlength=n_bins)):
        pending += count
        if pending >= min_count:
            upper.append(i + 1)
            pending = 0
    upper[-1:] = [n_bins]  # the last bin reaches 1, taking a short remainder with it
    edges = uniform[[0, *upper]]
    bins = np.searchsorted(edges[1:-1], s, side="right")
    count = np.bincount(bins, minlength=len(upper))
    positives = np.bincount(bins, weights=y, minlength=len(upper))
    low, high = proportion_confint(positives, count, alpha=1 - confidence, method="wilson")
    return {
        "edges": edges.tolist(),
        "prob_pred": (np.bincount(bins, weights=s, minlength=len(upper)) / count).tolist(),
        "prob_true": (positives / count).tolist(),
        "ci_low": np.atleast_1d(low).tolist(),
        "ci_high": np.atleast_1d(high).tolist(),
        "count": count.tolist(),
        "rule": f"{n_bins} equal-width bins, merged upwards until each holds >= {min_count} images",
        "brier": float(skm.brier_score_loss(y, s)),
    }


#: What a group's error rate measures, and the true class of its images.
ERROR_MEASURES = {"false-positive rate": "NORMAL", "miss rate": "PNEUMONIA", "error rate": "NORMAL and PNEUMONIA"}


def errors_by_group(y_true, y_pred, groups, *, confidence=0.95):
    """Error rate per group (e.g. NORMAL and the pneumonia subtypes) with Wilson intervals.

    Parameters
    ----------
    y_true, y_pred : (N,) array of 0/1
        Labels and predictions.
    groups : (N,) array of str
        Group of each image (e.g. 'NORMAL', 'bacteria', 'virus').
    confidence : float
        Coverage of the Wilson interval.

    Returns
    -------
    pandas.DataFrame
        Indexed by group: ``n``, ``errors``, ``error_rate``, ``ci_low``, ``ci_high`` and ``measure``: what the
        error rate is, from the group's true labels: 'false-positive rate' (all NORMAL), 'miss rate' (all
        PNEUMONIA) or 'error rate' (both).
    """
    from statsmodels.stats.proportion import proportion_confint

    y = check_labels(y_true)
    p = check_labels(y_pred, "y_pred")
    g = np.asarray(groups)
    if p.shape != y.shape or g.shape != y.shape:
        raise ValueError(f"y_pred and groups must have the shape of y_true {y.shape}, got {p.shape} and {g.shape}")
    frame = pd.DataFrame({"group": g, "error": (p != y).astype(int), "positive": y})
    table = frame.groupby("group")["error"].agg(n="size", errors="sum")
    table["error_rate"] = table["errors"] / table["n"]
    low, high = proportion_confint(table["errors"], table["n"], alpha=1 - confidence, method="wilson")
    table["ci_low"], table["ci_high"] = np.asarray(low), np.asarray(high)
    positive_share = frame.groupby("group")["positive"].mean()
    table["measure"] = np.select([positive_share == 0, positive_share == 1], ["false-positive rate", "miss rate"],
                                 "error rate")
    return table
