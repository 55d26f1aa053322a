"""Checks of exercise c (finding the planted shortcut with Grad-CAM and a blanking test, then the thorax crop)."""

from __future__ import annotations

import math

from sklearn.metrics import roc_auc_score

from ...preprocess.boxes import box_iou
from .. import variants
from .common import TOLERANCES, as_box, require_defined, student_of

__all__ = ["check_marker_box", "check_marker_kind", "check_shortcut_auc", "grade_marker_box", "grade_marker_kind",
           "grade_shortcut_gap"]


_MARKER_AREA_MAX = 0.1  # a box over more than this share of the image is no burned-in marker


def check_marker_box(marker_box):
    """Public: `marker_box` is a fractional box small enough to be a burned-in marker."""
    require_defined(marker_box, "marker_box")
    y0, x0, y1, x1 = as_box(marker_box, "marker_box")
    if (y1 - y0) * (x1 - x0) > _MARKER_AREA_MAX:
        raise AssertionError(f"marker_box covers {(y1 - y0) * (x1 - x0):.0%} of the image; a burned-in marker covers "
                             f"a few percent at most. Narrow it down to the region where blanking hurts most.")


def grade_marker_box(marker_box, student_id):
    """Hidden: intersection over union of `marker_box` with the planted marker's box."""
    require_defined(marker_box, "marker_box")
    box = as_box(marker_box, "marker_box")
    truth = variants.shortcut_marker(student_of(student_id))
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
    require_defined(marker_kind, "marker_kind")
    if marker_kind not in variants.MARKER_KINDS:
        raise AssertionError(f"marker_kind must be one of {tuple(variants.MARKER_KINDS)}, got {marker_kind!r}")


def grade_marker_kind(marker_kind, student_id):
    """Hidden: `marker_kind` is the kind of the planted marker."""
    check_marker_kind(marker_kind)
    if marker_kind != variants.shortcut_marker(student_of(student_id)).kind:
        raise AssertionError(f"the marker is not a {marker_kind} ({variants.MARKER_KINDS[marker_kind]}); look at your "
                             "box in several PNEUMONIA training radiographs at full size, or compare the mean "
                             "difference inside it with variants.marker_stamp(kind, side) for each kind")


def _as_auc_table(auc):
    require_defined(auc, "auc")
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
    from ...models.inputs import read_images
    from ...models.model import predict_proba

    require_defined(model, name)
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
    require_defined(processed, "processed")
    sid = student_of(student_id)
    expected = variants.shortcut_plan(sid)
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
