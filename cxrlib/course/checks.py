"""The tests of the course exercises: public checks students run, hidden checks the autograder runs.

Every check raises ``AssertionError`` with a message a student can act on (what was expected, what came back,
what to look at) and returns None when it passes. Public checks (``check_*``) look only at types, shapes and
internal consistency, so they never reveal an answer. Hidden checks (``grade_*``) live in the autograder's tests:
they recompute the expected answer from the student identifier at grading time, with the study's own functions
(:mod:`cxrlib.metrics`, :func:`cxrlib.metrics.choose_threshold`, the ground truth of :mod:`cxrlib.synthetic`), and
call the student's functions also on fresh data of the same variant that the notebook never shows.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score, roc_curve

from ..evaluation.classification import classification_metrics
from ..evaluation.intervals import bootstrap_intervals
from . import variants

__all__ = [
    "TOLERANCES",
    "box_coverage_area",
    "balanced_accuracy",
    "reference_optimism",
    "check_lung_fields",
    "check_thorax_box",
    "check_paper_metrics",
    "check_roc_auc",
    "check_bootstrap_ci",
    "check_marker_box",
    "check_marker_kind",
    "check_shortcut_auc",
    "check_threshold",
    "check_optimism",
    "grade_lung_fields",
    "grade_thorax_box",
    "grade_paper_metrics",
    "grade_roc_auc",
    "grade_bootstrap_ci",
    "grade_marker_box",
    "grade_marker_kind",
    "grade_shortcut_gap",
    "grade_threshold",
    "grade_optimism",
]

#: Pass marks and tolerances of the hidden checks (the instructor guide prints them as the rubric).
TOLERANCES = {
    "lung_dice": 0.8,  # mean Dice of the student's lung fields with the drawn lung masks
    "box_coverage_median": 0.97,  # median share of the lung pixels inside the box
    "box_coverage_min": 0.9,
    "box_area_median": 0.65,  # median box area as a share of the image (the rib cage is about 0.45)
    "metric_abs": 1e-9,  # Eq. 11-15 and ROC AUC against cxrlib.metrics
    "ci_abs": 0.02,  # each end of the bootstrap interval against cxrlib's (2000 resamples)
    "min_resamples": 200,
    "optimism_abs": 0.01,  # mean optimism against the reference (2000 resamples)
    "marker_iou": 0.5,  # intersection over union of the located box with the planted marker's box
    "auc_abs": 0.01,  # the reported ROC AUCs against the student's own models
    "whole_gap_min": 0.15,  # validation minus test AUC of the whole-image model: the shortcut shows
    "gap_closing_min": 0.15,  # the crop model's gap is at least this much smaller (above the sampling noise)
    "crop_test_auc_min": 0.55,  # and the crop model learned something real on the shortcut-free test
}
PAPER_KEYS = ("tn", "fp", "fn", "tp", "accuracy", "sensitivity", "specificity", "precision", "f1")


def _defined(value, name):
    if value is None:
        raise AssertionError(f"{name} is not defined: run the cell that defines it (Run > Run All Cells)")
    if value is Ellipsis:
        raise AssertionError(f"{name} is still `...`: replace the `...` with your answer and run the cell")


def _call(function, name, *args, **kwargs):
    """Call a student's function; turn its failure into a message that names the call."""
    _defined(function, name)
    if not callable(function):
        raise AssertionError(f"{name} must be a function, got {type(function).__name__}")
    try:
        return function(*args, **kwargs)
    except Exception as exc:
        raise AssertionError(f"{name}(...) raised {type(exc).__name__}: {exc}") from None


def _student(student_id):
    try:
        return variants.check_student_id(student_id)
    except ValueError as exc:
        raise AssertionError(str(exc)) from None


# --------------------------------------------------------------------------- exercise a: thorax ROI


