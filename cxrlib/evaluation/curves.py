"""Every arm's models of every seed on the test split: ROC and precision-recall curves over seeds, operating points.

:func:`seed_scores` gathers the scores of ``test_predictions.csv`` by arm and seed (:class:`SeedScores`); the curves
are each seed's curve on a common grid, averaged, with the range over seeds as a band (:func:`roc_over_seeds`,
:func:`pr_over_seeds`), and the three validation-chosen operating points are placed on them per seed
(:func:`operating_point_rates`).
"""

import numpy as np
from sklearn import metrics as skm

from .checks import check_labels, check_scores, check_threshold
from .classification import confusion_matrix
from .operating_points import OPERATING_POINTS

__all__ = ["SeedScores", "seed_scores", "roc_over_seeds", "pr_over_seeds", "operating_point_rates", "GRID_POINTS"]

#: Points of the common false-positive-rate (or recall) grid the seeds' curves are read at.
GRID_POINTS = 501


class SeedScores:
    """Every arm's scores of every seed on the same test images, with what the curves and tables need.

    Attributes
    ----------
    y : (N,) int ndarray
        0 = NORMAL, 1 = PNEUMONIA.
    scores : dict
        ``{arm: (K, N) float ndarray}``, one row per seed in ``seeds``' order.
    thresholds : dict
        ``{arm: [{operating point: threshold} of each seed]}``, all chosen on validation.
    seeds : list of int
    groups : (N,) ndarray of str
        ``NORMAL`` or the pneumonia subtype (``bacteria``, ``virus``; ``subtype not stated`` when blank).
    patients : (N,) ndarray
        The patient of each image (the bootstrap's unit).
    """

    def __init__(self, y, scores, thresholds, *, seeds, groups, patients):
        self.y, self.scores, self.thresholds, self.seeds = y, scores, thresholds, list(seeds)
        self.groups, self.patients = groups, patients

    @property
    def arms(self):
        return list(self.scores)

    def predicted(self, arm, point):
        """``(K, N)`` 0/1 decisions of an arm's seeds at an operating point (each seed's own threshold)."""
        cuts = np.array([t[point] for t in self.thresholds[arm]], float)[:, None]
        return (self.scores[arm] >= cuts).astype(np.int64)

    def confusion_matrices(self, point):
        """``{arm: (2, 2) counts}`` at an operating point, summed over seeds (each image counted once per seed)."""
        return {a: sum(confusion_matrix(self.y, p) for p in self.predicted(a, point)) for a in self.arms}


def seed_scores(predictions, thresholds):
    """:class:`SeedScores` from ``test_predictions`` (one row per image, arm and seed) and the validation thresholds.

    Parameters
    ----------
    predictions : pandas.DataFrame
        ``arm``, ``seed``, ``filename``, ``patient_id``, ``label``, ``subtype``, ``y_true``, ``score``; every arm
        holds the same images for the same seeds.
    thresholds : dict
        ``{arm: {seed: {operating point: threshold}}}``.
    """
    needed = {"arm", "seed", "filename", "patient_id", "label", "subtype", "y_true", "score"}
    if missing := needed - set(predictions.columns):
        raise ValueError(f"predictions lacks the column(s) {sorted(missing)}")
    arms, seeds = list(dict.fromkeys(predictions["arm"])), sorted(set(predictions["seed"]))
    first = predictions[(predictions["arm"] == arms[0]) & (predictions["seed"] == seeds[0])].set_index("filename")
    scores = {}
    for arm in arms:
        wide = predictions[predictions["arm"] == arm].pivot(index="filename", columns="seed", values="score")
        if list(wide.columns) != seeds or wide.reindex(first.index).isna().any().any():
            raise ValueError(f"arm {arm!r} lacks predictions for some seed and image; every arm needs every seed")
        scores[arm] = wide.loc[first.index].to_numpy().T
    subtype = first["subtype"].fillna("").astype(str).replace("", "subtype not stated")
    return SeedScores(first["y_true"].to_numpy(np.int64), scores,
                      {a: [thresholds[a][s] for s in seeds] for a in arms}, seeds=[int(s) for s in seeds],
                      groups=np.where(first["label"] == "NORMAL", "NORMAL", subtype),
                      patients=first["patient_id"].astype(str).to_numpy())


