"""The Kermany chest X-ray data set's layout and its manifest: one row per image, named, labelled and hashed.

The release (Kermany et al. 2018, Mendeley Data doi:10.17632/rscbjbr9sj.2, archive
``ChestXRay2017.zip``; Kaggle's ``chest_xray`` is the same images) is laid out as
``<root>/{train,test[,val]}/{NORMAL,PNEUMONIA}/*.jpeg``.

The manifest is a :class:`pandas.DataFrame` with one row per image and the columns
``path, filename, split, label, subtype, patient_id, bytes`` (+ ``sha256`` when hashed,
+ ``subset`` after :func:`cxrlib.data.split_train_validation`).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

__all__ = [
    "CLASSES",
    "SPLITS",
    "IMAGE_SUFFIXES",
    "DatasetLayoutError",
    "find_dataset_root",
    "is_image",
    "parse_patient_id",
    "parse_subtype",
    "sha256_file",
    "build_manifest",
    "check_manifest",
    "has_hashes",
    "manifest_hash",
    "describe_source",
]

CLASSES = ("NORMAL", "PNEUMONIA")
SPLITS = ("train", "val", "test")
IMAGE_SUFFIXES = (".jpeg", ".jpg", ".png")
_EXPECTED_LAYOUT = "<root>/{train,test[,val]}/{NORMAL,PNEUMONIA}/*.jpeg"
_UNZIP_HINT = "if you unzipped ChestXRay2017.zip (or Kaggle's chest-xray-pneumonia), point data_dir at the chest_xray folder"
_IGNORED_DIRS = {"__MACOSX"}


class DatasetLayoutError(ValueError):
    """A data folder that does not have the Kermany layout."""

# --------------------------------------------------------------------------- layout


def is_image(path: Path) -> bool:
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
            if not any(is_image(p) for p in class_dir.iterdir()):
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
                if not is_image(path):
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


def check_manifest(manifest, *, columns=("path", "split", "label")) -> None:
    if not isinstance(manifest, pd.DataFrame):
        raise TypeError(f"manifest: expected a pandas DataFrame from build_manifest, got {type(manifest).__name__}")
    missing = [c for c in columns if c not in manifest.columns]
    if missing:
        raise ValueError(f"manifest lacks the column(s) {missing}; build it with cxrlib.data.build_manifest")


def has_hashes(manifest: pd.DataFrame) -> bool:
    return "sha256" in manifest.columns and bool(manifest["sha256"].notna().all())


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
    check_manifest(manifest, columns=("path", "split", "label", "filename"))
    if has_hashes(manifest):
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
    check_manifest(manifest, columns=("path",))
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
