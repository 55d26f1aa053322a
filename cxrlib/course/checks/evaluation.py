"""Checks of exercise b (evaluation, Eq. 11-15, ROC AUC, the patient bootstrap) against cxrlib.evaluation."""

from __future__ import annotations

import warnings

from ...evaluation.classification import classification_metrics
from ...evaluation.intervals import bootstrap_intervals
from .. import variants
from .common import TOLERANCES, as_number, call_student, student_of

__all__ = ["PAPER_KEYS", "check_paper_metrics", "check_roc_auc", "check_bootstrap_ci", "grade_paper_metrics",
           "grade_roc_auc", "grade_bootstrap_ci"]


PAPER_KEYS = ("tn", "fp", "fn", "tp", "accuracy", "sensitivity", "specificity", "precision", "f1")


def _as_metrics(value, name):
    if not isinstance(value, dict):
        raise AssertionError(f"{name} returned {type(value).__name__}; it must return a dict with the keys "
                             f"{', '.join(PAPER_KEYS)}")
    missing = [k for k in PAPER_KEYS if k not in value]
    if missing:
        raise AssertionError(f"{name} is missing the keys {missing}; it must return {', '.join(PAPER_KEYS)}")
    try:
        return {k: float(value[k]) for k in PAPER_KEYS}
    except (TypeError, ValueError):
        raise AssertionError(f"{name}: every value must be a number, got {value}") from None


def check_paper_metrics(paper_metrics, table):
    """Public: `paper_metrics(table, threshold)` returns the counts and Eq. 11-15, consistent with each other."""
    out = _as_metrics(call_student(paper_metrics, "paper_metrics", table, 0.5), "paper_metrics(table, 0.5)")
    n = out["tn"] + out["fp"] + out["fn"] + out["tp"]
    if n != len(table):
        raise AssertionError(f"tn + fp + fn + tp = {n:g} but the table has {len(table)} rows: every image is "
                             "exactly one of the four")
    for key in PAPER_KEYS[4:]:
        if not 0 <= out[key] <= 1:
            raise AssertionError(f"{key} = {out[key]} is not a fraction in [0, 1]")
    if abs(out["accuracy"] - (out["tp"] + out["tn"]) / n) > 1e-9:
        raise AssertionError("accuracy is not (tp + tn) / (tp + tn + fp + fn) of your own counts (Eq. 11)")


def check_roc_auc(roc_auc, table):
    """Public: `roc_auc(table)` returns one number in [0, 1]."""
    value = as_number(call_student(roc_auc, "roc_auc", table), "roc_auc(table)")
    if not 0 <= value <= 1:
        raise AssertionError(f"roc_auc(table) = {value} is not an area under a curve in the unit square")


def check_bootstrap_ci(patient_bootstrap_ci, table):
    """Public: `patient_bootstrap_ci(table, n_boot=..., seed=...)` returns (low, high) around the accuracy."""
    value = call_student(patient_bootstrap_ci, "patient_bootstrap_ci", table, n_boot=200, seed=0)
    try:
        low, high = (float(v) for v in value)
    except (TypeError, ValueError):
        raise AssertionError(f"patient_bootstrap_ci returned {value!r}; it must return (low, high)") from None
    accuracy = float(((table["score"] >= 0.5) == (table["label"] == 1)).mean())
    if not 0 <= low <= accuracy <= high <= 1:
        raise AssertionError(f"the interval ({low:.3f}, {high:.3f}) should contain the accuracy {accuracy:.3f} "
                             "at threshold 0.5 and lie in [0, 1]")


def _reference_metrics(table, threshold):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return classification_metrics(table["label"], table["score"], threshold=threshold)


def _b_tables(student_id):
    """The student's table at 0.5 and a fresh table of the same variant at another threshold."""
    sid = student_of(student_id)
    return [(variants.predictions_table(sid), 0.5), (variants.predictions_table(sid, stream="fresh"), 0.35)]


def grade_paper_metrics(paper_metrics, student_id):
    """Hidden: the counts and Eq. 11-15 against :func:`cxrlib.evaluation.classification_metrics`."""
    for i, (table, threshold) in enumerate(_b_tables(student_id)):
        which = "your table" if i == 0 else "a fresh table of your variant"
        out = _as_metrics(call_student(paper_metrics, "paper_metrics", table, threshold),
                          f"paper_metrics(table, {threshold})")
        ref = _reference_metrics(table, threshold)
        wrong = [f"{k} = {out[k]:.4f}" for k in PAPER_KEYS if abs(out[k] - ref[k]) > TOLERANCES["metric_abs"]]
        if wrong:
            raise AssertionError(f"on {which} at threshold {threshold}: {', '.join(wrong)} do not match Eq. 11-15. "
                                 "Check which cell of the confusion matrix is FP (label 0, predicted 1) and which is "
                                 "FN (label 1, predicted 0), and that a score equal to the threshold counts as "
                                 "PNEUMONIA.")


def grade_roc_auc(roc_auc, student_id):
    """Hidden: ROC AUC against :func:`cxrlib.evaluation.classification_metrics`."""
    for table, threshold in _b_tables(student_id):
        value = as_number(call_student(roc_auc, "roc_auc", table), "roc_auc(table)")
        ref = _reference_metrics(table, threshold)["roc_auc"]
        if not abs(value - ref) <= TOLERANCES["metric_abs"]:
            raise AssertionError(f"roc_auc(table) = {value:.4f} is not the area under the ROC curve of the scores "
                                 "(ties count one half); use the scores, not the 0/1 predictions")


def grade_bootstrap_ci(patient_bootstrap_ci, student_id):
    """Hidden: the patient-level bootstrap interval of the accuracy against :func:`cxrlib.evaluation.bootstrap_intervals`."""
    table = _b_tables(student_id)[0][0]
    value = call_student(patient_bootstrap_ci, "patient_bootstrap_ci", table, n_boot=1000, seed=1)
    try:
        low, high = (float(v) for v in value)
    except (TypeError, ValueError):
        raise AssertionError(f"patient_bootstrap_ci returned {value!r}; it must return (low, high)") from None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = bootstrap_intervals(table["label"], table["score"], threshold=0.5, groups=table["patient_id"],
                                          n_boot=2000, seed=0)["accuracy"]
    tol = TOLERANCES["ci_abs"]
    if abs(low - ref[0]) > tol or abs(high - ref[1]) > tol:
        raise AssertionError(f"the 95% interval ({low:.3f}, {high:.3f}) is more than {tol} away from the patient-level "
                             "percentile bootstrap of the accuracy (1000 resamples). Draw patients with replacement, "
                             "bring all their images, recompute the accuracy, take the 2.5th and 97.5th percentiles.")
