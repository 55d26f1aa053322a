"""The fast ROI path held to the full-size reference (scikit-image's snakes at full resolution), image by image."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..data.images import read_radiograph
from .boxes import box_iou
from .clahe import resized_and_equalized
from .config import check_config
from .parallel import map_parallel
from .roi import extract_roi

__all__ = ["agreement_sample", "compare_to_reference"]


def _compare_one(task):
    path, config = task
    _, equalized = resized_and_equalized(read_radiograph(path), config)
    fast, reference = extract_roi(equalized, config), extract_roi(equalized, config, reference=True)
    union = (fast.lung_mask | reference.lung_mask).sum()
    return {"path": str(path), "fallback_fast": fast.fallback, "fallback_reference": reference.fallback,
            "box_iou": box_iou(fast.box, reference.box),
            "mask_iou": float((fast.lung_mask & reference.lung_mask).sum() / union) if union else float("nan"),
            "max_edge_difference": float(max(abs(u - v) for u, v in zip(fast.box, reference.box)))}


def agreement_sample(masked_images, kermany_root, count, *, seed=0):
    """The seeded sample of real radiographs the fast path is held to the reference on (issue 10).

    Parameters
    ----------
    masked_images : str or Path
        Folder of ``*.jpeg`` radiographs with lung masks (lungmasks-shenzhen/images); half the sample.
    kermany_root : str or Path
        Kermany-layout folder (``split/class/*.jpeg``); the other half.
    count : int
        Size of the sample (>= 2).
    seed : int, optional

    Returns
    -------
    paths : list of Path
        ``count // 2`` masked images, then the rest from Kermany, each drawn without replacement from the
        sorted file list.
    """
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 2:
        raise ValueError(f"count must be an integer >= 2, got {count!r}")
    rng = np.random.default_rng(seed)
    pools = [sorted(Path(masked_images).glob("*.jpeg")), sorted(Path(kermany_root).glob("*/*/*.jpeg"))]
    paths = []
    for pool, size, folder in zip(pools, (count // 2, count - count // 2), (masked_images, kermany_root)):
        if len(pool) < size:
            raise ValueError(f"{folder} holds {len(pool)} matching .jpeg images; the sample needs {size}")
        paths += list(rng.choice(pool, size, replace=False))
    return paths


def compare_to_reference(paths, config=None, *, workers=None, progress=True):
    """Run the fast path and the full-size reference (``extract_roi(..., reference=True)``) on radiographs.

    Parameters
    ----------
    paths : sequence of str or Path
        Radiographs (any size; resized and equalized as in :func:`preprocess_image`).
    config : PreprocessConfig, optional
    workers : int, optional
        Processes (default: all cores); the reference takes about a second per image.
    progress : bool, optional
        Show a progress bar.

    Returns
    -------
    agreement : pandas.DataFrame
        One row per image: path, fallback_fast, fallback_reference, box_iou (IoU of the two boxes; a
        fallback box is the whole image), mask_iou (of the lung masks), max_edge_difference (largest
        difference of a box edge, as a fraction of the side).
    """
    config = check_config(config)
    paths = list(paths)
    if not paths:
        raise ValueError("paths is empty; give at least one radiograph")
    rows = map_parallel(_compare_one, [(path, config) for path in paths], workers=workers, progress=progress,
                        desc="fast vs reference")
    return pd.DataFrame(rows)
