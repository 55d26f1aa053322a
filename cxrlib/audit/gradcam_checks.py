"""Checks of the Grad-CAM maps themselves: model randomization (Adebayo et al. 2018), deletion and insertion (Petsiuk
et al. 2018), and their summary with intervals.
"""

import re

import numpy as np
import pandas as pd

from ..evaluation.intervals import bootstrap_mean
from .gradcam_maps import default_to_input, find_layer, gradcam, output_layer, sublayers
from .gradcam_measures import upsample

__all__ = ["weight_groups", "stage_labels", "randomization_check", "class_logits", "deletion_insertion",
           "faithfulness_summary", "faithfulness_table"]


def weight_groups(model):
    """The model's layers with weights, grouped by block, from the output back to the input.

    A block is the part of a layer's name before its first ``_`` (``block14``, ``conv3``); the output unit
    (``pneumonia``) is its own group, first.

    Returns
    -------
    list of (str, list of keras.layers.Layer)
    """
    groups = {}
    for layer in sublayers(model):
        if layer.weights and not hasattr(layer, "layers"):
            groups.setdefault(layer.name.split("_")[0], []).append(layer)
    return list(reversed(groups.items()))


def stage_labels(stages):
    """The randomization check's stages for a reader: the output layer first, then each deeper block added.

    ``["pneumonia", "block14", "conv3"]`` -> ``["output layer", "+ block 14", "+ conv 3"]``.
    """
    return ["output layer" if i == 0 else "+ " + re.sub(r"^([a-z]+)(\d+)$", r"\1 \2", name).replace("_", " ")
            for i, name in enumerate(stages)]


def randomization_check(model, images, *, stages=4, layer_name=None, seed=0, batch_size=16):
    """Model-parameter randomization test of Grad-CAM (Adebayo et al. 2018), cascading from the output.

    The head is re-initialised, then successively deeper blocks (each variable redrawn from a normal
    distribution with its trained mean and SD, so activations keep their scale); after each stage the maps
    are recomputed and compared with the trained model's by Spearman rank correlation, image by image. Maps
    that barely change when the weights that produced the decision are destroyed explain nothing.

    Parameters
    ----------
    model : keras.Model
        The trained classifier (left unchanged: a copy is randomised).
    images : (N, S, S) uint8 ndarray
    stages : int
        How many weight groups (:func:`weight_groups`) to randomise in turn.
    layer_name : str, optional
        Grad-CAM layer (default: the backbone's).
    seed : int
    batch_size : int

    Returns
    -------
    pandas.DataFrame
        One row per stage: ``stage`` (the deepest block randomised so far), ``spearman_mean``,
        ``spearman_median`` (a randomized map gone flat counts as 0), ``n`` (images whose trained map is
        not flat) and ``flat_maps``.
    """
    import keras
    from scipy.stats import spearmanr

    layer = find_layer(model, layer_name).name
    trained, _ = gradcam(images, model, layer_name=layer, pred_index=1, batch_size=batch_size)
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    rng = np.random.default_rng(seed)
    rows = []
    for stage, (name, layers) in enumerate(weight_groups(copy)[:stages]):
        for group_layer in layers:
            for variable in group_layer.weights:
                values = np.asarray(variable)
                drawn = rng.normal(values.mean(), values.std() or 1e-3, values.shape)
                if "variance" in variable.path:  # a batch-norm variance must stay positive
                    drawn = np.abs(drawn) + 1e-3
                variable.assign(drawn.astype(values.dtype))
        randomized, _ = gradcam(images, copy, layer_name=layer, pred_index=1, batch_size=batch_size)
        if not np.isfinite(randomized).all():
            raise FloatingPointError(f"Grad-CAM maps became NaN after randomizing {name!r}")
        # a randomized map that is flat (no location supports the class any more) shares no ranking: 0
        rhos = [spearmanr(a.ravel(), b.ravel()).statistic if b.std() > 0 else 0.0
                for a, b in zip(trained, randomized) if a.std() > 0]
        rows.append({"stage": name, "stages_randomized": stage + 1, "spearman_mean": float(np.mean(rhos)) if rhos
                     else np.nan, "spearman_median": float(np.median(rhos)) if rhos else np.nan, "n": len(rhos),
                     "flat_maps": int(sum(b.std() == 0 for a, b in zip(trained, randomized) if a.std() > 0))})
    return pd.DataFrame(rows)


