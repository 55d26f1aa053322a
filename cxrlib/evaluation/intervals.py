"""Evaluation of the NORMAL (0) vs PNEUMONIA (1) classifiers (paper §4.3-4.4).

Threshold metrics follow the paper's Eq. 11-15; ROC AUC, average precision and the
Brier score come from scikit-learn. Confidence intervals are
percentile bootstrap intervals that resample *patients* (all images of a drawn
patient enter the resample together), so that several images of one child do not
count as independent evidence. Two models scored on the same images are compared
with McNemar's test on their errors and a paired patient bootstrap of the metric
differences (the same resamples for both models).
"""

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from ..atomic import write_text

__all__ = [
    "METRIC_NAMES",
    "LITERATURE_TABLE2",
    "confusion_matrix",
    "classification_metrics",
    "bootstrap_intervals",
    "evaluate",
    "compare_models",
    "choose_threshold",
    "threshold_for_sensitivity",
    "operating_thresholds",
    "evaluate_seeds",
    "compare_seeds",
    "OPERATING_POINTS",
    "evaluate_arms",
    "operating_point_stability",
    "stability_table",
    "headline_operating_point",
    "minimal_detectable_difference",
    "difference_verdict",
    "EQUIVALENCE_MARGIN_AUC",
    "comparison_sentence",
    "comparisons_table",
    "arms_table",
    "bootstrap_mean",
    "calibration",
    "errors_by_group",
    "implied_metrics",
    "metrics_table",
    "paper_table2",
    "trained_as",
    "update_json",
    "plot_confusion_matrices",
    "plot_roc_curves",
    "plot_pr_curves",
    "plot_calibration",
    "plot_errors_by_group",
]

#: Metrics that get a bootstrap interval, in this order.
METRIC_NAMES = (
    "accuracy",
    "sensitivity",
    "specificity",
    "precision",
    "f1",
    "roc_auc",
    "average_precision",
    "brier",
)

_PAPER = (
    "Galindo-Ramirez V. H., Almaraz-Damian J. A., Cruz-Ramos C., Ponomaryov V., Reyes-Reyes R. "
    "Deteccion y clasificacion de neumonia en imagenes de Rayos X usando tecnicas de "
    "preprocesamiento y Deep Learning. ISSN 1870-4069, pp. 145-157 (2022)"
)

#: Published results, quoted (not computed here). Every entry except Kermany 2018 is
#: copied from Table 2 of the paper above, as printed ('-' there is None here; the
#: paper prints the specificity and precision of its own system as "86~%" and
#: "87~%"). Its row "#Imagenes-Val" is ``n_test`` (624 = the Kermany test split).
#: Table 2 has no AUC row. Kermany 2018 is quoted from its own text (pneumonia vs
#: normal on the same 624 test images; no precision, F1 or epochs reported).
LITERATURE_TABLE2 = {
    "Galindo-Ramirez 2022": {
        "reference": _PAPER + ", Table 2, 'Sistema Propuesto'",
        "architecture": "Xception",
        "accuracy": 0.91, "sensitivity": 0.91, "specificity": 0.86, "precision": 0.87,
        "f1": 0.91, "roc_auc": None, "n_test": 624, "epochs": 100,
    },
    "Jiang [14]": {
        "reference": "Jiang Z., ICBAIE 2020, pp. 341-344; as printed in " + _PAPER + ", Table 2",
        "architecture": "Xception",
        "accuracy": 0.92, "sensitivity": None, "specificity": None, "precision": None,
        "f1": None, "roc_auc": None, "n_test": 500, "epochs": 100,
    },
    "Sanchez [23]": {
        "reference": "Sanchez K. et al., ISBI 2021, pp. 1232-1235; as printed in " + _PAPER + ", Table 2",
        "architecture": "Xception",
        "accuracy": 0.96, "sensitivity": 0.95, "specificity": 0.95, "precision": 0.95,
        "f1": 0.91, "roc_auc": None, "n_test": 200, "epochs": 100,
    },
    "Lujan [17]": {
        "reference": "Lujan-Garcia J. E. et al., Applied Sciences 2020; as printed in " + _PAPER + ", Table 2",
        "architecture": "Xception",
        "accuracy": 0.87, "sensitivity": 0.99, "specificity": 0.84, "precision": 0.84,
        "f1": 0.95, "roc_auc": None, "n_test": 624, "epochs": 100,
    },
    "Varela [28]": {
        "reference": "Varela-Santos S., Melin P., Information Sciences 545 (2021); as printed in " + _PAPER + ", Table 2",
        "architecture": "ANN",
        "accuracy": 0.97, "sensitivity": None, "specificity": None, "precision": None,
        "f1": None, "roc_auc": None, "n_test": 112, "epochs": None,
    },
    "Varela [29]": {
        "reference": "Varela-Santos S., Melin P., Expert Systems with Applications (2020); as printed in " + _PAPER + ", Table 2",
        "architecture": "ANN",
        "accuracy": 0.99, "sensitivity": 0.98, "specificity": 0.99, "precision": None,
        "f1": None, "roc_auc": None, "n_test": 624, "epochs": None,
    },
    "Kermany 2018": {
        "reference": (
            "Kermany D. S., Goldbaum M., et al. Identifying Medical Diagnoses and Treatable "
            "Diseases by Image-Based Deep Learning. Cell 172(5):1122-1131 (2018), "
            "doi:10.1016/j.cell.2018.02.010; pneumonia vs normal"
        ),
        "architecture": "Inception V3",
        "accuracy": 0.928, "sensitivity": 0.932, "specificity": 0.901, "precision": None,
        "f1": None, "roc_auc": 0.968, "n_test": 624, "epochs": None,
    },
}

_TABLE2_ROWS = (
    ("architecture", "Architecture"),
    ("accuracy", "Accuracy"),
    ("sensitivity", "Sensitivity"),
    ("specificity", "Specificity"),
    ("precision", "Precision"),
    ("f1", "F-score"),
    ("roc_auc", "ROC AUC"),
    ("n_test", "#Images (test)"),
    ("epochs", "Epochs"),
)


# --------------------------------------------------------------------------- checks


def _labels(y_true, name="y_true"):
    y = np.asarray(y_true)
    if y.ndim != 1 or y.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array of 0/1 labels, got shape {y.shape}")
    if not np.isin(y, (0, 1)).all():
        bad = np.unique(y[~np.isin(y, (0, 1))])[:5]
        raise ValueError(
            f"{name} must hold 0 (NORMAL) and 1 (PNEUMONIA) only, got values {bad.tolist()}"
        )
    return y.astype(np.int64)


def _scores(y_score, n, name="y_score"):
    s = np.asarray(y_score, dtype=np.float64)
    if s.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},) like y_true, got {s.shape}")
    if not np.isfinite(s).all() or s.min() < 0 or s.max() > 1:
        raise ValueError(f"{name} must hold probabilities in [0, 1], got range [{np.nanmin(s)}, {np.nanmax(s)}]")
    return s


def _threshold(threshold, name="threshold"):
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.floating)):
        raise TypeError(f"{name} must be a number in (0, 1), got {threshold!r}")
    if not 0.0 < float(threshold) < 1.0:
        raise ValueError(f"{name} must be in (0, 1), got {threshold}")
    return float(threshold)


def _group_codes(groups, n):
    if groups is None:
        return np.arange(n)
    g = np.asarray(groups)
    if g.shape != (n,):
        raise ValueError(f"groups must have one patient id per image, shape ({n},), got {g.shape}")
    return pd.factorize(g)[0]


def _rng(seed):
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return np.random.default_rng(int(seed))
    raise TypeError(f"seed must be an int or a numpy.random.Generator, got {seed!r}")


