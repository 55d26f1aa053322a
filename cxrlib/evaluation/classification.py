"""The classification metrics of one model on one set of images (paper Eq. 11-15, ROC AUC, average precision, Brier).

NORMAL is 0 and PNEUMONIA 1. Threshold metrics follow the paper's Eq. 11-15; ROC AUC, average precision and the
Brier score come from scikit-learn (:func:`metric_values` also has fast weighted formulas for the bootstrap loops).
"""

import warnings

import numpy as np
from sklearn import metrics as skm

from .checks import check_labels, check_scores, check_threshold

__all__ = ["METRIC_NAMES", "METRIC_LABELS", "confusion_matrix", "classification_metrics", "metric_values",
           "score_ranks", "ratio", "implied_metrics"]


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
#: The metrics as a reader sees them in tables and legends.
METRIC_LABELS = {"accuracy": "accuracy", "sensitivity": "sensitivity", "specificity": "specificity",
                 "precision": "precision", "f1": "F1", "roc_auc": "ROC AUC", "average_precision": "average precision",
                 "brier": "Brier score"}


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
    y = check_labels(y_true)
    p = check_labels(y_pred, "y_pred")
    if p.shape != y.shape:
        raise ValueError(f"y_pred must have the shape of y_true {y.shape}, got {p.shape}")
    return skm.confusion_matrix(y, p, labels=[0, 1])


def ratio(num, den):
    return num / den if den > 0 else np.nan


def metric_values(y, pred, score, weight=None, ranks=None):
    """All METRIC_NAMES for one (possibly weighted) sample; nan where undefined.

    With ``ranks`` (from :func:`score_ranks`) the ranking metrics use the fast
    weighted formulas below instead of scikit-learn (same values; for the bootstrap loop).
    """
    tn, fp, fn, tp = np.bincount(2 * y + pred, weights=weight, minlength=4)
    values = {
        "accuracy": ratio(tp + tn, tp + tn + fp + fn),  # Eq. 11
        "sensitivity": ratio(tp, tp + fn),  # Eq. 12
        "specificity": ratio(tn, tn + fp),  # Eq. 13
        "precision": ratio(tp, tp + fp),  # Eq. 14
        "f1": ratio(2 * tp, 2 * tp + fp + fn),  # Eq. 15
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


def score_ranks(score):
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
    y = check_labels(y_true)
    s = check_scores(y_score, y.size)
    t = check_threshold(threshold)
    values, counts = metric_values(y, (s >= t).astype(np.int64), s)
    undefined = [k for k, v in values.items() if np.isnan(v)]
    if undefined:
        warnings.warn(f"undefined metrics (zero denominator or one class only): {undefined}", stacklevel=2)
    out = {k: float(v) for k, v in values.items()}
    out.update(threshold=t, n=int(y.size), n_positive=int(y.sum()))
    out.update({k: int(c) for k, c in zip(("tn", "fp", "fn", "tp"), counts)})
    return out


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
        "precision": ratio(tp, tp + fp),
        "f1": ratio(2 * tp, 2 * tp + fp + fn),
        "tp": tp, "tn": tn, "fp": fp, "fn": fn,
    }
