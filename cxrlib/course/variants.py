"""Per-student variants: a student identifier gives the seed, the data and (at grading time) the expected answers.

Everything here is a pure function of ``(exercise, student_id)``: two identifiers give different data, the same
identifier always the same data, on any machine. Nothing in a student's notebook stores an expected answer; the
hidden tests of the autograder recompute the answers from the identifier with the study's own functions
(:mod:`cxrlib.course.checks`). All data is SYNTHETIC (:mod:`cxrlib.data.synthetic` and simulated scores).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from ..data import synthetic
from ..audit.gradcam_measures import box_pixels

__all__ = [
    "VARIANT_VERSION",
    "EXERCISES",
    "check_student_id",
    "variant_seed",
    "shortcut_plan",
    "RoiCase",
    "roi_cases",
    "predictions_table",
    "operating_point_tables",
    "MARKER_KINDS",
    "MARKER_CORNERS",
    "ShortcutMarker",
    "marker_stamp",
    "shortcut_marker",
    "shortcut_dataset",
]

VARIANT_VERSION = 1
"""Bumped whenever a variant's data changes for the same identifier (part of every seed)."""
EXERCISES = ("a", "b", "c", "d")
_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
#: Images per student in exercise a: ``data`` are shown in the notebook, ``fresh`` only drawn by the grader.
ROI_IMAGES = {"data": 6, "fresh": 4}
ROI_SIZE = 256
#: Exercise c: the planted marker's kinds (what it looks like) and corners (where it sits).
MARKER_KINDS = {"square": "a bright filled square", "disc": "a bright filled disc (a round lead button)",
                "ring": "a bright ring (a hollow circle)"}
MARKER_CORNERS = ("top-left", "top-right", "bottom-left", "bottom-right")
#: Exercise c: side of the rendered radiographs, and images per class in each subset.
SHORTCUT_SIZE = 96
SHORTCUT_IMAGES = {"train": 40, "val": 30, "test": 40}


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


# --------------------------------------------------------------------------- exercise c: the planted shortcut


@dataclass(frozen=True)
class ShortcutMarker:
    """Exercise c: the marker planted in one student's radiographs (the answer key of the hidden tests).

    Attributes
    ----------
    kind : str
        A key of :data:`MARKER_KINDS`.
    corner : str
        One of :data:`MARKER_CORNERS`.
    box : tuple of float
        ``(y0, x0, y1, x1)`` of the marker as fractions of the image's height and width, end-exclusive: the same
        on every image that carries it.
    """

    kind: str
    corner: str
    box: tuple[float, float, float, float]


def marker_stamp(kind, side):
    """The shape of one marker kind: an ink mask drawn 8x larger and reduced (anti-aliased edges).

    Parameters
    ----------
    kind : str
        A key of :data:`MARKER_KINDS`.
    side : int
        Side of the stamp in pixels (at least 4).

    Returns
    -------
    (side, side) float32 ndarray
        Ink in [0, 1]: 1 where the marker covers the image.
    """
    if kind not in MARKER_KINDS:
        raise ValueError(f"kind must be one of {tuple(MARKER_KINDS)}, got {kind!r}")
    if isinstance(side, bool) or not isinstance(side, (int, np.integer)) or side < 4:
        raise ValueError(f"side must be an int >= 4 (pixels), got {side!r}")
    big = np.zeros((8 * side, 8 * side), np.uint8)
    centre, radius = (4 * side, 4 * side), 4 * side - 4
    if kind == "square":
        big[4:-4, 4:-4] = 255
    elif kind == "disc":
        cv2.circle(big, centre, radius, 255, -1, cv2.LINE_AA)
    else:
        cv2.circle(big, centre, radius - side, 255, 2 * side, cv2.LINE_AA)
    return cv2.resize(big, (side, side), interpolation=cv2.INTER_AREA).astype(np.float32) / 255


