"""What notebook 04 shows over every seed's model: curves, confusion matrices, subtypes, calibration, predictive values.

:func:`seed_summary` computes it once from ``test_predictions`` (:class:`SeedSummary`); its methods give the
figures, the tables and the sentences, every number read from the scores.
"""

import numpy as np
import pandas as pd

from .curves import operating_point_rates, pr_over_seeds, roc_over_seeds, seed_scores
from .errors import auc_by_subtype, calibration_over_seeds, errors_by_group
from .figures import plot_calibration, plot_confusion_matrices, plot_errors_by_group, plot_pr_curves, plot_roc_curves
from .predictive import predictive_values_record, predictive_values_sentence, predictive_values_table
from .tables import headed, interval, mean_sd, percent, plural

__all__ = ["SUBTYPE_LABELS", "lead_point", "SeedSummary", "seed_summary"]

#: The pneumonia subtypes of the Kermany release as a reader sees them.
SUBTYPE_LABELS = {"bacteria": "bacterial", "virus": "viral"}
_POINT_PHRASES = {"fixed_0.5": "fixed threshold 0.5", "youden": "Youden threshold chosen on validation",
                  "sensitivity_0.95": "threshold keeping sensitivity ≥ 0.95 on validation"}
_VERDICTS = {"over-predicts": "over-predicts PNEUMONIA", "under-predicts": "under-predicts PNEUMONIA",
             "neither shown": "no over- or under-prediction shown in the large (the interval holds 0)"}


def lead_point(result):
    """The operating point the figures are drawn at: the headline rule, or Youden when the headline is
    threshold-free (:func:`cxrlib.evaluation.headline_operating_point`)."""
    return result["headline"]["point"] or "youden"


def _below(calibration):
    """How many of the pooled score bins hold fewer PNEUMONIA images than their mean probability predicts."""
    return int(np.sum(np.asarray(calibration["prob_true"]) < np.asarray(calibration["prob_pred"])))


def _span(values):
    """``{arm: value}`` -> ``"0.974 (original) to 0.983 (roi)"``."""
    low, high = min(values, key=values.get), max(values, key=values.get)
    return f"{values[low]:.3f} ({low}) to {values[high]:.3f} ({high})"