def _as_mask(value, shape, name):
    if value is None or value is Ellipsis:
        raise AssertionError(f"{name} returned {value!r}; it must return an (H, W) bool array, True on the lungs")
    mask = np.asarray(value)
    if mask.shape != shape:
        raise AssertionError(f"{name} returned shape {mask.shape}; it must have the image's shape {shape}")
    if mask.dtype != bool:
        raise AssertionError(f"{name} returned dtype {mask.dtype}; return a bool mask (e.g. `mask > 0`)")
    return mask


def _as_box(value, name):
    if value is None or value is Ellipsis:
        raise AssertionError(f"{name} is {value!r}; it must be (y0, x0, y1, x1) as fractions of the image")
    try:
        box = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        raise AssertionError(f"{name} is {value!r}; it must be four numbers (y0, x0, y1, x1)") from None
    if len(box) != 4 or not all(math.isfinite(v) for v in box):
        raise AssertionError(f"{name} is {value!r}; it must be four finite numbers (y0, x0, y1, x1)")
    y0, x0, y1, x1 = box
    if not (0 <= y0 < y1 <= 1 and 0 <= x0 < x1 <= 1):
        raise AssertionError(f"{name} is {box}; it needs 0 <= y0 < y1 <= 1 and 0 <= x0 < x1 <= 1 (fractions "
                             "of the height and width, as cxrlib.roi.roi_box returns)")
    return box


def box_coverage_area(box, lung_mask):
    """Share of the lung pixels inside a fractional box, and the box's share of the image.

    Parameters
    ----------
    box : tuple of float
        ``(y0, x0, y1, x1)`` fractions, end-exclusive.
    lung_mask : (M, N) bool ndarray

    Returns
    -------
    coverage, area : float
    """
    height, width = lung_mask.shape
    y0, x0, y1, x1 = box
    r0, c0 = int(math.floor(y0 * height)), int(math.floor(x0 * width))
    r1, c1 = int(math.ceil(y1 * height)), int(math.ceil(x1 * width))
    return float(lung_mask[r0:r1, c0:c1].sum() / lung_mask.sum()), float((y1 - y0) * (x1 - x0))


def check_lung_fields(lung_fields, image):
    """Public: `lung_fields(image)` returns a bool mask of the image's shape, neither empty nor everything."""
    mask = _as_mask(_call(lung_fields, "lung_fields", image), image.shape, "lung_fields(image)")
    share = mask.mean()
    if not 0.05 <= share <= 0.7:
        raise AssertionError(f"lung_fields(image) marks {share:.0%} of the image; lungs cover about 15-40%. Look at "
                             "the stages: is the mask inverted (use ~binary, the dark pixels) or empty?")


def check_thorax_box(thorax_box, image):
    """Public: `thorax_box(image)` returns a valid fractional box."""
    _as_box(_call(thorax_box, "thorax_box", image), "thorax_box(image)")


def grade_lung_fields(lung_fields, student_id):
    """Hidden: mean Dice of `lung_fields` with the drawn lung masks, on the student's and on fresh images."""
    sid = _student(student_id)
    cases = variants.roi_cases(sid) + variants.roi_cases(sid, stream="fresh")
    dice = []
    for case in cases:
        mask = _as_mask(_call(lung_fields, "lung_fields", case.image), case.image.shape, "lung_fields(image)")
        dice.append(2 * (mask & case.lung_mask).sum() / max(1, mask.sum() + case.lung_mask.sum()))
    need = TOLERANCES["lung_dice"]
    if np.mean(dice) < need:
        raise AssertionError(f"the lung fields overlap the true lungs with mean Dice {np.mean(dice):.2f} over "
                             f"{len(cases)} images (needs >= {need}); per image: {np.round(dice, 2).tolist()}. "
                             "Check each step's output against the figures in the notebook.")