def _check_bootstrap(n_boot, confidence):
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 1:
        raise ValueError(f"n_boot must be a positive integer, got {n_boot!r}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")


# --------------------------------------------------------------------------- point estimates


def confusion_matrix(y_true, y_pred):
    """Confusion matrix of binary predictions (scikit-learn).

    Parameters
    ----------
    y_true, y_pred : (N,) array of 0/1
        Labels and predictions, PNEUMONIA = 1.

    Returns
    -------
    (2, 2) int ndarray
        ``[[tn, fp], [fn, tp]]``.
    """
    y = _labels(y_true)
    p = _labels(y_pred, "y_pred")
    if p.shape != y.shape:
        raise ValueError(f"y_pred must have the shape of y_true {y.shape}, got {p.shape}")
    return skm.confusion_matrix(y, p, labels=[0, 1])


def _ratio(num, den):
    return num / den if den > 0 else np.nan


def _metric_values(y, pred, score, weight=None, ranks=None):
    """All METRIC_NAMES for one (possibly weighted) sample; nan where undefined.

    With ``ranks`` (from :func:`_score_ranks`) the ranking metrics use the fast
    weighted formulas below instead of scikit-learn (same values; for the bootstrap loop).
    """
    tn, fp, fn, tp = np.bincount(2 * y + pred, weights=weight, minlength=4)
    values = {
        "accuracy": _ratio(tp + tn, tp + tn + fp + fn),  # Eq. 11
        "sensitivity": _ratio(tp, tp + fn),  # Eq. 12
        "specificity": _ratio(tn, tn + fp),  # Eq. 13
        "precision": _ratio(tp, tp + fp),  # Eq. 14
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),  # Eq. 15
    }
    if ranks is not None:
        values.update(_ranking_metrics(y, score, np.ones(y.size) if weight is None else weight, ranks))
        return values, (tn, fp, fn, tp)
    has_both = (tp + fn) > 0 and (tn + fp) > 0
    values["roc_auc"] = skm.roc_auc_score(y, score, sample_weight=weight) if has_both else np.nan
    values["average_precision"] = (
        skm.average_precision_score(y, score, sample_weight=weight) if has_both else np.nan
    )
    values["brier"] = skm.brier_score_loss(y, score, sample_weight=weight)
    return values, (tn, fp, fn, tp)


def _score_ranks(score):
    """Index of each score among the distinct scores (ascending): ties share an index."""
    return np.unique(score, return_inverse=True)[1].ravel()


def _ranking_metrics(y, score, weight, ranks):
    """Weighted ROC AUC, average precision and Brier score, as scikit-learn defines them.

    AUC counts each (positive, negative) pair, ties as one half; average precision is
    sum_k (R_k - R_k-1) P_k over the distinct scores from the highest down.
    """
    n_distinct = ranks.max() + 1
    pos = np.bincount(ranks, weights=weight * y, minlength=n_distinct)
    neg = np.bincount(ranks, weights=weight * (1 - y), minlength=n_distinct)
    n_pos, n_neg = pos.sum(), neg.sum()
    brier = float(np.sum(weight * (score - y) ** 2) / weight.sum())
    if n_pos == 0 or n_neg == 0:
        return {"roc_auc": np.nan, "average_precision": np.nan, "brier": brier}
    below = np.cumsum(neg) - neg
    auc = (np.sum(pos * below) + 0.5 * np.sum(pos * neg)) / (n_pos * n_neg)
    tps, fps = np.cumsum(pos[::-1]), np.cumsum(neg[::-1])
    precision = np.divide(tps, tps + fps, out=np.zeros_like(tps), where=(tps + fps) > 0)
    ap = np.sum(pos[::-1] / n_pos * precision)
    return {"roc_auc": float(auc), "average_precision": float(ap), "brier": brier}


def classification_metrics(y_true, y_score, *, threshold=0.5):
    """Paper metrics (Eq. 11-15), ROC AUC, average precision and Brier score.

    Parameters
    ----------
    y_true : (N,) array of 0/1
        True labels, PNEUMONIA = 1.
    y_score : (N,) float array
        Predicted probability of PNEUMONIA.
    threshold : float
        A score ``>= threshold`` is predicted PNEUMONIA.

    Returns
    -------
    dict
        ``accuracy, sensitivity, specificity, precision, f1, roc_auc,
        average_precision, brier`` (fractions; nan where a denominator is zero or,
        for the ranking metrics, a class is absent), plus ``threshold``, ``n``,
        ``n_positive`` and the counts ``tn, fp, fn, tp``.
    """
    y = _labels(y_true)
    s = _scores(y_score, y.size)
    t = _threshold(threshold)
    values, counts = _metric_values(y, (s >= t).astype(np.int64), s)
    undefined = [k for k, v in values.items() if np.isnan(v)]
    if undefined:
        warnings.warn(f"undefined metrics (zero denominator or one class only): {undefined}", stacklevel=2)
    out = {k: float(v) for k, v in values.items()}
    out.update(threshold=t, n=int(y.size), n_positive=int(y.sum()))
    out.update({k: int(c) for k, c in zip(("tn", "fp", "fn", "tp"), counts)})
    return out


# --------------------------------------------------------------------------- bootstrap


def _resample_weights(codes, n_boot, rng):
    """Yield image weights of patient-level resamples (drawn patients count as often as drawn)."""
    n_groups = codes.max() + 1
    for _ in range(n_boot):
        drawn = np.bincount(rng.integers(0, n_groups, n_groups), minlength=n_groups)
        yield drawn[codes].astype(np.float64)


def _resample_seeds_and_patients(codes, n_seeds, n_boot, rng):
    """Yield ``(image weights, seed weights)`` of a two-level bootstrap: patients and training seeds.

    A seed-averaged figure varies for two reasons: which patients were tested and which training run
    (seed) produced the model. Each resample draws the patients with replacement (as
    :func:`_resample_weights`) and, independently, ``n_seeds`` seeds with replacement; the resampled figure
    is the mean over the drawn seeds (seed weights sum to 1). This is the hierarchical (two-stage) bootstrap of
    Davison & Hinkley (1997, section 3.8) with the two levels crossed, as every seed scores the same images. With
    few seeds the seed level is coarse (3 seeds give 10 distinct seed draws) and a little narrow (the variance of
    a mean of draws with replacement is (K - 1) / K of the seeds' own), so the intervals are approximate; with one
    seed they reduce to the patient bootstrap.
    """
    n_groups = codes.max() + 1
    for _ in range(n_boot):
        drawn = np.bincount(rng.integers(0, n_groups, n_groups), minlength=n_groups)
        seeds = np.bincount(rng.integers(0, n_seeds, n_seeds), minlength=n_seeds) / n_seeds
        yield drawn[codes].astype(np.float64), seeds


def _percentile_intervals(samples, confidence):
    """``{name: [low, high]}`` from ``{name: resampled values}``, and notes on undefined resamples."""
    alpha = (1 - confidence) / 2
    intervals, notes = {}, []
    for name, values in samples.items():
        values = np.asarray(values, dtype=np.float64)
        finite = np.isfinite(values)
        if not finite.any():
            intervals[name] = [np.nan, np.nan]
            notes.append(f"{name}: undefined in every resample, interval nan")
            continue
        if finite.mean() < 0.99:
            notes.append(f"{name}: undefined in {100 * (1 - finite.mean()):.1f}% of resamples")
        lo, hi = np.percentile(values[finite], [100 * alpha, 100 * (1 - alpha)])
        intervals[name] = [float(lo), float(hi)]
    return intervals, notes


