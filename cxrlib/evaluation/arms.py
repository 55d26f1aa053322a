"""The study's evaluation records: every arm at three operating points, without the ROI's failures, compared in pairs."""

import numpy as np

from .comparisons import compare_seeds
from .intervals import evaluate_seeds
from .operating_points import HEADLINE_METRICS, OPERATING_POINTS, headline_operating_point, operating_point_stability

__all__ = ["evaluate_arms"]


def evaluate_arms(predictions, thresholds, *, pairs=(), n_boot=2000, confidence=0.95, seed=0):
    """The study's evaluation records: every arm at three operating points, without the ROI's failures, compared.

    Parameters
    ----------
    predictions : pandas.DataFrame
        One row per image, arm and seed: ``arm``, ``seed``, ``filename``, ``patient_id``, ``y_true`` (0/1),
        ``score`` (P(pneumonia)), ``fallback`` (bool: the image's ROI fell back to the whole image) and, optionally,
        ``implausible`` (bool: its box was flagged, :func:`cxrlib.preprocess.flag_boxes`). Every arm must hold
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
        out = {k: result[k] for k in HEADLINE_METRICS}
        out["sd"] = {k: result["sd"][k] for k in HEADLINE_METRICS}
        out["ci"] = {k: result["ci"][k] for k in HEADLINE_METRICS}
        out["per_seed"] = [{"seed": int(s), **{k: m[k] for k in HEADLINE_METRICS}, "threshold": m["threshold"]}
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
