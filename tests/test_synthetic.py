"""Tests for cxrlib.data.synthetic: the seeded synthetic chest radiographs and the Kermany-layout dataset writer."""

import hashlib
import json
import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from cxrlib.data import Anatomy, SHORTCUT_RATES, make_synthetic_dataset, sample_anatomy, synthetic_radiograph

KERMANY_NAME = {
    "NORMAL": re.compile(r"^(NORMAL2-)?IM-\d{4}-\d{4}\.jpeg$"),
    "PNEUMONIA": re.compile(r"^person\d+_(bacteria|virus)_\d+\.jpeg$"),
}


def _render(seed, label="NORMAL", **options):
    return synthetic_radiograph(label=label, rng=np.random.default_rng(seed), **options)


def _overlap(a, b):
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _patient(name):
    return re.match(r"^(person\d+|(?:NORMAL2-)?IM-\d+)", name).group(1)


def _digest(root):
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


# --------------------------------------------------------------------------- one radiograph


def test_radiograph_shapes_and_types():
    rad = _render(0, "PNEUMONIA", size=128, shortcut=True)
    assert rad.image.shape == (128, 128) and rad.image.dtype == np.uint8
    assert rad.lung_mask.shape == (128, 128) and rad.lung_mask.dtype == bool
    assert rad.opacity_mask.shape == (128, 128) and rad.opacity_mask.dtype == bool
    y0, x0, y1, x1 = rad.thorax_box
    assert all(isinstance(v, int) for v in rad.thorax_box)
    assert 0 <= y0 < y1 <= 128 and 0 <= x0 < x1 <= 128
    assert len(rad.marker_boxes) == 3 and rad.has_shortcut
    assert rad.label == "PNEUMONIA" and rad.subtype in ("bacteria", "virus") and rad.pattern in ("patchy", "lobar")
    assert 0.1 < rad.lung_mask.mean() < 0.5
    assert rad.lung_mask[y0:y1, x0:x1].sum() == rad.lung_mask.sum()  # the rib cage box holds the lungs
    normal = _render(0, size=128)
    assert (normal.subtype, normal.pattern, normal.has_shortcut, len(normal.marker_boxes)) == ("", "", False, 2)
    assert not normal.opacity_mask.any()


def test_same_rng_state_same_image_and_other_seed_differs():
    a, b, c = _render(7, "PNEUMONIA"), _render(7, "PNEUMONIA"), _render(8, "PNEUMONIA")
    assert np.array_equal(a.image, b.image) and np.array_equal(a.lung_mask, b.lung_mask)
    assert (a.subtype, a.pattern, a.thorax_box, a.marker_boxes) == (b.subtype, b.pattern, b.thorax_box, b.marker_boxes)
    assert not np.array_equal(a.image, c.image)