def _warn_undefined(notes):
    if notes:
        warnings.warn(
            "bootstrap: " + "; ".join(notes) + " (a zero denominator, e.g. one class only; "
            "intervals use the resamples where the value is defined)",
            stacklevel=3,
        )


def bootstrap_intervals(y_true, y_score, *, threshold=0.5, groups=None, n_boot=2000, confidence=0.95, seed=0):
    """Percentile bootstrap intervals of every metric, resampling patients.

    Parameters
    ----------
    y_true : (N,) array of 0/1
        True labels.
    y_score : (N,) float array
        Predicted probability of PNEUMONIA.
    threshold : float
        Decision threshold (fixed, not re-chosen per resample).
    groups : (N,) array, optional
        Patient id per image; patients are drawn with replacement and bring all
        their images. None resamples images.
    n_boot : int
        Number of resamples.
    confidence : float
        Coverage of the interval (0.95 -> 2.5th and 97.5th percentiles).
    seed : int or numpy.random.Generator
        Source of randomness; the same seed gives the same intervals.

    Returns
    -------
    dict
        ``{metric: [low, high]}`` for each name in METRIC_NAMES. Resamples where a
        metric is undefined (e.g. one class only) are left out of its interval.
    """
    y = _labels(y_true)
    s = _scores(y_score, y.size)
    pred = (s >= _threshold(threshold)).astype(np.int64)
    codes = _group_codes(groups, y.size)
    _check_bootstrap(n_boot, confidence)
    samples = {k: [] for k in METRIC_NAMES}
    ranks = _score_ranks(s)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for w in _resample_weights(codes, n_boot, _rng(seed)):
            values, _ = _metric_values(y, pred, s, w, ranks)
            for k in METRIC_NAMES:
                samples[k].append(values[k])
    intervals, notes = _percentile_intervals(samples, confidence)
    _warn_undefined(notes)
    return intervals


def evaluate(y_true, y_score, *, threshold=0.5, groups=None, n_boot=2000, confidence=0.95, seed=0):
    """Point estimates of :func:`classification_metrics` with their bootstrap intervals.

    Parameters are those of :func:`bootstrap_intervals`.

    Returns
    -------
    dict
        The metrics, plus ``"ci"`` (``{metric: [low, high]}``) and ``"ci_method"``
        (a sentence saying how the intervals were made).
    """
    out = classification_metrics(y_true, y_score, threshold=threshold)
    out["ci"] = bootstrap_intervals(
        y_true, y_score, threshold=threshold, groups=groups, n_boot=n_boot, confidence=confidence, seed=seed
    )
    unit = "patients" if groups is not None else "images"
    out["ci_method"] = f"{100 * confidence:g}% percentile bootstrap, {n_boot} resamples of {unit}"
    return out


def compare_models(
    y_true, score_a, score_b, *, threshold_a=0.5, threshold_b=0.5, groups=None,
    n_boot=2000, confidence=0.95, seed=0,
):
    """Paired comparison of two models scored on the same images.

    McNemar's test on the discordant errors (exact binomial when fewer than 25
    images are discordant, otherwise chi-square with continuity correction;
    statsmodels), and the difference ``a - b`` of every metric with a paired
    patient-bootstrap interval (both models on the same resamples).

    Parameters
    ----------
    y_true : (N,) array of 0/1
        True labels.
    score_a, score_b : (N,) float arrays
        PNEUMONIA probabilities of model a and model b for the same images.
    threshold_a, threshold_b : float
        Each model's decision threshold.
    groups, n_boot, confidence, seed
        As in :func:`bootstrap_intervals`.

    Returns
    -------
    dict
        ``mcnemar_statistic``, ``mcnemar_p_value``, ``mcnemar_method``,
        ``both_correct``, ``only_a_correct``, ``only_b_correct``, ``both_wrong``,
        ``auc_difference``, ``auc_difference_ci``, ``difference`` and
        ``difference_ci`` (``{metric: a - b}`` and ``{metric: [low, high]}``),
        ``ci_method``.
    """
    from statsmodels.stats.contingency_tables import mcnemar

    y = _labels(y_true)
    sa = _scores(score_a, y.size, "score_a")
    sb = _scores(score_b, y.size, "score_b")
    pa = (sa >= _threshold(threshold_a, "threshold_a")).astype(np.int64)
    pb = (sb >= _threshold(threshold_b, "threshold_b")).astype(np.int64)
    codes = _group_codes(groups, y.size)
    _check_bootstrap(n_boot, confidence)

    ca, cb = pa == y, pb == y
    table = np.array([[np.sum(ca & cb), np.sum(ca & ~cb)], [np.sum(~ca & cb), np.sum(~ca & ~cb)]])
    discordant = int(table[0, 1] + table[1, 0])
    exact = discordant < 25
    test = mcnemar(table, exact=exact, correction=True)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        va, _ = _metric_values(y, pa, sa)
        vb, _ = _metric_values(y, pb, sb)
        samples = {k: [] for k in METRIC_NAMES}
        ranks_a, ranks_b = _score_ranks(sa), _score_ranks(sb)
        for w in _resample_weights(codes, n_boot, _rng(seed)):
            ra, _ = _metric_values(y, pa, sa, w, ranks_a)
            rb, _ = _metric_values(y, pb, sb, w, ranks_b)
            for k in METRIC_NAMES:
                samples[k].append(ra[k] - rb[k])
    difference = {k: float(va[k] - vb[k]) for k in METRIC_NAMES}
    difference_ci, notes = _percentile_intervals(samples, confidence)
    _warn_undefined([f"difference in {note}" for note in notes])
    unit = "patients" if groups is not None else "images"
    return {
        "mcnemar_statistic": float(test.statistic),
        "mcnemar_p_value": float(test.pvalue),
        "mcnemar_method": "exact binomial" if exact else "chi-square with continuity correction",
        "both_correct": int(table[0, 0]),
        "only_a_correct": int(table[0, 1]),
        "only_b_correct": int(table[1, 0]),
        "both_wrong": int(table[1, 1]),
        "auc_difference": difference["roc_auc"],
        "auc_difference_ci": difference_ci["roc_auc"],
        "difference": difference,
        "difference_ci": difference_ci,
        "ci_method": f"{100 * confidence:g}% paired percentile bootstrap, {n_boot} resamples of {unit}",
    }


def choose_threshold(labels, scores):
    """The validation threshold that maximises Youden's J = sensitivity + specificity - 1.

    Maximising J is maximising balanced accuracy. From ``sklearn.metrics.roc_curve``
    the first maximum is taken (the highest threshold among ties), and the threshold
    returned is the midpoint between that score and the next lower one, so the
    validation images are classified the same but unseen scores near the boundary
    are not decided by a single image's score.

    Parameters
    ----------
    labels : (N,) int ndarray
        0 = NORMAL, 1 = PNEUMONIA, both present.
    scores : (N,) float ndarray
        P(pneumonia).

    Returns
    -------
    threshold : float
        Classify as pneumonia when ``score >= threshold``.
    """
    labels = np.asarray(labels).astype(int).reshape(-1)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if labels.shape != scores.shape:
        raise ValueError(f"labels {labels.shape} and scores {scores.shape} must have the same length")
    if set(np.unique(labels).tolist()) != {0, 1}:
        raise ValueError("labels must contain both classes (0 = NORMAL, 1 = PNEUMONIA) to choose a threshold")
    if not np.all(np.isfinite(scores)):
        raise ValueError("scores contain NaN or infinite values")
    fpr, tpr, thresholds = skm.roc_curve(labels, scores, drop_intermediate=False)
    best = int(np.argmax(tpr - fpr))
    if best == 0:
        warnings.warn("no threshold separates the validation classes better than chance; using 0.5",
                      stacklevel=2)
        return 0.5
    lower = thresholds[best + 1] if best + 1 < len(thresholds) else 0.0
    return float((thresholds[best] + lower) / 2.0)


