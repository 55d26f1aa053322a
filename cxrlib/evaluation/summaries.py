"""What notebook 04 says about the test split: which figures lead, every table and sentence, and ``metrics.json``.

Each function returns a table (pandas), a Markdown sentence or a list of them, every number read from the
predictions or the evaluation records; :func:`evaluation_record` is what the notebook adds to ``metrics.json``.
"""

from ..data.synthetic import SYNTHETIC_NOTE
from .literature import KERMANY_TEST_COUNTS, LITERATURE_TABLE2, implied_sentence, paper_table2, trained_as
from .operating_points import OPERATING_POINTS, POINT_LABELS, THRESHOLD_METRICS
from .tables import arms_table, comparison_sentence, comparisons_table, interval, percent, plural, stability_table

__all__ = ["test_split_sentence", "headline_sentence", "headline_tables", "comparisons_notes",
           "operating_point_tables", "failures_tables", "table2_columns", "table2_notes", "planted_tag_sentence",
           "evaluation_record", "saved_sentence", "evaluation_conclusion"]


def test_split_sentence(data, test, arms, seeds):
    """The data, the test split (images, patients, classes) and how many models score it."""
    y = (test["label"] == "PNEUMONIA").to_numpy(int)
    return (f"**Data:** {data['description']}  \n" + (SYNTHETIC_NOTE + "  \n" if data["source"] == "synthetic" else "")
            + f"Test split: **{len(test)} images** of **{test['patient_id'].nunique()} patients** "
            f"({int(y.sum())} PNEUMONIA, {int((1 - y).sum())} NORMAL); {plural(len(arms), 'arm')} × "
            f"{plural(len(seeds), 'seed')} = {plural(len(arms) * len(seeds), 'model')}.")


def headline_sentence(result):
    """Which figures lead (:func:`cxrlib.evaluation.headline_operating_point`), and why, in one paragraph."""
    point, seeds = result["headline"]["point"], result["seeds"]
    return (
        f"**Headline:** the {OPERATING_POINTS[point]} (its specificity moves at most "
        f"{100 * result['headline']['max_specificity_sd'][point]:.1f} points between seeds)." if point
        else "**Headline: threshold-free.** " + (
            "With one seed no between-seed spread is measured, so no threshold rule can be shown stable"
            if len(seeds) == 1 else "No threshold rule keeps its specificity within 3 points between seeds ("
            + ", ".join(f"{POINT_LABELS[p]}: up to {100 * v:.1f}"
                        for p, v in result["headline"]["max_specificity_sd"].items()) + " points)")
        + ": the ranking figures (ROC AUC, average precision) lead and every thresholded figure is read with its "
          "spread.")


def headline_tables(result):
    """What section 2 of notebook 04 shows: how far each rule moves between seeds, which figures lead, and the
    arms' threshold-free figures (ROC AUC, average precision; the thresholded ones follow per operating point)."""
    return [stability_table(result["operating_point_stability"]), headline_sentence(result),
            arms_table(result["arms"], metrics=("roc_auc", "average_precision"))]


def comparisons_notes(result):
    """The paired comparisons of :func:`cxrlib.evaluation.evaluate_arms` as a table, or why there are none."""
    return comparisons_table(result["comparisons"]) if result["comparisons"] else "One arm: nothing to compare."


def operating_point_tables(records):
    """Each operating point's meaning and the arms' thresholded metrics at it, in order (each table once)."""
    shown = []
    for point, meaning in OPERATING_POINTS.items():
        shown += [f"**{POINT_LABELS[point]}**: {meaning}.", arms_table(records, point=point, metrics=THRESHOLD_METRICS)]
    return shown


def failures_tables(predictions, records):
    """How many test images the ROI failed on, per class, and the arms' table without them (when there are any)."""
    failed = predictions.drop_duplicates("filename")
    shown = [", ".join(f"{label}: {plural(int(g.fallback.sum()), 'fallback')} and "
                       f"{plural(int(g.implausible.sum()), 'implausible box', 'implausible boxes')} of {len(g)}"
                       for label, g in failed.groupby("label")) + " test images."]
    if (failed["fallback"] | failed["implausible"]).any():
        shown.append(arms_table(records, point="without_fallback"))
    return shown


def table2_columns(records, trained):
    """Our arms as columns of the paper's Table 2: the test records with the epochs and backbone they trained with."""
    return {a: {**records[a], **trained_as(trained, a)} for a in records}


def table2_notes(records, trained):
    """The paper's Table 2 with our arms in front (:func:`table2_columns`), and the consistency of the paper's own
    row on the Kermany test split, in words."""
    paper = LITERATURE_TABLE2["Galindo-Ramirez 2022"]
    return [paper_table2(table2_columns(records, trained)), implied_sentence(paper, **KERMANY_TEST_COUNTS)]


def planted_tag_sentence(*, synthetic):
    """What the planted tag test shows, on a synthetic run (whose generator planted it); None on real data."""
    return ("The synthetic radiographs carry a planted tag outside the thorax. On tagged test images, a model that "
            "learned it keeps its decisions when the thorax is blanked; one that reads the lungs does not."
            if synthetic else None)


def evaluation_record(result, tested, audit, *, evaluation_sets, set_records, data):
    """What notebook 04 adds to ``metrics.json``: the arms and comparisons; over seeds the operating points' test
    rates, the calibration, each subtype's AUC and the predictive values; the first seed's errors by subtype; the
    trivial floor and the gains over it, the perturbations, the further sets, the audit's fill and the data.

    ``tested`` is :func:`cxrlib.evaluation.seed_summary` (its ``n_boot`` is every interval's number of resamples);
    ``audit`` holds ``baselines``, ``gain_over_trivial``,
    ``perturbations``, ``shortcut_decisions`` and ``audit_fill`` (:func:`cxrlib.audit.audit_record`).
    """
    return {**result,
            "operating_point_rates": tested.points,
            "calibration": tested.calibration,
            "subtype_auc": tested.subtype_auc,
            "predictive_values": tested.predictive_values,
            "errors_by_subtype": {"seed": tested.scores.seeds[0], "operating_point": tested.point,
                                  "arms": {a: t.reset_index(names="group").to_dict("records")
                                           for a, t in tested.subtype_errors.items()}},
            "bootstrap_resamples": tested.n_boot,
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
            + f"On {next(iter(records.values()))['n']} test images, mean over {plural(len(seeds), 'seed')}, at the "
            + (OPERATING_POINTS[point] if point else "validation-chosen (Youden) threshold, "
               + ("which moves between seeds" if len(seeds) > 1 else "whose spread between seeds one seed cannot show")
               + " (section 2): read the ROC AUC first")
            + ":\n\n" + "\n".join(lines) + "\n\n" + "\n".join(verdicts)
            + "\n\nThe paper reports 91% accuracy, 91% sensitivity and 86% specificity for its processed-image model.")