def _seed_rows(y_true, scores):
    y = check_labels(y_true)
    rows = np.atleast_2d(np.asarray(scores, dtype=np.float64))
    if len(set(y.tolist())) != 2:
        raise ValueError("y_true must hold both classes (0 = NORMAL, 1 = PNEUMONIA) to draw a curve")
    return y, [check_scores(r, y.size, "scores[i]") for r in rows]


def _band(curves, grid):
    curves = np.asarray(curves)
    return {"grid": grid.tolist(), "mean": curves.mean(axis=0).tolist(), "low": curves.min(axis=0).tolist(),
            "high": curves.max(axis=0).tolist()}


def roc_over_seeds(y_true, scores):
    """ROC curves of one arm's seeds on a common false-positive-rate grid: mean and range over seeds.

    Each seed's curve is read as the highest true-positive rate its model reaches at a false-positive rate no
    higher than the grid's (the curve's steps, as ``sklearn.metrics.roc_curve`` gives them).

    Parameters
    ----------
    y_true : (N,) array of 0/1
    scores : (K, N) float array
        One row per seed.

    Returns
    -------
    dict
        ``grid`` (false-positive rates), ``mean``, ``low``, ``high`` (true-positive rates: mean, min and max over
        seeds) and ``auc`` (each seed's ROC AUC).
    """
    y, rows = _seed_rows(y_true, scores)
    grid = np.linspace(0.0, 1.0, GRID_POINTS)
    curves, auc = [], []
    for s in rows:
        fpr, tpr, _ = skm.roc_curve(y, s)
        curves.append(np.maximum.accumulate(tpr)[np.searchsorted(fpr, grid, side="right") - 1])
        auc.append(float(skm.roc_auc_score(y, s)))
    return {**_band(curves, grid), "auc": auc}


def pr_over_seeds(y_true, scores):
    """Precision-recall curves of one arm's seeds on a common recall grid: mean and range over seeds.

    Each seed's curve is read as the highest precision its model reaches at a recall at least the grid's (the
    interpolated precision of information retrieval; average precision itself is not interpolated).

    Parameters
    ----------
    y_true : (N,) array of 0/1
    scores : (K, N) float array
        One row per seed.

    Returns
    -------
    dict
        ``grid`` (recalls), ``mean``, ``low``, ``high`` (precisions: mean, min and max over seeds),
        ``average_precision`` (each seed's) and ``prevalence`` (the precision of calling every image PNEUMONIA).
    """
    y, rows = _seed_rows(y_true, scores)
    grid = np.linspace(0.0, 1.0, GRID_POINTS)
    curves, ap = [], []
    for s in rows:
        precision, recall, _ = skm.precision_recall_curve(y, s)  # recall decreasing
        best = np.maximum.accumulate(precision)  # the highest precision at this recall or above
        curves.append(best[np.searchsorted(-recall, -grid, side="right") - 1])
        ap.append(float(skm.average_precision_score(y, s)))
    return {**_band(curves, grid), "average_precision": ap, "prevalence": float(y.mean())}


def operating_point_rates(y_true, scores, thresholds):
    """Where each seed's validation-chosen operating points fall on the test split.

    Parameters
    ----------
    y_true : (N,) array of 0/1
    scores : (K, N) float array
        One row per seed.
    thresholds : sequence of dict
        ``{operating point: threshold}`` of each seed (the keys of :data:`OPERATING_POINTS`).

    Returns
    -------
    dict
        ``{point: {"fpr": [...], "tpr": [...], "precision": [...]}}``, one value per seed (precision nan when the
        threshold calls no image PNEUMONIA).
    """
    y, rows = _seed_rows(y_true, scores)
    if len(thresholds) != len(rows):
        raise ValueError(f"thresholds ({len(thresholds)}) must give one dict per seed ({len(rows)})")
    out = {}
    for point in OPERATING_POINTS:
        rates = {"fpr": [], "tpr": [], "precision": []}
        for s, cuts in zip(rows, thresholds):
            (tn, fp), (fn, tp) = confusion_matrix(y, (s >= check_threshold(cuts[point])).astype(int))
            rates["fpr"].append(fp / (fp + tn))
            rates["tpr"].append(tp / (tp + fn))
            rates["precision"].append(tp / (tp + fp) if tp + fp else float("nan"))
        out[point] = {k: [float(v) for v in vals] for k, vals in rates.items()}
    return out
