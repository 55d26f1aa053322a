"""Whether the networks' decisions need the thorax: test images with the thorax blanked, kept alone or swapped.

:func:`perturbed_images` gives the test images with the thorax taken away or kept alone, or swapped between images of
the two classes, then put through each arm's own preprocessing. A model whose AUC stays well above 0.5 with the
thorax blanked uses signal outside it.

Perturbations are made on the radiograph resized to ``preprocess_size`` (before CLAHE), inside the ROI box found on
the unperturbed image, so that every arm sees the same change through its own steps. A removed region is filled
with one grey level for the whole run, the pooled mean of the training radiographs (:func:`neutral_fill`), and
filled again after CLAHE with the pooled mean of the equalized training radiographs, so that CLAHE's tiles carry
nothing of the kept part into it. The fill depends on no image and no class: a fill made from the image itself
(noise of the kept part's mean and SD) carries that part's statistics, which are a label cue (the trivial floor),
and noise of any kind changes with the size of the box it is resized from. A cropped arm whose whole box is blanked
therefore sees the same flat input for every image, and its AUC is 0.5 exactly.
"""

from __future__ import annotations

import warnings

import cv2
import numpy as np
import pandas as pd

from ..data.images import read_radiograph
from ..preprocess.boxes import box_pixels
from ..preprocess.clahe import apply_clahe, resize_image
from ..preprocess.config import PreprocessConfig
from ..preprocess.roi import network_image

__all__ = [
    "CONDITIONS",
    "CONDITION_LABELS",
    "decisions_kept",
    "swap_donors",
    "neutral_fill",
    "input_fill",
    "perturb",
    "perturbed_images",
    "audit_sample",
    "score_perturbations",
    "summarize_perturbations",
]

#: Perturbation conditions: ROI box filled; lung-field mask (dilated) filled; everything outside the box filled;
#: the box's content replaced by the box of a test image of the other class.
CONDITIONS = ("thorax_blanked", "mask_blanked", "thorax_only", "swap")
#: How each condition (and the unperturbed image, ``none``) is named for a reader.
CONDITION_LABELS = {"none": "unperturbed", "thorax_blanked": "thorax box blanked",
                    "mask_blanked": "lung fields blanked", "thorax_only": "thorax box only",
                    "swap": "thorax box swapped (other class)"}


def decisions_kept(scores, has_tag, thresholds, *, condition="thorax_blanked"):
    """How often each arm keeps its decision when ``condition`` is applied, on images with and without a tag.

    Parameters
    ----------
    scores : pandas.DataFrame
        :func:`score_perturbations` (must hold ``none`` and ``condition``).
    has_tag : (N,) bool array
        Per image of the audit sample (in its order): whether it carries the planted tag.
    thresholds : dict
        ``{arm: {seed: {"youden": t, ...}}}``.

    Returns
    -------
    dict
        ``{arm: {"decisions_kept_tagged", "decisions_kept_untagged", "pneumonia_calls_tagged_blanked"}}``, means
        over seeds: a model that reads a tag outside the thorax keeps its decisions on tagged images.
    """
    has_tag = np.asarray(has_tag, dtype=bool)
    out = {}
    for arm, rows in scores.groupby("arm", sort=False):
        kept = []
        for seed, by_seed in rows.groupby("seed", sort=False):
            cut = thresholds[arm][seed]["youden"]
            before = by_seed.loc[by_seed["condition"] == "none", "score"].to_numpy() >= cut
            after = by_seed.loc[by_seed["condition"] == condition, "score"].to_numpy() >= cut
            kept.append([(before == after)[has_tag].mean(), (before == after)[~has_tag].mean(), after[has_tag].mean()])
        tagged, untagged, calls = np.mean(kept, axis=0)
        out[arm] = {"decisions_kept_tagged": float(tagged), "decisions_kept_untagged": float(untagged),
                    "pneumonia_calls_tagged_blanked": float(calls)}
    return out


def swap_donors(labels, *, seed=0):
    """For each image, a donor image of the other class (seeded, drawn with replacement).

    Parameters
    ----------
    labels : (N,) array of 0/1, both classes present
    seed : int

    Returns
    -------
    (N,) int ndarray
        Row position of each image's donor.
    """
    labels = np.asarray(labels).astype(int)
    if set(np.unique(labels)) != {0, 1}:
        raise ValueError("labels must contain both classes to swap thoraces between them")
    rng = np.random.default_rng(seed)
    donors = np.empty(labels.size, dtype=int)
    for label in (0, 1):
        others = np.flatnonzero(labels != label)
        mine = np.flatnonzero(labels == label)
        donors[mine] = rng.choice(others, size=mine.size, replace=True)
    return donors


