"""Every arm's trained model of every seed, loaded once, scoring images: the test predictions and further sets.

:class:`ArmModels` holds the models of a run (``training.json`` and the saved ``.keras`` files) and scores an arm's
images with each seed's model, through the cached frozen features when the model trained on them; its thresholds
are those chosen on validation in step 03.
"""

from __future__ import annotations

import pandas as pd

from ..evaluation.sets import evaluate_set
from .inputs import read_images
from .model import load_classifier
from .scoring import predict_scores

__all__ = ["ArmModels"]


class ArmModels:
    """The trained models of a study's arms and seeds, and what they say about images.

    Parameters
    ----------
    arms : sequence of cxrlib.preprocess.Arm
    seeds : sequence of int
    trained : dict
        ``training.json``'s ``arms`` mapping (each arm's seeds: thresholds and settings).
    model_path : callable
        ``model_path(arm_name, seed)``: where that model was saved (:meth:`cxrlib.run.StudyRun.model_path`).
    work_dir : str or Path
        Where the frozen prefix's features are cached (``work_dir/features``).
    batch_size : int, optional
    """

    def __init__(self, arms, seeds, trained, model_path, *, work_dir, batch_size=32):
        self.arms, self.seeds, self.trained = list(arms), list(seeds), trained
        self.work_dir, self.batch_size = work_dir, batch_size
        self.models = {(a.name, s): load_classifier(model_path(a.name, s)) for a in self.arms for s in self.seeds}
        self.input_size = next(iter(self.models.values())).input_shape[1]

    @property
    def thresholds(self):
        """``{arm: {seed: {operating point: threshold}}}``, all chosen on validation."""
        return {a.name: {s: self.trained[a.name]["seeds"][str(s)]["thresholds"] for s in self.seeds} for a in self.arms}

    def settings(self, arm, seed):
        """The training settings of one arm's model of one seed (a dict, as ``training.json`` holds it)."""
        return self.trained[arm]["seeds"][str(seed)]["settings"]

    def score(self, arm, seed, images):
        """P(pneumonia) of one arm's model of one seed (the frozen part's features are cached per arm)."""
        return predict_scores(self.models[arm, seed], images, settings=self.settings(arm, seed),
                              work_dir=self.work_dir, batch_size=self.batch_size, progress=False)

    def test_predictions(self, test):
        """Every arm's models on the test rows: one row per image, arm and seed, with the Youden prediction.

        Parameters
        ----------
        test : pandas.DataFrame
            The test rows of ``processed.csv`` (``filename``, ``patient_id``, ``label``, ``subtype``, ``fallback``,
            ``implausible`` and each arm's image column).

        Returns
        -------
        pandas.DataFrame
            Those columns (``fallback`` and ``implausible`` as bool) with ``y_true``, ``arm``, ``seed``, ``score`` and
            ``predicted`` (at the seed's validation Youden threshold): ``test_predictions.csv``.
        """
        y = (test["label"] == "PNEUMONIA").to_numpy(int)
        rows = []
        for arm in self.arms:
            images = read_images(test[arm.column], size=self.input_size)
            for s in self.seeds:
                record = self.trained[arm.name]["seeds"][str(s)]
                score_ = self.score(arm.name, s, images)
                rows.append(test[["filename", "patient_id", "label", "subtype", "fallback", "implausible"]].assign(
                    y_true=y, arm=arm.name, seed=s, score=score_,
                    predicted=(score_ >= record["thresholds"]["youden"]).astype(int)))
        predictions = pd.concat(rows, ignore_index=True)
        for column in ("fallback", "implausible"):
            predictions[column] = predictions[column].astype(str).str.lower().eq("true")
        return predictions

    def set_scores(self, rows):
        """``{arm: [scores of each seed]}`` on the rows of a further evaluation set."""
        scores = {}
        for arm in self.arms:
            images = read_images(rows[arm.column], size=self.input_size, progress=False)
            scores[arm.name] = [self.score(arm.name, s, images) for s in self.seeds]
        return scores

    def evaluate_sets(self, sets, *, n_boot=2000, seed=0):
        """Every arm on each further evaluation set (:func:`cxrlib.evaluation.evaluate_set`).

        Parameters
        ----------
        sets : dict of str to pandas.DataFrame
            ``{name: the set's rows of processed.csv}``.
        n_boot, seed
            As in :func:`cxrlib.evaluation.evaluate_set`.

        Returns
        -------
        scores : dict
            ``{name: {arm: [scores of each seed]}}``.
        records : dict
            ``{name: {arm: record}}``.
        """
        scores = {name: self.set_scores(rows) for name, rows in sets.items()}
        records = {name: evaluate_set(rows, scores[name], self.thresholds, n_boot=n_boot, seed=seed)
                   for name, rows in sets.items()}
        return scores, records
