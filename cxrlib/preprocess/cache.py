"""Batch preprocessing of a manifest into a content-addressed cache, over all cores.

Layout under ``cache_dir``::

    preprocess-<config key>/
        config.json                    the PreprocessConfig and algorithm version the key stands for
        images-<variant>/<sha256>.png  the network's image (uint8 gray, output_size square) for one
                                       preprocessing: raw, clahe, roi or clahe_roi (cxrlib.preprocess.Arm.variant)
        masks/<sha256>.png             lung-field mask (0/255) in the frame of the preprocess_size image
        table.csv                      one row per image content: ROI box, mask area, fallback, timings

Every variant goes through the same resampling chain (resize to preprocess_size, then to output_size),
so arms differ only by the steps they name; the ROI box is always found on the CLAHE image.

An image is identified by the sha256 of its file and the parameters by :meth:`PreprocessConfig.key`,
so a rerun with the same parameters finds everything and computes nothing, a change of any parameter
writes to a new folder, and byte-identical files are processed once. Every file is written to a
temporary name in its folder and renamed into place.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ..atomic import write_bytes, write_csv, write_json
from ..data.images import read_radiograph
from ..data.manifest import sha256_file
from .arms import Arm
from .plausibility import lung_side_ratio
from .clahe import resized_and_equalized
from .config import ALGORITHM_VERSION, PreprocessConfig
from .parallel import map_parallel
from .roi import extract_roi, network_image

__all__ = ["ROI_COLUMNS", "TABLE_COLUMNS", "cache_folder", "preprocess_manifest"]

#: Columns that :func:`preprocess_manifest` adds to the manifest besides one ``image_<arm>`` per arm.
ROI_COLUMNS = ["roi_y0", "roi_x0", "roi_y1", "roi_x1", "mask_area", "lung_side_ratio", "fallback", "inverted",
               "mask_path"]
#: Columns of the cache's table.csv.
TABLE_COLUMNS = ["sha256", "roi_y0", "roi_x0", "roi_y1", "roi_x1", "mask_area", "lung_side_ratio", "fallback",
                 "inverted", "reason", "threshold", "height", "width", "t_decode_s", "t_clahe_s", "t_contour_s",
                 "t_write_s", "worker_peak_mib"]
#: PNG settings of the cached images: the 'up' filter with Huffman coding only encodes a 224x224 radiograph about
#: three times faster than zlib level 1 with adaptive filters, for files about 5 % larger (lossless either way).
_PNG_FAST = [cv2.IMWRITE_PNG_COMPRESSION, 1, cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_UP,
             cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_HUFFMAN_ONLY]


def _write_png(image, path, *, bilevel=False):
    params = [cv2.IMWRITE_PNG_BILEVEL, 1] if bilevel else _PNG_FAST
    ok, encoded = cv2.imencode(".png", image, params)
    if not ok:
        raise OSError(f"could not encode {path} as PNG")
    write_bytes(encoded.tobytes(), path)


def cache_folder(cache_dir, config):
    """The folder that holds the results of ``config`` under ``cache_dir``."""
    return Path(cache_dir) / f"preprocess-{config.key()}"


def _peak_mib():
    """Peak resident memory of this process in MiB (NaN where the platform cannot say)."""
    try:
        import resource
    except ImportError:
        return float("nan")
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _variant_path(folder, variant, sha):
    return Path(folder) / f"images-{variant}" / f"{sha}.png"


def _process_one(task):
    path, sha, config, folder, arms = task
    start = time.perf_counter()
    image = read_radiograph(path)
    decoded = time.perf_counter()
    resized, equalized = resized_and_equalized(image, config)
    equalized_at = time.perf_counter()
    result = extract_roi(equalized, config)
    contoured = time.perf_counter()
    for arm in {arm.variant: arm for arm in arms}.values():
        _write_png(network_image(resized, equalized, result.box, clahe=arm.clahe, roi=arm.roi,
                                 output_size=config.output_size), _variant_path(folder, arm.variant, sha))
    _write_png(result.lung_mask.astype(np.uint8) * 255, Path(folder) / "masks" / f"{sha}.png", bilevel=True)
    written = time.perf_counter()
    y0, x0, y1, x1 = result.box
    return {"sha256": sha, "roi_y0": y0, "roi_x0": x0, "roi_y1": y1, "roi_x1": x1,
            "mask_area": result.mask_area, "lung_side_ratio": lung_side_ratio(result.lung_mask, result.box),
            "fallback": result.fallback, "inverted": result.inverted, "reason": result.reason,
            "threshold": result.threshold, "height": image.shape[0], "width": image.shape[1],
            "t_decode_s": decoded - start, "t_clahe_s": equalized_at - decoded,
            "t_contour_s": contoured - equalized_at, "t_write_s": written - contoured,
            "worker_peak_mib": _peak_mib()}


def _read_table(folder):
    path = folder / "table.csv"
    if not path.exists():
        return pd.DataFrame(columns=TABLE_COLUMNS)
    table = pd.read_csv(path, dtype={"sha256": str, "reason": str}, keep_default_na=False)
    for column in ("fallback", "inverted"):
        table[column] = table[column].astype(str).str.lower().eq("true")
    return table


def preprocess_manifest(manifest, cache_dir, config=None, *, arms, workers=None, progress=True):
    """Preprocess every image of a manifest into the cache; return the manifest with the ROI columns.

    Parameters
    ----------
    manifest : pandas.DataFrame
        With a ``path`` column (and ``sha256``, computed here when absent or empty).
    cache_dir : str or Path
        Cache root (the profile's work_dir, outside git).
    config : PreprocessConfig, optional
    arms : sequence of cxrlib.preprocess.Arm
        The study's arms: one image set is written per distinct preprocessing among them.
    workers : int, optional
        Processes (default: all cores).
    progress : bool, optional
        Show a progress bar.

    Returns
    -------
    processed : pandas.DataFrame
        The manifest's columns plus ``image_<arm>`` per arm (the path of the image that arm's network
        reads), ``roi_y0``, ``roi_x0``, ``roi_y1``, ``roi_x1``
        (box as fractions of the original image's height / width), ``mask_area`` (lung mask's share of
        the image), ``lung_side_ratio`` (:func:`cxrlib.preprocess.lung_side_ratio`), ``fallback`` and ``inverted``
        (bool, :class:`RoiResult`) and ``mask_path``.

    Warns
    -----
    UserWarning
        When some images fell back to the whole image (the count and the share).
    """
    if not isinstance(manifest, pd.DataFrame):
        raise TypeError(f"manifest must be a pandas DataFrame, got {type(manifest).__name__}")
    if "path" not in manifest.columns:
        raise ValueError(f"manifest has no 'path' column (columns: {list(manifest.columns)}); build it with "
                         "cxrlib.data.build_manifest")
    if config is None:
        config = PreprocessConfig()
    if not isinstance(config, PreprocessConfig):
        raise TypeError(f"config must be a PreprocessConfig, got {type(config).__name__}")
    arms = list(arms)
    if not arms or not all(isinstance(arm, Arm) for arm in arms):
        raise TypeError(f"arms must be a non-empty sequence of cxrlib.preprocess.Arm, got {arms!r}")
    variants = sorted({arm.variant for arm in arms})
    folder = cache_folder(cache_dir, config)
    for variant in variants:
        (folder / f"images-{variant}").mkdir(parents=True, exist_ok=True)
    (folder / "masks").mkdir(parents=True, exist_ok=True)
    record = {"algorithm_version": ALGORITHM_VERSION, "key": config.key(), "config": config.to_dict()}
    if not (folder / "config.json").exists():
        write_json(record, folder / "config.json")

    paths = manifest["path"].astype(str).tolist()
    if "sha256" in manifest.columns:
        hashes = [h if isinstance(h, str) and len(h) == 64 else None for h in manifest["sha256"]]
    else:
        hashes = [None] * len(paths)
    missing = [i for i, h in enumerate(hashes) if h is None]
    for i in tqdm(missing, desc="sha256", disable=not progress or not missing, unit="img"):
        hashes[i] = sha256_file(paths[i])

    table = _read_table(folder)
    done = {sha for sha in table["sha256"]
            if (folder / "masks" / f"{sha}.png").exists()
            and all(_variant_path(folder, variant, sha).exists() for variant in variants)}
    todo = {}
    for path, sha in zip(paths, hashes):
        if sha not in done and sha not in todo:
            todo[sha] = path
    if todo:
        tasks = [(path, sha, config, str(folder), arms) for sha, path in todo.items()]
        rows = map_parallel(_process_one, tasks, workers=workers, progress=progress, desc="preprocess")
        new = pd.DataFrame(rows, columns=TABLE_COLUMNS)
        table = pd.concat([table[~table["sha256"].isin(new["sha256"])], new], ignore_index=True)
        write_csv(table, folder / "table.csv")

    rows = table.set_index("sha256").loc[hashes]
    out = manifest.copy()
    out["sha256"] = hashes
    for arm in arms:
        out[arm.column] = [str(_variant_path(folder, arm.variant, sha).resolve()) for sha in hashes]
    for column in ("roi_y0", "roi_x0", "roi_y1", "roi_x1", "mask_area", "lung_side_ratio"):
        out[column] = rows[column].astype(float).to_numpy()
    out["fallback"] = rows["fallback"].astype(bool).to_numpy()
    out["inverted"] = rows["inverted"].astype(bool).to_numpy()
    out["mask_path"] = [str((folder / "masks" / f"{sha}.png").resolve()) for sha in hashes]
    fallbacks = int(out["fallback"].sum())
    if fallbacks:
        warnings.warn(f"{fallbacks} of {len(out)} images ({fallbacks / len(out):.1%}) fell back to the whole image "
                      "(no plausible lung fields); their 'fallback' column is True", stacklevel=2)
    return out