def _box_slices(box, shape):
    """Row and column slices of the pixels :func:`cxrlib.preprocess.crop_box` keeps for ``box``: the same pixels the
    cropped arms see, so blanking or swapping them acts on exactly that crop."""
    r0, c0, r1, c1 = box_pixels(box, shape)
    return slice(r0, r1), slice(c0, c1)


def neutral_fill(paths, config, *, n=200, seed=0):
    """The run's fill: pooled mean grey level of a seeded sample of training radiographs, before and after CLAHE.

    Parameters
    ----------
    paths : sequence of str
        Training radiographs (never test images).
    config : cxrlib.preprocess.PreprocessConfig
        The run's preprocessing (``preprocess_size`` and the CLAHE settings).
    n : int
        Radiographs in the sample.
    seed : int

    Returns
    -------
    dict
        ``raw`` and ``equalized`` grey levels (floats in [0, 255]) and ``n``.
    """
    chosen = _training_sample(paths, n, seed)
    raw, equalized = [], []
    for path in chosen:
        image = resize_image(read_radiograph(path), config.preprocess_size)
        raw.append(image.mean())
        equalized.append(apply_clahe(image, clip_limit=config.clahe_clip_limit,
                                     tile_grid=config.clahe_tile_grid).mean())
    return {"raw": float(np.mean(raw)), "equalized": float(np.mean(equalized)), "n": len(chosen)}


def input_fill(paths, *, size, n=200, seed=0):
    """Pooled mean grey level of a seeded sample of one arm's training inputs (processed images at ``size``).

    The fill of deletion and insertion (:func:`cxrlib.audit.deletion_insertion`): one value per arm and run,
    taken from training images only.

    Returns
    -------
    float
    """
    from ..models.inputs import read_images

    return float(read_images(_training_sample(paths, n, seed), size=size, progress=False).mean())


def _training_sample(paths, n, seed):
    """A seeded sample of ``n`` training paths (all when fewer), in their order: what a run's fill is pooled over."""
    paths = list(paths)
    if not paths:
        raise ValueError("paths is empty: a fill is pooled over training images, give at least one")
    chosen = np.random.default_rng(seed).choice(len(paths), size=min(n, len(paths)), replace=False)
    return [paths[i] for i in sorted(chosen)]


def _removed_region(shape, box, condition, mask, mask_margin):
    """The pixels a condition removes: the box, everything but the box, or the dilated lung mask."""
    rows, cols = _box_slices(box, shape)
    in_box = np.zeros(shape, bool)
    in_box[rows, cols] = True
    if condition == "thorax_blanked":
        return in_box
    if condition == "thorax_only":
        return ~in_box
    if mask is None or mask.shape != shape:
        raise ValueError("mask_blanked needs the lung-field mask in the image's frame")
    radius = max(1, round(mask_margin * shape[0]))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    return cv2.dilate(mask.astype(np.uint8), kernel) > 0


def perturb(image, box, *, condition, fill=None, mask=None, mask_margin=0.03, donor=None, donor_box=None):
    """One radiograph with its thorax blanked, kept alone, or swapped.

    Parameters
    ----------
    image : (S, S) uint8 ndarray
        The radiograph resized to ``preprocess_size``, before CLAHE.
    box : tuple of float
        The ROI box ``(y0, x0, y1, x1)`` as fractions, found on the unperturbed image.
    condition : str
        One of :data:`CONDITIONS`.
    fill : float
        Grey level of the removed pixels (:func:`neutral_fill`); every condition but ``swap`` needs it.
    mask : (S, S) bool ndarray, optional
        The lung-field mask (``mask_blanked``); dilated by ``mask_margin`` of the side.
    mask_margin : float
    donor, donor_box : ndarray and tuple, optional
        For ``swap``: the other image (resized like ``image``) and its box; its box content is resized into ``box``.

    Returns
    -------
    image : (S, S) uint8 ndarray
    removed : (S, S) bool ndarray
        The pixels filled (none under ``swap``).
    """
    if condition not in CONDITIONS:
        raise ValueError(f"condition={condition!r} is unknown; choose one of {', '.join(CONDITIONS)}")
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 2:
        raise ValueError("image must be a 2-D uint8 radiograph")
    out = image.copy()
    if condition == "swap":
        if donor is None or donor_box is None:
            raise ValueError("swap needs the donor image and its box")
        rows, cols = _box_slices(box, image.shape)
        d_rows, d_cols = _box_slices(donor_box, donor.shape)
        height, width = rows.stop - rows.start, cols.stop - cols.start
        out[rows, cols] = cv2.resize(donor[d_rows, d_cols], (width, height), interpolation=cv2.INTER_AREA)
        return out, np.zeros(image.shape, bool)
    if fill is None or not 0 <= float(fill) <= 255:
        raise ValueError(f"condition {condition!r} needs fill, a grey level in [0, 255] (neutral_fill), got {fill!r}")
    removed = _removed_region(image.shape, box, condition, mask, mask_margin)
    out[removed] = int(round(float(fill)))
    return out, removed