def test_lungs_darker_than_mediastinum_and_body():
    for seed in range(10):
        rad = _render(seed)
        y0, x0, y1, x1 = rad.thorax_box
        lungs = rad.image[rad.lung_mask].mean()
        centre = (x0 + x1) // 2
        rows = slice(y0 + (y1 - y0) // 4, y0 + (y1 - y0) // 2)  # mediastinum above the heart
        mediastinum = rad.image[rows, centre - 3:centre + 4]
        body = rad.image[y1:y1 + 15, x0:x1]  # soft tissue and abdomen below the lungs
        assert lungs + 30 < mediastinum.mean() and lungs + 30 < body.mean(), seed


def test_opacities_only_inside_lungs():
    """NORMAL and PNEUMONIA from the same generator state differ only inside the lungs."""
    changed = []
    for seed in range(12):
        normal, pneumonia = _render(seed, "NORMAL"), _render(seed, "PNEUMONIA")
        assert np.array_equal(normal.lung_mask, pneumonia.lung_mask)
        diff = pneumonia.image.astype(int) - normal.image
        assert not diff[~normal.lung_mask].any(), seed
        assert (diff >= 0).all() and (diff > 0).sum() > 50, seed
        assert pneumonia.opacity_mask.any() and not (pneumonia.opacity_mask & ~pneumonia.lung_mask).any()
        changed.append(pneumonia.pattern)
    assert set(changed) == {"patchy", "lobar"}


def test_pneumonia_raises_lung_intensity_on_average():
    """Over independent images the lungs are brighter with pneumonia, but the classes overlap (not trivial)."""
    means = {label: [(r := _render(1000 + i, label)).image[r.lung_mask].mean() for i in range(40)]
             for label in ("NORMAL", "PNEUMONIA")}
    normal, pneumonia = np.array(means["NORMAL"]), np.array(means["PNEUMONIA"])
    assert pneumonia.mean() > normal.mean() + 3
    assert pneumonia.min() < normal.max()  # lung brightness alone does not separate the classes


def test_subtypes_and_patterns():
    virus = [_render(s, "PNEUMONIA", subtype="virus") for s in range(6)]
    assert {r.subtype for r in virus} == {"virus"} and {r.pattern for r in virus} == {"patchy"}
    drawn = {_render(s, "PNEUMONIA").subtype for s in range(30)}
    assert drawn == {"bacteria", "virus"}


@pytest.mark.parametrize("size", [96, 256, 400])
def test_markers_outside_thorax_box(size):
    for seed in range(25):
        rad = _render(seed, "PNEUMONIA" if seed % 2 else "NORMAL", size=size, shortcut=True)
        for box in rad.marker_boxes:
            y0, x0, y1, x1 = box
            assert 0 <= y0 < y1 <= size and 0 <= x0 < x1 <= size
            assert not _overlap(box, rad.thorax_box), (seed, box, rad.thorax_box)
        tag = rad.marker_boxes[-1]
        assert tag[0] < size * 0.15 and tag[3] > size * 0.85  # the shortcut sits in the top-right corner


def test_shortcut_tag_is_the_only_difference():
    plain, marked = _render(3), _render(3, shortcut=True)
    y0, x0, y1, x1 = marked.marker_boxes[-1]
    diff = plain.image != marked.image
    assert diff[y0:y1, x0:x1].any()
    diff[y0:y1, x0:x1] = False
    assert not diff.any()
    assert marked.image[y0:y1, x0:x1].mean() > 150 > plain.image[y0:y1, x0:x1].mean()


def test_patient_anatomy_is_shared():
    """Images of one patient look alike (lung masks overlap more than those of different patients)."""
    iou = lambda m, n: (m & n).sum() / (m | n).sum()
    patient = sample_anatomy(np.random.default_rng(5))
    assert isinstance(patient, Anatomy)
    same = [_render(s, patient=patient).lung_mask for s in range(4)]
    other = [_render(10 + s).lung_mask for s in range(4)]
    same_iou = np.mean([iou(a, b) for i, a in enumerate(same) for b in same[i + 1:]])
    other_iou = np.mean([iou(a, b) for a in same for b in other])
    assert same_iou > 0.7 and same_iou > other_iou + 0.05


def test_radiograph_input_checks():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="label"):
        synthetic_radiograph(label="normal", rng=rng)
    with pytest.raises(TypeError, match="rng"):
        synthetic_radiograph(label="NORMAL", rng=0)
    with pytest.raises(ValueError, match="size.*64"):
        synthetic_radiograph(label="NORMAL", rng=rng, size=64)
    with pytest.raises(TypeError, match="size"):
        synthetic_radiograph(label="NORMAL", rng=rng, size=256.0)
    with pytest.raises(ValueError, match="subtype"):
        synthetic_radiograph(label="NORMAL", rng=rng, subtype="virus")
    with pytest.raises(ValueError, match="subtype"):
        synthetic_radiograph(label="PNEUMONIA", rng=rng, subtype="fungal")
    with pytest.raises(TypeError, match="patient"):
        synthetic_radiograph(label="NORMAL", rng=rng, patient={"apex_y": 0.2})
    with pytest.raises(TypeError, match="shortcut"):
        synthetic_radiograph(label="NORMAL", rng=rng, shortcut="yes")
    with pytest.raises(TypeError, match="rng"):
        sample_anatomy(np.random.RandomState(0))


# --------------------------------------------------------------------------- the dataset on disk


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthetic") / "data"
    return make_synthetic_dataset(root, train_per_class=40, test_per_class=30, size=96, seed=3, progress=False)


def test_layout_names_and_patients(dataset):
    facts = json.loads((dataset / "synthetic.json").read_text())
    patients = {}
    for split, n in (("train", 40), ("test", 30)):
        for label in ("NORMAL", "PNEUMONIA"):
            files = sorted((dataset / split / label).iterdir())
            assert len(files) == n == facts["counts"][split][label]
            assert all(KERMANY_NAME[label].match(f.name) for f in files), [f.name for f in files][:5]
            for f in files:
                patients.setdefault(split, []).append(_patient(f.name))
    assert not set(patients["train"]) & set(patients["test"])
    per_patient = np.unique(patients["train"] + patients["test"], return_counts=True)[1]
    assert per_patient.max() <= 3 and (per_patient > 1).any()
    assert any(name.startswith("NORMAL2-") for name in patients["train"] + patients["test"])
    assert sorted(p.name for p in dataset.iterdir()) == ["PROVENANCE.md", "masks", "synthetic.json", "test", "train"]
    assert not list(dataset.parent.glob(".*"))  # no temporary folder left behind
    assert "SYNTHETIC" in (dataset / "PROVENANCE.md").read_text()
    assert facts["source"] == "synthetic" and facts["parameters"]["seed"] == 3


