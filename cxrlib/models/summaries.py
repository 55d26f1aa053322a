"""What notebook 03 says about training: the images each arm trains on, the runs of every arm and seed, the verdict.

Each function returns a table (pandas) or a Markdown sentence; :func:`train_arms` trains every arm with every seed,
timing each arm.
"""

from __future__ import annotations

import dataclasses
import time

import pandas as pd

from .inputs import class_weights
from .records import model_name
from .training import train_classifier

__all__ = ["training_counts", "class_weight_sentence", "arms_inputs", "seeds_sentence", "train_arms",
           "training_table", "wall_sentence", "first_seed_results", "outputs_sentence", "training_conclusion"]

#: The thresholds of training.json shown in the training table (the fixed 0.5 needs no column), as a reader reads them.
_POINTS = {"youden": "Youden's J", "sensitivity_0.95": "sensitivity ≥ 0.95"}


def training_counts(table):
    """Train and validation images per class, and PNEUMONIA images per NORMAL one (test rows left out)."""
    used = table[table.subset.isin(["train", "val"])]
    counts = used.groupby(["subset", "label"]).size().unstack(fill_value=0)
    counts["PNEUMONIA per NORMAL"] = (counts["PNEUMONIA"] / counts["NORMAL"]).round(2)
    return counts.rename(index={"train": "training", "val": "validation"}).rename_axis(index=None, columns="images")


def class_weight_sentence(table):
    """The class weights of the training rows, and how many test rows are left for step 04."""
    used = table[table.subset.isin(["train", "val"])]
    weights_by_class = class_weights((used.label[used.subset == "train"] == "PNEUMONIA").astype(int))
    return (f"Class weights: NORMAL **{weights_by_class[0]:.2f}**, PNEUMONIA **{weights_by_class[1]:.2f}**. "
            f"Test rows ({int((table.subset == 'test').sum())}) are left for step 04.")


def arms_inputs(arms):
    """The arms as a table: each arm's steps and the column of ``processed.csv`` holding its images."""
    return pd.DataFrame({"preprocessing steps": [a.steps for a in arms],
                         "images (column of processed.csv)": [a.column for a in arms]},
                        index=[a.name for a in arms]).rename_axis(columns="arm")


def seeds_sentence(seeds, device):
    """``Seeds: **0, 1**. Device: **CPU (2 cores)**.``"""
    return f"Seeds: **{', '.join(map(str, seeds))}**. Device: **{device}**."


def train_arms(table, arms, settings, *, seeds, work_dir):
    """Train every arm once per seed with the same settings (:func:`cxrlib.models.train_classifier`).

    Parameters
    ----------
    table : pandas.DataFrame
        ``processed.csv``.
    arms : sequence of cxrlib.preprocess.Arm
    settings : TrainSettings
        The settings of every run; each seed replaces its ``seed``.
    seeds : sequence of int
    work_dir : str or Path
        Checkpoints and cached features (a rerun resumes from them).

    Returns
    -------
    results : dict of (str, int) -> TrainingResult
        Keyed by (arm name, seed), arms in order.
    wall : dict of str -> float
        Seconds per arm, all seeds and features included.
    """
    results, wall = {}, {}
    for arm in arms:
        started = time.perf_counter()
        for seed in seeds:
            results[arm.name, seed] = train_classifier(
                table, image_column=arm.column, settings=dataclasses.replace(settings, seed=seed), work_dir=work_dir,
                name=model_name(arm.name, seed))
        wall[arm.name] = time.perf_counter() - started
    return results, wall


def training_table(results):
    """One row per arm and seed (rows named by the arm): seed, best epoch, epochs run, validation AUC, the thresholds
    chosen on validation, validation accuracy at the Youden threshold, and seconds."""
    rows = []
    for (arm, seed), r in results.items():
        rows.append({"seed": seed, "best epoch": r.best_epoch, "epochs run": len(r.history),
                     "validation AUC": round(r.val_auc, 4),
                     **{f"threshold: {_POINTS[k]}": round(v, 3) for k, v in r.thresholds.items() if k in _POINTS},
                     "validation accuracy (Youden)": round(float((r.validation.predicted == r.validation.label_int)
                                                                 .mean()), 4),
                     "frozen features (s)": round(r.feature_seconds, 1), "training (s)": round(r.train_seconds, 1)})
    return pd.DataFrame(rows, index=[arm for arm, _ in results]).rename_axis(columns="arm")


def wall_sentence(wall):
    """The wall time per arm, in words."""
    return ("Wall time of this run per arm (all seeds, features included; a model resumed from its checkpoints counts "
            "only what was left to do): "
            + ", ".join(f"{a} **{s:.0f} s**" for a, s in wall.items()) + ".")


def first_seed_results(results):
    """``{arm: result}`` of each arm's first seed (the one the validation-score figure shows)."""
    first = {}
    for (arm, _), result in results.items():
        first.setdefault(arm, result)
    return first


def outputs_sentence(paths, results):
    """What :func:`cxrlib.models.save_training_outputs` wrote, in words."""
    return (f"Wrote {len(paths)} files: `training.json`, `validation_predictions.csv`, the histories under "
            f"`training/` and {len(results)} models under `work_dir`.")


def training_conclusion(summary, results, *, arms, seeds, device, synthetic):
    """The closing paragraph of notebook 03: validation AUC per arm, and how many best epochs were the last."""
    by_arm = summary.groupby(level=0, sort=False)["validation AUC"].agg(["mean", "std", "min", "max"])
    lines = [f"- **{arm}**: validation AUC {row['mean']:.4f}"
             + (f" (SD {row['std']:.4f} over {len(seeds)} seeds)" if len(seeds) > 1 else "")
             for arm, row in by_arm.iterrows()]
    last_epoch = sum(int(r.best_epoch == len(r.history)) for r in results.values())
    return (("**SYNTHETIC data.** " if synthetic else "")
            + f"{len(results)} models ({len(arms)} arm{'s' if len(arms) > 1 else ''} × {len(seeds)} "
            f"seed{'s' if len(seeds) > 1 else ''}) trained with the same settings on "
            f"{device}.\n\n" + "\n".join(lines)
            + f"\n\nThe best epoch was the last one for {last_epoch} of {len(results)} models"
            + (": more epochs might still help them." if last_epoch else ".")
            + " Validation comes from the train folder's distribution, so the test split (step 04) is the comparison "
            "that counts.")