def perturbed_images(table, arm, config, *, condition, fill, donors=None, mask_margin=0.03):
    """The network images one arm sees of perturbed test images.

    Parameters
    ----------
    table : pandas.DataFrame
        Rows of processed.csv: ``path``, ``roi_y0 .. roi_x1``, ``mask_path`` (for ``mask_blanked``).
    arm : cxrlib.preprocess.Arm
    config : cxrlib.preprocess.PreprocessConfig
        The run's preprocessing (``preprocess_size``, CLAHE, ``output_size`` = the model's input side).
    condition : str
        One of :data:`CONDITIONS`.
    fill : dict
        :func:`neutral_fill`: ``raw`` fills the radiograph, ``equalized`` the same pixels after CLAHE.
    donors : (N,) int array, optional
        For ``swap``: :func:`swap_donors`.
    mask_margin : float

    Returns
    -------
    (N, output_size, output_size) uint8 ndarray
    """
    if not isinstance(config, PreprocessConfig):
        raise TypeError(f"config must be a PreprocessConfig, got {type(config).__name__}")
    if condition == "swap" and (donors is None or len(donors) != len(table)):
        raise ValueError("swap needs donors: one row position per image (cxrlib.audit.swap_donors)")
    if not isinstance(fill, dict) or not {"raw", "equalized"} <= set(fill):
        raise ValueError(f"fill must be the dict of neutral_fill (raw, equalized), got {fill!r}")
    boxes = table[["roi_y0", "roi_x0", "roi_y1", "roi_x1"]].to_numpy(np.float64)
    resized = [resize_image(read_radiograph(p), config.preprocess_size) for p in table["path"]]
    out = np.empty((len(table), config.output_size, config.output_size), np.uint8)
    for i, image in enumerate(resized):
        mask = None
        if condition == "mask_blanked":
            mask = cv2.resize(read_radiograph(table["mask_path"].iloc[i]), image.shape[::-1],
                              interpolation=cv2.INTER_NEAREST) > 0
        donor = resized[donors[i]] if condition == "swap" else None
        donor_box = tuple(boxes[donors[i]]) if condition == "swap" else None
        changed, removed = perturb(image, tuple(boxes[i]), condition=condition, fill=fill["raw"], mask=mask,
                                   mask_margin=mask_margin, donor=donor, donor_box=donor_box)
        equalized = apply_clahe(changed, clip_limit=config.clahe_clip_limit, tile_grid=config.clahe_tile_grid)
        equalized[removed] = int(round(fill["equalized"]))  # CLAHE's tiles mix the kept part into the fill
        out[i] = network_image(changed, equalized, tuple(boxes[i]), clahe=arm.clahe, roi=arm.roi,
                               output_size=config.output_size)
    return out


def audit_sample(table, n, *, seed=0):
    """A seeded sample of ``n`` rows stratified by label (all rows when ``n`` >= their number), index reset."""
    if n >= len(table):
        return table.reset_index(drop=True)
    share = n / len(table)
    parts = [group.sample(n=max(1, round(share * len(group))), random_state=seed)
             for _, group in table.groupby("label", sort=True)]
    return pd.concat(parts).sort_index().reset_index(drop=True)