def threshold_for_sensitivity(labels, scores, *, target=0.95):
    """The highest validation threshold at which validation sensitivity is at least ``target``.

    Parameters
    ----------
    labels : (N,) int ndarray
        0 = NORMAL, 1 = PNEUMONIA, both present.
    scores : (N,) float ndarray
    target : float
        Sensitivity to reach, in (0, 1].

    Returns
    -------
    threshold : float
        Midway between the lowest positive score that must be caught and the next lower score, so
        the validation images are classified the same but the boundary does not sit on one image.
    """
    labels = np.asarray(labels).astype(int).reshape(-1)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if labels.shape != scores.shape or not labels.any():
        raise ValueError("labels and scores must have the same length and hold at least one PNEUMONIA (1)")
    if not 0 < float(target) <= 1:
        raise ValueError(f"target must be in (0, 1], got {target!r}")
    positives = np.sort(scores[labels == 1])[::-1]
    needed = int(np.ceil(target * len(positives) - 1e-9))
    cut = positives[max(needed, 1) - 1]  # the needed-th highest positive score
    below = scores[scores < cut]
    threshold = (cut + below.max()) / 2.0 if below.size else cut / 2.0
    return float(min(max(threshold, 1e-6), 1 - 1e-6))


def operating_thresholds(labels, scores):
    """The three operating points of the study, all from validation (never from test).

    Returns
    -------
    dict
        ``{"fixed_0.5": 0.5, "youden": choose_threshold(...), "sensitivity_0.95":
        threshold_for_sensitivity(..., target=0.95)}`` (the keys of :data:`OPERATING_POINTS`).
    """
    return {"fixed_0.5": 0.5, "youden": choose_threshold(labels, scores),
            "sensitivity_0.95": threshold_for_sensitivity(labels, scores, target=0.95)}


#: The operating points every table is given at, each chosen without the test split:
#: a fixed 0.5, and two thresholds chosen on validation (:func:`operating_thresholds`).
OPERATING_POINTS = {
    "fixed_0.5": "threshold 0.5",
    "youden": "validation threshold maximising Youden's J (sensitivity + specificity - 1)",
    "sensitivity_0.95": "highest validation threshold with validation sensitivity >= 0.95",
}
_HEADLINE = ("accuracy", "sensitivity", "specificity", "precision", "f1", "roc_auc", "average_precision")


def evaluate_seeds(y_true, scores, thresholds, *, groups=None, n_boot=2000, confidence=0.95, seed=0):
    """One arm trained with several seeds: mean and SD over seeds, and a bootstrap interval of the mean.

    Parameters
    ----------
    y_true : (N,) array of 0/1
    scores : sequence of (N,) float arrays
        P(pneumonia) of each seed's model on the same images.
    thresholds : sequence of float
        Each seed's decision threshold (chosen without the test split).
    groups, n_boot, confidence, seed
        As in :func:`bootstrap_intervals`; the interval of the seed-averaged metric resamples patients and
        seeds together (:func:`_resample_seeds_and_patients`), so it holds the between-seed spread too.

    Returns
    -------
    dict
        The mean over seeds of every metric in METRIC_NAMES, ``sd`` (sample SD over seeds, nan for
        one seed), ``ci`` (``{metric: [low, high]}``), ``per_seed`` (a list of
        :func:`classification_metrics` outputs), ``n``, ``n_positive``, ``ci_method``.
    """
    y = _labels(y_true)
    scores = [_scores(s, y.size, "scores[i]") for s in scores]
    if not scores or len(scores) != len(thresholds):
        raise ValueError(f"scores ({len(scores)}) and thresholds ({len(thresholds)}) must be non-empty lists "
                         "of the same length, one per seed")
    preds = [(s >= _threshold(t, "thresholds[i]")).astype(np.int64) for s, t in zip(scores, thresholds)]
    codes = _group_codes(groups, y.size)
    _check_bootstrap(n_boot, confidence)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        per_seed = [classification_metrics(y, s, threshold=t) for s, t in zip(scores, thresholds)]
        ranks = [_score_ranks(s) for s in scores]
        samples = {k: [] for k in METRIC_NAMES}
        for w, seed_weights in _resample_seeds_and_patients(codes, len(scores), n_boot, _rng(seed)):
            drawn = np.flatnonzero(seed_weights)
            values = [_metric_values(y, preds[i], scores[i], w, ranks[i])[0] for i in drawn]
            for k in METRIC_NAMES:
                samples[k].append(float(np.dot(seed_weights[drawn], [v[k] for v in values])))
    intervals, notes = _percentile_intervals(samples, confidence)
    _warn_undefined(notes)
    out = {k: float(np.mean([m[k] for m in per_seed])) for k in METRIC_NAMES}
    out["sd"] = {k: float(np.std([m[k] for m in per_seed], ddof=1)) if len(per_seed) > 1 else float("nan")
                 for k in METRIC_NAMES}
    out["ci"] = intervals
    out["per_seed"] = per_seed
    out.update(n=int(y.size), n_positive=int(y.sum()))
    unit = "patients" if groups is not None else "images"
    out["ci_method"] = _two_level_method(confidence, n_boot, len(scores), unit)
    return out


#: Two arms whose AUC difference has its interval inside +-this are called equivalent: the strict end of the
#: non-inferiority margins used for diagnostic AUC (0.02-0.05), fixed before any result was read.
EQUIVALENCE_MARGIN_AUC = 0.02


def compare_seeds(y_true, scores_a, scores_b, thresholds_a, thresholds_b, *, groups=None, n_boot=2000,
                  confidence=0.95, seed=0, equivalence_margin=EQUIVALENCE_MARGIN_AUC, power=0.8):
    """Two arms, each trained with the same seeds, on the same images: per seed and averaged.

    Per seed, :func:`compare_models` (McNemar on the discordant errors, paired bootstrap of every
    metric difference). Across seeds, the mean AUC difference with a paired two-level bootstrap interval
    of that mean (patients and seeds resampled together, one resample applied to both arms), its standard
    error, the smallest difference the study could detect (:func:`minimal_detectable_difference`) and what
    the interval allows one to say (:func:`difference_verdict`).

    Parameters
    ----------
    y_true : (N,) array of 0/1
    scores_a, scores_b : sequence of (N,) float arrays
        One per seed, in the same seed order.
    thresholds_a, thresholds_b : sequence of float
    groups, n_boot, confidence, seed
        As in :func:`bootstrap_intervals`.
    equivalence_margin : float
        AUC difference below which the arms are called equivalent when the interval lies inside it.
    power : float
        Power of :func:`minimal_detectable_difference`.

    Returns
    -------
    dict
        ``auc_difference`` (mean over seeds of a - b), ``auc_difference_ci``, ``auc_difference_sd``,
        ``auc_difference_se``, ``minimal_detectable_difference``, ``power``, ``equivalence_margin``,
        ``verdict``, ``mcnemar_p_values`` (one per seed), ``per_seed`` (the :func:`compare_models` outputs),
        ``ci_method``.
    """
    y = _labels(y_true)
    if not (len(scores_a) == len(scores_b) == len(thresholds_a) == len(thresholds_b) > 0):
        raise ValueError("scores_a, scores_b, thresholds_a and thresholds_b need one entry per seed, the same seeds")
    per_seed = [compare_models(y, sa, sb, threshold_a=ta, threshold_b=tb, groups=groups, n_boot=n_boot,
                               confidence=confidence, seed=seed)
                for sa, sb, ta, tb in zip(scores_a, scores_b, thresholds_a, thresholds_b)]
    codes = _group_codes(groups, y.size)
    sa = [_scores(s, y.size, "scores_a[i]") for s in scores_a]
    sb = [_scores(s, y.size, "scores_b[i]") for s in scores_b]
    ra, rb = [_score_ranks(s) for s in sa], [_score_ranks(s) for s in sb]
    ones = np.ones(y.size, dtype=np.int64)
    samples = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for w, seed_weights in _resample_seeds_and_patients(codes, len(sa), n_boot, _rng(seed)):
            drawn = np.flatnonzero(seed_weights)
            diffs = [_metric_values(y, ones, sa[i], w, ra[i])[0]["roc_auc"]
                     - _metric_values(y, ones, sb[i], w, rb[i])[0]["roc_auc"] for i in drawn]
            samples.append(float(np.dot(seed_weights[drawn], diffs)))
    interval, notes = _percentile_intervals({"auc_difference": samples}, confidence)
    _warn_undefined(notes)
    differences = [c["auc_difference"] for c in per_seed]
    unit = "patients" if groups is not None else "images"
    samples = np.asarray(samples)
    standard_error = float(np.nanstd(samples, ddof=1)) if np.isfinite(samples).sum() > 1 else float("nan")
    detectable = minimal_detectable_difference(standard_error, confidence=confidence, power=power)
    return {
        "auc_difference": float(np.mean(differences)),
        "auc_difference_ci": interval["auc_difference"],
        "auc_difference_sd": float(np.std(differences, ddof=1)) if len(differences) > 1 else float("nan"),
        "auc_difference_se": standard_error,
        "minimal_detectable_difference": detectable,
        "power": power,
        "equivalence_margin": equivalence_margin,
        "verdict": difference_verdict(interval["auc_difference"], equivalence_margin),
        "mcnemar_p_values": [c["mcnemar_p_value"] for c in per_seed],
        "per_seed": per_seed,
        "ci_method": "paired " + _two_level_method(confidence, n_boot, len(per_seed), unit),
    }


