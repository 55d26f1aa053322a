"""Real radiographs for a student's ungraded tries: a few test images of a Kermany-layout folder, resized."""

from __future__ import annotations

__all__ = ["real_images"]


def real_images(data_dir, *, n=4, size=256, seed=0):
    """A few real test radiographs from a Kermany-layout folder, resized to a square (for ungraded tries).

    Parameters
    ----------
    data_dir : str or Path
        Anything :func:`cxrlib.data.find_dataset_root` accepts.
    n : int, optional
        How many images (drawn at random, both labels mixed).
    size : int, optional
        Side of the returned images.
    seed : int, optional

    Returns
    -------
    list of (size, size) uint8 ndarray
    """
    from ..data.images import read_radiograph
    from ..data.manifest import build_manifest
    from ..preprocess.clahe import resize_image

    manifest = build_manifest(data_dir, progress=False, required_splits=("test",))
    test = manifest[manifest["split"] == "test"]
    if test.empty:
        raise ValueError(f"data_dir {str(data_dir)!r} has no test images (<root>/test/{{NORMAL,PNEUMONIA}}/*.jpeg)")
    rows = test.sample(n=min(n, len(test)), random_state=seed)
    return [resize_image(read_radiograph(path), size) for path in rows["path"]]