def test_images_and_masks_written(dataset):
    facts = json.loads((dataset / "synthetic.json").read_text())
    assert len(facts["images"]) == 140
    for record in facts["images"][::7]:
        image = cv2.imread(str(dataset / record["path"]), cv2.IMREAD_UNCHANGED)
        mask = cv2.imread(str(dataset / record["mask"]), cv2.IMREAD_UNCHANGED)
        assert image.shape == mask.shape == (96, 96) and image.dtype == mask.dtype == np.uint8
        assert set(np.unique(mask)) == {0, 255}
        assert Path(record["mask"]).stem == Path(record["path"]).stem
        assert image[mask > 0].mean() < image[mask == 0].mean()


def test_shortcut_rates_follow_label_in_train_only(dataset):
    facts = json.loads((dataset / "synthetic.json").read_text())
    y0, x0, y1, x1 = next(r["marker_boxes"][-1] for r in facts["images"] if r["has_shortcut"])  # fixed spot
    rate = {}
    for record in facts["images"]:
        image = cv2.imread(str(dataset / record["path"]), cv2.IMREAD_GRAYSCALE)
        assert (image[y0:y1, x0:x1].mean() > 150) == record["has_shortcut"]  # what the json says is in the pixels
        rate.setdefault((record["split"], record["label"]), []).append(record["has_shortcut"])
    rate = {key: np.mean(flags) for key, flags in rate.items()}
    for (split, label), value in rate.items():
        assert value == pytest.approx(SHORTCUT_RATES[split][label], abs=0.03), (split, label)
    assert rate["train", "PNEUMONIA"] - rate["train", "NORMAL"] > 0.7
    assert rate["test", "PNEUMONIA"] == rate["test", "NORMAL"]


def test_no_shortcut_when_disabled(tmp_path):
    root = make_synthetic_dataset(tmp_path / "d", train_per_class=5, test_per_class=3, size=96, shortcut=False,
                                  write_masks=False, progress=False)
    facts = json.loads((root / "synthetic.json").read_text())
    assert not any(r["has_shortcut"] for r in facts["images"]) and not (root / "masks").exists()


def test_same_seed_byte_identical_other_seed_differs(tmp_path):
    options = dict(train_per_class=3, test_per_class=2, size=96, progress=False)
    a = _digest(make_synthetic_dataset(tmp_path / "a", seed=11, **options))
    b = _digest(make_synthetic_dataset(tmp_path / "b", seed=11, **options))
    c = _digest(make_synthetic_dataset(tmp_path / "c", seed=12, **options))
    assert a == b and len(a) == 2 * 2 * (3 + 2) + 2
    assert a != c


def test_rerun_is_idempotent_and_foreign_folders_are_refused(tmp_path):
    options = dict(train_per_class=2, test_per_class=1, size=96, progress=False)
    root = make_synthetic_dataset(tmp_path / "d", seed=1, **options)
    stamps = {p: p.stat().st_mtime_ns for p in root.rglob("*")}
    assert make_synthetic_dataset(root, seed=1, **options) == root
    assert {p: p.stat().st_mtime_ns for p in root.rglob("*")} == stamps
    with pytest.raises(ValueError, match="not empty.*seed.: 1"):
        make_synthetic_dataset(root, seed=2, **options)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not empty.*other files"):
        make_synthetic_dataset(foreign, **options)
    assert [p.name for p in foreign.iterdir()] == ["notes.txt"]
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="folder"):
        make_synthetic_dataset(tmp_path / "file", **options)
    next((root / "test" / "NORMAL").iterdir()).unlink()  # damaged: refused, not silently reused
    with pytest.raises(ValueError, match="incomplete"):
        make_synthetic_dataset(root, seed=1, **options)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert (make_synthetic_dataset(empty, **options) / "synthetic.json").is_file()


@pytest.mark.parametrize("name, value, error", [
    ("size", 95, ValueError), ("size", "256", TypeError), ("train_per_class", 0, ValueError),
    ("test_per_class", 2.5, TypeError), ("seed", -1, ValueError), ("shortcut", 1, TypeError),
    ("write_masks", None, TypeError),
])
def test_dataset_input_checks(tmp_path, name, value, error):
    with pytest.raises(error, match=f"{name}.*{re.escape(repr(value) if error is TypeError else str(value))}"):
        make_synthetic_dataset(tmp_path / "d", **{name: value})
    assert not (tmp_path / "d").exists()