def class_logits(model, inputs, *, explained, batch_size=32):
    """The logit of the explained class (PNEUMONIA's logit, or its negative for NORMAL) of network inputs.

    The logit does not saturate where the probability does (0.99 and 0.9999 are 4.6 and 9.2), so a curve of it
    still moves on images the model is sure of. Read from the output layer with its sigmoid switched off, as
    Grad-CAM does; recovered from the clipped probability when the model has no such layer.

    Parameters
    ----------
    model : keras.Model
        Classifier with one sigmoid output.
    inputs : (N, ...) float ndarray
        Network inputs.
    explained : (N,) array of 0/1
        The class explained for each input.
    batch_size : int

    Returns
    -------
    (N,) float64 ndarray
    """
    import keras

    x = np.asarray(inputs, dtype=np.float32)
    sign = np.where(np.asarray(explained).reshape(-1) == 1, 1.0, -1.0)
    if sign.size != len(x):
        raise ValueError(f"explained holds {sign.size} classes for {len(x)} inputs; give one per input")
    head = output_layer(model)
    if head is not None:
        head.activation = keras.activations.linear
    try:
        out = np.concatenate([np.asarray(keras.ops.convert_to_numpy(model(x[i:i + batch_size], training=False)),
                                         dtype=np.float64).reshape(-1) for i in range(0, len(x), batch_size)])
    finally:
        if head is not None:
            head.activation = keras.activations.sigmoid
    if head is None:
        p = np.clip(out, 1e-7, 1 - 1e-7)
        out = np.log(p) - np.log1p(-p)
    return sign * out


def deletion_insertion(model, images, heatmaps, *, explained, fill, steps=5, seed=0, batch_size=32,
                       to_input=None):
    """Faithfulness of saliency maps (Petsiuk et al. 2018): delete or reveal the most salient pixels first.

    Deletion replaces the most salient pixels of the model's input, in ``steps`` equal shares, with ``fill``
    and records the explained class's logit (:func:`class_logits`); insertion starts from ``fill`` everywhere
    and reveals them. A faithful map makes the deletion curve fall faster than a random order of the pixels
    (seeded, one per image) and the insertion curve rise faster. ``fill`` is one value for every image (the
    pooled mean of the training inputs, :func:`cxrlib.audit.neutral_fill`), so the fully deleted image is the
    same for all and says nothing of any image or class.

    Parameters
    ----------
    model : keras.Model
    images : (N, S, S) uint8 ndarray
        The model's inputs.
    heatmaps : (N, h, w) float ndarray
        Maps over the same inputs (upsampled to S here).
    explained : (N,) array of 0/1
        The class each map explains.
    fill : float
        Grey level of a deleted pixel, in [0, 255].
    steps : int
        Shares of the pixels changed per curve (>= 2).
    seed : int
    batch_size : int
    to_input : callable, optional
        As in :func:`gradcam`; default ``cxrlib.models.to_model_input``.

    Returns
    -------
    pandas.DataFrame
        One row per image: ``deletion_auc``, ``insertion_auc``, ``random_deletion_auc``,
        ``random_insertion_auc`` (areas under the logit against the share of pixels changed, by the
        trapezoid rule), ``deletion_gain`` (random minus map) and ``insertion_gain`` (map minus random): above
        0 where the map beats random.
    """
    images = np.asarray(images)
    if images.ndim != 3 or images.dtype != np.uint8 or len(images) != len(heatmaps):
        raise ValueError("images must be (N, S, S) uint8 and heatmaps hold one map per image")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 2:
        raise ValueError(f"steps must be an int >= 2, got {steps!r}")
    if not 0 <= float(fill) <= 255:
        raise ValueError(f"fill must be a grey level in [0, 255], got {fill!r}")
    explained = np.asarray(explained).astype(int).reshape(-1)
    if explained.size != len(images) or not np.isin(explained, (0, 1)).all():
        raise ValueError(f"explained must hold one class (0 or 1) per image ({len(images)})")
    convert = default_to_input if to_input is None else to_input
    size = images.shape[1]
    rng = np.random.default_rng(seed)
    fractions = np.linspace(0, 1, steps + 1)
    blank = np.full(images.shape[1:], int(round(float(fill))), np.uint8)
    keys = ("deletion", "random_deletion", "insertion", "random_insertion")
    # every image's changed inputs (the interior fractions of the four curves), then its own image, scored together;
    # the curves' ends are the image itself and the blank, shared by the map and the random order
    per_image = len(keys) * (steps - 1) + 1

    def variants(image, heatmap):
        order = np.argsort(-upsample(heatmap, (size, size)).ravel(), kind="stable")
        rankings = (order, rng.permutation(order.size), order, rng.permutation(order.size))
        for key, ranking in zip(keys, rankings):
            for fraction in fractions[1:-1]:
                chosen = ranking[: int(round(fraction * order.size))]
                changed = (image if key.endswith("deletion") else blank).copy().ravel()
                changed[chosen] = (blank if key.endswith("deletion") else image).ravel()[chosen]
                yield changed.reshape(image.shape)
        yield image

    logits = []
    for start in range(0, len(images), 8):  # eight images' variants at a time bound the memory
        chunk = range(start, min(start + 8, len(images)))
        batch = [v for i in chunk for v in variants(images[i], heatmaps[i])]
        logits.append(class_logits(model, convert(batch), explained=np.repeat(explained[list(chunk)], per_image),
                                   batch_size=batch_size))
    blank_logit = {c: float(class_logits(model, convert([blank]), explained=[c])[0]) for c in (0, 1)}
    per_image = np.concatenate(logits).reshape(len(images), per_image)
    rows = []
    for values, cls in zip(per_image, explained):
        interior, own = values[:-1].reshape(len(keys), steps - 1), values[-1]
        row = {}
        for key, middle in zip(keys, interior):
            start, end = (own, blank_logit[cls]) if key.endswith("deletion") else (blank_logit[cls], own)
            row[f"{key}_auc"] = float(np.trapezoid(np.concatenate([[start], middle, [end]]), fractions))
        row["deletion_gain"] = row["random_deletion_auc"] - row["deletion_auc"]
        row["insertion_gain"] = row["insertion_auc"] - row["random_insertion_auc"]
        rows.append(row)
    return pd.DataFrame(rows)


