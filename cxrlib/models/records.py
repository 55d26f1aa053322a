"""The training's records in the run folder (``training.json``, histories, validation predictions) and its models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

import keras

from ..atomic import atomic_path, write_csv, write_json

__all__ = ["model_name", "save_training_outputs"]


def _inference_copy(model):
    """The same layers in an uncompiled model: saved without the optimizer (Adam's moments triple the file)."""
    return keras.Model(model.inputs, model.outputs, name=model.name)


def model_name(arm, seed):
    """The name of one trained model: ``<arm>-seed<seed>`` (its checkpoint folder and ``.keras`` file)."""
    return f"{arm}-seed{int(seed)}"


def save_training_outputs(results, run_dir, models_dir):
    """Write the training outputs of every arm and seed, each file atomically.

    Parameters
    ----------
    results : dict of (str, int) -> TrainingResult
        Keyed by (arm name, seed).
    run_dir : str or Path
        The run folder (records for the report).
    models_dir : str or Path
        Where the ``.keras`` models go (under ``work_dir``: models are not part of the report).

    Writes ``models_dir/<arm>-seed<k>.keras`` (weights and graph, no optimizer state),
    ``run_dir/training/<arm>-seed<k>_history.csv``, ``run_dir/training.json``
    (``{"arms": {arm: {"seeds": {seed: TrainingResult.summary()}}}}``) and
    ``run_dir/validation_predictions.csv`` (arm, seed, path, patient_id, label, score, threshold, predicted).

    Returns
    -------
    paths : list of Path
    """
    run_dir, models_dir = Path(run_dir), Path(models_dir)
    paths, rows, summary = [], [], {"arms": {}}
    for (arm, seed), result in results.items():
        name = model_name(arm, seed)
        model_path = models_dir / f"{name}.keras"
        with atomic_path(model_path) as tmp:
            _inference_copy(result.model).save(tmp)
        history_path = run_dir / "training" / f"{name}_history.csv"
        with atomic_path(history_path) as tmp:
            result.history.to_csv(tmp, index=False)
        paths += [model_path, history_path]
        val = result.validation
        rows.append(pd.DataFrame({"arm": arm, "seed": int(seed), "path": val["path"],
                                  "patient_id": val.get("patient_id", ""), "label": val["label"],
                                  "score": val["score"], "threshold": result.threshold,
                                  "predicted": np.where(val["predicted"] == 1, "PNEUMONIA", "NORMAL")}))
        summary["arms"].setdefault(arm, {"seeds": {}})["seeds"][str(int(seed))] = result.summary()
    json_path = write_json(summary, run_dir / "training.json", relative_to=run_dir.resolve())
    csv_path = write_csv(pd.concat(rows), run_dir / "validation_predictions.csv", relative_to=run_dir.resolve())
    return paths + [json_path, csv_path]
