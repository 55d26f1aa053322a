"""What notebook 04 says about the test split: which figures lead, every table and sentence, and ``metrics.json``.

Each function returns a table (pandas), a Markdown sentence or a list of them, every number read from the
predictions or the evaluation records; :func:`evaluation_record` is what the notebook adds to ``metrics.json``.
"""

import numpy as np
import pandas as pd

from ..data.synthetic import SYNTHETIC_NOTE
from .errors import calibration, errors_by_group
from .figures import plot_confusion_matrices, plot_pr_curves, plot_roc_curves
from .literature import KERMANY_TEST_COUNTS, LITERATURE_TABLE2, implied_sentence, trained_as
from .operating_points import OPERATING_POINTS
from .tables import arms_table, comparison_sentence, comparisons_table, interval, percent, stability_table

__all__ = ["test_split_sentence", "headline_sentence", "headline_tables", "comparisons_notes", "operating_point_tables",
           "failures_tables", "FirstSeed", "first_seed", "first_seed_figures", "subtype_errors", "subtype_table",
           "calibrations", "table2_columns", "table2_notes", "evaluation_record", "saved_sentence",
           "evaluation_conclusion"]


def test_split_sentence(data, test, arms, seeds):
    """The data, the test split (images, patients, classes) and how many models score it."""
    y = (test["label"] == "PNEUMONIA").to_numpy(int)
    return (f"**Data:** {data['description']}  \n" + (SYNTHETIC_NOTE + "  \n" if data["source"] == "synthetic" else "")
            + f"Test split: **{len(test)} images** of **{test['patient_id'].nunique()} patients** "
            f"({int(y.sum())} PNEUMONIA, {int((1 - y).sum())} NORMAL); {len(arms)} arms × {len(seeds)} seed(s) = "
            f"{len(arms) * len(seeds)} models.")


def headline_sentence(result):
    """Which figures lead (:func:`cxrlib.evaluation.headline_operating_point`), and why, in one paragraph."""
    point, seeds = result["headline"]["point"], result["seeds"]
    return (
        f"**Headline:** the {OPERATING_POINTS[point]} (its specificity moves at most "
        f"{100 * result['headline']['max_specificity_sd'][point]:.1f} points between seeds)." if point
        else "**Headline: threshold-free.** " + (
            "With one seed no between-seed spread is measured, so no threshold rule can be shown stable"
            if len(seeds) == 1 else "No threshold rule keeps its specificity within 3 points between seeds ("
            + ", ".join(f"{p}: up to {100 * v:.1f}" for p, v in result["headline"]["max_specificity_sd"].items()) + ")")
        + ": the ranking figures (ROC AUC, average precision) lead and every thresholded figure is read with its "
          "spread.")


def headline_tables(result):
    """What section 2 of notebook 04 shows: how far each rule moves between seeds, which figures lead, the arms."""
    return [stability_table(result["operating_point_stability"]), headline_sentence(result),
            arms_table(result["arms"], point=result["headline"]["point"] or "youden")]


def comparisons_notes(result):
    """The paired comparisons of :func:`cxrlib.evaluation.evaluate_arms` as a table, or why there are none."""
    return comparisons_table(result["comparisons"]) if result["comparisons"] else "One arm: nothing to compare."


def operating_point_tables(records):
    """Each operating point's meaning and the arms' table at it, in order."""
    shown = []
    for point, meaning in OPERATING_POINTS.items():
        shown += [f"**{point}**: {meaning}", arms_table(records, point=point)]
    return shown


def failures_tables(predictions, records):
    """How many test images the ROI failed on, per class, and the arms' table without them (when there are any)."""
    failed = predictions.drop_duplicates("filename")
    shown = [", ".join(f"{label}: {int(g.fallback.sum())} fallbacks and {int(g.implausible.sum())} implausible "
                       f"boxes of {len(g)}" for label, g in failed.groupby("label")) + " test images."]
    if (failed["fallback"] | failed["implausible"]).any():
        shown.append(arms_table(records, point="without_fallback"))
    return shown


class FirstSeed:
    """The first seed's model of each arm on the test split: labels, scores and Youden predictions, by arm."""

    def __init__(self, y, scores, hard):
        self.y, self.scores, self.hard = y, scores, hard


def first_seed(predictions, test, seed):
    """:class:`FirstSeed` of one seed (the first) from ``test_predictions``, in the order of the test rows."""
    y = (test["label"] == "PNEUMONIA").to_numpy(int)
    first = predictions[predictions["seed"] == seed]
    names = list(dict.fromkeys(first["arm"]))
    scores = {a: first.loc[first["arm"] == a, "score"].to_numpy() for a in names}
    hard = {a: first.loc[first["arm"] == a, "predicted"].to_numpy() for a in names}
    return FirstSeed(y, scores, hard)