def faithfulness_summary(tables, *, groups=None, n_boot=2000, confidence=0.95, seed=0):
    """Deletion and insertion of one arm against the random map, over seeds and images, with a verdict.

    Parameters
    ----------
    tables : list of pandas.DataFrame
        :func:`deletion_insertion` of each seed's model on the same images.
    groups : (N,) array, optional
        Patient id per image.
    n_boot, confidence, seed
        As in :func:`cxrlib.evaluation.bootstrap_mean` (patients and seeds resampled together).

    Returns
    -------
    dict
        For ``deletion`` and ``insertion``: ``map_auc``, ``random_auc`` (means), ``gain`` (how much the map
        beats random: mean of the per-image gains) with ``gain_ci``, and ``verdict``: ``"faithful"`` when the
        interval of the gain lies above 0, ``"worse than random"`` when it lies below, ``"not shown"``
        otherwise; ``n`` (images) and ``seeds``.
    """

    if not tables or any(len(t) != len(tables[0]) for t in tables):
        raise ValueError("tables must hold one deletion_insertion result per seed, over the same images")
    out = {"n": int(len(tables[0])), "seeds": len(tables)}
    for curve in ("deletion", "insertion"):
        gains = np.stack([t[f"{curve}_gain"].to_numpy(float) for t in tables])
        gain, ci = bootstrap_mean(gains, groups=groups, n_boot=n_boot, confidence=confidence, seed=seed)
        out[curve] = {
            "map_auc": float(np.mean([t[f"{curve}_auc"].mean() for t in tables])),
            "random_auc": float(np.mean([t[f"random_{curve}_auc"].mean() for t in tables])),
            "gain": gain, "gain_ci": ci,
            "verdict": "faithful" if ci[0] > 0 else "worse than random" if ci[1] < 0 else "not shown",
        }
    return out


def faithfulness_table(summaries):
    """Display table of :func:`faithfulness_summary` per arm: the areas, the gain over random and the verdict."""
    rows = {}
    for arm, f in summaries.items():
        row = {}
        for curve in ("deletion", "insertion"):
            c = f[curve]
            row[f"{curve}: map"] = f"{c['map_auc']:.2f}"
            row[f"{curve}: random"] = f"{c['random_auc']:.2f}"
            row[f"{curve}: map beats random by"] = f"{c['gain']:+.2f} ({c['gain_ci'][0]:+.2f} to {c['gain_ci'][1]:+.2f})"
            row[f"{curve}: verdict"] = c["verdict"]
        rows[arm] = row
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis(columns="arm")
