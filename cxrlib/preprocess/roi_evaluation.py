"""How well the ROI box keeps the lungs: on manual lung masks (:func:`evaluate_roi`) and on drawn lung-field boxes.

``python -m cxrlib roi-eval`` runs :func:`evaluate_roi` on a set and on its stress sets (:mod:`cxrlib.preprocess.stress`).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from ..data.images import pair_images_and_masks, read_radiograph
from .boxes import box_intersection, box_pixels
from .clahe import resized_and_equalized
from .config import check_config
from .parallel import map_parallel
from .plausibility import flag_boxes, lung_side_ratio
from .roi import extract_roi

__all__ = ["ROI_GOALS", "BOTH_LUNGS_LEVEL", "evaluate_roi", "PAEDIATRIC_BOXES", "evaluate_roi_on_boxes"]

ROI_GOALS = {"coverage_median": (">=", 0.995), "coverage_p05": (">=", 0.97),
             "area_median": ("<=", 0.60), "fallback_rate": ("<=", 0.01), "fallback_or_implausible_rate": ("<=", 0.01),
             "both_lungs_rate": (">=", 0.99), "area_ratio_median": ("<=", 1.3)}
#: A lung counts as kept (``both_lungs_rate``) when the box holds at least this share of its pixels.
BOTH_LUNGS_LEVEL = 0.9


def _two_lungs(mask):
    """The two largest connected components of a lung mask, ordered by column: (image left, image right).

    A mask with one component gives it twice (the lungs are joined); an empty mask gives two empty masks.
    """
    count, labels, stats, centroids = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if count <= 1:
        return mask, mask
    order = 1 + np.argsort(-stats[1:, cv2.CC_STAT_AREA])[:2]
    if order.size == 1:
        return labels == order[0], labels == order[0]
    order = order[np.argsort(centroids[order, 0])]
    return labels == order[0], labels == order[1]


def _evaluate_one(task):
    stem, image_path, mask_path, config = task
    image = read_radiograph(image_path)
    mask = read_radiograph(mask_path) > 0
    result = extract_roi(resized_and_equalized(image, config)[1], config)
    r0, c0, r1, c1 = box_pixels(result.box, mask.shape)

    def coverage(part):
        total = int(part.sum())
        return float(part[r0:r1, c0:c1].sum() / total) if total else float("nan")

    left, right = _two_lungs(mask)
    y0, x0, y1, x1 = result.box
    area = (y1 - y0) * (x1 - x0)
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    tight = (rows[-1] + 1 - rows[0]) * (cols[-1] + 1 - cols[0]) / mask.size if rows.size else float("nan")
    return {"stem": stem, "image_path": str(image_path), "mask_path": str(mask_path),
            "coverage": coverage(mask), "coverage_left": coverage(left), "coverage_right": coverage(right),
            "area": area, "area_ratio": area / tight, "fallback": result.fallback, "inverted": result.inverted,
            "reason": result.reason,
            "lung_side_ratio": lung_side_ratio(result.lung_mask, result.box),
            "roi_y0": y0, "roi_x0": x0, "roi_y1": y1, "roi_x1": x1, "mask_area": result.mask_area,
            "lung_fraction": float(mask.mean()), "height": image.shape[0], "width": image.shape[1]}


def evaluate_roi(images_dir, masks_dir, config=None, *, workers=None, progress=True, goals=None):
    """Measure how well the ROI box keeps the lungs, on radiographs with manual lung masks.

    Every image in ``images_dir`` that has a mask with the same stem in ``masks_dir`` (any size; nonzero
    pixels are lung) goes through the ROI extraction; coverage is the share of the mask's
    lung pixels inside the box, area the box's share of the image. Each lung (the two largest components
    of the mask; one component counts for both) has its own coverage, and ``area_ratio`` is the box area
    over the area of the tightest box around the mask, which stays meaningful when the lungs fill the frame.

    Parameters
    ----------
    images_dir, masks_dir : str or Path
    config : PreprocessConfig, optional
    workers : int, optional
        Processes (default: all cores).
    progress : bool, optional
        Show a progress bar.
    goals : dict, optional
        The goals to check, a subset of :data:`ROI_GOALS` (default: all of them).

    Returns
    -------
    summary : dict
        ``n``, ``coverage_median``, ``coverage_p05``, ``coverage_mean``, ``coverage_min``,
        ``area_median``, ``fallback_rate``, ``implausible_rate`` (boxes flagged by
        :func:`cxrlib.preprocess.flag_boxes`), ``fallback_or_implausible_rate``, ``inverted_rate`` (read as films
        of inverted polarity, :class:`RoiResult`), ``both_lungs_rate`` (share of
        images where each lung keeps at least :data:`BOTH_LUNGS_LEVEL` of its pixels), ``area_ratio_median``,
        ``n_empty_masks``, ``images_without_mask``, ``masks_without_image``, ``goals`` (each goal of
        :data:`ROI_GOALS` and whether it is met), ``config``.
    per_image : pandas.DataFrame
        One row per pair: stem, paths, coverage, coverage_left, coverage_right (image left / right, i.e.
        the patient's right / left lung), area, area_ratio, fallback, inverted, reason, lung_side_ratio, box, mask_area,
        lung_fraction, roi_flags, implausible.
    """
    config = check_config(config)
    goals = ROI_GOALS if goals is None else goals
    if not isinstance(goals, dict) or not set(goals) <= set(ROI_GOALS):
        raise ValueError(f"goals must be a dict with keys among {sorted(ROI_GOALS)}, got {goals!r}")
    pairs, unmatched_images, unmatched_masks = pair_images_and_masks(images_dir, masks_dir)
    rows = map_parallel(_evaluate_one, [(*pair, config) for pair in pairs], workers=workers,
                        progress=progress, desc="roi-eval")
    per_image = flag_boxes(pd.DataFrame(rows))
    empty = int(per_image["coverage"].isna().sum())
    if empty:
        warnings.warn(f"{empty} lung masks are empty; they are left out of the coverage statistics", stacklevel=2)
    coverage = per_image["coverage"].dropna()
    lungs = per_image.dropna(subset=["coverage"])
    both = np.minimum(lungs["coverage_left"], lungs["coverage_right"]) >= BOTH_LUNGS_LEVEL
    summary = {
        "n": int(len(per_image)),
        "coverage_median": float(coverage.median()) if len(coverage) else float("nan"),
        "coverage_p05": float(np.percentile(coverage, 5)) if len(coverage) else float("nan"),
        "coverage_mean": float(coverage.mean()) if len(coverage) else float("nan"),
        "coverage_min": float(coverage.min()) if len(coverage) else float("nan"),
        "area_median": float(per_image["area"].median()),
        "fallback_rate": float(per_image["fallback"].mean()),
        "implausible_rate": float(per_image["implausible"].mean()),
        "fallback_or_implausible_rate": float((per_image["fallback"] | per_image["implausible"]).mean()),
        "inverted_rate": float(per_image["inverted"].mean()),
        "both_lungs_rate": float(both.mean()) if len(lungs) else float("nan"),
        "area_ratio_median": float(lungs["area_ratio"].median()) if len(lungs) else float("nan"),
        "n_empty_masks": empty,
        "images_without_mask": unmatched_images,
        "masks_without_image": unmatched_masks,
    }
    summary["goals"] = {name: {"goal": f"{op} {value}",
                               "met": bool(summary[name] >= value if op == ">=" else summary[name] <= value)}
                        for name, (op, value) in goals.items()}
    summary["config"] = {"key": config.key(), **config.to_dict()}
    return summary, per_image


#: Manual lung-field boxes on 40 paediatric Kermany test radiographs (how they were made: annotations/README.md).
PAEDIATRIC_BOXES = Path(__file__).parents[1] / "annotations" / "kermany_test_lung_boxes.csv"


def _box_one(task):
    path, box, config = task
    result = extract_roi(resized_and_equalized(read_radiograph(path), config)[1], config)
    r0, c0, r1, c1 = result.box
    drawn, area = (box[2] - box[0]) * (box[3] - box[1]), (r1 - r0) * (c1 - c0)
    return {"coverage": box_intersection(box, result.box) / drawn, "area": area, "area_ratio": area / drawn,
            "fallback": result.fallback, "roi_y0": r0, "roi_x0": c0, "roi_y1": r1, "roi_x1": c1}


def evaluate_roi_on_boxes(manifest, boxes=PAEDIATRIC_BOXES, config=None, *, workers=None, progress=True):
    """Measure the ROI box against manually drawn lung-field boxes (for images without lung masks).

    Parameters
    ----------
    manifest : pandas.DataFrame
        :func:`cxrlib.data.build_manifest` of a Kermany release (``path``, ``split``, ``label``, ``filename``);
        the annotated images are found in it by split, class and file name.
    boxes : str or Path, optional
        CSV with ``split``, ``class``, ``filename`` and the box ``y0, x0, y1, x1`` as fractions of the image
        (default: :data:`PAEDIATRIC_BOXES`).
    config : PreprocessConfig, optional
    workers : int, optional
    progress : bool, optional

    Returns
    -------
    summary : dict or None
        None when the manifest holds none of the annotated images. Otherwise ``n``, ``coverage_median``,
        ``coverage_p05``, ``coverage_min`` (share of the drawn box inside the ROI box), ``area_median`` (the ROI
        box's share of the image), ``area_ratio_median`` (ROI box over drawn box), ``fallback_rate``, and the
        same per class under ``by_class``.
    per_image : pandas.DataFrame or None
        The CSV's rows with ``coverage``, ``area``, ``area_ratio``, ``fallback`` and the ROI box.

    Raises
    ------
    ValueError
        When the manifest holds some of the annotated images but not all.
    """
    config = check_config(config)
    table = pd.read_csv(boxes)
    missing = {"split", "class", "filename", "y0", "x0", "y1", "x1"} - set(table.columns)
    if missing:
        raise ValueError(f"boxes {str(boxes)!r} lacks the columns {sorted(missing)}")
    keys = ["split", "label", "filename"]
    found = table.merge(manifest[[*keys, "path"]].drop_duplicates(keys), left_on=["split", "class", "filename"],
                        right_on=keys, how="left")
    absent = found["path"].isna()
    if absent.all():
        return None, None
    if absent.any():
        raise ValueError(f"{int(absent.sum())} of the {len(found)} annotated images are not in the manifest "
                         f"(e.g. {found.loc[absent, 'filename'].iloc[0]}); the boxes are measured on the whole sample")
    drawn = table[["y0", "x0", "y1", "x1"]].to_numpy()
    tasks = [(path, tuple(box), config) for path, box in zip(found["path"], drawn)]
    per_image = pd.concat([table, pd.DataFrame(map_parallel(_box_one, tasks, workers=workers, progress=progress,
                                                            desc="roi vs boxes"))], axis=1)

    def summarize(rows):
        return {"n": int(len(rows)), "coverage_median": float(rows["coverage"].median()),
                "coverage_p05": float(np.percentile(rows["coverage"], 5)),
                "coverage_min": float(rows["coverage"].min()),
                "area_median": float(rows["area"].median()), "area_ratio_median": float(rows["area_ratio"].median()),
                "fallback_rate": float(rows["fallback"].mean())}

    summary = summarize(per_image)
    summary["by_class"] = {str(label): summarize(rows) for label, rows in per_image.groupby("class")}
    return summary, per_image