def _two_level_method(confidence, n_boot, n_seeds, unit):
    """The sentence a record carries about how its intervals were made."""
    if n_seeds == 1:
        return f"{100 * confidence:g}% percentile bootstrap, one seed, {n_boot} resamples of {unit}"
    return (f"{100 * confidence:g}% percentile bootstrap of the mean over {n_seeds} seeds, {n_boot} resamples of "
            f"{unit} and of seeds together (two-level)")


def minimal_detectable_difference(standard_error, *, confidence=0.95, power=0.8):
    """The smallest true difference a two-sided test at ``1 - confidence`` detects with ``power``.

    Normal approximation: ``(z_(1 - alpha/2) + z_power) * SE``, with the standard error of the difference taken
    from the bootstrap resamples (so it holds the patients' and the seeds' variation); 2.80 SE at 95% and 80%.

    Parameters
    ----------
    standard_error : float
    confidence, power : float in (0, 1)

    Returns
    -------
    float
        nan when the standard error is.
    """
    from scipy.stats import norm

    if not (0 < confidence < 1 and 0 < power < 1):
        raise ValueError(f"confidence and power must be in (0, 1), got {confidence} and {power}")
    return float((norm.ppf(1 - (1 - confidence) / 2) + norm.ppf(power)) * standard_error)


def difference_verdict(ci, margin):
    """What an interval of a difference ``a - b`` allows one to say.

    Returns
    -------
    str
        ``"a higher"`` or ``"b higher"`` when the interval excludes 0; ``"equivalent"`` when it lies inside
        ``(-margin, margin)`` (two one-sided tests at the interval's level); else ``"not shown"``: no difference
        detected, and no equivalence either.
    """
    lo, hi = (float(v) for v in ci)
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return "not shown"
    if lo > 0:
        return "a higher"
    if hi < 0:
        return "b higher"
    return "equivalent" if -margin < lo and hi < margin else "not shown"


def evaluate_arms(predictions, thresholds, *, pairs=(), n_boot=2000, confidence=0.95, seed=0):
    """The study's evaluation records: every arm at three operating points, without the ROI's failures, compared.

    Parameters
    ----------
    predictions : pandas.DataFrame
        One row per image, arm and seed: ``arm``, ``seed``, ``filename``, ``patient_id``, ``y_true`` (0/1),
        ``score`` (P(pneumonia)), ``fallback`` (bool: the image's ROI fell back to the whole image) and, optionally,
        ``implausible`` (bool: its box was flagged, :func:`cxrlib.plausibility.flag_boxes`). Every arm must hold
        the same images for the same seeds.
    thresholds : dict
        ``{arm: {seed: {operating point: threshold}}}`` with the keys of :data:`OPERATING_POINTS`.
    pairs : sequence of (str, str)
        Arms compared, ``a - b``.
    n_boot, confidence, seed
        As in :func:`bootstrap_intervals`.

    Returns
    -------
    dict
        ``arms``: arm -> the metrics at ``youden`` (means over seeds), ``sd``, ``ci``, ``per_seed``
        (``seed`` plus the metrics), ``operating_points`` (point -> the same keys and ``thresholds``),
        ``without_fallback`` (the same, at ``youden``, on the images whose ROI neither fell back nor was flagged
        implausible: the same images for every arm, so comparisons stay paired), ``fallback_images`` (how many were
        left out), ``n``; ``comparisons``: a list of ``a``, ``b``,
        :func:`compare_seeds` at ``youden``; ``operating_point_definitions``; ``operating_point_stability``
        (:func:`operating_point_stability`) and ``headline`` (:func:`headline_operating_point`).
    """
    needed = {"arm", "seed", "filename", "patient_id", "y_true", "score", "fallback"}
    missing = needed - set(predictions.columns)
    if missing:
        raise ValueError(f"predictions lacks the column(s) {sorted(missing)}")
    arms = list(dict.fromkeys(predictions["arm"]))
    seeds = sorted(set(predictions["seed"]))

    def matrix(arm):
        rows = predictions[predictions["arm"] == arm]
        wide = rows.pivot(index="filename", columns="seed", values="score")
        if list(wide.columns) != seeds or wide.isna().any().any():
            raise ValueError(f"arm {arm!r} lacks predictions for some seed and image; every arm needs every seed")
        return wide

    first = predictions[(predictions["arm"] == arms[0]) & (predictions["seed"] == seeds[0])].set_index("filename")
    order = first.index
    y = first["y_true"].to_numpy(np.int64)
    groups = first["patient_id"].astype(str).to_numpy()
    failed = first["fallback"].astype(bool).to_numpy()
    if "implausible" in first.columns:
        failed = failed | first["implausible"].astype(bool).to_numpy()
    kept = ~failed
    scores = {arm: matrix(arm).loc[order] for arm in arms}

    def seed_list(arm, mask=slice(None)):
        return [scores[arm][s].to_numpy()[mask] for s in seeds]

    def summarize(result, point_thresholds):
        out = {k: result[k] for k in _HEADLINE}
        out["sd"] = {k: result["sd"][k] for k in _HEADLINE}
        out["ci"] = {k: result["ci"][k] for k in _HEADLINE}
        out["per_seed"] = [{"seed": int(s), **{k: m[k] for k in _HEADLINE}, "threshold": m["threshold"]}
                           for s, m in zip(seeds, result["per_seed"])]
        out.update(n=result["n"], n_positive=result["n_positive"], thresholds=point_thresholds,
                   ci_method=result["ci_method"])
        return out

    records = {}
    for arm in arms:
        points = {}
        for point in OPERATING_POINTS:
            point_thresholds = [float(thresholds[arm][s][point]) for s in seeds]
            points[point] = summarize(evaluate_seeds(y, seed_list(arm), point_thresholds, groups=groups,
                                                     n_boot=n_boot, confidence=confidence, seed=seed),
                                      point_thresholds)
        youden = [float(thresholds[arm][s]["youden"]) for s in seeds]
        without = (summarize(evaluate_seeds(y[kept], seed_list(arm, kept), youden, groups=groups[kept],
                                            n_boot=n_boot, confidence=confidence, seed=seed), youden)
                   if kept.any() and len(set(y[kept])) == 2 else None)
        records[arm] = {**points["youden"], "operating_points": points, "without_fallback": without,
                        "fallback_images": int((~kept).sum())}
    comparisons = []
    for a, b in pairs:
        comparisons.append({"a": a, "b": b, **compare_seeds(
            y, seed_list(a), seed_list(b), [thresholds[a][s]["youden"] for s in seeds],
            [thresholds[b][s]["youden"] for s in seeds], groups=groups, n_boot=n_boot, confidence=confidence,
            seed=seed)})
    stability = operating_point_stability(records)
    return {"arms": records, "comparisons": comparisons, "seeds": [int(s) for s in seeds],
            "operating_point_definitions": OPERATING_POINTS, "operating_point_stability": stability,
            "headline": headline_operating_point(stability)}