def score_perturbations(table, arms, score, config, *, seeds, fill, seed=0, conditions=CONDITIONS, unperturbed=None,
                        progress=True):
    """Every arm's and seed's P(pneumonia) on the unperturbed and the perturbed images of ``table``.

    Parameters
    ----------
    table : pandas.DataFrame
        Test rows of processed.csv (``path``, ``label``, ``patient_id``, ``filename``, the box, ``mask_path``).
    arms : sequence of cxrlib.preprocess.Arm
    score : callable
        ``score(arm_name, seed, images) -> (N,) P(pneumonia)``: the trained model of that arm and seed.
    config : cxrlib.preprocess.PreprocessConfig
    seeds : sequence of int
    fill : dict
        :func:`neutral_fill`.
    seed : int
        Seed of the swap donors.
    conditions : sequence of str
    unperturbed : pandas.DataFrame, optional
        Scores already computed on the unperturbed images (step 04's test predictions: ``arm``, ``seed``,
        ``filename``, ``score``); the ``none`` condition takes them instead of scoring the images again.
    progress : bool

    Returns
    -------
    pandas.DataFrame
        One row per arm, seed, condition (``none`` for the unperturbed images) and image: ``filename``,
        ``patient_id``, ``y_true`` (the image's label), ``y_thorax`` (the label of the thorax shown: the donor's
        under ``swap``), ``score``.
    """
    from tqdm.auto import tqdm

    from ..models.inputs import read_images  # Keras: imported when scoring, not with the module

    y = (table["label"] == "PNEUMONIA").to_numpy(int)
    donors = swap_donors(y, seed=seed)
    rows = []
    steps = [(arm, condition) for arm in arms for condition in ("none", *conditions)]
    known = None if unperturbed is None else unperturbed.set_index(["arm", "seed", "filename"])["score"]
    for arm, condition in tqdm(steps, desc="perturbations", disable=not progress, leave=False):
        if condition == "none" and known is not None:
            scores = {s: known.loc[[(arm.name, s, f) for f in table["filename"]]].to_numpy() for s in seeds}
        else:
            images = (read_images(table[arm.column], size=config.output_size, progress=False) if condition == "none"
                      else perturbed_images(table, arm, config, condition=condition, fill=fill, donors=donors))
            scores = {s: score(arm.name, s, images) for s in seeds}
        y_thorax = y[donors] if condition == "swap" else y
        for s in seeds:
            rows.append(pd.DataFrame({"arm": arm.name, "seed": s, "condition": condition,
                                      "filename": table["filename"], "patient_id": table["patient_id"],
                                      "y_true": y, "y_thorax": y_thorax, "score": scores[s]}))
    return pd.concat(rows, ignore_index=True)


def summarize_perturbations(scores, thresholds, *, n_boot=2000, seed=0):
    """ROC AUC per arm and condition (mean over seeds, with an interval that resamples patients and seeds), and
    for swaps how often the prediction follows the thorax.

    Parameters
    ----------
    scores : pandas.DataFrame
        :func:`score_perturbations`.
    thresholds : dict
        ``{arm: {seed: {"youden": t, ...}}}``: the decision threshold chosen on validation.
    n_boot, seed
        As in :func:`cxrlib.evaluation.bootstrap_intervals`.

    Returns
    -------
    dict
        ``{arm: {condition: {"roc_auc", "sd", "ci", "per_seed", "n"}}}``; AUC against the label of the thorax
        shown (the donor's under ``swap``); ``swap`` adds ``follows_thorax_rate`` and its ``follows_thorax_ci``
        (share of images whose prediction at the Youden threshold is the donor's label, mean over seeds).
    """
    from ..evaluation.intervals import bootstrap_mean, evaluate_seeds

    out = {}
    for (arm, condition), rows in scores.groupby(["arm", "condition"], sort=False):
        seeds = sorted(set(rows["seed"]))
        wide = rows.pivot(index="filename", columns="seed", values="score")
        first = rows[rows["seed"] == seeds[0]].set_index("filename").loc[wide.index]
        y = first["y_thorax"].to_numpy(int)
        groups = first["patient_id"].astype(str).to_numpy()
        cuts = [float(thresholds[arm][s]["youden"]) for s in seeds]
        with warnings.catch_warnings():  # only the AUC is kept; threshold metrics may be undefined here
            warnings.simplefilter("ignore", UserWarning)
            result = evaluate_seeds(y, [wide[s].to_numpy() for s in seeds], cuts, groups=groups, n_boot=n_boot,
                                    seed=seed)
        entry = {"roc_auc": result["roc_auc"], "sd": result["sd"]["roc_auc"], "ci": result["ci"]["roc_auc"],
                 "per_seed": [{"seed": int(s), "roc_auc": m["roc_auc"]} for s, m in zip(seeds, result["per_seed"])],
                 "n": result["n"]}
        if condition == "swap":
            follows = np.array([(wide[s].to_numpy() >= c).astype(int) == y for s, c in zip(seeds, cuts)], float)
            rate, ci = bootstrap_mean(follows, groups=groups, n_boot=n_boot, seed=seed)
            entry.update(follows_thorax_rate=rate, follows_thorax_ci=ci)
        out.setdefault(arm, {})[condition] = entry
    return out
