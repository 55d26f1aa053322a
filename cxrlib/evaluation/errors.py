"""Where the errors fall: calibration of the probabilities (one model, or over seeds), errors and AUC per subtype."""

import warnings

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from .checks import check_labels, check_scores
from .intervals import bootstrap_mean, evaluate_seeds

__all__ = ["calibration", "calibration_over_seeds", "ERROR_MEASURES", "errors_by_group", "auc_by_subtype"]


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


def calibration_over_seeds(y_true, scores, *, groups=None, n_bins=10, min_count=20, n_boot=2000, seed=0):
    """Calibration of one arm's seeds on the same images: pooled reliability bins with the range over seeds, the
    Brier score per seed, and whether the arm over- or under-predicts PNEUMONIA.

    The bins are those of :func:`calibration` on every seed's scores pooled (``min_count`` images per seed on
    average); in each bin, the observed PNEUMONIA fraction pooled over seeds and its lowest and highest value over
    seeds. Over- or under-prediction is the mean predicted probability minus the observed prevalence, averaged over
    seeds, with an interval resampling patients and seeds (:func:`cxrlib.evaluation.bootstrap_mean`).

    Parameters
    ----------
    y_true : (N,) array of 0/1
    scores : (K, N) float array
        One row per seed.
    groups : (N,) array, optional
        Patient of each image.
    n_bins, min_count : int
        As in :func:`calibration`.
    n_boot, seed
        As in :func:`cxrlib.evaluation.bootstrap_mean`.

    Returns
    -------
    dict
        ``edges``, ``prob_pred``, ``prob_true``, ``count`` (pooled over seeds), ``seed_low``, ``seed_high`` (the
        observed fraction's range over the seeds with images in the bin), ``rule``; ``brier`` (mean over
        seeds), ``brier_sd``, ``brier_per_seed``; ``mean_predicted`` (mean over seeds), ``mean_predicted_per_seed``,
        ``prevalence``, ``excess`` (mean predicted minus prevalence), ``excess_ci``, ``seeds_over`` (seeds whose mean
        prediction exceeds the prevalence) and ``verdict``: ``"over-predicts"`` or ``"under-predicts"`` when the
        interval of ``excess`` excludes 0, else ``"neither shown"``.
    """
    y = check_labels(y_true)
    rows = [check_scores(r, y.size, "scores[i]") for r in np.atleast_2d(np.asarray(scores, dtype=np.float64))]
    k = len(rows)
    pooled = calibration(np.tile(y, k), np.concatenate(rows), n_bins=n_bins, min_count=min_count * k)
    edges = np.asarray(pooled["edges"])
    fractions = []
    for s in rows:
        bins = np.searchsorted(edges[1:-1], s, side="right")
        count = np.bincount(bins, minlength=len(edges) - 1)
        with np.errstate(invalid="ignore", divide="ignore"):
            fractions.append(np.bincount(bins, weights=y, minlength=len(edges) - 1) / count)
    low, high = np.nanmin(fractions, axis=0), np.nanmax(fractions, axis=0)  # every pooled bin holds images
    brier = [float(skm.brier_score_loss(y, s)) for s in rows]
    predicted = [float(s.mean()) for s in rows]
    excess, excess_ci = bootstrap_mean(np.asarray(rows) - y, groups=groups, n_boot=n_boot, seed=seed)
    return {**{key: pooled[key] for key in ("edges", "prob_pred", "prob_true", "count")},
            "seed_low": low.tolist(), "seed_high": high.tolist(),
            "rule": f"{n_bins} equal-width bins" + (f" on the scores of all {k} seeds together" if k > 1 else "")
                    + f", merged upwards until each holds ≥ {min_count} images" + (" per seed" if k > 1 else ""),
            "brier": float(np.mean(brier)), "brier_sd": float(np.std(brier, ddof=1)) if k > 1 else float("nan"),
            "brier_per_seed": brier, "mean_predicted": float(np.mean(predicted)),
            "mean_predicted_per_seed": predicted, "prevalence": float(y.mean()), "excess": excess,
            "excess_ci": excess_ci, "seeds_over": int(sum(p > y.mean() for p in predicted)),
            "verdict": "over-predicts" if excess_ci[0] > 0 else "under-predicts" if excess_ci[1] < 0
            else "neither shown"}


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


def auc_by_subtype(y_true, scores, groups, *, patients=None, n_boot=2000, seed=0):
    """ROC AUC of one arm's seeds for each pneumonia subtype against every NORMAL image: mean, SD and interval.

    Parameters
    ----------
    y_true : (N,) array of 0/1
    scores : (K, N) float array
        One row per seed.
    groups : (N,) array of str
        ``NORMAL`` for every NORMAL image, the subtype (e.g. ``bacteria``, ``virus``) for the others.
    patients : (N,) array, optional
        Patient of each image; the interval resamples patients and seeds (:func:`cxrlib.evaluation.evaluate_seeds`),
        over the resamples that hold both classes.
    n_boot, seed
        As in :func:`cxrlib.evaluation.evaluate_seeds`.

    Returns
    -------
    dict
        ``{subtype: {"roc_auc", "sd", "ci", "per_seed", "n_pneumonia", "n_normal"}}`` in sorted order.
    """
    y = check_labels(y_true)
    g = np.asarray(groups).astype(str)
    rows = [check_scores(r, y.size, "scores[i]") for r in np.atleast_2d(np.asarray(scores, dtype=np.float64))]
    if g.shape != y.shape or ((g == "NORMAL") != (y == 0)).any():
        raise ValueError("groups must name 'NORMAL' for every NORMAL image and a subtype for every PNEUMONIA image")
    patients = np.arange(y.size) if patients is None else np.asarray(patients)
    out = {}
    for subtype in sorted(set(g[y == 1])):
        keep = (g == "NORMAL") | (g == subtype)
        with warnings.catch_warnings():  # about thresholded metrics (at a placeholder 0.5) this does not report
            warnings.simplefilter("ignore", UserWarning)
            m = evaluate_seeds(y[keep], [r[keep] for r in rows], [0.5] * len(rows), groups=patients[keep],
                               n_boot=n_boot, seed=seed)
        out[subtype] = {"roc_auc": m["roc_auc"], "sd": m["sd"]["roc_auc"], "ci": m["ci"]["roc_auc"],
                        "per_seed": [p["roc_auc"] for p in m["per_seed"]], "n_pneumonia": int(y[keep].sum()),
                        "n_normal": int((y == 0).sum())}
    return out
