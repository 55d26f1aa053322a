"""What notebook 04 says about the shortcut audit: the trivial floor and the gains over it, the perturbation tests.

Each function returns a table (pandas), a Markdown sentence or a list of them, or a record for ``metrics.json``;
:func:`perturbation_audit` runs the perturbation tests of every arm and seed on a seeded test sample.
"""

from __future__ import annotations

import pandas as pd

from ..data.synthetic import shortcut_truth
from ..evaluation.classification import METRIC_NAMES
from ..evaluation.comparisons import compare_seeds
from ..evaluation.tables import interval, percent
from ..preprocess.config import PreprocessConfig
from .floor import STATISTICS, trivial_floor
from .perturbations import (CONDITION_LABELS, audit_sample, decisions_kept, neutral_fill, score_perturbations,
                            summarize_perturbations)

__all__ = ["floor_and_gains", "gains_over_floor", "floor_table", "floor_sentence", "floor_record", "gains_record",
           "perturbation_audit", "perturbation_notes", "shortcut_decisions", "decisions_table", "audit_record"]

#: :func:`cxrlib.audit.decisions_kept`'s keys as a reader reads them.
_DECISIONS = {"decisions_kept_tagged": "decisions kept with the thorax blanked: tagged images",
              "decisions_kept_untagged": "decisions kept with the thorax blanked: untagged images",
              "pneumonia_calls_tagged_blanked": "PNEUMONIA calls on tagged images with the thorax blanked"}


def gains_over_floor(predictions, floor, thresholds, test, *, n_boot=2000, seed=0):
    """Each arm's AUC gain over the trivial floor, paired on the same test images (patients and seeds resampled).

    Parameters
    ----------
    predictions : pandas.DataFrame
        ``test_predictions.csv``: every arm's and seed's scores on the test rows, in their order.
    floor : dict
        :func:`cxrlib.audit.trivial_floor`.
    thresholds : dict
        ``{arm: {seed: {operating point: threshold}}}``.
    test : pandas.DataFrame
        The test rows (``label``, ``patient_id``).
    n_boot, seed
        As in :func:`cxrlib.evaluation.compare_seeds`.

    Returns
    -------
    dict
        ``{arm: compare_seeds(arm, floor)}``.
    """
    y = (test["label"] == "PNEUMONIA").to_numpy(int)
    gains = {}
    for a, by_seed in thresholds.items():
        seeds = list(by_seed)
        arm_scores = [predictions.loc[(predictions.arm == a) & (predictions.seed == s), "score"].to_numpy()
                      for s in seeds]
        gains[a] = compare_seeds(y, arm_scores, [floor["scores"]["test"]] * len(seeds),
                                 [by_seed[s]["youden"] for s in seeds], [floor["threshold"]] * len(seeds),
                                 groups=test["patient_id"].to_numpy(), n_boot=n_boot, seed=seed)
    return gains


def floor_and_gains(processed, predictions, thresholds, *, n_boot=2000, seed=0):
    """The trivial floor of a study (:func:`cxrlib.audit.trivial_floor` on ``processed.csv``) and each arm's gain
    over it on the test rows (:func:`gains_over_floor`)."""
    floor = trivial_floor(processed, seed=seed, n_boot=n_boot)
    test = processed[processed["subset"] == "test"].reset_index(drop=True)
    return floor, gains_over_floor(predictions, floor, thresholds, test, n_boot=n_boot, seed=seed)


def floor_table(floor, records, gains):
    """The trivial floor's ROC AUC and each arm's, with the arm's gain over the floor (95% intervals)."""
    trivial = floor["record"]
    return pd.DataFrame(
        [{"model": "trivial floor (image statistics)", "ROC AUC": f"{trivial['roc_auc']:.3f} "
          f"({interval(trivial['ci']['roc_auc'], as_percent=False)})", "gain over the floor": "-"}]
        + [{"model": a,
            "ROC AUC": f"{records[a]['roc_auc']:.3f} ({interval(records[a]['ci']['roc_auc'], as_percent=False)})",
            "gain over the floor": f"{gains[a]['auc_difference']:+.3f} ({gains[a]['auc_difference_ci'][0]:+.3f} to "
                                   f"{gains[a]['auc_difference_ci'][1]:+.3f})"} for a in gains]
    ).set_index("model").rename_axis(index=None, columns="model")


def floor_sentence(floor, *, synthetic):
    """What the trivial floor reaches, what file size alone does, and how to read the networks against it."""
    trivial = floor["record"]
    return (
        f"The trivial floor reaches ROC AUC **{trivial['roc_auc']:.3f}** on the test split (accuracy "
        f"{percent(trivial['accuracy'])} at its validation threshold); the file size alone ranks the test images with "
        f"AUC **{floor['file_size_roc_auc']:.3f}** ({'larger' if floor['larger_files_pneumonia'] else 'smaller'} files "
        "are more often PNEUMONIA in train). " + ("On synthetic data the floor measures how separable the generator "
                                                 "makes the classes without anatomy." if synthetic else
                                                 "What the networks add is the gain over this floor, not their whole "
                                                 "AUC."))


def floor_record(floor):
    """The trivial floor as ``metrics.json`` keeps it: its test metrics and intervals, threshold and features."""
    trivial = floor["record"]
    return {**{k: trivial[k] for k in METRIC_NAMES}, "ci": trivial["ci"], "threshold": floor["threshold"],
            "file_size_roc_auc": floor["file_size_roc_auc"], "features": list(STATISTICS)}


