"""The Kermany chest X-ray data set: layout, manifest, image loading, validation split, leakage checks.

The release (Kermany et al. 2018, Mendeley Data doi:10.17632/rscbjbr9sj.2, archive
``ChestXRay2017.zip``; Kaggle's ``chest_xray`` is the same images) is laid out as
``<root>/{train,test[,val]}/{NORMAL,PNEUMONIA}/*.jpeg``. Everything that reads an image
in cxrlib goes through :func:`read_radiograph`, which returns the library's one image
convention: a 2-D ``uint8`` grayscale array.

The manifest is a :class:`pandas.DataFrame` with one row per image and the columns
``path, filename, split, label, subtype, patient_id, bytes`` (+ ``sha256`` when hashed,
+ ``subset`` after :func:`split_train_validation`).
"""

from __future__ import annotations

import hashlib
import re
import warnings
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

__all__ = [
    "CLASSES",
    "SPLITS",
    "IMAGE_SUFFIXES",
    "DatasetLayoutError",
    "ImageReadError",
    "find_dataset_root",
    "parse_patient_id",
    "parse_subtype",
    "sha256_file",
    "build_manifest",
    "pair_images_and_masks",
    "read_radiograph",
    "check_images",
    "split_train_validation",
    "leakage_report",
    "manifest_hash",
    "describe_source",
    "class_counts",
    "image_size_table",
]

CLASSES = ("NORMAL", "PNEUMONIA")
SPLITS = ("train", "val", "test")
IMAGE_SUFFIXES = (".jpeg", ".jpg", ".png")
#: Files paired by pair_images_and_masks (lung-mask sets come as PNG, JPEG, TIFF or BMP).
_PAIR_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")

_EXPECTED_LAYOUT = "<root>/{train,test[,val]}/{NORMAL,PNEUMONIA}/*.jpeg"
_UNZIP_HINT = "if you unzipped ChestXRay2017.zip (or Kaggle's chest-xray-pneumonia), point data_dir at the chest_xray folder"
_IGNORED_DIRS = {"__MACOSX"}
_MIN_SIDE = 16
_MAX_ASPECT = 8.0
_SUBSET_ORDER = {"train": 0, "val": 1, "test": 2}


class DatasetLayoutError(ValueError):
    """A data folder that does not have the Kermany layout."""


class ImageReadError(ValueError):
    """An image file that cannot be decoded into a usable radiograph."""


# --------------------------------------------------------------------------- layout


def _is_image(path: Path) -> bool:
    return path.is_file() and not path.name.startswith(".") and path.suffix.lower() in IMAGE_SUFFIXES


def _split_dirs(folder: Path) -> list[str]:
    return [s for s in SPLITS if (folder / s).is_dir()]


def find_dataset_root(root, *, required_splits=("train", "test")) -> Path:
    """Locate the Kermany root folder and check its layout.

    Parameters
    ----------
    root : str or Path
        The Kermany root (holding ``train/``, ``test/`` and optionally ``val/``), or the
        folder one level above it (e.g. the unzipped archive holding ``chest_xray/``;
        ``__MACOSX`` and hidden folders are ignored).
    required_splits : tuple of str, optional
        Split folders that must exist. Pass ``("train",)`` for a train-only sample.

    Returns
    -------
    root : Path
        The resolved folder that holds the split folders.

    Raises
    ------
    DatasetLayoutError
        The folder is missing, holds no split folder, lacks a required split, or a
        split lacks a class folder or has an empty one (the message names which).
    """
    unknown = [s for s in required_splits if s not in SPLITS]
    if unknown or not required_splits:
        raise ValueError(f"required_splits={required_splits!r}: expected a non-empty subset of {SPLITS}")
    folder = Path(root).expanduser()
    if not folder.is_dir():
        what = "is a file, not a folder" if folder.exists() else "does not exist"
        raise DatasetLayoutError(
            f"data folder {str(folder)!r} {what}; expected {_EXPECTED_LAYOUT}. "
            "Check data_dir, or fetch the data first (python -m cxrlib fetch SOURCE --dest DIR)."
        )
    folder = folder.resolve()
    if not _split_dirs(folder):
        candidates = sorted(
            child for child in folder.iterdir()
            if child.is_dir() and child.name not in _IGNORED_DIRS and not child.name.startswith(".")
            and _split_dirs(child)
        )
        if not candidates:
            raise DatasetLayoutError(
                f"no split folder (train/, test/, val/) in {str(folder)!r} or in the folders directly inside it; "
                f"expected {_EXPECTED_LAYOUT}; {_UNZIP_HINT}."
            )
        if len(candidates) > 1:
            names = ", ".join(c.name for c in candidates)
            raise DatasetLayoutError(
                f"{str(folder)!r} holds several data sets ({names}); point data_dir at the one to use."
            )
        folder = candidates[0]
    missing_splits = [s for s in required_splits if not (folder / s).is_dir()]
    if missing_splits:
        raise DatasetLayoutError(
            f"{str(folder)!r} has no {'/, '.join(missing_splits)}/ folder; expected {_EXPECTED_LAYOUT}; "
            f"{_UNZIP_HINT}."
        )
    for split in _split_dirs(folder):
        for label in CLASSES:
            class_dir = folder / split / label
            if not class_dir.is_dir():
                raise DatasetLayoutError(
                    f"class folder {str(class_dir)!r} is missing; every split needs NORMAL/ and PNEUMONIA/ "
                    f"(expected {_EXPECTED_LAYOUT}; folder names are case-sensitive)."
                )
            if not any(_is_image(p) for p in class_dir.iterdir()):
                raise DatasetLayoutError(
                    f"class folder {str(class_dir)!r} holds no image ({', '.join(IMAGE_SUFFIXES)}); "
                    "the download or unpacking may be incomplete: fetch the data again."
                )
    return folder