#: The largest between-seed SD of test specificity with which a threshold rule may lead the report.
STABLE_SPECIFICITY_SD = 0.03


def operating_point_stability(records):
    """How much each threshold rule moves between seeds: its thresholds and the specificity they give.

    Parameters
    ----------
    records : dict
        ``evaluate_arms(...)["arms"]``.

    Returns
    -------
    dict
        ``{point: {arm: {"threshold_mean", "threshold_sd", "threshold_min", "threshold_max", "specificity_sd",
        "sensitivity_sd"}}}``, SDs between seeds (nan for one seed).
    """
    out = {}
    for point in OPERATING_POINTS:
        out[point] = {}
        for arm, record in records.items():
            entry = record["operating_points"][point]
            cuts = np.asarray(entry["thresholds"], float)
            out[point][arm] = {"threshold_mean": float(cuts.mean()),
                               "threshold_sd": float(cuts.std(ddof=1)) if cuts.size > 1 else float("nan"),
                               "threshold_min": float(cuts.min()), "threshold_max": float(cuts.max()),
                               "specificity_sd": entry["sd"]["specificity"], "sensitivity_sd": entry["sd"]["sensitivity"]}
    return out


def stability_table(stability):
    """:func:`operating_point_stability` as a display table: one row per rule and arm, SDs in points."""
    def points(v):
        return "-" if v is None or not np.isfinite(v) else f"{100 * v:.1f}"

    rows = {(point, arm): {"threshold (mean over seeds)": f"{r['threshold_mean']:.3f}",
                           "threshold range": f"{r['threshold_min']:.3f}–{r['threshold_max']:.3f}",
                           "specificity SD between seeds (points)": points(r["specificity_sd"]),
                           "sensitivity SD between seeds (points)": points(r["sensitivity_sd"])}
            for point, by_arm in stability.items() for arm, r in by_arm.items()}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis(["threshold rule", "arm"])


def headline_operating_point(stability, *, max_sd=STABLE_SPECIFICITY_SD):
    """Which figures lead the report: a threshold rule that is stable across seeds, or none (threshold-free).

    The rule is fixed before any result is read: the first of :data:`OPERATING_POINTS` whose between-seed SD
    of specificity is at most ``max_sd`` in every arm leads; if none is, the headline is threshold-free (ROC
    AUC and average precision), and the thresholded tables follow with their spread. The thresholds themselves
    always come from validation; with one seed no spread is measured and no rule can be shown stable.

    Parameters
    ----------
    stability : dict
        :func:`operating_point_stability`.
    max_sd : float

    Returns
    -------
    dict
        ``point`` (a key of :data:`OPERATING_POINTS`, or None), ``max_specificity_sd`` (per point, the largest
        over arms), ``rule`` (the sentence above, with ``max_sd``).
    """
    worst = {point: max(a["specificity_sd"] for a in by_arm.values()) for point, by_arm in stability.items()}
    stable = [p for p, sd in worst.items() if np.isfinite(sd) and sd <= max_sd]
    return {"point": stable[0] if stable else None, "max_specificity_sd": worst,
            "rule": f"the first threshold rule whose between-seed SD of specificity is at most "
                    f"{100 * max_sd:g} points in every arm leads; none: the headline is threshold-free"}


def bootstrap_mean(values, *, groups=None, n_boot=2000, confidence=0.95, seed=0):
    """Mean of per-image values with a percentile bootstrap interval over patients (and seeds).

    Parameters
    ----------
    values : (N,) or (K, N) float array
        One value per image, or one row per training seed over the same images; nan values are ignored.
        With rows, the mean is over seeds and images and the interval resamples both
        (:func:`_resample_seeds_and_patients`).
    groups : (N,) array, optional
        Patient id per image (None resamples images).
    n_boot, confidence, seed
        As in :func:`bootstrap_intervals`.

    Returns
    -------
    tuple
        ``(mean, [low, high])``.
    """
    v = np.asarray(values, dtype=np.float64)
    if v.ndim == 1:
        v = v[None, :]
    if v.ndim != 2 or v.size == 0:
        raise ValueError(f"values must be a non-empty (N,) or (seeds, N) array, got shape {np.shape(values)}")
    _check_bootstrap(n_boot, confidence)
    ok = np.isfinite(v)
    if not ok.any():
        warnings.warn("values has no finite entry; mean and interval are nan", stacklevel=2)
        return np.nan, [np.nan, np.nan]
    codes = _group_codes(groups, v.shape[1])
    filled = np.where(ok, v, 0.0)
    means = []
    for w, seed_weights in _resample_seeds_and_patients(codes, v.shape[0], n_boot, _rng(seed)):
        weight = seed_weights[:, None] * w[None, :] * ok
        total = weight.sum()
        means.append(float((weight * filled).sum() / total) if total > 0 else np.nan)
    intervals, notes = _percentile_intervals({"mean": means}, confidence)
    _warn_undefined(notes)
    return float(v[ok].mean()), intervals["mean"]


# --------------------------------------------------------------------------- calibration, errors


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

    y = _labels(y_true)
    s = _scores(y_score, y.size)
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
_MEASURES = {"false-positive rate": "NORMAL", "miss rate": "PNEUMONIA", "error rate": "NORMAL and PNEUMONIA"}


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

    y = _labels(y_true)
    p = _labels(y_pred, "y_pred")
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


# --------------------------------------------------------------------------- paper comparison


def implied_metrics(sensitivity, specificity, *, n_positive, n_negative):
    """Accuracy, precision and F1 implied by a sensitivity and specificity on given class counts.

    Used to check whether published figures are consistent with each other on a
    known test split (Kermany: 390 PNEUMONIA, 234 NORMAL).

    Returns
    -------
    dict
        ``accuracy``, ``precision``, ``f1`` (fractions), ``tp``, ``tn``, ``fp``, ``fn`` (expected counts).
    """
    for name, v in (("sensitivity", sensitivity), ("specificity", specificity)):
        if not 0.0 <= v <= 1.0:
            raise ValueError(f"{name} must be a fraction in [0, 1], got {v}")
    if n_positive < 1 or n_negative < 1:
        raise ValueError(f"n_positive and n_negative must be >= 1, got {n_positive} and {n_negative}")
    tp, tn = sensitivity * n_positive, specificity * n_negative
    fn, fp = n_positive - tp, n_negative - tn
    return {
        "accuracy": (tp + tn) / (n_positive + n_negative),
        "precision": _ratio(tp, tp + fp),
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
        "tp": tp, "tn": tn, "fp": fp, "fn": fn,
    }