def grade_thorax_box(thorax_box, student_id):
    """Hidden: lung coverage and area of `thorax_box` against the drawn lung masks (own and fresh images)."""
    sid = _student(student_id)
    cases = variants.roi_cases(sid) + variants.roi_cases(sid, stream="fresh")
    coverage, area = [], []
    for case in cases:
        box = _as_box(_call(thorax_box, "thorax_box", case.image), "thorax_box(image)")
        c, a = box_coverage_area(box, case.lung_mask)
        coverage.append(c)
        area.append(a)
    t = TOLERANCES
    problems = []
    if np.median(coverage) < t["box_coverage_median"] or min(coverage) < t["box_coverage_min"]:
        problems.append(f"the boxes keep a median {np.median(coverage):.1%} (lowest {min(coverage):.1%}) of the lung "
                        f"pixels; needs median >= {t['box_coverage_median']:.0%} and each >= "
                        f"{t['box_coverage_min']:.0%}: the box cuts off lung (add the margin, keep both lungs)")
    if np.median(area) > t["box_area_median"]:
        problems.append(f"the boxes cover a median {np.median(area):.0%} of the image; needs <= "
                        f"{t['box_area_median']:.0%} (the rib cage is about 45%): the box must exclude the labels, "
                        "arms and shoulders, so take it around the lung fields, not around the bright body")
    if problems:
        raise AssertionError(f"on {len(cases)} images of your variant: " + "; ".join(problems))


# --------------------------------------------------------------------------- exercise b: evaluation


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
    out = _as_metrics(_call(paper_metrics, "paper_metrics", table, 0.5), "paper_metrics(table, 0.5)")
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
    value = _as_number(_call(roc_auc, "roc_auc", table), "roc_auc(table)")
    if not 0 <= value <= 1:
        raise AssertionError(f"roc_auc(table) = {value} is not an area under a curve in the unit square")


def check_bootstrap_ci(patient_bootstrap_ci, table):
    """Public: `patient_bootstrap_ci(table, n_boot=..., seed=...)` returns (low, high) around the accuracy."""
    value = _call(patient_bootstrap_ci, "patient_bootstrap_ci", table, n_boot=200, seed=0)
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
    sid = _student(student_id)
    return [(variants.predictions_table(sid), 0.5), (variants.predictions_table(sid, stream="fresh"), 0.35)]


def grade_paper_metrics(paper_metrics, student_id):
    """Hidden: the counts and Eq. 11-15 against :func:`cxrlib.metrics.classification_metrics`."""
    for i, (table, threshold) in enumerate(_b_tables(student_id)):
        which = "your table" if i == 0 else "a fresh table of your variant"
        out = _as_metrics(_call(paper_metrics, "paper_metrics", table, threshold),
                          f"paper_metrics(table, {threshold})")
        ref = _reference_metrics(table, threshold)
        wrong = [f"{k} = {out[k]:.4f}" for k in PAPER_KEYS if abs(out[k] - ref[k]) > TOLERANCES["metric_abs"]]
        if wrong:
            raise AssertionError(f"on {which} at threshold {threshold}: {', '.join(wrong)} do not match Eq. 11-15. "
                                 "Check which cell of the confusion matrix is FP (label 0, predicted 1) and which is "
                                 "FN (label 1, predicted 0), and that a score equal to the threshold counts as "
                                 "PNEUMONIA.")


def grade_roc_auc(roc_auc, student_id):
    """Hidden: ROC AUC against :func:`cxrlib.metrics.classification_metrics`."""
    for table, threshold in _b_tables(student_id):
        value = _as_number(_call(roc_auc, "roc_auc", table), "roc_auc(table)")
        ref = _reference_metrics(table, threshold)["roc_auc"]
        if not abs(value - ref) <= TOLERANCES["metric_abs"]:
            raise AssertionError(f"roc_auc(table) = {value:.4f} is not the area under the ROC curve of the scores "
                                 "(ties count one half); use the scores, not the 0/1 predictions")


def grade_bootstrap_ci(patient_bootstrap_ci, student_id):
    """Hidden: the patient-level bootstrap interval of the accuracy against :func:`cxrlib.metrics.bootstrap_intervals`."""
    table = _b_tables(student_id)[0][0]
    value = _call(patient_bootstrap_ci, "patient_bootstrap_ci", table, n_boot=1000, seed=1)
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


# --------------------------------------------------------------------------- exercise c: find the shortcut

