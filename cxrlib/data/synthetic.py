"""Seeded synthetic chest radiographs in the Kermany folder layout.

A cartoon stand-in for the Kermany et al. (2018) pediatric chest X-ray release: the embedded default for the
demo run (no dataset, no internet) and for tests, and a teaching device. Everything it produces is SYNTHETIC.

Each image shows a body outline on a dark background, shoulders and arms, two lung fields, ribs, clavicles, a
spine, a heart shadow, film noise and blur, and burned-in markers outside the thorax (an "R"/"L" side letter and
a date strip). PNEUMONIA images add patchy or lobar opacities inside the lung fields only. An optional planted
shortcut (a bright "PORTABLE" tag in the top-right corner, outside the thorax) goes with the label in the train
split and is independent of it in the test split, so a model that sees the whole image can learn it and a model
that sees only the thorax crop cannot.

Images follow the radiological convention: the patient's right is on the image left, so the heart shadow lies
right of the image centre, over the patient's left lung.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm.auto import tqdm

from .synthetic_drawing import date_strip, film, pneumonia_opacity, render_anatomy, shortcut_tag, side_letter
__all__ = [
    "GENERATOR_VERSION",
    "LABELS",
    "SUBTYPES",
    "SHORTCUT_RATES",
    "shortcut_truth",
    "SHORTCUT_DESCRIPTION",
    "SYNTHETIC_NOTE",
    "Anatomy",
    "SyntheticRadiograph",
    "sample_anatomy",
    "synthetic_radiograph",
    "make_synthetic_dataset",
]

GENERATOR_VERSION = 1
LABELS = ("NORMAL", "PNEUMONIA")
SUBTYPES = ("bacteria", "virus")
#: Fraction of images carrying the shortcut marker, per split and label (used when ``shortcut=True``).
SHORTCUT_RATES = {"train": {"NORMAL": 0.1, "PNEUMONIA": 0.9}, "test": {"NORMAL": 0.5, "PNEUMONIA": 0.5}}
#: The sentence every notebook shows above results on synthetic data.
SYNTHETIC_NOTE = "**SYNTHETIC data: these images, models and numbers show the method at work, nothing clinical.**"
SHORTCUT_DESCRIPTION = "bright 'PORTABLE' tag in the top-right corner, outside the thorax"
_MIN_SIZE, _MAX_SIZE = 96, 4096
_BACTERIA_FRACTION = 2530 / 3875  # as in the Kermany train split


@dataclass(frozen=True)
class Anatomy:
    """Per-patient anatomy; lengths are fractions of the image side, intensities in [0, 1].

    Images of one patient share an `Anatomy` and differ by small per-image changes (position, tilt,
    inspiration, exposure, noise). Draw one with `sample_anatomy`.
    """

    center_x: float  # midline
    apex_y: float  # top of the lung apices
    base_y: float  # costophrenic angles (patient's left lung)
    half_width: float  # lateral extent of the lungs from the midline
    mediastinum: float  # half-gap between the lungs
    dome: float  # height of the diaphragm domes
    right_lung_scale: float  # width of the patient's right lung (image left) relative to the left one
    heart: tuple[float, float, float, float]  # centre offset from the midline, centre y, semi-axes x and y
    rib_count: int
    rib_drop: float  # how far each posterior rib falls towards its lateral end
    soft_tissue: float  # body brightness
    lung_air: float  # how much darker the lungs are than the body
    shoulder_y: float  # height of the shoulders


@dataclass(frozen=True)
class SyntheticRadiograph:
    """One synthetic chest radiograph with its ground truth.

    Attributes
    ----------
    image : (M, N) uint8 ndarray
        The radiograph (gray levels, bright = dense).
    lung_mask : (M, N) bool ndarray
        Lung fields (the heart shadow excluded).
    thorax_box : tuple of int
        ``(y0, x0, y1, x1)`` bounding box of the rib cage, end-exclusive (``image[y0:y1, x0:x1]``): the expected ROI.
    marker_boxes : list of tuple of int
        ``(y0, x0, y1, x1)`` boxes of the burned-in markers (side letter, date strip, shortcut tag if present);
        none intersects `thorax_box`.
    has_shortcut : bool
        Whether the planted shortcut tag is drawn.
    label : str
        ``'NORMAL'`` or ``'PNEUMONIA'``.
    subtype : str
        ``'bacteria'`` or ``'virus'`` for PNEUMONIA, ``''`` for NORMAL.
    pattern : str
        ``'patchy'`` or ``'lobar'`` for PNEUMONIA, ``''`` for NORMAL.
    opacity_mask : (M, N) bool ndarray
        Where the opacities raise the intensity by at least 1% of full scale before the exposure curve (empty for
        NORMAL); always inside `lung_mask`.
    """

    image: np.ndarray
    lung_mask: np.ndarray
    thorax_box: tuple[int, int, int, int]
    marker_boxes: list[tuple[int, int, int, int]]
    has_shortcut: bool
    label: str
    subtype: str
    pattern: str
    opacity_mask: np.ndarray


def sample_anatomy(rng):
    """Draw the anatomy of one synthetic patient.

    Parameters
    ----------
    rng : numpy.random.Generator

    Returns
    -------
    Anatomy
    """
    _check_rng(rng)
    u = rng.uniform
    return Anatomy(
        center_x=0.5 + u(-0.025, 0.025),
        apex_y=u(0.14, 0.2),
        base_y=u(0.68, 0.78),
        half_width=u(0.32, 0.4),
        mediastinum=u(0.045, 0.06),
        dome=u(0.05, 0.08),
        right_lung_scale=u(0.92, 1.0),
        heart=(u(0.04, 0.07), u(0.56, 0.61), u(0.13, 0.16), u(0.1, 0.12)),
        rib_count=int(rng.integers(8, 11)),
        rib_drop=u(0.08, 0.13),
        soft_tissue=u(0.5, 0.6),
        lung_air=u(0.3, 0.4),
        shoulder_y=u(0.1, 0.14),
    )


def synthetic_radiograph(*, label, rng, size=256, subtype=None, shortcut=False, patient=None):
    """Render one synthetic chest radiograph.

    Parameters
    ----------
    label : {'NORMAL', 'PNEUMONIA'}
    rng : numpy.random.Generator
        Source of all randomness. Two calls with generators in the same state and the same options give the
        same image; NORMAL and PNEUMONIA renderings from the same state differ only inside the lungs.
    size : int, optional
        Side of the square image in pixels (96 to 4096).
    subtype : {None, 'bacteria', 'virus'}, optional
        PNEUMONIA subtype; None draws one (bacteria about 2 in 3). Must be None for NORMAL.
    shortcut : bool, optional
        Draw the planted shortcut tag (top-right corner, outside the thorax).
    patient : Anatomy, optional
        Anatomy shared by the images of one patient; None draws a new one from `rng`.

    Returns
    -------
    SyntheticRadiograph
    """
    _check_rng(rng)
    if label not in LABELS:
        raise ValueError(f"label must be one of {LABELS}, got {label!r}")
    size = _check_int("size", size, _MIN_SIZE, _MAX_SIZE)
    if label == "NORMAL" and subtype not in (None, ""):
        raise ValueError(f"subtype must be None for label 'NORMAL', got {subtype!r}")
    if subtype is not None and label == "PNEUMONIA" and subtype not in SUBTYPES:
        raise ValueError(f"subtype must be None or one of {SUBTYPES}, got {subtype!r}")
    shortcut = _check_bool("shortcut", shortcut)
    if patient is not None and not isinstance(patient, Anatomy):
        raise TypeError(f"patient must be an Anatomy (see sample_anatomy) or None, got {type(patient).__name__}")

    patient = sample_anatomy(rng) if patient is None else patient
    disease_rng = np.random.default_rng(rng.integers(2**63))  # label-dependent draws stay out of the main stream
    image, lungs, cage = render_anatomy(patient, rng, size)
    lung_mask = lungs[0] | lungs[1]

    pattern, opacity = "", np.zeros_like(image)
    if label == "NORMAL":
        subtype = ""
    else:
        subtype = subtype or ("bacteria" if disease_rng.random() < _BACTERIA_FRACTION else "virus")
        pattern = "lobar" if subtype == "bacteria" and disease_rng.random() < 0.6 else "patchy"
        opacity = pneumonia_opacity(lungs, disease_rng, pattern=pattern, subtype=subtype, air=patient.lung_air)
    image = film(image + opacity, rng)

    x0, y0, w, h = cv2.boundingRect(cage.astype(np.uint8))
    thorax_box = (y0, x0, y0 + h, x0 + w)
    marker_boxes = [side_letter(image, thorax_box, rng), date_strip(image, rng)]
    if shortcut:
        marker_boxes.append(shortcut_tag(image))
    return SyntheticRadiograph(
        image=image, lung_mask=lung_mask, thorax_box=thorax_box, marker_boxes=marker_boxes,
        has_shortcut=shortcut, label=label, subtype=subtype, pattern=pattern, opacity_mask=opacity >= 0.01,
    )


def make_synthetic_dataset(root, *, train_per_class=40, test_per_class=20, size=256, seed=0, shortcut=True,
                           write_masks=True, progress=True):
    """Write a synthetic dataset in the Kermany layout (idempotent).

    Writes ``root/{train,test}/{NORMAL,PNEUMONIA}/*.jpeg`` named like the Kermany release
    (``IM-0123-0001.jpeg``, ``NORMAL2-IM-0456-0002.jpeg``, ``person12_bacteria_45.jpeg``,
    ``person13_virus_46.jpeg``), 1-3 images per patient, no patient in both splits; lung masks
    ``root/masks/<stem>.png`` (0/255) when `write_masks`; ``root/PROVENANCE.md`` and ``root/synthetic.json``
    (parameters, shortcut rates and per-image ground truth). The dataset is built in a temporary sibling folder
    and moved into place with ``os.replace``.

    Parameters
    ----------
    root : str or Path
        Target folder; must be absent, empty, or hold a dataset written with the same parameters (then it is
        returned unchanged).
    train_per_class, test_per_class : int, optional
        Images per class in each split (1 to 5000).
    size : int, optional
        Image side in pixels (96 to 4096).
    seed : int, optional
        Seed (>= 0); the same seed gives a byte-identical dataset.
    shortcut : bool, optional
        Plant the shortcut tag at the rates in `SHORTCUT_RATES`; False draws it nowhere.
    write_masks : bool, optional
        Write the lung masks.
    progress : bool, optional
        Show a tqdm progress bar.

    Returns
    -------
    Path
        `root`.
    """
    root = Path(root)
    params = {
        "train_per_class": _check_int("train_per_class", train_per_class, 1, 5000),
        "test_per_class": _check_int("test_per_class", test_per_class, 1, 5000),
        "size": _check_int("size", size, _MIN_SIZE, _MAX_SIZE),
        "seed": _check_int("seed", seed, 0, 2**63 - 1),
        "shortcut": _check_bool("shortcut", shortcut),
        "write_masks": _check_bool("write_masks", write_masks),
    }
    if _matches(root, params):
        return root
    _check_empty(root, params)
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}.tmp-", dir=root.parent))
    try:
        tmp.chmod(0o755)  # mkdtemp makes it private
        _write_dataset(tmp, params, progress=progress)
        if root.is_dir():
            root.rmdir()  # empty (checked above); os.replace needs it gone on some platforms
        os.replace(tmp, root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return root
# --------------------------------------------------------------------------- dataset on disk


def _write_dataset(folder, params, *, progress):
    """Render every planned image into `folder` with its mask, then synthetic.json and PROVENANCE.md."""
    plan = _plan(params)
    records = []
    for item in tqdm(plan, desc="synthetic dataset", unit="img", disable=not progress):
        rng = np.random.default_rng([params["seed"], 1, item["index"]])
        patient = sample_anatomy(np.random.default_rng([params["seed"], 2, item["patient_index"]]))
        rad = synthetic_radiograph(label=item["label"], rng=rng, size=params["size"], subtype=item["subtype"] or None,
                                   shortcut=item["has_shortcut"], patient=patient)
        path = folder / item["split"] / item["label"] / f"{item['stem']}.jpeg"
        path.parent.mkdir(parents=True, exist_ok=True)
        if not cv2.imwrite(str(path), rad.image, [cv2.IMWRITE_JPEG_QUALITY, 95]):
            raise OSError(f"could not write {path}")
        record = {"path": path.relative_to(folder).as_posix(), "split": item["split"], "label": item["label"],
                  "subtype": rad.subtype, "pattern": rad.pattern, "patient_id": item["patient_id"],
                  "has_shortcut": rad.has_shortcut, "thorax_box": list(rad.thorax_box),
                  "marker_boxes": [list(b) for b in rad.marker_boxes]}
        if params["write_masks"]:
            mask_path = folder / "masks" / f"{item['stem']}.png"
            mask_path.parent.mkdir(exist_ok=True)
            cv2.imwrite(str(mask_path), rad.lung_mask.astype(np.uint8) * 255)
            record["mask"] = mask_path.relative_to(folder).as_posix()
        records.append(record)
    facts = _facts(params, records)
    (folder / "synthetic.json").write_text(json.dumps(facts, indent=1) + "\n")
    (folder / "PROVENANCE.md").write_text(_provenance(facts))


def _plan(params):
    """File names, patients (1-3 images each, never in both splits) and shortcut flags for every image."""
    rng = np.random.default_rng([params["seed"], 0])
    counts = {"train": params["train_per_class"], "test": params["test_per_class"]}
    patients = sum(counts.values())  # at most one patient per image
    numbers = {label: iter(rng.choice(np.arange(1, max(10_000, patients + 1)), patients, replace=False))
               for label in LABELS}
    plan, image_number, patient_index = [], itertools.count(1), itertools.count()
    for split in ("train", "test"):
        for label in LABELS:
            n = counts[split]
            marked = np.zeros(n, bool)
            if params["shortcut"]:
                marked[rng.permutation(n)[: round(SHORTCUT_RATES[split][label] * n)]] = True
            i = 0
            while i < n:
                shots = min(n - i, int(rng.choice([1, 2, 3], p=[0.6, 0.3, 0.1])))
                number, index = int(next(numbers[label])), next(patient_index)
                if label == "NORMAL":
                    subtype, prefix = "", ("NORMAL2-" if rng.random() < 0.3 else "")
                    stems = [f"{prefix}IM-{number:04d}-{k:04d}" for k in range(1, shots + 1)]
                    patient_id = f"{prefix}IM-{number:04d}"
                else:
                    subtype = "bacteria" if rng.random() < _BACTERIA_FRACTION else "virus"
                    stems = [f"person{number}_{subtype}_{next(image_number)}" for _ in range(shots)]
                    patient_id = f"person{number}"
                for stem in stems:
                    plan.append({"index": len(plan), "split": split, "label": label, "subtype": subtype,
                                 "stem": stem, "patient_id": patient_id, "patient_index": index,
                                 "has_shortcut": bool(marked[i])})
                    i += 1
    return plan


def _facts(params, records):
    """Everything synthetic.json records: parameters, counts, shortcut rates and per-image ground truth."""
    counts = {split: {label: sum(r["split"] == split and r["label"] == label for r in records) for label in LABELS}
              for split in ("train", "test")}
    marked = {split: {label: sum(r["split"] == split and r["label"] == label and r["has_shortcut"] for r in records)
                      for label in LABELS} for split in ("train", "test")}
    return {
        "source": "synthetic",
        "description": "SYNTHETIC chest radiographs (cartoon anatomy) generated by cxrlib.data.synthetic; not patient data.",
        "generator": "cxrlib.data.synthetic.make_synthetic_dataset",
        "generator_version": GENERATOR_VERSION,
        "parameters": params,
        "shortcut": {"enabled": params["shortcut"], "marker": SHORTCUT_DESCRIPTION,
                     "rates": SHORTCUT_RATES if params["shortcut"] else None, "counts": marked},
        "counts": counts,
        "images": records,
    }


def _provenance(facts):
    """PROVENANCE.md: says in words that the data is synthetic, how it was made and where the shortcut is."""
    p, sc = facts["parameters"], facts["shortcut"]
    lines = [
        "# SYNTHETIC DATA: not real chest radiographs",
        "",
        "Every image in this folder was drawn by a program: cartoon anatomy (body, lungs, ribs, spine, heart),",
        "film noise and burned-in markers; PNEUMONIA images carry drawn opacities inside the lungs.",
        "It stands in for the Kermany et al. (2018) release for demos and tests. Results on it say nothing clinical.",
        "",
        f"- generator: `{facts['generator']}` (version {facts['generator_version']})",
        "- parameters: " + ", ".join(f"{k}={v}" for k, v in p.items()),
        "- images: " + "; ".join(f"{split}: " + ", ".join(f"{n} {label}" for label, n in counts.items())
                                 for split, counts in facts["counts"].items()),
        f"- lung masks: {'masks/<stem>.png (0/255)' if p['write_masks'] else 'not written'}",
        "- per-image ground truth (thorax box, marker boxes, shortcut, subtype, pattern): synthetic.json",
        "",
        "## Planted shortcut",
        "",
    ]
    if sc["enabled"]:
        lines += [f"Marker: {sc['marker']}. Fraction of images carrying it (exact counts in synthetic.json):", ""]
        lines += [f"- {split}: " + ", ".join(f"{label} {rate:.0%}" for label, rate in rates.items())
                  for split, rates in sc["rates"].items()]
        lines += ["", "In train it goes with PNEUMONIA; in test it is independent of the label. A model that sees the",
                  "whole image can learn the marker; the thorax crop removes it."]
    else:
        lines += ["None: no image carries the shortcut marker."]
    return "\n".join(lines) + "\n"


def shortcut_truth(root, filenames):
    """Which images carry the planted tag, and where: the generator's ground truth from ``synthetic.json``.

    Parameters
    ----------
    root : str or Path
        A dataset written by :func:`make_synthetic_dataset`.
    filenames : sequence of str
        File names of its images (e.g. the test rows of a manifest).

    Returns
    -------
    has_tag : (N,) bool ndarray
    tag_box : tuple of float or None
        The tag's box ``(y0, x0, y1, x1)`` as fractions (the same spot on every image); None when no image has it.
    """
    facts = _read_facts(Path(root))
    if facts is None:
        raise ValueError(f"{root} holds no synthetic.json: not a dataset written by make_synthetic_dataset")
    by_name = {Path(r["path"]).name: r for r in facts["images"]}
    unknown = [f for f in filenames if f not in by_name]
    if unknown:
        raise ValueError(f"{len(unknown)} file names are not in {root}/synthetic.json, e.g. {unknown[0]!r}")
    records = [by_name[f] for f in filenames]
    side = facts["parameters"]["size"]
    boxes = [r["marker_boxes"][-1] for r in records if r["has_shortcut"]]
    tag_box = tuple(v / side for v in boxes[0]) if boxes else None
    return np.array([bool(r["has_shortcut"]) for r in records]), tag_box


def _read_facts(root):
    try:
        facts = json.loads((root / "synthetic.json").read_text())
    except (OSError, ValueError):
        return None
    return facts if isinstance(facts, dict) else None


def _matches(root, params):
    """True when `root` holds a complete dataset written by this generator version with these parameters."""
    facts = _read_facts(root)
    if facts is None or facts.get("generator_version") != GENERATOR_VERSION or facts.get("parameters") != params:
        return False
    images = facts.get("images") or []
    expected = 2 * (params["train_per_class"] + params["test_per_class"])
    return len(images) == expected and all((root / record["path"]).is_file() for record in images)


def _check_empty(root, params):
    if root.exists() and not root.is_dir():
        raise ValueError(f"root must be a folder, got the file {root}")
    if root.is_dir() and any(root.iterdir()):
        facts = _read_facts(root)
        found = (f"it holds a synthetic dataset made with {facts.get('parameters')} "
                 f"(generator version {facts.get('generator_version')}), or an incomplete one" if facts else
                 "it holds other files")
        raise ValueError(
            f"root {root} is not empty and {found}; asked for {params} (generator version {GENERATOR_VERSION}). "
            "Pass a missing or empty folder, or delete this one.")


def _check_rng(rng):
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator (np.random.default_rng(seed)), got {type(rng).__name__}")


def _check_int(name, value, low, high):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be between {low} and {high}, got {value}")
    return int(value)


def _check_bool(name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool, got {value!r}")
    return bool(value)
