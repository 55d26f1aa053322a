"""Course assignments on the paper's method: exercises, per-student variants, build and grading.

Four exercises (``notebooks/exercises/<x>_<name>.py``, jupytext masters in otter-grader's assign format) train the
paper's steps on SYNTHETIC data that depends on the student's identifier:

a. thorax ROI (§3.2-3.3), b. evaluation (Eq. 11-15, ROC AUC, patient bootstrap), c. finding a planted shortcut
with Grad-CAM (§4.4), d. the operating point and the optimism of choosing it on test.

``python -m cxrlib course build OUT_DIR [--with-solutions]`` runs otter assign on every master
(:mod:`cxrlib.course.build`); ``python -m cxrlib course grade OUT_DIR/autograder SUBMISSIONS_DIR --out gradebook.csv``
grades a folder of notebooks without Docker (:mod:`cxrlib.course.grade`). The student identifier is the string
assigned to ``STUDENT_ID`` in the notebook's first code cell after the title.
"""

from __future__ import annotations

from .variants import EXERCISES, check_student_id, variant_seed

__all__ = ["EXERCISES", "check_student_id", "variant_seed", "real_images"]


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
    from ..data.manifest import build_manifest
    from ..data.images import read_radiograph
    from ..preprocess.clahe import resize_image

    manifest = build_manifest(data_dir, progress=False, required_splits=("test",))
    test = manifest[manifest["split"] == "test"]
    if test.empty:
        raise ValueError(f"data_dir {str(data_dir)!r} has no test images (<root>/test/{{NORMAL,PNEUMONIA}}/*.jpeg)")
    rows = test.sample(n=min(n, len(test)), random_state=seed)
    return [resize_image(read_radiograph(path), size) for path in rows["path"]]