def _fmt_ours(key, m):
    value = m.get(key)
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "-"
    if key in ("n_test", "epochs"):
        return str(int(value))
    if key == "architecture":
        return str(value)
    ci = m.get("ci", {}).get(key)
    if key == "roc_auc":
        text = f"{value:.3f}"
        return f"{text} ({ci[0]:.3f}-{ci[1]:.3f})" if ci else text
    text = f"{100 * value:.1f}%"
    return f"{text} ({100 * ci[0]:.1f}-{100 * ci[1]:.1f})" if ci else text


def _fmt_cited(key, m):
    value = m.get(key)
    if value is None:
        return "-"
    if key in ("n_test", "epochs", "architecture"):
        return str(value)
    if key == "roc_auc":
        return f"{value:.3f}"
    return f"{100 * value:.1f}".rstrip("0").rstrip(".") + "%"


def metrics_table(results):
    """Metrics of several models as a display table, each with its interval.

    Parameters
    ----------
    results : dict
        ``{model name: dict from evaluate}``.

    Returns
    -------
    pandas.DataFrame
        One row per metric in METRIC_NAMES, one column per model, cells like
        ``"93.1% (91.0-95.2)"`` (percentages; AUC, average precision and Brier as decimals).
    """
    if not isinstance(results, dict) or not results:
        raise TypeError("results must be a non-empty dict {model name: evaluate() output}")
    rows = {}
    for key in METRIC_NAMES:
        cells = []
        for name, m in results.items():
            value, ci = m[key], m.get("ci", {}).get(key)
            if key in ("roc_auc", "average_precision", "brier"):
                cells.append(f"{value:.3f}" + (f" ({ci[0]:.3f}-{ci[1]:.3f})" if ci else ""))
            else:
                cells.append(f"{100 * value:.1f}%" + (f" ({100 * ci[0]:.1f}-{100 * ci[1]:.1f})" if ci else ""))
        rows[key] = cells
    return pd.DataFrame.from_dict(rows, orient="index", columns=list(results))


def arms_table(records, *, point=None):
    """Every arm's metrics as a display table: mean over seeds, its SD and its 95% interval.

    Parameters
    ----------
    records : dict
        ``evaluate_arms(...)["arms"]``.
    point : str, optional
        An operating point of :data:`OPERATING_POINTS`; None: the headline (``youden``).
        ``"without_fallback"`` gives the table on the images whose ROI did not fall back.

    Returns
    -------
    pandas.DataFrame
        One row per arm, one column per metric, cells like ``"89.7% ± 0.4 (87.1–92.2)"``
        (percentages; AUC and average precision as decimals; no SD with one seed).
    """
    rows = {}
    for arm, record in records.items():
        m = record if point is None else (record["operating_points"][point] if point in OPERATING_POINTS
                                          else record.get(point))
        if m is None:
            continue
        cells = {}
        for key in _HEADLINE:
            scale, unit, digits = (1, "", 3) if key in ("roc_auc", "average_precision") else (100, "%", 1)

            def number(v):
                return "n/a" if v is None or not np.isfinite(v) else f"{scale * v:.{digits}f}"

            sd, (low, high) = m["sd"][key], m["ci"][key]
            spread = f" ± {number(sd)}" if sd is not None and np.isfinite(sd) else ""
            value = number(m[key])
            cells[key] = f"{value}{unit if value != 'n/a' else ''}{spread} ({number(low)}–{number(high)})"
        cells["threshold"] = ", ".join(f"{t:.3f}" for t in m["thresholds"])
        rows[arm] = cells
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("arm")


def comparison_sentence(comparison):
    """What one :func:`compare_seeds` record allows one to say about ``a - b``, in one sentence with its numbers."""
    c = comparison
    lo, hi = c["auc_difference_ci"]
    numbers = f"AUC {c['a']} − {c['b']} {c['auc_difference']:+.3f} (95% interval {lo:+.3f} to {hi:+.3f})"
    verdict = c["verdict"]
    if verdict == "a higher":
        return f"{numbers}: {c['a']} ranks the images better."
    if verdict == "b higher":
        return f"{numbers}: {c['b']} ranks the images better."
    if verdict == "equivalent":
        return f"{numbers}: equivalent within ±{c['equivalence_margin']:.2f}."
    return (f"{numbers}: no difference detected; this study could detect a difference of "
            f"±{c['minimal_detectable_difference']:.3f} or more ({100 * c['power']:.0f}% power).")


def comparisons_table(comparisons):
    """The paired comparisons of :func:`evaluate_arms` as a display table, one row per pair ``a - b``."""
    rows = {}
    for c in comparisons:
        lo, hi = c["auc_difference_ci"]
        rows[f"{c['a']} − {c['b']}"] = {
            "AUC difference (mean over seeds)": f"{c['auc_difference']:+.4f}",
            "95% interval (patients and seeds)": f"{lo:+.4f} to {hi:+.4f}",
            "SD between seeds": "-" if c["auc_difference_sd"] is None or not np.isfinite(c["auc_difference_sd"])
                                else f"{c['auc_difference_sd']:.4f}",
            "verdict": {"a higher": f"{c['a']} higher", "b higher": f"{c['b']} higher",
                        "equivalent": f"equivalent (±{c['equivalence_margin']:.2f})",
                        "not shown": "no difference detected"}[c["verdict"]],
            f"smallest detectable ({100 * c['power']:.0f}% power)": f"±{c['minimal_detectable_difference']:.3f}",
            "McNemar p per seed": ", ".join(f"{p:.2g}" for p in c["mcnemar_p_values"]),
            "only a right / only b right": ", ".join(f"{r['only_a_correct']}/{r['only_b_correct']}"
                                                     for r in c["per_seed"]),
        }
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("a − b")


def trained_as(trained, arm):
    """``epochs`` run and ``architecture`` (backbone) of an arm's first-seed model, as Table 2 lists them.

    ``trained`` is ``training.json``'s ``arms`` mapping.
    """
    first = next(iter(trained.get(arm, {}).get("seeds", {}).values()), {})
    return {"epochs": first.get("epochs_run"), "architecture": first.get("settings", {}).get("backbone")}


def paper_table2(ours, *, literature=None):
    """The paper's Table 2 with this study's models added in front.

    Parameters
    ----------
    ours : dict
        ``{name: metrics}`` where metrics is a dict like :func:`evaluate` returns
        (fractions, optional ``"ci"``), optionally with ``n_test`` (default: its
        ``n``), ``epochs`` and ``architecture`` (default 'Xception').
    literature : dict, optional
        Published columns; default :data:`LITERATURE_TABLE2`.

    Returns
    -------
    pandas.DataFrame
        Rows Architecture, Accuracy, Sensitivity, Specificity, Precision, F-score,
        ROC AUC, #Images (test), Epochs; one column per model, ours first as
        "This study: <name>" (with 95% intervals), then the cited ones ('-' where
        a paper reports nothing).
    """
    if not isinstance(ours, dict) or not ours:
        raise TypeError(f"ours must be a non-empty dict {{name: metrics dict}}, got {type(ours).__name__}")
    literature = LITERATURE_TABLE2 if literature is None else literature
    columns = {}
    for name, m in ours.items():
        if not isinstance(m, dict) or "accuracy" not in m:
            raise ValueError(f"ours[{name!r}] must be a metrics dict with 'accuracy' etc., got {m!r:.80}")
        m = {"architecture": "Xception", "n_test": m.get("n"), **m}
        columns[f"This study: {name}"] = [_fmt_ours(k, m) for k, _ in _TABLE2_ROWS]
    for name, m in literature.items():
        columns[name] = [_fmt_cited(k, m) for k, _ in _TABLE2_ROWS]
    return pd.DataFrame(columns, index=[label for _, label in _TABLE2_ROWS])