# --------------------------------------------------------------------------- file names

_PATIENT_PATTERNS = (
    re.compile(r"^(person\d+)_(?:bacteria|virus)_", re.IGNORECASE),  # person12_bacteria_45
    re.compile(r"^(NORMAL\d*-IM-\d+)-\d+", re.IGNORECASE),  # NORMAL2-IM-0373-0001
    re.compile(r"^(IM-\d+)-\d+", re.IGNORECASE),  # IM-0115-0001
)


def parse_patient_id(filename) -> str:
    """Patient identifier encoded in a Kermany file name.

    ``person12_bacteria_45.jpeg -> person12``, ``IM-0115-0001.jpeg -> IM-0115``,
    ``NORMAL2-IM-0373-0001.jpeg -> NORMAL2-IM-0373``; a name that follows none of
    these patterns is its own patient (its stem is returned).

    Parameters
    ----------
    filename : str or Path
        File name or path; only the last component is used.

    Returns
    -------
    patient_id : str
    """
    stem = Path(filename).stem
    for pattern in _PATIENT_PATTERNS:
        match = pattern.match(stem)
        if match:
            return match.group(1)
    return stem


def parse_subtype(filename, label: str) -> str:
    """Pneumonia subtype from a Kermany file name.

    Parameters
    ----------
    filename : str or Path
        File name or path (``person12_bacteria_45.jpeg``).
    label : {'NORMAL', 'PNEUMONIA'}
        The image's class.

    Returns
    -------
    subtype : {'bacteria', 'virus', ''}
        ``''`` for NORMAL images and for PNEUMONIA names that state no subtype.
    """
    if label not in CLASSES:
        raise ValueError(f"label={label!r}: expected one of {CLASSES}")
    if label == "NORMAL":
        return ""
    name = Path(filename).name.lower()
    for subtype in ("bacteria", "virus"):
        if f"_{subtype}" in name:
            return subtype
    return ""