def first_seed_figures(first):
    """The first seed's confusion matrices, ROC and precision-recall curves, by the names their files take."""
    return {"confusion_matrices": plot_confusion_matrices(first.y, first.hard),
            "roc": plot_roc_curves(first.y, first.scores), "precision_recall": plot_pr_curves(first.y, first.scores)}


def subtype_errors(test, first):
    """Per arm, :func:`cxrlib.evaluation.errors_by_group` over NORMAL and the pneumonia subtypes (first seed)."""
    subtype = np.where(test["label"] == "NORMAL", "NORMAL", test["subtype"].replace("", "subtype not stated"))
    return {a: errors_by_group(first.y, first.hard[a], subtype) for a in first.hard}


def subtype_table(by_subtype):
    """:func:`subtype_errors` of every arm side by side, to 3 decimals."""
    return pd.concat(by_subtype, axis=1).round(3)


def calibrations(first):
    """Per arm, :func:`cxrlib.evaluation.calibration` of its first seed's scores."""
    return {a: calibration(first.y, first.scores[a]) for a in first.scores}


def table2_columns(records, trained):
    """Our arms as columns of the paper's Table 2: the test records with the epochs and backbone they trained with."""
    return {a: {**records[a], **trained_as(trained, a)} for a in records}


def table2_notes():
    """The consistency of the paper's own Table 2 row on the Kermany test split, in words."""
    paper = LITERATURE_TABLE2["Galindo-Ramirez 2022"]
    return implied_sentence(paper, **KERMANY_TEST_COUNTS)


def evaluation_record(result, *, first, by_subtype, resamples, audit, evaluation_sets, set_records, data):
    """What notebook 04 adds to ``metrics.json``: the arms and comparisons, the first seed's errors and calibration,
    the trivial floor and the gains over it, the perturbations, the further sets, the audit's fill and the data.

    ``first`` is :func:`first_seed` (its calibration is recorded), ``by_subtype`` :func:`subtype_errors`; ``audit``
    holds ``baselines``, ``gain_over_trivial``, ``perturbations``, ``shortcut_decisions`` and ``audit_fill``
    (:func:`cxrlib.audit.audit_record`).
    """
    calibration = calibrations(first)
    return {**result,
            "first_seed": {a: {"errors_by_subtype": by_subtype[a].reset_index().to_dict("records"),
                               "calibration": calibration[a]} for a in by_subtype},
            "bootstrap_resamples": resamples,
            "baselines": audit["baselines"],
            "gain_over_trivial": audit["gain_over_trivial"],
            "perturbations": audit["perturbations"],
            "shortcut_decisions": audit["shortcut_decisions"],
            "evaluation_sets": set_records,
            "evaluation_set_descriptions": {name: {k: spec.get(k) for k in ("source", "population", "shows")}
                                            for name, spec in evaluation_sets.items()},
            "audit_fill": audit["audit_fill"],
            "data": {"source": data["source"], "description": data["description"]}}


def saved_sentence(saved):
    """``metrics.json holds: ...`` (its keys)."""
    return f"`metrics.json` holds: {', '.join(f'`{k}`' for k in saved)}."


def _headline(m):
    return (f"accuracy {percent(m['accuracy'])} ({interval(m['ci']['accuracy'])}), sensitivity "
            f"{percent(m['sensitivity'])}, specificity {percent(m['specificity'])}, ROC AUC {m['roc_auc']:.3f} "
            f"({interval(m['ci']['roc_auc'], as_percent=False)})")


def evaluation_conclusion(result, arms, *, synthetic):
    """The closing paragraph of notebook 04: each arm at the leading figures, the comparisons, the paper's claim."""
    records, point, seeds = result["arms"], result["headline"]["point"], result["seeds"]
    lead = records if point is None else {a: records[a]["operating_points"][point] for a in records}
    lines = [f"- **{a.name}** ({a.steps}): {_headline(lead[a.name])}" for a in arms]
    verdicts = [f"- {comparison_sentence(c)}" for c in result["comparisons"]]
    return (("**SYNTHETIC data.** " if synthetic else "")
            + f"On {next(iter(records.values()))['n']} test images, mean over {len(seeds)} "
            f"{'seeds' if len(seeds) > 1 else 'seed'}, at the "
            + (OPERATING_POINTS[point] if point else
               "validation-chosen (Youden) threshold, which moves between seeds (section 2): read the ROC AUC first")
            + ":\n\n" + "\n".join(lines) + "\n\n" + "\n".join(verdicts)
            + "\n\nThe paper reports 91% accuracy, 91% sensitivity and 86% specificity for its processed-image model.")