# --------------------------------------------------------------------------- files


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


# --------------------------------------------------------------------------- figures


def _figure(n_axes, size=(4.2, 3.8)):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, n_axes, figsize=(size[0] * n_axes, size[1]), squeeze=False)
    return fig, axes[0]


def _check_scores_dict(y_true, scores):
    y = _labels(y_true)
    if not isinstance(scores, dict) or not scores:
        raise TypeError(f"scores must be a non-empty dict {{model name: (N,) probabilities}}, got {type(scores).__name__}")
    return y, {name: _scores(s, y.size, f"scores[{name!r}]") for name, s in scores.items()}


def plot_confusion_matrices(y_true, predictions):
    """One confusion matrix per model (counts and row percentages).

    Parameters
    ----------
    y_true : (N,) array of 0/1
    predictions : dict
        ``{model name: (N,) 0/1 predictions}``.

    Returns
    -------
    matplotlib.figure.Figure
    """
    y = _labels(y_true)
    if not isinstance(predictions, dict) or not predictions:
        raise TypeError("predictions must be a non-empty dict {model name: (N,) 0/1 predictions}")
    fig, axes = _figure(len(predictions))
    for ax, (name, pred) in zip(axes, predictions.items()):
        cm = confusion_matrix(y, pred)
        share = cm / cm.sum(axis=1, keepdims=True).clip(min=1)
        display = skm.ConfusionMatrixDisplay(cm, display_labels=["NORMAL", "PNEUMONIA"])
        display.plot(ax=ax, cmap="Blues", colorbar=False, values_format="d")
        for (i, j), count in np.ndenumerate(cm):
            display.text_[i, j].set_text(f"{count}\n({100 * share[i, j]:.1f}% of row)")
        ax.set_title(name)
    fig.tight_layout()
    return fig


def plot_roc_curves(y_true, scores):
    """ROC curves of several models on the same images, AUC in the legend.

    Parameters
    ----------
    y_true : (N,) array of 0/1
    scores : dict
        ``{model name: (N,) PNEUMONIA probabilities}``.

    Returns
    -------
    matplotlib.figure.Figure
    """
    y, scores = _check_scores_dict(y_true, scores)
    fig, (ax,) = _figure(1, (5, 4.5))
    for name, s in scores.items():
        skm.RocCurveDisplay.from_predictions(y, s, name=name, ax=ax)
    ax.plot([0, 1], [0, 1], ls=":", color="grey", lw=1)
    ax.set_title("ROC")
    fig.tight_layout()
    return fig


def plot_pr_curves(y_true, scores):
    """Precision-recall curves of several models, average precision in the legend.

    Parameters
    ----------
    y_true : (N,) array of 0/1
    scores : dict
        ``{model name: (N,) PNEUMONIA probabilities}``.

    Returns
    -------
    matplotlib.figure.Figure
    """
    y, scores = _check_scores_dict(y_true, scores)
    fig, (ax,) = _figure(1, (5, 4.5))
    for name, s in scores.items():
        skm.PrecisionRecallDisplay.from_predictions(y, s, name=name, ax=ax)
    ax.axhline(y.mean(), ls=":", color="grey", lw=1, label=f"prevalence {y.mean():.2f}")
    ax.legend(loc="lower left")
    ax.set_title("Precision-recall")
    fig.tight_layout()
    return fig


def plot_calibration(y_true, scores, *, n_bins=10, min_count=20):
    """Reliability diagram per model: observed PNEUMONIA fraction per bin with its 95% Wilson interval and count.

    Parameters
    ----------
    y_true : (N,) array of 0/1
    scores : dict
        ``{model name: (N,) PNEUMONIA probabilities}``.
    n_bins, min_count : int
        The bins of :func:`calibration`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    y, scores = _check_scores_dict(y_true, scores)
    fig, axes = _figure(len(scores), (4.2, 4.4))
    for i, (ax, (name, s)) in enumerate(zip(axes, scores.items())):
        c = calibration(y, s, n_bins=n_bins, min_count=min_count)
        observed = np.asarray(c["prob_true"])
        # clipped: at 0 or n positives a Wilson bound can fall a rounding step inside the estimate
        err = np.clip([observed - c["ci_low"], np.asarray(c["ci_high"]) - observed], 0.0, None)
        ax.plot([0, 1], [0, 1], ls=":", color="grey", lw=1, label="perfect calibration")
        ax.errorbar(c["prob_pred"], observed, yerr=err, fmt="o-", ms=4, capsize=3, color=f"C{i}",
                    label="observed, 95% Wilson interval")
        for x, top, n in zip(c["prob_pred"], c["ci_high"], c["count"]):
            ax.annotate(f"n={n}", (x, top), xytext=(0, 3), textcoords="offset points", ha="center", fontsize=7)
        ax.set(xlabel="mean predicted probability in the bin", xlim=(-0.02, 1.02), ylim=(-0.02, 1.08),
               title=f"{name}: Brier {c['brier']:.3f}")
        ax.legend(loc="lower right", fontsize=7)
    axes[0].set_ylabel("observed PNEUMONIA fraction")
    fig.suptitle(f"Calibration: {n_bins} equal-width score bins; a bin with under {min_count} images joins the "
                 "next", fontsize=9)
    fig.tight_layout()
    return fig


def plot_errors_by_group(tables, *, title="Error rate by group"):
    """Error rate per group for several models, one panel per measure (NORMAL's false-positive rate, PNEUMONIA's
    miss rate), with Wilson interval bars and errors / images on each bar.

    Parameters
    ----------
    tables : dict
        ``{model name: DataFrame from errors_by_group}``.
    title : str

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    if not isinstance(tables, dict) or not tables or not all("measure" in t for t in tables.values()):
        raise TypeError("tables must be a non-empty dict {model name: errors_by_group DataFrame}")
    measure = pd.concat([t["measure"] for t in tables.values()]).groupby(level=0).first()
    panels = [(m, sorted(measure.index[measure == m])) for m in _MEASURES if (measure == m).any()]
    width = 0.8 / len(tables)
    fig, axes = plt.subplots(1, len(panels), figsize=(1.5 + 1.8 * len(measure), 4.4), sharey=True, squeeze=False,
                             gridspec_kw={"width_ratios": [len(groups) for _, groups in panels]})
    for ax, (kind, groups) in zip(axes[0], panels):
        x = np.arange(len(groups))
        for i, (name, table) in enumerate(tables.items()):
            t = table.reindex(groups)
            # clipped: at 0 or n errors a Wilson bound can fall a rounding step inside the estimate (1 - 1e-16)
            err = np.clip(np.vstack([t["error_rate"] - t["ci_low"], t["ci_high"] - t["error_rate"]]), 0.0, None)
            bars = ax.bar(x + (i - (len(tables) - 1) / 2) * width, t["error_rate"], width, yerr=err, capsize=3,
                          color=f"C{i}", label=name)
            ax.bar_label(bars, [f"{e:g}/{n:g}" for e, n in zip(t["errors"], t["n"])], padding=2, fontsize=7)
        counts = pd.concat([t["n"] for t in tables.values()]).groupby(level=0).max()
        ax.set_xticks(x, [f"{g}\n(n={counts[g]:g})" for g in groups])
        ax.set(ylabel=f"{kind} (95% Wilson interval)", title=f"{_MEASURES[kind]} images:\n{kind}")
        ax.tick_params(labelleft=True)
    axes[0, -1].legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig
