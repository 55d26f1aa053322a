"""The thorax ROI's failures: boxes a chest radiograph's lung fields could hardly give, and failure rates by class.

A fallback (no lung field found) is one failure the ROI reports; a box can also be found and still be wrong:
far smaller or larger than the set's other boxes, sitting low over the abdomen, far flatter or taller than
lung fields are, or holding lung on one side of its centre only (an opaque lung that the mirroring about the
spine had to make up for, or a lung lost), or read on the film's negative in a release of positive films. Such
boxes are flagged, counted per class like fallbacks, and left out
with them where results are given without the ROI's failures.

The bounds are declared once, in :data:`PLAUSIBLE`, from what lung fields are, and were checked (not tuned) on
the Shenzhen films, their stress sets and 2,000 kermany224 images (notebook 02): on the Shenzhen films 0.2 % of
the boxes are flagged (algorithm version 7).
"""

from __future__ import annotations

import math
from numbers import Real

import numpy as np
import pandas as pd

__all__ = ["PLAUSIBLE", "FLAGS", "lung_side_ratio", "flag_boxes", "failure_rates", "rates_sentence"]

#: Plausible ranges: the box's area over the median box area of its set, the height of its centre (fraction of
#: the image from the top), its height over its width, and the lung pixels on its poorer side over its richer
#: side (split at the box's centre column).
PLAUSIBLE = {"area_to_median": (0.45, 1.75), "centre_y": (0.0, 0.65), "aspect": (0.55, 1.7),
             "lung_side_ratio": (0.05, 1.0)}
#: The flags, in the order :func:`flag_boxes` names them.
FLAGS = ("area", "low", "aspect", "one_lung", "polarity")
_BOX = ["roi_y0", "roi_x0", "roi_y1", "roi_x1"]


def lung_side_ratio(lung_mask, box):
    """Lung pixels on the poorer side of the box's centre column over those on the richer side.

    Parameters
    ----------
    lung_mask : (M, N) bool ndarray
        The ROI's lung fields in the image's frame.
    box : tuple of float
        ``(y0, x0, y1, x1)`` as fractions of the image.

    Returns
    -------
    float
        In [0, 1]; 0 when the mask is empty.
    """
    mask = np.asarray(lung_mask, bool)
    if mask.ndim != 2:
        raise ValueError(f"lung_mask must be a 2-D boolean mask, got shape {mask.shape}")
    centre = int(round((box[1] + box[3]) / 2 * mask.shape[1]))
    left, right = int(mask[:, :centre].sum()), int(mask[:, centre:].sum())
    return min(left, right) / max(left, right) if max(left, right) else 0.0


def flag_boxes(table, *, reference=None):
    """Flag the boxes that lie outside :data:`PLAUSIBLE`; fallbacks are their own category and never flagged.

    With an ``inverted`` column (:class:`cxrlib.preprocess.RoiResult`), a box is also flagged (``polarity``) when
    its film was read in the polarity that the fewer of the reference rows were read in: one release comes in one
    polarity, so there such a reading is a misreading (an opaque lung read on the negative, say).

    Parameters
    ----------
    table : pandas.DataFrame
        One row per image with ``roi_y0, roi_x0, roi_y1, roi_x1`` (fractions), ``lung_side_ratio`` and
        ``fallback``, optionally ``inverted``.
    reference : (N,) bool array-like, optional
        The rows whose median box area and majority polarity (fallbacks left out) the boxes are compared with, e.g.
        the study's own images and not an evaluation set; default: every row.

    Returns
    -------
    pandas.DataFrame
        ``table`` with ``roi_flags`` (the names of :data:`FLAGS` that apply, comma-separated; '' for none) and
        ``implausible`` (bool).
    """
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"table must be a pandas DataFrame, got {type(table).__name__}")
    missing = [c for c in [*_BOX, "lung_side_ratio", "fallback"] if c not in table.columns]
    if missing:
        raise ValueError(f"table lacks the columns {missing}; they come from cxrlib.preprocess.preprocess_manifest")
    y0, x0, y1, x1 = (table[c].to_numpy(float) for c in _BOX)
    fallback = _true(table["fallback"])
    area = (y1 - y0) * (x1 - x0)
    reference = np.ones(len(table), bool) if reference is None else np.asarray(reference, bool)
    if reference.shape != (len(table),):
        raise ValueError(f"reference must hold one bool per row of table ({len(table)}), got shape {reference.shape}")
    pool = area[reference & ~fallback]
    median = float(np.median(pool)) if pool.size else float("nan")
    width = np.maximum(x1 - x0, 1e-9)
    checks = {"area": ~_within(area / median, PLAUSIBLE["area_to_median"]),
              "low": ~_within((y0 + y1) / 2, PLAUSIBLE["centre_y"]),
              "aspect": ~_within((y1 - y0) / width, PLAUSIBLE["aspect"]),
              "one_lung": ~_within(table["lung_side_ratio"].to_numpy(float), PLAUSIBLE["lung_side_ratio"]),
              "polarity": np.zeros(len(table), bool)}
    if "inverted" in table.columns:
        inverted = _true(table["inverted"])
        usual = inverted[reference & ~fallback]
        checks["polarity"] = inverted != (usual.mean() > 0.5 if usual.size else False)
    flags = [",".join(name for name in FLAGS if checks[name][i]) if not fallback[i] else ""
             for i in range(len(table))]
    out = table.copy()
    out["roi_flags"] = flags
    out["implausible"] = [bool(f) for f in flags]
    return out


