"""Operating points: the thresholds chosen on validation, and how far each rule's thresholds move between seeds.

Every threshold comes from validation, never from test: a fixed 0.5, Youden's J (:func:`choose_threshold`) and the
highest threshold keeping validation sensitivity >= 0.95 (:func:`threshold_for_sensitivity`). A rule leads the report
only when its test specificity moves little between seeds (:func:`headline_operating_point`).
"""

import warnings

import numpy as np
from sklearn import metrics as skm

__all__ = ["choose_threshold", "threshold_for_sensitivity", "operating_thresholds", "OPERATING_POINTS",
           "POINT_LABELS", "HEADLINE_METRICS", "THRESHOLD_METRICS", "STABLE_SPECIFICITY_SD",
           "operating_point_stability", "headline_operating_point"]


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
    "youden": "validation threshold maximising Youden's J (sensitivity + specificity − 1)",
    "sensitivity_0.95": "highest validation threshold with validation sensitivity ≥ 0.95",
}
#: The operating points as a reader sees them in tables and legends.
POINT_LABELS = {"fixed_0.5": "fixed 0.5", "youden": "Youden", "sensitivity_0.95": "sensitivity ≥ 0.95 on validation"}
#: The metrics the arms' tables show, in this order.
HEADLINE_METRICS = ("accuracy", "sensitivity", "specificity", "precision", "f1", "roc_auc", "average_precision")
#: Those of them that depend on the threshold.
THRESHOLD_METRICS = HEADLINE_METRICS[:5]


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