_MARKER_AREA_MAX = 0.1  # a box over more than this share of the image is no burned-in marker


def check_marker_box(marker_box):
    """Public: `marker_box` is a fractional box small enough to be a burned-in marker."""
    _defined(marker_box, "marker_box")
    y0, x0, y1, x1 = _as_box(marker_box, "marker_box")
    if (y1 - y0) * (x1 - x0) > _MARKER_AREA_MAX:
        raise AssertionError(f"marker_box covers {(y1 - y0) * (x1 - x0):.0%} of the image; a burned-in marker covers "
                             f"a few percent at most. Narrow it down to the region where blanking hurts most.")


def grade_marker_box(marker_box, student_id):
    """Hidden: intersection over union of `marker_box` with the planted marker's box."""
    from ..preprocess.boxes import box_iou

    _defined(marker_box, "marker_box")
    box = _as_box(marker_box, "marker_box")
    truth = variants.shortcut_marker(_student(student_id))
    iou = box_iou(box, truth.box)
    need = TOLERANCES["marker_iou"]
    if iou < need:
        mirrored = (box[0], 1 - box[3], box[2], 1 - box[1])
        hint = (" Your box is the mirror image of the marker: the image's left is its column 0 (the patient's "
                "right); take the columns as they are in the array, without flipping them."
                if box_iou(mirrored, truth.box) >= need else
                " Check where the blanking test drops most, and bound the marker itself, not the whole grid cell.")
        raise AssertionError(f"marker_box overlaps the planted marker with intersection over union {iou:.2f} (needs "
                             f">= {need}).{hint}")


def check_marker_kind(marker_kind):
    """Public: `marker_kind` is one of the kinds of :data:`cxrlib.course.variants.MARKER_KINDS`."""
    _defined(marker_kind, "marker_kind")
    if marker_kind not in variants.MARKER_KINDS:
        raise AssertionError(f"marker_kind must be one of {tuple(variants.MARKER_KINDS)}, got {marker_kind!r}")


def grade_marker_kind(marker_kind, student_id):
    """Hidden: `marker_kind` is the kind of the planted marker."""
    check_marker_kind(marker_kind)
    if marker_kind != variants.shortcut_marker(_student(student_id)).kind:
        raise AssertionError(f"the marker is not a {marker_kind} ({variants.MARKER_KINDS[marker_kind]}); look at your "
                             "box in several PNEUMONIA training radiographs at full size, or compare the mean "
                             "difference inside it with variants.marker_stamp(kind, side) for each kind")


def _as_auc_table(auc):
    _defined(auc, "auc")
    form = '{"whole": {"val": ..., "test": ...}, "crop": {"val": ..., "test": ...}}'
    try:
        table = {arm: {subset: float(auc[arm][subset]) for subset in ("val", "test")} for arm in ("whole", "crop")}
    except (TypeError, KeyError, ValueError, IndexError):
        raise AssertionError(f"auc must be {form} with numbers, got {auc!r}") from None
    bad = [f"{arm}/{subset} = {v}" for arm, row in table.items() for subset, v in row.items()
           if not (math.isfinite(v) and 0 <= v <= 1)]
    if bad:
        raise AssertionError(f"every ROC AUC lies in [0, 1]: {', '.join(bad)}")
    return table


def check_shortcut_auc(auc):
    """Public: `auc` holds the four ROC AUCs (whole / crop model, validation / test)."""
    _as_auc_table(auc)


def _reference_aucs(model, table, column, name):
    """ROC AUC of a student's model on its arm's images of the validation and test subsets."""
    from ..models.inputs import read_images
    from ..models.model import predict_proba

    _defined(model, name)
    out = {}
    for subset in ("val", "test"):
        rows = table[table["subset"] == subset]
        try:
            images = read_images(rows[column], size=model.input_shape[1], progress=False)
            scores = predict_proba(model, images)
        except Exception as exc:
            raise AssertionError(f"{name} could not score the {subset} images of `processed[{column!r}]` "
                                 f"({type(exc).__name__}: {exc}); it must be the keras model train_classifier "
                                 "returned (result.model) for that arm") from None
        out[subset] = float(roc_auc_score(rows["label"] == "PNEUMONIA", scores))
    return out