def _true(column):
    """A column of booleans as read back from a CSV ('True'/'False' strings) or kept as bools."""
    return column.astype(str).str.lower().eq("true").to_numpy()


def _within(values, bounds):
    low, high = bounds
    return (values >= low) & (values <= high)


def failure_rates(processed, column="fallback", *, label_column="label", confidence=0.95):
    """Rate of one kind of ROI failure overall and per class with Wilson intervals, and the ratio of the highest
    class rate to the lowest.

    A fallback image is the whole radiograph, a flagged box frames the chest unlike the others; when one class
    fails more often, the framing alone tells the classes apart. The ratio's interval is Katz's log interval; when
    a class has no failure (or only failures) every count gets 0.5 added (Haldane), for the estimate as well, so
    the ratio stays finite.

    Parameters
    ----------
    processed : pandas.DataFrame
        With the boolean ``column`` and ``label_column`` (e.g. :func:`cxrlib.preprocess.preprocess_manifest`'s output
        after :func:`flag_boxes`).
    column : str, optional
        The failure: ``fallback`` or ``implausible``.
    label_column : str, optional
    confidence : float, optional
        Level of the intervals, in (0, 1).

    Returns
    -------
    rates : dict
        ``column``, ``n``, ``count``, ``rate``, ``ci`` (overall); ``by_label``: the same per class; ``ratio``,
        ``ratio_ci`` (highest class rate over lowest; NaN with fewer than two classes, None when no image
        failed), ``ratio_corrected`` (whether 0.5 was added), ``confidence``.
    """
    from scipy.stats import norm
    from statsmodels.stats.proportion import proportion_confint

    if not isinstance(processed, pd.DataFrame):
        raise TypeError(f"processed must be a pandas DataFrame, got {type(processed).__name__}")
    for name in (column, label_column):
        if name not in processed.columns:
            raise ValueError(f"processed has no {name!r} column (columns: {list(processed.columns)})")
    if isinstance(confidence, bool) or not isinstance(confidence, Real) or not 0 < confidence < 1:
        raise ValueError(f"confidence must be a number in (0, 1), got {confidence!r}")
    z = float(norm.ppf(0.5 + confidence / 2))
    failed = processed[column].astype(str).str.lower().eq("true")

    def entry(flags):
        n, k = int(len(flags)), int(flags.sum())
        ci = proportion_confint(k, n, alpha=1 - confidence, method="wilson") if n else (float("nan"),) * 2
        return {"n": n, "count": k, "rate": k / n if n else float("nan"), "ci": [float(v) for v in ci]}

    result = {"column": column, **entry(failed), "by_label": {str(label): entry(group) for label, group
                                                              in failed.groupby(processed[label_column])},
              "confidence": confidence}
    if result["count"] == 0:
        return {**result, "ratio": None, "ratio_ci": None, "ratio_corrected": False}
    counts = [(v["count"], v["n"]) for v in result["by_label"].values()]
    if len(counts) < 2:
        return {**result, "ratio": float("nan"), "ratio_ci": [float("nan"), float("nan")], "ratio_corrected": False}
    high = max(counts, key=lambda c: c[0] / c[1])
    low = min(counts, key=lambda c: c[0] / c[1])
    corrected = any(k in (0, n) for k, n in (high, low))
    (k1, n1), (k0, n0) = [(k + 0.5, n + 1.0) if corrected else (k, n) for k, n in (high, low)]
    ratio = (k1 / n1) / (k0 / n0)
    spread = z * math.sqrt(1 / k1 - 1 / n1 + 1 / k0 - 1 / n0)
    return {**result, "ratio": ratio, "ratio_ci": [ratio * math.exp(-spread), ratio * math.exp(spread)],
            "ratio_corrected": corrected}


def rates_sentence(rates, what):
    """:func:`failure_rates` as one sentence: overall and per class with intervals, and the class ratio.

    Parameters
    ----------
    rates : dict
        :func:`failure_rates`.
    what : str
        What the images did, e.g. "fell back to the whole image".
    """
    def share(entry):
        return f"{entry['count']}/{entry['n']} ({entry['rate']:.2%}, 95% CI {entry['ci'][0]:.2%}-{entry['ci'][1]:.2%})"

    by_class = ", ".join(f"{label} {share(entry)}" for label, entry in rates["by_label"].items())
    if rates["ratio"] is None:
        ratio = "no image did, so this cannot tell the classes apart"
    elif not np.isfinite(rates["ratio"]):
        ratio = "one class only"
    else:
        ratio = (f"ratio of the higher class rate to the lower {rates['ratio']:.2f} (95% CI {rates['ratio_ci'][0]:.2f}-"
                 f"{rates['ratio_ci'][1]:.2f}" + ("; 0.5 added to every count" if rates["ratio_corrected"] else "")
                 + ")" + ("; **the classes differ**: results are also given without these images"
                          if rates["ratio_ci"][0] > 1 else ""))
    return f"Images that {what}: {share(rates)}; {by_class}; {ratio}."