def gains_record(gains):
    """Each arm's AUC gain over the floor and its interval, as ``metrics.json`` keeps them."""
    return {a: {"auc_difference": g["auc_difference"], "auc_difference_ci": g["auc_difference_ci"]}
            for a, g in gains.items()}


def perturbation_audit(test, train_paths, models, config, *, images=300, unperturbed=None, n_boot=2000, seed=0):
    """The perturbation tests of every arm and seed on a seeded, class-stratified sample of the test images.

    Parameters
    ----------
    test : pandas.DataFrame
        The test rows of ``processed.csv``.
    train_paths : sequence of str
        Training radiographs, for the neutral fill (:func:`cxrlib.audit.neutral_fill`).
    models : cxrlib.models.ArmModels
        Scores each arm's images (``score``): its ``arms``, ``seeds`` and validation ``thresholds``.
    config : cxrlib.preprocess.PreprocessConfig or dict
        The run's preprocessing (``roi.json``'s ``config``).
    images : int, optional
        Size of the sample (:func:`cxrlib.audit.audit_sample`).
    unperturbed : pandas.DataFrame, optional
        ``test_predictions.csv``: the unperturbed scores, not computed again.
    n_boot, seed
        As in :func:`cxrlib.audit.summarize_perturbations`.

    Returns
    -------
    dict
        ``fill``, ``sample``, ``scores`` (:func:`cxrlib.audit.score_perturbations`) and ``summary``
        (:func:`cxrlib.audit.summarize_perturbations`).
    """
    config = config if isinstance(config, PreprocessConfig) else PreprocessConfig(**config)
    fill = neutral_fill(train_paths, config, seed=seed)
    sample = audit_sample(test, images, seed=seed)
    scores = score_perturbations(sample, models.arms, models.score, config, seeds=models.seeds, fill=fill, seed=seed,
                                 unperturbed=unperturbed)
    summary = summarize_perturbations(scores, models.thresholds, n_boot=n_boot, seed=seed)
    return {"fill": fill, "sample": sample, "scores": scores, "summary": summary}


def perturbation_notes(perturbed, arms):
    """What the perturbation tests show: the sample and the fill, every arm's AUC per condition, and per arm whether
    it uses signal outside the thorax (or, for a cropped arm, outside the lung fields)."""
    sample, perturbations, fill = perturbed["sample"], perturbed["summary"], perturbed["fill"]
    names = [a.name for a in arms]
    table = pd.DataFrame({a: {c: f"{r['roc_auc']:.3f} ({interval(r['ci'], as_percent=False)})"
                              for c, r in perturbations[a].items()} for a in names}).T
    table["swap: prediction follows the thorax"] = [
        f"{percent(perturbations[a]['swap']['follows_thorax_rate'])} "
        f"({interval(perturbations[a]['swap']['follows_thorax_ci'])})" for a in names]
    verdicts = []
    for arm in arms:
        blanked = perturbations[arm.name]["mask_blanked" if arm.roi else "thorax_blanked"]
        what = "lung fields" if arm.roi else "thorax box"
        if blanked["ci"][0] > 0.5:
            verdicts.append(f"- **{arm.name}**: with the {what} blanked its AUC is still **{blanked['roc_auc']:.3f}** "
                            f"({interval(blanked['ci'], as_percent=False)}): **it uses signal outside the {what}.**")
        else:
            verdicts.append(f"- **{arm.name}**: with the {what} blanked its AUC falls to {blanked['roc_auc']:.3f} "
                            f"({interval(blanked['ci'], as_percent=False)}): no signal outside the {what} is shown.")
    return [f"{len(sample)} test images ({int((sample.label == 'PNEUMONIA').sum())} PNEUMONIA), ROC AUC per "
            f"condition, mean over seeds (95% interval over patients and seeds); fill: grey level "
            f"{fill['raw']:.1f} on the radiograph, {fill['equalized']:.1f} after CLAHE.",
            table.rename(columns=CONDITION_LABELS).rename_axis(columns="arm"), "\n".join(verdicts)]


def shortcut_decisions(data, perturbed, thresholds):
    """On synthetic data: how often each arm keeps its decision with the thorax blanked, on images with and without
    the planted tag (:func:`cxrlib.audit.decisions_kept` with the generator's ground truth); None on real data.

    ``data`` is ``data.json`` (its ``source`` and ``root``, absolute).
    """
    if data["source"] != "synthetic":
        return None
    has_tag, _ = shortcut_truth(data["root"], perturbed["sample"]["filename"])
    return decisions_kept(perturbed["scores"], has_tag, thresholds)


def decisions_table(decisions):
    """:func:`shortcut_decisions` as a table (3 decimals, columns named for a reader); None when not measured."""
    if decisions is None:
        return None
    return pd.DataFrame(decisions).T.round(3).rename(columns=_DECISIONS).rename_axis(columns="arm")


def audit_record(floor, gains, perturbed, decisions):
    """The audit's part of ``metrics.json``: the trivial floor, the gains over it, the perturbations, the decisions
    kept on the planted tag and the fill."""
    return {"baselines": {"trivial": floor_record(floor)}, "gain_over_trivial": gains_record(gains),
            "perturbations": perturbed["summary"], "shortcut_decisions": decisions, "audit_fill": perturbed["fill"]}
