"""Per-student variants: a student identifier gives the seed, the data and (at grading time) the expected answers.

Everything here is a pure function of ``(exercise, student_id)``: two identifiers give different data, the same
identifier always the same data, on any machine. Nothing in a student's notebook stores an expected answer; the
hidden tests of the autograder recompute the answers from the identifier with the study's own functions
(:mod:`cxrlib.course.checks`). All data is SYNTHETIC (:mod:`cxrlib.synthetic` and simulated scores).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import synthetic

__all__ = [
    "VARIANT_VERSION",
    "EXERCISES",
    "check_student_id",
    "variant_seed",
    "RoiCase",
    "roi_cases",
    "predictions_table",
    "operating_point_tables",
]

VARIANT_VERSION = 1
"""Bumped whenever a variant's data changes for the same identifier (part of every seed)."""
EXERCISES = ("a", "b", "c", "d")
_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
#: Images per student in exercise a: ``data`` are shown in the notebook, ``fresh`` only drawn by the grader.
ROI_IMAGES = {"data": 6, "fresh": 4}
ROI_SIZE = 256


def check_student_id(student_id):
    """Return the identifier stripped of surrounding blanks, or raise a ValueError saying what to write.

    Parameters
    ----------
    student_id : str
        1 to 64 characters: letters, digits, ``.``, ``_``, ``-``; starts with a letter or digit.

    Returns
    -------
    str
    """
    if not isinstance(student_id, str) or not _ID_PATTERN.fullmatch(student_id.strip()):
        raise ValueError(
            f"STUDENT_ID must be your student identifier as a string, e.g. STUDENT_ID = \"s1234567\" (letters, "
            f"digits, '.', '_' or '-', at most 64), got {student_id!r}; write it in the first code cell and run "
            "the notebook again from the top")
    return student_id.strip()


def variant_seed(exercise, student_id, *, stream="data"):
    """The 63-bit seed of one exercise, student and stream (``"data"``: what the student sees).

    Parameters
    ----------
    exercise : {'a', 'b', 'c', 'd'}
    student_id : str
    stream : str, optional
        Separates independent draws of one variant (``"data"``, ``"fresh"``, ...).

    Returns
    -------
    int
    """
    if exercise not in EXERCISES:
        raise ValueError(f"exercise must be one of {EXERCISES}, got {exercise!r}")
    key = f"cxrlib.course/v{VARIANT_VERSION}/{exercise}/{check_student_id(student_id)}/{stream}"
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") >> 1


@dataclass(frozen=True)
class RoiCase:
    """One synthetic radiograph of exercise a with its ground truth.

    Attributes
    ----------
    image : (S, S) uint8 ndarray
    lung_mask : (S, S) bool ndarray
        The lung fields the generator drew (``SyntheticRadiograph.lung_mask``).
    label : str
    """

    image: np.ndarray
    lung_mask: np.ndarray
    label: str


def roi_cases(student_id, *, stream="data"):
    """Exercise a: the student's synthetic radiographs with their ground-truth lung masks.

    Parameters
    ----------
    student_id : str
    stream : {'data', 'fresh'}, optional
        ``"data"``: the images the notebook shows; ``"fresh"``: further images of the same variant that only the
        grader draws (so a box typed in by hand cannot pass).

    Returns
    -------
    list of RoiCase
    """
    if stream not in ROI_IMAGES:
        raise ValueError(f"stream must be one of {tuple(ROI_IMAGES)}, got {stream!r}")
    count = ROI_IMAGES[stream]
    seed = variant_seed("a", student_id, stream=stream)
    cases = []
    for i in range(count):
        label = synthetic.LABELS[i % 2]
        rad = synthetic.synthetic_radiograph(label=label, rng=np.random.default_rng([seed, i]), size=ROI_SIZE)
        cases.append(RoiCase(image=rad.image, lung_mask=rad.lung_mask, label=label))
    return cases


def _clustered_scores(rng, *, n_patients, separation, prevalence):
    """Simulated classifier scores with patients of 1-4 images sharing a random effect (their images correlate)."""
    labels = (rng.random(n_patients) < prevalence).astype(int)
    effect = rng.normal(0.0, 1.0, n_patients)
    shots = rng.choice([1, 2, 3, 4], size=n_patients, p=[0.3, 0.3, 0.2, 0.2])
    rows = []
    for p, (label, shift, k) in enumerate(zip(labels, effect, shots)):
        logits = separation * (label - 0.5) + shift + rng.normal(0.0, 0.4, k)
        for logit in logits:
            rows.append({"patient_id": f"P{p:04d}", "label": int(label), "score": float(1 / (1 + np.exp(-logit)))})
    table = pd.DataFrame(rows)
    table.insert(0, "image_id", [f"IMG{i:05d}" for i in range(len(table))])
    return table


def predictions_table(student_id, *, stream="data"):
    """Exercise b: a test-set predictions table of a (simulated) classifier.

    Parameters
    ----------
    student_id : str
    stream : str, optional
        ``"data"`` is the student's table; the grader also draws ``"fresh"`` tables.

    Returns
    -------
    pandas.DataFrame
        Columns ``image_id``, ``patient_id``, ``label`` (1 = PNEUMONIA), ``score`` (P(PNEUMONIA)); one row per image,
        1-4 images per patient.
    """
    rng = np.random.default_rng(variant_seed("b", student_id, stream=stream))
    return _clustered_scores(rng, n_patients=int(rng.integers(70, 111)), separation=float(rng.uniform(1.8, 3.2)),
                             prevalence=float(rng.uniform(0.45, 0.7)))


def operating_point_tables(student_id):
    """Exercise d: validation and test predictions of one (simulated) classifier.

    The validation set is small, as in the Kermany release; the test set is larger. Both come from the same
    classifier, so a threshold chosen on one and applied to the other is an honest operating point.

    Parameters
    ----------
    student_id : str

    Returns
    -------
    validation, test : pandas.DataFrame
        Columns as in :func:`predictions_table`.
    """
    rng = np.random.default_rng(variant_seed("d", student_id))
    separation, prevalence = float(rng.uniform(1.6, 2.6)), float(rng.uniform(0.5, 0.7))
    validation = _clustered_scores(rng, n_patients=int(rng.integers(25, 41)), separation=separation,
                                   prevalence=prevalence)
    test = _clustered_scores(rng, n_patients=int(rng.integers(90, 131)), separation=separation,
                             prevalence=prevalence)
    return validation, test