def grade_shortcut_gap(auc, whole_model, crop_model, processed, student_id):
    """Hidden: the reported AUCs are the models' own, the whole-image gap is large and the crop closes it.

    The validation and test rows of `processed` must be the student's variant (image ids, subsets and labels of
    :func:`cxrlib.course.variants.shortcut_dataset`); each model is scored on its arm's images there.
    """
    table = _as_auc_table(auc)
    _defined(processed, "processed")
    sid = _student(student_id)
    expected = variants._shortcut_plan(sid)
    try:
        mine = processed.set_index("image_id").loc[expected["image_id"], ["subset", "label"]].reset_index(drop=True)
    except Exception:
        mine = None
    if mine is None or not mine.equals(expected[["subset", "label"]].reset_index(drop=True)):
        raise AssertionError("`processed` is not the table of your variant (image ids, subsets and labels of "
                             "variants.shortcut_dataset(STUDENT_ID, ...)); run the notebook from the top without "
                             "changing it")
    measured = {"whole": _reference_aucs(whole_model, processed, "image_whole", "whole_model"),
                "crop": _reference_aucs(crop_model, processed, "image_crop", "crop_model")}
    off = [f"{arm}/{subset}: yours {table[arm][subset]:.3f}, the model's {measured[arm][subset]:.3f}"
           for arm in table for subset in ("val", "test")
           if abs(table[arm][subset] - measured[arm][subset]) > TOLERANCES["auc_abs"]]
    if off:
        raise AssertionError("auc does not match what your models give on `processed` (each on its own arm's "
                             f"images, ROC AUC of P(PNEUMONIA)): {'; '.join(off)}")
    t = TOLERANCES
    gap = {arm: measured[arm]["val"] - measured[arm]["test"] for arm in measured}
    summary = (f"whole-image gap {gap['whole']:+.2f} (val {measured['whole']['val']:.2f}, test "
               f"{measured['whole']['test']:.2f}); crop gap {gap['crop']:+.2f} (val {measured['crop']['val']:.2f}, "
               f"test {measured['crop']['test']:.2f})")
    if gap["whole"] < t["whole_gap_min"]:
        raise AssertionError(f"{summary}: the whole-image model shows no shortcut gap (needs >= "
                             f"{t['whole_gap_min']}); train it with the given settings on ARMS[0].column")
    if gap["crop"] > gap["whole"] - t["gap_closing_min"] or measured["crop"]["test"] < t["crop_test_auc_min"]:
        raise AssertionError(f"{summary}: the crop model's gap should be at least {t['gap_closing_min']} smaller, "
                             f"with a test AUC >= {t['crop_test_auc_min']}; train it with the given settings on "
                             "ARMS[1].column, the thorax crops")


# --------------------------------------------------------------------------- exercise d: operating point


def balanced_accuracy(labels, scores, threshold, *, weights=None):
    """(sensitivity + specificity) / 2 at a threshold (score >= threshold is PNEUMONIA), optionally weighted.

    Parameters
    ----------
    labels : (N,) int ndarray
    scores : (N,) float ndarray
    threshold : float
    weights : (N,) float ndarray, optional

    Returns
    -------
    float
    """
    labels, scores = np.asarray(labels), np.asarray(scores, dtype=np.float64)
    weights = np.ones(labels.size) if weights is None else np.asarray(weights, dtype=np.float64)
    pred = scores >= threshold
    sens = np.sum(weights * (pred & (labels == 1))) / np.sum(weights * (labels == 1))
    spec = np.sum(weights * (~pred & (labels == 0))) / np.sum(weights * (labels == 0))
    return float((sens + spec) / 2)


