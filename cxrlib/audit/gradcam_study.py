"""Grad-CAM of every arm's model of every seed on the test split, measured, compared and checked (notebook 05).

:class:`ArmMaps` computes the heatmaps of each model on every test image and measures them in the frame its network
saw (:func:`cxrlib.audit.measure_gradcam`); its methods give what notebook 05 reads from them: ``gradcam.csv``, the
paper's Fig. 8 examples, the failure gallery, the summaries per arm, the paired tests, the planted shortcut's
evidence; :func:`check_maps` runs the randomization and deletion/insertion checks of the maps.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..data.images import read_radiograph
from ..models.inputs import read_images
from ..models.scoring import gradcam_inputs
from .gradcam_checks import deletion_insertion, faithfulness_summary, randomization_check
from .gradcam_maps import find_layer
from .gradcam_measures import ROI_COLUMNS, expand_box, measure_gradcam
from .gradcam_summaries import (compare_groups, compare_measures, seed_calls, select_examples, select_failures,
                                summarize_measures)
from .perturbations import audit_sample, input_fill

__all__ = ["ArmMaps", "check_maps"]


class ArmMaps:
    """Grad-CAM of every arm's model of every seed on the test rows, measured in each network's own frame.

    Parameters
    ----------
    models : cxrlib.models.ArmModels
        The trained models (their arms, seeds, settings and validation thresholds).
    test : pandas.DataFrame
        The test rows of ``processed.csv``.
    layer_name : str, optional
        The layer explained (None: the backbone's last convolutional block).
    frame_size : int, optional
        Side of the frame the measures are taken in.
    tag_box : tuple of float, optional
        The planted tag's box (synthetic data): the heat on it is measured too (``mass_in_shortcut_spot``), on the
        box grown by half a heatmap cell of the layer.

    Attributes
    ----------
    measures, heatmaps : dict of (str, int)
        Per (arm, seed): :func:`cxrlib.audit.measure_gradcam`'s table and heatmaps.
    layers : dict of str to str
        The layer explained per arm.
    regions : dict
        The further regions measured (``shortcut_spot``), one box per test image.
    thresholds : dict of (str, int) to float
        Each model's validation Youden threshold: the class it explains is its prediction there.
    """

    def __init__(self, models, test, *, layer_name=None, frame_size=256, tag_box=None):
        self.arms, self.seeds, self.first_seed = models.arms, models.seeds, models.seeds[0]
        self.names = [a.name for a in self.arms]
        self.test, self.frame_size = test, frame_size
        self.y = (test["label"] == "PNEUMONIA").to_numpy(int)
        self.groups = test["patient_id"].to_numpy()
        self.thresholds = {(a, s): float(models.thresholds[a][s]["youden"]) for a in self.names for s in self.seeds}
        self.measures, self.heatmaps, self.regions, self.layers = {}, {}, {}, {}
        for arm in self.arms:
            images = read_images(test[arm.column], size=models.models[arm.name, self.first_seed].input_shape[1],
                                 progress=False)
            for s in self.seeds:
                model = models.models[arm.name, s]
                layer = find_layer(model, layer_name)
                self.layers[arm.name] = layer.name
                if tag_box is not None:
                    # the tag is small next to a heatmap cell: measure on its box grown by half a cell of the layer
                    self.regions = {"shortcut_spot": [expand_box(tag_box, 0.5 / layer.output.shape[1])] * len(test)}
                # a layer after a cached frozen prefix is explained on the prefix's features, computed once in 04
                explained, inputs = gradcam_inputs(model, images, settings=models.settings(arm.name, s),
                                                   layer_name=layer.name, work_dir=models.work_dir,
                                                   batch_size=models.batch_size)
                self.measures[arm.name, s], self.heatmaps[arm.name, s] = measure_gradcam(
                    test, explained, image_column=arm.column, crop=arm.roi, frame_size=frame_size,
                    regions=self.regions, layer_name=layer.name, threshold=self.thresholds[arm.name, s],
                    batch_size=models.batch_size, inputs=inputs, progress=False)

    def resolution_sentence(self):
        """The heatmaps' resolution per arm, and whether it is coarse."""
        cells = {n: self.heatmaps[n, self.first_seed].shape[1] for n in self.names}
        return ("Heatmap resolution: " + ", ".join(f"{n} {c}x{c} cells ({self.layers[n]})" for n, c in cells.items())
                + (" — coarse: each cell spans more than 1/7 of the model's input side, so small structures (markers, "
                   "labels) cannot be told apart from their surroundings; an earlier layer (`gradcam_layer`) gives "
                   "finer maps." if min(cells.values()) < 7 else "."))

    def agreement_sentence(self, predicted):
        """How far the forward pass of Grad-CAM is from the probabilities of 04 (``test_predictions.csv``).

        Raises
        ------
        ValueError
            When ``test_predictions.csv`` does not list the test images of ``processed.csv`` in order.
        """
        agreement = 0.0
        for (n, s), m in self.measures.items():
            of_model = predicted[(predicted["arm"] == n) & (predicted["seed"] == s)]
            if not (of_model["filename"].to_numpy() == self.test["filename"].to_numpy()).all():
                raise ValueError("test_predictions.csv does not list the test images of processed.csv in order; "
                                 "rerun 04")
            agreement = max(agreement, float(np.abs(m["probability"].to_numpy() - of_model["score"].to_numpy()).max()))
        return (f"Largest difference from the probabilities of 04: {agreement:.1e} (zero when the explained layer "
                "follows a cached frozen part: Grad-CAM then runs on 04's features; otherwise up to their float16 "
                "rounding).")

    def table(self):
        """One row per test image, arm and seed, with every measure: ``gradcam.csv``."""
        return pd.concat(
            [self.test[["filename", "patient_id", "label", "subtype"]].assign(
                arm=n, seed=s, threshold=self.thresholds[n, s],
                correct=(m["probability"] >= self.thresholds[n, s]).astype(int) == self.y,
            ).join(m) for (n, s), m in self.measures.items()],
            ignore_index=True,
        )

    def first_predictions(self):
        """Each arm's first-seed prediction (0/1) on the test images, at its validation threshold."""
        return {n: (self.measures[n, self.first_seed]["probability"].to_numpy()
                    >= self.thresholds[n, self.first_seed]).astype(int) for n in self.names}

    def headers(self):
        """Each arm's column header in the heatmap figures: its name and its steps."""
        return {a.name: f"{a.name}\n({a.steps if a.clahe or a.roi else 'raw image'})" for a in self.arms}

    def _example(self, i, label, panels):
        row = self.test.iloc[i]
        return {"image": read_radiograph(row["path"]), "box": tuple(row[c] for c in ROI_COLUMNS), "label": label,
                "name": row["filename"], "panels": panels}

    def examples(self, pairs, *, n=8, seed=0):
        """The paper's Fig. 8 on our arms: the same test images under every arm (first seed), both classes, right and
        wrong predictions of the first compared pair; the input of :func:`cxrlib.audit.plot_examples`."""
        pred = self.first_predictions()
        a, b = pairs[0] if pairs else (self.names[0], self.names[0])
        return [self._example(i, f"true: {self.test['label'].iloc[i]}", {
            arm.name: {"heatmap": self.heatmaps[arm.name, self.first_seed][i], "cropped": arm.roi,
                       "probability": float(self.measures[arm.name, self.first_seed]["probability"].iloc[i]),
                       "threshold": self.thresholds[arm.name, self.first_seed],
                       "correct": bool(pred[arm.name][i] == self.y[i]), "note": ""} for arm in self.arms})
            for i in select_examples(self.y, pred[a], pred[b], n=n, seed=seed)]

    def calls(self):
        """Per arm, :func:`cxrlib.audit.seed_calls` of its seeds at their validation Youden thresholds, and the mean
        P(PNEUMONIA) over seeds: ``{arm: (calls, votes, margins, mean probability)}``."""
        out = {}
        for n in self.names:
            p = np.stack([self.measures[n, s]["probability"].to_numpy(float) for s in self.seeds])
            out[n] = (*seed_calls(p, [self.thresholds[n, s] for s in self.seeds]), p.mean(axis=0))
        return out

    def _consensus_map(self, name, i, call):
        """The mean of the maps of the seeds whose call on image ``i`` is ``call`` (each explains that class),
        scaled to its peak."""
        maps = [self.heatmaps[name, s][i] for s in self.seeds
                if (self.measures[name, s]["probability"].iloc[i] >= self.thresholds[name, s]) == call]
        mean = np.mean(maps, axis=0)
        return mean / mean.max() if mean.max() > 0 else mean

    def failures(self, *, shared=1, false_positives=2, false_negatives=1):
        """The failure gallery: false positives and false negatives on the test split, ``shared`` of each that every
        arm makes and, per arm, ``false_positives`` and ``false_negatives`` of its own, every arm shown on each chosen
        image (:func:`cxrlib.audit.select_failures`, the surest first).

        An arm's call on an image is the class most of its seeds give, each at its validation Youden threshold; its
        P(PNEUMONIA) and threshold shown are the means over seeds, and its heatmap the mean of the maps of the seeds
        that make that call.

        Returns
        -------
        dict
            ``rows`` (the input of :func:`cxrlib.audit.plot_examples`, false positives first), ``chosen``
            (``[(filename, kind, arm chosen for or "every arm")]``), ``seeds`` (how many), ``counts`` (per arm:
            ``false_positives``, ``normal``, ``false_negatives``, ``pneumonia``) and ``every_arm`` (false positives
            and false negatives of every arm at once).
        """
        calls = self.calls()
        wrong = {n: calls[n][0] != self.y for n in self.names}
        margins = {n: calls[n][2] for n in self.names}
        rows, chosen = [], []
        for label, per_arm, kind in ((0, false_positives, "false positive"), (1, false_negatives, "false negative")):
            for i, arm in select_failures(self.y, wrong, margins, label=label, shared=shared, per_arm=per_arm):
                panels = {}
                for a in self.arms:
                    call, votes = calls[a.name][0][i], calls[a.name][1][i]
                    agree = votes if call else len(self.seeds) - votes
                    panels[a.name] = {"heatmap": self._consensus_map(a.name, i, call), "cropped": a.roi,
                                      "probability": float(calls[a.name][3][i]), "correct": not wrong[a.name][i],
                                      "threshold": float(np.mean([self.thresholds[a.name, s] for s in self.seeds])),
                                      "note": f"({agree}/{len(self.seeds)})" if len(self.seeds) > 1 else ""}
                whose = f"{kind} of every arm" if arm is None else f"{arm}'s {kind}"
                rows.append(self._example(i, f"true: {self.test['label'].iloc[i]}\n{whose}", panels))
                chosen.append((self.test["filename"].iloc[i], kind, arm or "every arm"))
        normal, pneumonia = self.y == 0, self.y == 1
        everywhere = np.all([wrong[n] for n in self.names], axis=0)
        return {"rows": rows, "chosen": chosen, "seeds": len(self.seeds),
                "counts": {n: {"false_positives": int((wrong[n] & normal).sum()), "normal": int(normal.sum()),
                               "false_negatives": int((wrong[n] & pneumonia).sum()), "pneumonia": int(pneumonia.sum())}
                           for n in self.names},
                "every_arm": {"false_positives": int((everywhere & normal).sum()),
                              "false_negatives": int((everywhere & pneumonia).sum())}}

    def per_seed(self, name):
        """One arm's measure tables, one per seed."""
        return [self.measures[name, s] for s in self.seeds]

    def summaries(self, *, n_boot=2000, seed=0):
        """Per arm, :func:`cxrlib.audit.summarize_measures` over its seeds (intervals over patients and seeds)."""
        return {n: summarize_measures(self.per_seed(n), groups=self.groups, n_boot=n_boot, seed=seed)
                for n in self.names}

    def first_measures(self):
        """Each arm's first-seed measure table."""
        return {n: self.measures[n, self.first_seed] for n in self.names}

    def paired(self, pairs, *, n_boot=2000, seed=0):
        """Per compared pair ``a - b``, :func:`cxrlib.audit.compare_measures` of their maps on the same images."""
        return {f"{a} - {b}": compare_measures(self.per_seed(a), self.per_seed(b), groups=self.groups, n_boot=n_boot,
                                               seed=seed) for a, b in pairs}

    def shortcut_evidence(self, has_tag):
        """Per arm, tagged against untagged test images (first seed, Mann-Whitney): heat on the tag's spot,
        P(PNEUMONIA) and accuracy; None when no image carries the tag."""
        if has_tag is None:
            return None
        pred, evidence = self.first_predictions(), {}
        for n in self.names:
            first = self.measures[n, self.first_seed]
            evidence[(n, "heatmap mass on the spot")] = compare_groups(first["mass_in_shortcut_spot"].to_numpy(),
                                                                       has_tag)
            evidence[(n, "P(PNEUMONIA)")] = compare_groups(first["probability"].to_numpy(), has_tag)
            evidence[(n, "accuracy")] = compare_groups((pred[n] == self.y).astype(float), has_tag)
        return evidence


def check_maps(maps, models, train_rows, *, images=100, randomization_images=24, steps=5, n_boot=2000, seed=0):
    """The checks of the maps themselves on a seeded sample of the test images of both classes.

    Parameters
    ----------
    maps : ArmMaps
    models : cxrlib.models.ArmModels
    train_rows : pandas.DataFrame
        The training rows of ``processed.csv`` (each arm's mean input is the deletion's grey level).
    images : int, optional
        Size of the sample (:func:`cxrlib.audit.audit_sample`).
    randomization_images : int, optional
        Of the sample's PNEUMONIA images, how many go through the randomization check (first seed).
    steps : int, optional
        Shares of the pixels deleted or inserted per curve.
    n_boot, seed
        As in :func:`cxrlib.audit.faithfulness_summary`.

    Returns
    -------
    dict
        ``randomization`` and ``faithfulness`` per arm, ``rows`` (the sample's positions in the test rows),
        ``randomized`` (how many images the randomization check used) and ``steps``.
    """
    check = audit_sample(maps.test, images, seed=seed)
    rows = np.flatnonzero(maps.test["filename"].isin(check["filename"]).to_numpy())  # positions, in test order
    randomization, faithfulness = {}, {}
    for arm in maps.arms:
        size = models.models[arm.name, maps.first_seed].input_shape[1]
        pixels = read_images(maps.test.iloc[rows][arm.column], size=size, progress=False)
        fill = input_fill(train_rows[arm.column], size=size, seed=seed)
        first_pneumonia = [i for i, r in enumerate(rows) if maps.y[r] == 1][:randomization_images]
        randomization[arm.name] = randomization_check(models.models[arm.name, maps.first_seed], pixels[first_pneumonia],
                                                      layer_name=maps.layers[arm.name], seed=seed)
        curves = [deletion_insertion(
            models.models[arm.name, s], pixels, maps.heatmaps[arm.name, s][rows],
            explained=maps.measures[arm.name, s]["explained_class"].to_numpy()[rows], fill=fill, steps=steps,
            seed=seed) for s in maps.seeds]
        faithfulness[arm.name] = faithfulness_summary(curves, groups=maps.groups[rows], n_boot=n_boot, seed=seed)
    return {"randomization": randomization, "faithfulness": faithfulness, "rows": rows,
            "randomized": len(first_pneumonia), "steps": steps}
