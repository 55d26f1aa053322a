"""Reading radiographs: every image cxrlib reads goes through :func:`read_radiograph`, a 2-D ``uint8`` array.

Also: checking that every image of a manifest decodes, pairing radiographs with their lung masks, and a table of
image sizes and grey levels.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .manifest import check_manifest

__all__ = ["ImageReadError", "pair_images_and_masks", "read_radiograph", "check_images", "image_size_table"]

#: Files paired by pair_images_and_masks (lung-mask sets come as PNG, JPEG, TIFF or BMP).
_PAIR_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
_MIN_SIDE = 16
_MAX_ASPECT = 8.0


class ImageReadError(ValueError):
    """An image file that cannot be decoded into a usable radiograph."""

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
    check_manifest(manifest, columns=("path",))
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
    check_manifest(manifest, columns=("path", "filename", "split", "label"))
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