def reference_optimism(validation, test, *, n_resamples=2000, seed=0):
    """Mean optimism of choosing the threshold on test, over patient-level resamples of the test set.

    In each resample (patients drawn with replacement), the best balanced accuracy any threshold reaches on the
    resample (the threshold chosen on test) minus the balanced accuracy at the validation threshold.

    Parameters
    ----------
    validation, test : pandas.DataFrame
        Columns ``patient_id``, ``label``, ``score``.
    n_resamples : int, optional
    seed : int, optional

    Returns
    -------
    mean, sd : float
        Mean and standard deviation of the per-resample optimism.
    """
    from ..evaluation.operating_points import choose_threshold

    threshold = choose_threshold(validation["label"], validation["score"])
    codes, patients = pd.factorize(test["patient_id"])
    labels, scores = test["label"].to_numpy(), test["score"].to_numpy()
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(n_resamples):
        w = np.bincount(rng.integers(0, len(patients), len(patients)), minlength=len(patients))[codes].astype(float)
        if np.sum(w * labels) == 0 or np.sum(w * (1 - labels)) == 0:
            continue
        fpr, tpr, _ = roc_curve(labels, scores, sample_weight=w)
        values.append((1 + np.max(tpr - fpr)) / 2 - balanced_accuracy(labels, scores, threshold, weights=w))
    return float(np.mean(values)), float(np.std(values))


def _as_number(value, name):
    _defined(value, name)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise AssertionError(f"{name} must be one number, got {value!r}") from None
    if not math.isfinite(number):
        raise AssertionError(f"{name} must be finite, got {number}")
    return number


def check_threshold(threshold):
    """Public: `threshold` is a number in (0, 1)."""
    value = _as_number(threshold, "threshold")
    if not 0 < value < 1:
        raise AssertionError(f"threshold = {value} must lie strictly between 0 and 1 (scores are probabilities)")


def check_optimism(optimism, n_resamples):
    """Public: `optimism` is a number in [0, 1) from at least the required number of resamples."""
    value = _as_number(optimism, "optimism")
    count = _as_number(n_resamples, "n_resamples")
    if count < TOLERANCES["min_resamples"]:
        raise AssertionError(f"use at least {TOLERANCES['min_resamples']} resamples, got n_resamples = {count:g}")
    if not 0 <= value < 1:
        raise AssertionError(f"optimism = {value} should be >= 0: in every resample the threshold chosen on the "
                             "resample itself does at least as well as the validation threshold")


def grade_threshold(threshold, student_id):
    """Hidden: `threshold` maximises Youden's J on the validation set (as :func:`cxrlib.metrics.choose_threshold`)."""
    from ..evaluation.operating_points import choose_threshold

    value = _as_number(threshold, "threshold")
    validation, test = variants.operating_point_tables(_student(student_id))
    labels, scores = validation["label"].to_numpy(), validation["score"].to_numpy()
    best = balanced_accuracy(labels, scores, choose_threshold(labels, scores))
    mine = balanced_accuracy(labels, scores, value)
    if mine < best - 1e-12:
        on_test = balanced_accuracy(test["label"], test["score"], value) >= balanced_accuracy(
            test["label"], test["score"], choose_threshold(test["label"], test["score"])) - 1e-12
        hint = (" It is the best threshold on the test set: the operating point must be chosen on validation only."
                if on_test else "")
        raise AssertionError(f"threshold = {value:.4f} gives a validation balanced accuracy of {mine:.4f}; the best "
                             f"threshold on validation (Youden's J) reaches {best:.4f}.{hint}")


def grade_optimism(optimism, student_id):
    """Hidden: the mean optimism over test resamples against :func:`reference_optimism`."""
    value = _as_number(optimism, "optimism")
    mean, _ = reference_optimism(*variants.operating_point_tables(_student(student_id)))
    tol = TOLERANCES["optimism_abs"]
    if abs(value - mean) > tol:
        raise AssertionError(f"optimism = {value:.4f} is more than {tol} away from the mean over patient-level "
                             "resamples of the test set of [best balanced accuracy on the resample] - [balanced "
                             "accuracy at the validation threshold on the resample]")