class SeedSummary:
    """Every arm's models of every seed on the test split, summarised (see :func:`seed_summary`).

    Attributes
    ----------
    scores : cxrlib.evaluation.SeedScores
    point : str
        The operating point of the confusion matrices, the subtype errors and the predictive values.
    n_boot : int
        Resamples behind every interval.
    roc, precision_recall, points, calibration, subtype_auc : dict
        ``{arm: ...}`` of :func:`roc_over_seeds`, :func:`pr_over_seeds`, :func:`operating_point_rates`,
        :func:`calibration_over_seeds` and :func:`auc_by_subtype`.
    subtype_errors : dict
        ``{arm: errors_by_group table}`` of the first seed at ``point``.
    predictive_values : dict
        :func:`cxrlib.evaluation.predictive_values_record` at ``point``.
    """

    def __init__(self, scores, result, *, n_boot, seed):
        self.scores, self.point, self.n_boot = scores, lead_point(result), n_boot
        y, arms = scores.y, scores.arms
        self.roc = {a: roc_over_seeds(y, scores.scores[a]) for a in arms}
        self.precision_recall = {a: pr_over_seeds(y, scores.scores[a]) for a in arms}
        self.points = {a: operating_point_rates(y, scores.scores[a], scores.thresholds[a]) for a in arms}
        self.calibration = {a: calibration_over_seeds(y, scores.scores[a], groups=scores.patients, n_boot=n_boot,
                                                      seed=seed) for a in arms}
        self.subtype_auc = {a: auc_by_subtype(y, scores.scores[a], scores.groups, patients=scores.patients,
                                              n_boot=n_boot, seed=seed) for a in arms}
        self.subtype_errors = {a: errors_by_group(y, scores.predicted(a, self.point)[0], scores.groups) for a in arms}
        self.predictive_values = predictive_values_record(result["arms"], self.point)

    @property
    def point_label(self):
        """The operating point in words, e.g. ``"Youden threshold chosen on validation"``."""
        return _POINT_PHRASES[self.point]

    def curve_figures(self):
        """The ROC and precision-recall curves over seeds and the confusion matrices, by the names their files take."""
        k = len(self.scores.seeds)
        title = (f"Confusion matrices at the {self.point_label}, summed over {plural(k, 'seed')}"
                 + (f" ({k} × {self.scores.y.size} decisions per arm)" if k > 1 else ""))
        return {"roc": plot_roc_curves(self.roc, self.points),
                "precision_recall": plot_pr_curves(self.precision_recall, self.points),
                "confusion_matrices": plot_confusion_matrices(self.scores.confusion_matrices(self.point), title=title)}

    def curve_notes(self):
        """What the curves and the confusion matrices show, in numbers: the ranking, the bands, the operating point."""
        auc = {a: float(np.mean(c["auc"])) for a, c in self.roc.items()}
        ap = {a: float(np.mean(c["average_precision"])) for a, c in self.precision_recall.items()}
        fpr = [v for p in self.points.values() for v in p[self.point]["fpr"]]
        tpr = [v for p in self.points.values() for v in p[self.point]["tpr"]]
        prevalence = next(iter(self.precision_recall.values()))["prevalence"]
        matrices = self.scores.confusion_matrices(self.point)
        alarms = ", ".join(f"{a} {m[0, 1]} of {m[0].sum()} ({percent(m[0, 1] / m[0].sum())})"
                           for a, m in matrices.items())
        return [f"**ROC:** mean AUC from {_span(auc)}. At the {self.point_label}, the test false-positive rate runs "
                f"from {percent(min(fpr))} to {percent(max(fpr))} and the sensitivity from {percent(min(tpr))} to "
                f"{percent(max(tpr))} over arms and seeds.",
                f"**Precision-recall:** mean average precision from {_span(ap)}; calling every test image PNEUMONIA "
                f"gives precision {percent(prevalence)}, the test split's prevalence.",
                f"**Confusion matrices:** NORMAL test images called PNEUMONIA (summed over seeds): {alarms}."]

    def subtype_notes(self):
        """Each subtype's ROC AUC against every NORMAL image over seeds, and the first seed's errors per group."""
        auc = {a: {f"{SUBTYPE_LABELS.get(s, s)} vs NORMAL ({r['n_pneumonia']} vs {r['n_normal']} images)":
                   f"{r['roc_auc']:.3f}" + (f" ± {r['sd']:.3f}" if np.isfinite(r["sd"]) else "")
                   + f" ({interval(r['ci'], as_percent=False)})" for s, r in by_subtype.items()}
               for a, by_subtype in self.subtype_auc.items()}
        errors = {a: {f"{SUBTYPE_LABELS.get(g, g)}: {row['measure']}":
                      f"{row['errors']:g}/{row['n']:g} = {percent(row['error_rate'])} "
                      f"({interval([row['ci_low'], row['ci_high']])})" for g, row in table.iterrows()}
                  for a, table in self.subtype_errors.items()}
        k = len(self.scores.seeds)
        return [f"ROC AUC of each pneumonia subtype against every NORMAL test image: mean over {plural(k, 'seed')}"
                + (" ± SD between seeds" if k > 1 else "") + " (95% interval resampling patients and seeds).",
                headed(pd.DataFrame.from_dict(auc, orient="index"), "arm"),
                f"Errors by class and subtype, first seed at the {self.point_label}: errors / images = rate (95% "
                "Wilson interval).", headed(pd.DataFrame(errors), "class or subtype: measure")]

    def subtype_figure(self):
        """The first seed's errors by class and subtype, each arm's bars side by side (bar label: errors)."""
        return plot_errors_by_group({a: t.rename(index=SUBTYPE_LABELS) for a, t in self.subtype_errors.items()},
                                    title=f"Errors by class and pneumonia subtype: first seed, {self.point_label}")

    def calibration_figure(self):
        return plot_calibration(self.calibration)

    def calibration_notes(self):
        """The calibration per arm as a table, and whether each arm over- or under-predicts PNEUMONIA, in words."""
        k = len(self.scores.seeds)
        table = {a: {"Brier score": mean_sd(c["brier_per_seed"], as_percent=False),
                     "mean predicted probability": mean_sd(c["mean_predicted_per_seed"]),
                     "observed prevalence": percent(c["prevalence"]),
                     "predicted − observed (95% interval)": f"{100 * c['excess']:+.1f} points "
                                                            f"({100 * c['excess_ci'][0]:+.1f} to "
                                                            f"{100 * c['excess_ci'][1]:+.1f})",
                     "seeds predicting above the prevalence": f"{c['seeds_over']} of {k}"}
                 for a, c in self.calibration.items()}
        verdicts = {c["verdict"] for c in self.calibration.values()}
        lead = (f"**Every arm {verdicts.pop()} PNEUMONIA on the test split.** "
                if len(self.calibration) > 1 and len(verdicts) == 1 and "neither shown" not in verdicts else "")
        lines = [f"- **{a}**: {_VERDICTS[c['verdict']]}: mean predicted probability {percent(c['mean_predicted'])} "
                 f"against {percent(c['prevalence'])} observed ({100 * c['excess']:+.1f} points, 95% interval "
                 f"{100 * c['excess_ci'][0]:+.1f} to {100 * c['excess_ci'][1]:+.1f}; "
                 f"{c['seeds_over']} of {plural(k, 'seed')} above); observed below predicted in {_below(c)} of {len(c['count'])} score bins; Brier score "
                 f"{mean_sd(c['brier_per_seed'], as_percent=False)}." for a, c in self.calibration.items()]
        return [headed(pd.DataFrame.from_dict(table, orient="index"), "arm"), lead + "In the large (mean predicted "
                "probability against the observed share of PNEUMONIA; the interval resamples patients and seeds):\n\n"
                + "\n".join(lines)]

    def caption(self, name):
        """What a reader takes from the figure ``name`` (a key of :meth:`curve_figures`, ``errors_by_subtype`` or
        ``calibration``), in one or two sentences with its numbers."""
        k, point = len(self.scores.seeds), self.point_label
        seeds = f"mean over {plural(k, 'seed')} with the range as a band" if k > 1 else "one seed"
        if name == "roc":
            auc = {a: float(np.mean(c["auc"])) for a, c in self.roc.items()}
            return (f"ROC curves on the test split, {seeds}; markers: each seed's three operating points, chosen on "
                    f"validation. Mean AUC from {_span(auc)}; an arm's markers spread along its curve are thresholds "
                    "that moved between seeds, not a different ranking.")
        if name == "precision_recall":
            ap = {a: float(np.mean(c["average_precision"])) for a, c in self.precision_recall.items()}
            prevalence = next(iter(self.precision_recall.values()))["prevalence"]
            return (f"Precision-recall curves on the test split, {seeds}, with the prevalence ({percent(prevalence)}) "
                    f"as the chance line: mean average precision from {_span(ap)}.")
        if name == "confusion_matrices":
            matrices = self.scores.confusion_matrices(self.point)
            alarms = {a: m[0, 1] / m[0].sum() for a, m in matrices.items()}
            low, high = min(alarms, key=alarms.get), max(alarms, key=alarms.get)
            more = all(m[0, 1] > m[1, 0] for m in matrices.values())
            return (f"Confusion matrices at the {point}, summed over {plural(k, 'seed')}: the arms call "
                    f"{percent(alarms[low])} ({low}) to {percent(alarms[high])} ({high}) of the normal test images "
                    "pneumonia" + ("; in every arm, false alarms outnumber missed pneumonias." if more else "."))
        if name == "errors_by_subtype":
            rows = [(row["error_rate"], a, g, row["measure"]) for a, t in self.subtype_errors.items()
                    for g, row in t.iterrows()]
            rate, arm, group, measure = max(rows)
            return (f"Errors by class and pneumonia subtype, first seed at the {point}, with Wilson intervals: the "
                    f"largest is {arm}'s {measure} on {SUBTYPE_LABELS.get(group, group)} images ({percent(rate)}).")
        if name == "calibration":
            over = [a for a, c in self.calibration.items() if c["verdict"] == "over-predicts"]
            under = [a for a, c in self.calibration.items() if c["verdict"] == "under-predicts"]
            below = sum(_below(c) for c in self.calibration.values())
            bins = sum(len(c["count"]) for c in self.calibration.values())
            large = "; ".join(part for part in (f"{', '.join(over)} over-predict{'s' if len(over) == 1 else ''}"
                                                if over else "", f"{', '.join(under)} under-predict"
                                                f"{'s' if len(under) == 1 else ''}" if under else "") if part)
            return (f"Calibration on the test split, {plural(k, 'seed')} pooled: {below} of {bins} score bins lie "
                    "below the diagonal, where the predicted probability overstates pneumonia. In the large, "
                    + (large + " (interval excluding 0); the others show neither." if large else
                       "no arm's over- or under-prediction is shown (every interval holds 0)."))
        raise KeyError(f"no caption for {name!r}")

    def predictive_values_notes(self):
        return [predictive_values_sentence(self.predictive_values), predictive_values_table(self.predictive_values)]


def seed_summary(predictions, thresholds, result, *, n_boot=2000, seed=0):
    """:class:`SeedSummary` of ``test_predictions`` (every arm, seed and image), the validation thresholds
    (``{arm: {seed: {point: threshold}}}``) and :func:`cxrlib.evaluation.evaluate_arms`'s ``result``; ``n_boot``
    and ``seed`` as in :func:`cxrlib.evaluation.evaluate_seeds`."""
    return SeedSummary(seed_scores(predictions, thresholds), result, n_boot=n_boot, seed=seed)