def sha256_file(path, *, chunk_size: int = 1 << 20) -> str:
    """SHA-256 hex digest of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


# --------------------------------------------------------------------------- manifest


def build_manifest(root, *, with_hashes: bool = False, progress: bool = True,
                   required_splits=("train", "test")) -> pd.DataFrame:
    """One row per image of a Kermany-layout folder.

    Parameters
    ----------
    root : str or Path
        Anything :func:`find_dataset_root` accepts.
    with_hashes : bool, optional
        Add a ``sha256`` column (reads every file once).
    progress : bool, optional
        Show a progress bar while hashing.
    required_splits : tuple of str, optional
        Passed to :func:`find_dataset_root`.

    Returns
    -------
    manifest : DataFrame
        Columns ``path`` (absolute), ``filename``, ``split`` (the release's folder), ``label``,
        ``subtype``, ``patient_id``, ``bytes`` and, with hashes, ``sha256``; sorted by
        (split, label, filename) with a fresh index.
    """
    folder = find_dataset_root(root, required_splits=required_splits)
    rows = []
    for split in _split_dirs(folder):
        for label in CLASSES:
            for path in (folder / split / label).iterdir():
                if not _is_image(path):
                    continue
                rows.append({
                    "path": str(path),
                    "filename": path.name,
                    "split": split,
                    "label": label,
                    "subtype": parse_subtype(path.name, label),
                    "patient_id": parse_patient_id(path.name),
                    "bytes": path.stat().st_size,
                })
    manifest = pd.DataFrame(rows).sort_values(["split", "label", "filename"], ignore_index=True)
    if with_hashes:
        manifest["sha256"] = [
            sha256_file(p) for p in tqdm(manifest["path"], desc="sha256", unit="file", disable=not progress)
        ]
    return manifest


def _check_manifest(manifest, *, columns=("path", "split", "label")) -> None:
    if not isinstance(manifest, pd.DataFrame):
        raise TypeError(f"manifest: expected a pandas DataFrame from build_manifest, got {type(manifest).__name__}")
    missing = [c for c in columns if c not in manifest.columns]
    if missing:
        raise ValueError(f"manifest lacks the column(s) {missing}; build it with cxrlib.data.build_manifest")


def _has_hashes(manifest: pd.DataFrame) -> bool:
    return "sha256" in manifest.columns and bool(manifest["sha256"].notna().all())


def _group_column(manifest: pd.DataFrame, by: str | None) -> str:
    column = by if by is not None else ("subset" if "subset" in manifest.columns else "split")
    if column not in ("subset", "split"):
        raise ValueError(f"by={by!r}: expected 'subset', 'split' or None (subset when present, else split)")
    if column not in manifest.columns:
        raise ValueError(f"by={by!r}: the manifest has no {column!r} column; run split_train_validation first")
    return column


# --------------------------------------------------------------------------- images


def pair_images_and_masks(images_dir, masks_dir):
    """Radiographs and lung masks with the same file stem in two folders.

    Returns
    -------
    pairs : list of (str, Path, Path)
        ``(stem, image, mask)`` in sorted order of the stems.
    images_without_mask, masks_without_image : int
    """
    images_dir, masks_dir = Path(images_dir), Path(masks_dir)
    for name, folder in (("images_dir", images_dir), ("masks_dir", masks_dir)):
        if not folder.is_dir():
            raise ValueError(f"{name} {str(folder)!r} is not a folder; give the folder of the images / of their masks")

    def index(folder):
        files = {}
        for path in sorted(folder.iterdir()):
            if path.suffix.lower() in _PAIR_SUFFIXES and not path.name.startswith("."):
                files.setdefault(path.stem, path)
        return files

    images, masks = index(images_dir), index(masks_dir)
    stems = sorted(set(images) & set(masks))
    if not stems:
        raise ValueError(f"no image in {str(images_dir)!r} has a mask with the same stem in {str(masks_dir)!r} "
                         f"({len(images)} images, {len(masks)} masks; e.g. image {next(iter(images), None)!r}, "
                         f"mask {next(iter(masks), None)!r})")
    return [(stem, images[stem], masks[stem]) for stem in stems], len(images) - len(stems), len(masks) - len(stems)


def read_radiograph(path) -> np.ndarray:
    """Read a radiograph as a 2-D uint8 grayscale image.

    JPEG or PNG, 8- or 16-bit, grayscale, RGB or RGBA. Colour is converted with
    ``cv2.cvtColor`` (ITU-R 601 luma), an alpha channel is dropped. 16-bit images are
    min-max scaled: their darkest pixel becomes 0 and their brightest 255. Radiographs
    rarely use the full 0..65535 range (often 10-12 bits), so a fixed /257 would leave
    them dark and low-contrast; a constant 16-bit image is scaled by /257 instead.

    Parameters
    ----------
    path : str or Path
        Image file.

    Returns
    -------
    image : (H, W) uint8 ndarray

    Raises
    ------
    ImageReadError
        Missing, empty, undecodable (truncated, not an image) file, unsupported pixel
        type, or an absurd shape (a side under 16 pixels, or an aspect ratio above 8).
    """
    path = Path(path)
    if not path.is_file():
        raise ImageReadError(f"image {str(path)!r} does not exist (or is not a file); rebuild the manifest")
    data = np.fromfile(path, dtype=np.uint8)
    if data.size == 0:
        raise ImageReadError(f"image {str(path)!r} is an empty (0-byte) file; fetch the data again")
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ImageReadError(
            f"image {str(path)!r} could not be decoded as JPEG/PNG (truncated, corrupt or not an image); "
            "fetch the data again or remove the file"
        )
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 3 and image.shape[2] in (3, 4):
        code = cv2.COLOR_BGR2GRAY if image.shape[2] == 3 else cv2.COLOR_BGRA2GRAY
        image = cv2.cvtColor(image, code)
    if image.ndim != 2:
        raise ImageReadError(f"image {str(path)!r} has shape {image.shape}; expected gray, RGB or RGBA")
    if image.dtype == np.uint16:
        low, high = int(image.min()), int(image.max())
        if high > low:
            image = ((image.astype(np.float32) - low) * (255.0 / (high - low)) + 0.5).astype(np.uint8)
        else:
            image = (image // 257).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise ImageReadError(f"image {str(path)!r} has pixel type {image.dtype}; expected 8- or 16-bit integers")
    height, width = image.shape
    if min(height, width) < _MIN_SIDE or max(height, width) / min(height, width) > _MAX_ASPECT:
        raise ImageReadError(
            f"image {str(path)!r} is {height}x{width} pixels; a radiograph needs sides of at least {_MIN_SIDE} "
            f"pixels and an aspect ratio under {_MAX_ASPECT:g}; remove the file"
        )
    return image


def check_images(manifest: pd.DataFrame, *, progress: bool = True) -> None:
    """Decode every image of the manifest with :func:`read_radiograph`.

    Raises
    ------
    ImageReadError
        Names how many files failed and the first five, each with its reason.
    """
    _check_manifest(manifest, columns=("path",))
    failures = []
    for path in tqdm(manifest["path"], desc="check images", unit="img", disable=not progress):
        try:
            read_radiograph(path)
        except ImageReadError as error:
            failures.append(str(error))
    if failures:
        shown = "\n  ".join(failures[:5])
        more = f"\n  ... and {len(failures) - 5} more" if len(failures) > 5 else ""
        raise ImageReadError(
            f"{len(failures)} of {len(manifest)} images cannot be used:\n  {shown}{more}\n"
            "Fetch the data again, or remove these files and rebuild the manifest."
        )


# --------------------------------------------------------------------------- split


def split_train_validation(manifest: pd.DataFrame, *, val_fraction: float = 0.15, seed: int = 0) -> pd.DataFrame:
    """Carve a patient-level, class-stratified validation subset out of the train pool.

    The train pool is every row of the release's ``train`` folder **and** of its official
    ``val`` folder (16 images in the release, too few to select a model on). Patients are
    assigned whole, with scikit-learn's ``StratifiedGroupKFold(n_splits=round(1 / val_fraction),
    shuffle=True, random_state=seed)``: its first fold becomes ``val``, so the realised
    share is close to ``1 / n_splits`` (0.15 -> 7 folds -> about 14 %). Test rows are untouched.

    Parameters
    ----------
    manifest : DataFrame
        From :func:`build_manifest` (needs ``split``, ``label``, ``patient_id``).
    val_fraction : float, optional
        Share of the train pool to hold out, in (0, 0.5].
    seed : int, optional
        Seed of the shuffle.

    Returns
    -------
    manifest : DataFrame
        A copy with the column ``subset`` in {'train', 'val', 'test'}.
    """
    from sklearn.model_selection import StratifiedGroupKFold

    _check_manifest(manifest, columns=("path", "split", "label", "patient_id"))
    if isinstance(val_fraction, bool) or not isinstance(val_fraction, (int, float)) or not 0 < val_fraction <= 0.5:
        raise ValueError(f"val_fraction={val_fraction!r}: expected a number in (0, 0.5]")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed={seed!r}: expected a non-negative integer")
    result = manifest.copy()
    pool = result.index[result["split"].isin(["train", "val"])]
    n_splits = max(2, round(1 / val_fraction))
    pool_labels = result.loc[pool, "label"]
    pool_groups = result.loc[pool, "patient_id"]
    fewest = pool_groups.groupby(pool_labels).nunique().reindex(list(CLASSES), fill_value=0).min()
    if fewest < n_splits:
        raise ValueError(
            f"val_fraction={val_fraction!r} needs at least {n_splits} patients of each class in the train pool, "
            f"found {fewest} for the rarest class; use a larger data set or a larger val_fraction"
        )
    folds = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=int(seed))
    _, val_positions = next(folds.split(np.zeros(len(pool)), pool_labels.to_numpy(), pool_groups.to_numpy()))
    result["subset"] = "test"
    result.loc[pool, "subset"] = "train"
    result.loc[pool[val_positions], "subset"] = "val"
    missing = set(CLASSES) - set(result.loc[result["subset"] == "val", "label"])
    if missing:
        warnings.warn(f"the validation subset has no {sorted(missing)} image; its AUC is undefined", stacklevel=2)
    return result


# --------------------------------------------------------------------------- leakage and provenance


def leakage_report(manifest: pd.DataFrame, *, by: str | None = None, progress: bool = True) -> dict:
    """Byte-identical files and patients shared between subsets.

    Parameters
    ----------
    manifest : DataFrame
        From :func:`build_manifest`; ``sha256`` is computed when missing.
    by : {'subset', 'split', None}, optional
        The partition to check; None: ``subset`` when present, else ``split``.
    progress : bool, optional
        Progress bar while hashing.

    Returns
    -------
    report : dict
        ``duplicate_groups``: DataFrame, one row per set of identical files (``group``, ``sha256``,
        ``n_files``, ``paths`` tuple, ``subsets``, ``labels``, ``crosses_subsets``, ``label_conflict``).
        ``cross_split_patients``: DataFrame indexed by ``patient_id``, image counts per subset, for
        patients in more than one subset. ``summary``: dict of counts.
    """
    _check_manifest(manifest, columns=("path", "split", "label", "patient_id"))
    column = _group_column(manifest, by)
    if _has_hashes(manifest):
        hashes = manifest["sha256"]
    else:
        hashes = pd.Series(
            [sha256_file(p) for p in tqdm(manifest["path"], desc="sha256", unit="file", disable=not progress)],
            index=manifest.index,
        )
    frame = manifest.assign(sha256=hashes)
    duplicated = frame[frame.duplicated("sha256", keep=False)].sort_values(["sha256", "path"])
    groups = []
    for number, (digest, rows) in enumerate(duplicated.groupby("sha256", sort=True)):
        subsets = sorted(set(rows[column]), key=lambda s: _SUBSET_ORDER.get(s, 9))
        labels = sorted(set(rows["label"]))
        groups.append({
            "group": number,
            "sha256": digest,
            "n_files": len(rows),
            "paths": tuple(rows["path"]),
            "subsets": ",".join(subsets),
            "labels": ",".join(labels),
            "crosses_subsets": len(subsets) > 1,
            "label_conflict": len(labels) > 1,
        })
    duplicate_groups = pd.DataFrame(groups, columns=[
        "group", "sha256", "n_files", "paths", "subsets", "labels", "crosses_subsets", "label_conflict"])
    counts = pd.crosstab(frame["patient_id"], frame[column])
    counts = counts[[c for c in sorted(counts.columns, key=lambda s: _SUBSET_ORDER.get(s, 9))]]
    counts.columns.name = None
    cross = counts[(counts > 0).sum(axis=1) > 1].sort_index()
    summary = {
        "by": column,
        "n_images": int(len(frame)),
        "n_patients": int(frame["patient_id"].nunique()),
        "n_duplicate_groups": int(len(duplicate_groups)),
        "n_duplicate_files": int(duplicate_groups["n_files"].sum()) if len(duplicate_groups) else 0,
        "n_groups_crossing_subsets": int(duplicate_groups["crosses_subsets"].sum()) if len(duplicate_groups) else 0,
        "n_groups_label_conflict": int(duplicate_groups["label_conflict"].sum()) if len(duplicate_groups) else 0,
        "n_cross_split_patients": int(len(cross)),
    }
    return {"duplicate_groups": duplicate_groups, "cross_split_patients": cross, "summary": summary}


def manifest_hash(manifest: pd.DataFrame) -> str:
    """SHA-256 naming the data exactly: over sorted (split, label, filename, content) lines.

    The content is the file's ``sha256`` when the manifest has it for every row, else its
    size in bytes (``bytes`` column, or read from disk); the kind used is part of the hash,
    so the two never collide. Paths are left out: the same data elsewhere hashes the same.

    Returns
    -------
    digest : str
        64 hex characters.
    """
    _check_manifest(manifest, columns=("path", "split", "label", "filename"))
    if _has_hashes(manifest):
        kind, content = "sha256", manifest["sha256"].astype(str)
    elif "bytes" in manifest.columns and bool(manifest["bytes"].notna().all()):
        kind, content = "size", manifest["bytes"].astype("int64").astype(str)
    else:
        kind, content = "size", pd.Series([str(Path(p).stat().st_size) for p in manifest["path"]], index=manifest.index)
    lines = sorted(
        f"{split}\t{label}\t{name}\t{value}\n"
        for split, label, name, value in zip(manifest["split"], manifest["label"], manifest["filename"], content)
    )
    digest = hashlib.sha256(f"cxr-manifest-v1\t{kind}\n".encode())
    for line in lines:
        digest.update(line.encode())
    return digest.hexdigest()


def _header_size(path) -> tuple[int, int]:
    from PIL import Image  # reads only the header; Pillow comes with matplotlib

    with Image.open(path) as image:
        width, height = image.size
    return height, width


def describe_source(manifest: pd.DataFrame, *, synthetic: bool, sample: int = 200, seed: int = 0) -> str:
    """One sentence naming the data for reports.

    Image sizes are read from the file headers of a seeded sample of ``sample`` images.

    Returns
    -------
    description : str
        "synthetic demo data (N images, generated)", "Kermany 2018 chest X-rays, 224x224
        third-party copies (N images)" when every sampled image has one size, else
        "Kermany 2018 chest X-rays, full-resolution release (N images, sizes from AxB to CxD)"
        (width x height, the smallest and largest sampled).
    """
    _check_manifest(manifest, columns=("path",))
    n_images = len(manifest)
    if synthetic:
        return f"synthetic demo data ({n_images} images, generated)"
    if n_images == 0:
        raise ValueError("manifest is empty; build it from a data folder that holds images")
    rng = np.random.default_rng(seed)
    chosen = rng.choice(n_images, size=min(sample, n_images), replace=False)
    sizes = sorted({_header_size(manifest["path"].iloc[i]) for i in chosen}, key=lambda hw: (hw[0] * hw[1], hw))
    sampled = "" if len(chosen) == n_images else f", sizes from a sample of {len(chosen)}"
    if len(sizes) == 1:
        height, width = sizes[0]
        return f"Kermany 2018 chest X-rays, {width}x{height} third-party copies ({n_images} images{sampled})"
    (h0, w0), (h1, w1) = sizes[0], sizes[-1]
    return (f"Kermany 2018 chest X-rays, full-resolution release "
            f"({n_images} images, sizes from {w0}x{h0} to {w1}x{h1}{sampled})")


# --------------------------------------------------------------------------- EDA tables


def class_counts(manifest: pd.DataFrame, *, by: str | None = None) -> pd.DataFrame:
    """Images per subset (or split) and class.

    Returns
    -------
    counts : DataFrame
        Index: the subsets present, in train/val/test order; columns NORMAL, PNEUMONIA, total.
    """
    _check_manifest(manifest, columns=("label", "split"))
    column = _group_column(manifest, by)
    counts = pd.crosstab(manifest[column], manifest["label"]).reindex(columns=list(CLASSES), fill_value=0)
    counts = counts.loc[sorted(counts.index, key=lambda s: _SUBSET_ORDER.get(s, 9))]
    counts["total"] = counts.sum(axis=1)
    counts.index.name, counts.columns.name = column, None
    return counts


def image_size_table(manifest: pd.DataFrame, *, sample: int | None = None, seed: int = 0,
                     progress: bool = True) -> pd.DataFrame:
    """Height, width, aspect ratio and mean intensity of each image (decoded with :func:`read_radiograph`).

    Parameters
    ----------
    manifest : DataFrame
        From :func:`build_manifest`.
    sample : int or None, optional
        Measure a seeded random sample of this many rows; None: every row.
    seed : int, optional
        Seed of the sample.

    Returns
    -------
    table : DataFrame
        The manifest's ``path, filename, split, label`` (and ``subset``) plus ``height``,
        ``width``, ``aspect`` (width / height) and ``mean_intensity`` (0..255).
    """
    _check_manifest(manifest, columns=("path", "filename", "split", "label"))
    if sample is not None:
        if isinstance(sample, bool) or not isinstance(sample, (int, np.integer)) or sample < 1:
            raise ValueError(f"sample={sample!r}: expected a positive integer or None")
        manifest = manifest.sample(n=min(int(sample), len(manifest)), random_state=np.random.default_rng(seed))
    columns = [c for c in ("path", "filename", "split", "subset", "label") if c in manifest.columns]
    table = manifest[columns].copy()
    measures = []
    for path in tqdm(table["path"], desc="image sizes", unit="img", disable=not progress):
        image = read_radiograph(path)
        measures.append((image.shape[0], image.shape[1], float(image.mean())))
    table["height"] = [m[0] for m in measures]
    table["width"] = [m[1] for m in measures]
    table["aspect"] = table["width"] / table["height"]
    table["mean_intensity"] = [m[2] for m in measures]
    return table