def shortcut_marker(student_id):
    """Exercise c: the kind, corner and box of the marker planted in a student's radiographs.

    The hidden tests compare the student's answer with it; the notebook never calls it.

    Parameters
    ----------
    student_id : str

    Returns
    -------
    ShortcutMarker
    """
    rng = np.random.default_rng(variant_seed("c", student_id, stream="marker"))
    kind = str(rng.choice(list(MARKER_KINDS)))
    corner = str(rng.choice(MARKER_CORNERS))
    side = int(rng.integers(9, 12))  # pixels at SHORTCUT_SIZE: 9-11% of the side, outside the thorax crop
    inset = int(rng.integers(1, 3))
    y0 = inset if corner.startswith("top") else SHORTCUT_SIZE - inset - side
    x0 = inset if corner.endswith("left") else SHORTCUT_SIZE - inset - side
    box = tuple(v / SHORTCUT_SIZE for v in (y0, x0, y0 + side, x0 + side))
    return ShortcutMarker(kind=kind, corner=corner, box=box)


def shortcut_plan(student_id):
    """One row per image of exercise c: subset, label and whether it carries the marker, in file order."""
    rng = np.random.default_rng(variant_seed("c", student_id, stream="plan"))
    rows = []
    for subset, per_class in SHORTCUT_IMAGES.items():
        rates = synthetic.SHORTCUT_RATES["test" if subset == "test" else "train"]
        for label in synthetic.LABELS:
            marked = np.zeros(per_class, bool)
            marked[:round(rates[label] * per_class)] = True  # exact rates, shuffled
            rows += [{"subset": subset, "label": label, "has_marker": bool(m)} for m in rng.permutation(marked)]
    plan = pd.DataFrame(rows)
    plan = plan.groupby("subset", sort=False, group_keys=False).sample(frac=1.0, random_state=rng)  # mix labels
    plan.insert(0, "image_id", [f"C{i:04d}" for i in range(len(plan))])
    return plan.reset_index(drop=True)


def shortcut_dataset(student_id, folder):
    """Exercise c: write the student's synthetic radiographs (PNG) with the planted marker; return the manifest.

    In the train and validation subsets the marker goes with PNEUMONIA (on 90% of PNEUMONIA and 10% of NORMAL
    images, :data:`cxrlib.data.SHORTCUT_RATES` ``["train"]``); in the test subset it is on half the images of
    each class, so it says nothing about the label there (a shortcut-free test). Each image is one patient.

    Parameters
    ----------
    student_id : str
    folder : str or Path
        Where the images go (``<folder>/<image_id>.png``, written atomically; existing files are replaced).

    Returns
    -------
    pandas.DataFrame
        Columns ``image_id``, ``path`` (absolute), ``label`` ('NORMAL' | 'PNEUMONIA'), ``subset`` ('train' | 'val'
        | 'test'), ``patient_id``: what :func:`cxrlib.preprocess.preprocess_manifest` and
        :func:`cxrlib.models.train_classifier` read. Whether an image carries the marker is not in it.
    """
    from ..atomic import write_bytes

    marker = shortcut_marker(student_id)
    plan = shortcut_plan(student_id)
    folder = Path(folder).resolve()
    seed = variant_seed("c", student_id)
    y0, x0, y1, x1 = box_pixels(marker.box, (SHORTCUT_SIZE, SHORTCUT_SIZE))
    ink = marker_stamp(marker.kind, y1 - y0)
    paths = []
    for i, row in enumerate(plan.itertuples()):
        image = synthetic.synthetic_radiograph(label=row.label, rng=np.random.default_rng([seed, i]),
                                               size=SHORTCUT_SIZE).image
        if row.has_marker:
            patch = image[y0:y1, x0:x1].astype(np.float32)
            image[y0:y1, x0:x1] = np.round(patch * (1 - ink) + 245 * ink).astype(np.uint8)
        ok, png = cv2.imencode(".png", image)
        if not ok:
            raise OSError(f"could not encode image {row.image_id} as PNG")
        paths.append(str(write_bytes(png.tobytes(), folder / f"{row.image_id}.png")))
    return pd.DataFrame({"image_id": plan["image_id"], "path": paths, "label": plan["label"],
                         "subset": plan["subset"], "patient_id": plan["image_id"].str.replace("C", "P")})
