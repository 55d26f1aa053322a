"""Tests of cxrlib.data on tiny Kermany-layout folders written here, and on the real data when present."""

import hashlib
import shutil
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from cxrlib.data import (CLASSES, DatasetLayoutError, ImageReadError, build_manifest, check_images, class_counts,
                         describe_source, evaluation_set_manifest, find_dataset_root, image_size_table, leakage_report,
                         manifest_hash, parse_patient_id, parse_subtype, read_radiograph, split_train_validation)


def _shared_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "shared"


def _kermany224() -> Path:
    root = _shared_dir() / "data" / "kermany224"
    if not (root / "train").is_dir():
        pytest.skip(f"real data not present at {root}")
    return root


def _write(path: Path, seed: int, size=(32, 32)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = np.random.default_rng(seed).integers(0, 256, size=size, dtype=np.uint8)
    assert cv2.imwrite(str(path), image)
    return path


def make_kermany(root: Path, *, normal_patients=6, pneumonia_patients=6, test=True, val=False, start=0) -> Path:
    """Write a small Kermany tree: 1-3 images per patient, NORMAL as IM-/NORMAL2-IM-, PNEUMONIA as personN."""
    seed = start * 1000
    splits = ["train"] + (["test"] if test else []) + (["val"] if val else [])
    for split in splits:
        offset = {"train": 0, "test": 500, "val": 800}[split] + start
        for p in range(normal_patients):
            prefix = "IM" if p % 2 else "NORMAL2-IM"
            for k in range(1 + p % 3):
                seed += 1
                _write(root / split / "NORMAL" / f"{prefix}-{offset + p:04d}-{k + 1:04d}.jpeg", seed)
        for p in range(pneumonia_patients):
            kind = "virus" if p % 3 == 0 else "bacteria"
            for k in range(1 + p % 3):
                seed += 1
                _write(root / split / "PNEUMONIA" / f"person{offset + p}_{kind}_{seed}.jpeg", seed)
    return root


# --------------------------------------------------------------------------- layout


def test_find_root_accepts_kermany_root(tmp_path):
    root = make_kermany(tmp_path / "chest_xray")
    assert find_dataset_root(root) == root.resolve()


def test_find_root_one_level_above_ignores_macosx(tmp_path):
    make_kermany(tmp_path / "unzipped" / "chest_xray")
    (tmp_path / "unzipped" / "__MACOSX" / "train").mkdir(parents=True)
    (tmp_path / "unzipped" / ".hidden" / "test").mkdir(parents=True)
    assert find_dataset_root(tmp_path / "unzipped") == (tmp_path / "unzipped" / "chest_xray").resolve()


def test_find_root_missing(tmp_path):
    with pytest.raises(DatasetLayoutError, match="does not exist") as info:
        find_dataset_root(tmp_path / "nowhere")
    assert "nowhere" in str(info.value)


def test_find_root_is_a_file(tmp_path):
    (tmp_path / "file.zip").write_bytes(b"x")
    with pytest.raises(DatasetLayoutError, match="is a file"):
        find_dataset_root(tmp_path / "file.zip")


def test_find_root_no_split_folders(tmp_path):
    (tmp_path / "images" / "NORMAL").mkdir(parents=True)
    with pytest.raises(DatasetLayoutError, match="no split folder") as info:
        find_dataset_root(tmp_path)
    assert "chest_xray" in str(info.value)


def test_find_root_several_candidates(tmp_path):
    make_kermany(tmp_path / "a")
    make_kermany(tmp_path / "b")
    with pytest.raises(DatasetLayoutError, match="several data sets"):
        find_dataset_root(tmp_path)


def test_find_root_missing_required_split(tmp_path):
    root = make_kermany(tmp_path / "d", test=False)
    with pytest.raises(DatasetLayoutError, match="no test/ folder"):
        find_dataset_root(root)
    assert find_dataset_root(root, required_splits=("train",)) == root.resolve()
    with pytest.raises(ValueError, match="required_splits"):
        find_dataset_root(root, required_splits=("training",))


def test_find_root_class_folder_missing(tmp_path):
    root = make_kermany(tmp_path / "d")
    shutil.rmtree(root / "test" / "PNEUMONIA")
    with pytest.raises(DatasetLayoutError, match="is missing") as info:
        find_dataset_root(root)
    assert str(Path("test") / "PNEUMONIA") in str(info.value)


def test_find_root_class_folder_empty(tmp_path):
    root = make_kermany(tmp_path / "d")
    shutil.rmtree(root / "train" / "NORMAL")
    (root / "train" / "NORMAL").mkdir()
    (root / "train" / "NORMAL" / ".DS_Store").write_bytes(b"junk")
    (root / "train" / "NORMAL" / "notes.txt").write_text("not an image")
    with pytest.raises(DatasetLayoutError, match="holds no image") as info:
        find_dataset_root(root)
    assert str(Path("train") / "NORMAL") in str(info.value)


# --------------------------------------------------------------------------- file names


@pytest.mark.parametrize("filename, expected", [
    ("person12_bacteria_45.jpeg", "person12"),
    ("person1_virus_6.jpeg", "person1"),
    ("person1_virus_11_2.jpeg", "person1"),
    ("IM-0115-0001.jpeg", "IM-0115"),
    ("IM-0011-0001-0002.jpeg", "IM-0011"),
    ("NORMAL2-IM-0373-0001.jpeg", "NORMAL2-IM-0373"),
    ("NORMAL2-IM-0173-0001-0002.jpeg", "NORMAL2-IM-0173"),
    ("/some/folder/person3_bacteria_10.JPG", "person3"),
    ("scan 7.png", "scan 7"),
    ("IM-abc.jpeg", "IM-abc"),
    ("", ""),
])
def test_parse_patient_id(filename, expected):
    assert parse_patient_id(filename) == expected


def test_parse_patient_id_accepts_path():
    assert parse_patient_id(Path("a") / "person7_virus_1.jpeg") == "person7"


@pytest.mark.parametrize("filename, label, expected", [
    ("person12_bacteria_45.jpeg", "PNEUMONIA", "bacteria"),
    ("person1_virus_6.jpeg", "PNEUMONIA", "virus"),
    ("odd.jpeg", "PNEUMONIA", ""),
    ("IM-0115-0001.jpeg", "NORMAL", ""),
])
def test_parse_subtype(filename, label, expected):
    assert parse_subtype(filename, label) == expected


def test_parse_subtype_refuses_unknown_label():
    with pytest.raises(ValueError, match="label='pneumonia'"):
        parse_subtype("person1_virus_6.jpeg", "pneumonia")


# --------------------------------------------------------------------------- manifest


def test_build_manifest_columns_sorting_and_hashes(tmp_path):
    root = make_kermany(tmp_path / "d", val=True)
    _write(root / "train" / "NORMAL" / "IM-0999-0001.PNG", 99)
    (root / "train" / "NORMAL" / "._IM-0999-0001.jpeg").write_bytes(b"appledouble")
    (root / "train" / "NORMAL" / "Thumbs.db").write_bytes(b"junk")
    manifest = build_manifest(root, with_hashes=True, progress=False)
    assert list(manifest.columns) == ["path", "filename", "split", "label", "subtype", "patient_id", "bytes", "sha256"]
    files = [p for p in root.rglob("*") if p.suffix.lower() in (".jpeg", ".png") and not p.name.startswith(".")]
    assert len(manifest) == len(files)
    assert "IM-0999-0001.PNG" in set(manifest["filename"])
    keys = list(zip(manifest["split"], manifest["label"], manifest["filename"]))
    assert keys == sorted(keys)
    assert list(manifest.index) == list(range(len(manifest)))
    assert set(manifest["split"]) == {"train", "val", "test"}
    assert all(Path(p).is_absolute() for p in manifest["path"])
    row = manifest.iloc[0]
    assert row["sha256"] == hashlib.sha256(Path(row["path"]).read_bytes()).hexdigest()
    assert row["bytes"] == Path(row["path"]).stat().st_size
    assert set(manifest.loc[manifest["label"] == "NORMAL", "subtype"]) == {""}
    assert set(manifest.loc[manifest["label"] == "PNEUMONIA", "subtype"]) == {"bacteria", "virus"}
    assert "sha256" not in build_manifest(root, progress=False).columns


def test_class_counts(tmp_path):
    manifest = build_manifest(make_kermany(tmp_path / "d", normal_patients=3, pneumonia_patients=4), progress=False)
    counts = class_counts(manifest)
    assert list(counts.index) == ["train", "test"]
    assert list(counts.columns) == ["NORMAL", "PNEUMONIA", "total"]
    assert counts.loc["train", "NORMAL"] == 1 + 2 + 3
    assert counts.loc["test", "total"] == (manifest["split"] == "test").sum()
    with pytest.raises(ValueError, match="split_train_validation"):
        class_counts(manifest, by="subset")


# --------------------------------------------------------------------------- images


def test_read_gray_png_and_rgb_jpeg(tmp_path):
    gray = np.tile(np.arange(0, 240, 4, dtype=np.uint8), (40, 1))
    cv2.imwrite(str(tmp_path / "g.png"), gray)
    out = read_radiograph(tmp_path / "g.png")
    assert out.dtype == np.uint8 and out.shape == (40, 60)
    np.testing.assert_array_equal(out, gray)
    bgr = np.dstack([gray, gray // 2, 255 - gray])
    cv2.imwrite(str(tmp_path / "c.png"), bgr)
    np.testing.assert_array_equal(read_radiograph(tmp_path / "c.png"), cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY))
    cv2.imwrite(str(tmp_path / "c.jpeg"), np.dstack([gray] * 3), [cv2.IMWRITE_JPEG_QUALITY, 100])
    out = read_radiograph(str(tmp_path / "c.jpeg"))
    assert out.shape == (40, 60) and np.abs(out.astype(int) - gray).max() <= 3


def test_read_16bit_png_min_max_scaled(tmp_path):
    image = np.linspace(1000, 4095, 40 * 50).reshape(40, 50).astype(np.uint16)  # a 12-bit radiograph
    cv2.imwrite(str(tmp_path / "d16.png"), image)
    assert cv2.imread(str(tmp_path / "d16.png"), cv2.IMREAD_UNCHANGED).dtype == np.uint16
    out = read_radiograph(tmp_path / "d16.png")
    assert out.dtype == np.uint8 and out.shape == (40, 50)
    assert out.min() == 0 and out.max() == 255
    assert np.all(np.diff(out.ravel().astype(int)) >= 0)
    expected = np.round((image.astype(float) - 1000) * 255 / 3095)
    assert np.abs(out - expected).max() <= 1
    cv2.imwrite(str(tmp_path / "flat16.png"), np.full((30, 30), 2570, np.uint16))
    np.testing.assert_array_equal(read_radiograph(tmp_path / "flat16.png"), np.full((30, 30), 10, np.uint8))


def test_read_rgba_png_drops_alpha(tmp_path):
    rng = np.random.default_rng(1)
    bgr = rng.integers(0, 256, size=(30, 40, 3), dtype=np.uint8)
    for name, alpha in (("a.png", 0), ("b.png", 255)):
        cv2.imwrite(str(tmp_path / name), np.dstack([bgr, np.full((30, 40), alpha, np.uint8)]))
        out = read_radiograph(tmp_path / name)
        assert out.shape == (30, 40) and out.dtype == np.uint8
        np.testing.assert_array_equal(out, cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY))


def _broken_files(tmp_path):
    good = _write(tmp_path / "good.jpeg", 0, size=(64, 64))
    data = good.read_bytes()
    (tmp_path / "truncated.jpeg").write_bytes(data[: len(data) // 2])
    (tmp_path / "text.jpeg").write_text("this is not an image")
    (tmp_path / "empty.jpeg").write_bytes(b"")
    _write(tmp_path / "one_pixel.png", 0, size=(1, 1))
    _write(tmp_path / "strip.png", 0, size=(20, 400))
    return {
        "truncated.jpeg": "could not be decoded",
        "text.jpeg": "could not be decoded",
        "empty.jpeg": "empty",
        "one_pixel.png": "1x1 pixels",
        "strip.png": "aspect ratio",
        "missing.jpeg": "does not exist",
    }


def test_read_refuses_broken_files(tmp_path):
    for name, reason in _broken_files(tmp_path).items():
        with pytest.raises(ImageReadError, match=reason) as info:
            read_radiograph(tmp_path / name)
        assert str(tmp_path / name) in str(info.value)
        assert isinstance(info.value, ValueError)
    assert read_radiograph(tmp_path / "good.jpeg").shape == (64, 64)


def test_check_images_lists_bad_files(tmp_path):
    root = make_kermany(tmp_path / "d")
    manifest = build_manifest(root, progress=False)
    check_images(manifest, progress=False)
    bad = manifest["path"].iloc[[0, 3, 5]]
    for path in bad:
        Path(path).write_bytes(b"")
    with pytest.raises(ImageReadError) as info:
        check_images(manifest, progress=False)
    message = str(info.value)
    assert message.startswith(f"3 of {len(manifest)} images")
    assert all(path in message for path in bad)


def test_check_images_shows_first_five(tmp_path):
    root = make_kermany(tmp_path / "d")
    manifest = build_manifest(root, progress=False)
    for path in manifest["path"].iloc[:8]:
        Path(path).write_text("nope")
    with pytest.raises(ImageReadError, match=r"(?s)8 of .*and 3 more"):
        check_images(manifest, progress=False)


def test_image_size_table(tmp_path):
    root = make_kermany(tmp_path / "d", normal_patients=2, pneumonia_patients=2)
    _write(root / "train" / "NORMAL" / "IM-0900-0001.png", 5, size=(40, 20))
    manifest = build_manifest(root, progress=False)
    table = image_size_table(manifest, progress=False)
    assert len(table) == len(manifest)
    row = table[table["filename"] == "IM-0900-0001.png"].iloc[0]
    assert (row["height"], row["width"], row["aspect"]) == (40, 20, 0.5)
    assert 0 <= table["mean_intensity"].min() and table["mean_intensity"].max() <= 255
    sampled = image_size_table(manifest, sample=3, seed=1, progress=False)
    assert len(sampled) == 3
    assert sampled["path"].tolist() == image_size_table(manifest, sample=3, seed=1, progress=False)["path"].tolist()
    with pytest.raises(ValueError, match="sample=0"):
        image_size_table(manifest, sample=0)


# --------------------------------------------------------------------------- split


@pytest.fixture
def split_manifest(tmp_path):
    root = make_kermany(tmp_path / "d", normal_patients=30, pneumonia_patients=45, val=True)
    return build_manifest(root, progress=False)


def test_split_is_patient_level_stratified_and_leaves_test(split_manifest):
    result = split_train_validation(split_manifest, val_fraction=0.2, seed=0)
    assert "subset" not in split_manifest.columns  # input untouched
    test_rows = result["split"] == "test"
    assert (result.loc[test_rows, "subset"] == "test").all()
    assert set(result.loc[~test_rows, "subset"]) == {"train", "val"}
    assert not (result.loc[result["split"] == "val", "subset"] == "test").any()  # official val joins the pool
    pool = result[~test_rows]
    train_patients = set(pool.loc[pool["subset"] == "train", "patient_id"])
    val_patients = set(pool.loc[pool["subset"] == "val", "patient_id"])
    assert val_patients and not train_patients & val_patients
    share = (pool["subset"] == "val").mean()
    assert 0.1 < share < 0.3
    for label in CLASSES:
        per_class = (pool.loc[pool["label"] == label, "subset"] == "val").mean()
        assert abs(per_class - share) < 0.08, (label, per_class, share)
    pd.testing.assert_frame_equal(result.drop(columns="subset"), split_manifest)


def test_split_reproducible_with_seed(split_manifest):
    first = split_train_validation(split_manifest, seed=3)["subset"]
    again = split_train_validation(split_manifest, seed=3)["subset"]
    other = split_train_validation(split_manifest, seed=4)["subset"]
    pd.testing.assert_series_equal(first, again)
    assert not first.equals(other)


@pytest.mark.parametrize("bad", [0, 0.0, -0.1, 0.51, 1, "0.2", None, True])
def test_split_refuses_bad_fraction(split_manifest, bad):
    with pytest.raises(ValueError, match="val_fraction"):
        split_train_validation(split_manifest, val_fraction=bad)


def test_split_refuses_too_few_patients(tmp_path):
    manifest = build_manifest(make_kermany(tmp_path / "d", normal_patients=3, pneumonia_patients=3), progress=False)
    with pytest.raises(ValueError, match="patients of each class"):
        split_train_validation(manifest, val_fraction=0.15)


def test_split_refuses_non_manifest():
    with pytest.raises(TypeError, match="DataFrame"):
        split_train_validation([1, 2, 3])
    with pytest.raises(ValueError, match="patient_id"):
        split_train_validation(pd.DataFrame({"path": [], "split": [], "label": []}))


# --------------------------------------------------------------------------- leakage and provenance


def test_leakage_report_finds_planted_duplicates_and_patients(tmp_path):
    root = make_kermany(tmp_path / "d", normal_patients=4, pneumonia_patients=4)
    train_file = root / "train" / "PNEUMONIA" / sorted(p.name for p in (root / "train" / "PNEUMONIA").iterdir())[0]
    shutil.copy(train_file, root / "test" / "PNEUMONIA" / "person777_bacteria_1.jpeg")  # crosses train/test
    normal = sorted((root / "train" / "NORMAL").iterdir())[0]
    shutil.copy(normal, root / "train" / "NORMAL" / "IM-0888-0001.jpeg")  # stays within train
    _write(root / "test" / "PNEUMONIA" / "person2_virus_4000.jpeg", 4000)  # person2 also in train
    manifest = build_manifest(root, progress=False)
    report = leakage_report(manifest, progress=False)
    groups = report["duplicate_groups"]
    assert len(groups) == 2
    crossing = groups[groups["crosses_subsets"]]
    assert len(crossing) == 1
    assert crossing.iloc[0]["subsets"] == "train,test"
    assert set(crossing.iloc[0]["paths"]) == {str(train_file.resolve()),
                                             str((root / "test" / "PNEUMONIA" / "person777_bacteria_1.jpeg").resolve())}
    assert not groups["label_conflict"].any()
    cross = report["cross_split_patients"]
    assert "person2" in cross.index and "person777" not in cross.index
    assert cross.loc["person2", "test"] == 1 and cross.loc["person2", "train"] >= 1
    summary = report["summary"]
    assert summary["by"] == "split"
    assert summary["n_duplicate_groups"] == 2 and summary["n_duplicate_files"] == 4
    assert summary["n_groups_crossing_subsets"] == 1
    assert summary["n_cross_split_patients"] == len(cross)
    hashed = build_manifest(root, with_hashes=True, progress=False)
    assert leakage_report(hashed, progress=False)["summary"] == summary


def test_leakage_report_uses_subset_and_sees_label_conflict(tmp_path):
    root = make_kermany(tmp_path / "d", normal_patients=30, pneumonia_patients=30)
    shutil.copy(sorted((root / "train" / "NORMAL").iterdir())[0], root / "train" / "PNEUMONIA" / "person900_virus_1.jpeg")
    manifest = split_train_validation(build_manifest(root, progress=False), seed=0)
    report = leakage_report(manifest, progress=False)
    assert report["summary"]["by"] == "subset"
    assert report["summary"]["n_groups_label_conflict"] == 1
    cross = report["cross_split_patients"]
    assert list(cross.columns) == ["train", "val", "test"]
    assert not ((cross["train"] > 0) & (cross["val"] > 0)).any()


def test_manifest_hash(tmp_path):
    root = make_kermany(tmp_path / "d", normal_patients=2, pneumonia_patients=2)
    plain = build_manifest(root, progress=False)
    hashed = build_manifest(root, with_hashes=True, progress=False)
    digest = manifest_hash(hashed)
    assert len(digest) == 64
    assert manifest_hash(hashed.iloc[::-1]) == digest
    assert manifest_hash(plain) != digest
    assert manifest_hash(plain.drop(columns="bytes")) == manifest_hash(plain)
    shutil.copytree(root, tmp_path / "copy")
    assert manifest_hash(build_manifest(tmp_path / "copy", with_hashes=True, progress=False)) == digest
    renamed = hashed.copy()
    renamed.loc[0, "filename"] = "IM-0001-0009.jpeg"
    assert manifest_hash(renamed) != digest
    changed = Path(hashed["path"].iloc[0])
    _write(changed, 12345)
    assert manifest_hash(build_manifest(root, with_hashes=True, progress=False)) != digest


def test_describe_source(tmp_path):
    root = make_kermany(tmp_path / "d", normal_patients=2, pneumonia_patients=2)
    manifest = build_manifest(root, progress=False)
    n = len(manifest)
    assert describe_source(manifest, synthetic=True) == f"synthetic demo data ({n} images, generated)"
    assert describe_source(manifest, synthetic=False) == f"Kermany 2018 chest X-rays, 32x32 third-party copies ({n} images)"
    _write(root / "train" / "NORMAL" / "IM-0700-0001.jpeg", 1, size=(300, 400))
    _write(root / "train" / "NORMAL" / "IM-0701-0001.jpeg", 2, size=(20, 25))
    manifest = build_manifest(root, progress=False)
    text = describe_source(manifest, synthetic=False)
    assert text == f"Kermany 2018 chest X-rays, full-resolution release ({n + 2} images, sizes from 25x20 to 400x300)"
    assert "sample of 5" in describe_source(manifest, synthetic=False, sample=5)


# --------------------------------------------------------------------------- real data


def test_real_data_counts_split_and_duplicates():
    root = _kermany224()
    manifest = build_manifest(root, with_hashes=True, progress=False)
    counts = class_counts(manifest)
    assert counts.loc["train", "NORMAL"] == 1341 and counts.loc["train", "PNEUMONIA"] == 3875
    assert counts.loc["test", "NORMAL"] == 234 and counts.loc["test", "PNEUMONIA"] == 390
    reference = pd.read_csv(root / "MANIFEST.tsv", sep="\t")
    merged = manifest.merge(reference, left_on=["split", "label", "filename"],
                            right_on=["split", "class", "filename"], suffixes=("", "_ref"))
    assert len(merged) == len(manifest) == len(reference)
    assert (merged["sha256"] == merged["sha256_ref"]).all()
    assert (merged["bytes"] == merged["bytes_ref"]).all()
    result = split_train_validation(manifest, val_fraction=0.15, seed=0)
    train = set(result.loc[result["subset"] == "train", "patient_id"])
    val = set(result.loc[result["subset"] == "val", "patient_id"])
    assert not train & val
    assert 0.12 < (result["subset"] == "val").sum() / (result["split"] == "train").sum() < 0.17
    report = leakage_report(result, progress=False)
    assert report["summary"]["n_duplicate_groups"] == 30
    assert not ((report["cross_split_patients"]["train"] > 0) & (report["cross_split_patients"]["val"] > 0)).any()
    assert "224x224 third-party copies (5840 images" in describe_source(manifest, synthetic=False)


def test_real_data_reads_as_gray():
    root = _kermany224()
    image = read_radiograph(root / "train" / "NORMAL" / "IM-0115-0001.jpeg")
    assert image.shape == (224, 224) and image.dtype == np.uint8


def test_evaluation_set_manifest_forms(tmp_path):
    (tmp_path / "imgs").mkdir()
    for name in ("a_0.png", "b_0.png", "c_1.png"):
        cv2.imwrite(str(tmp_path / "imgs" / name), np.zeros((8, 8), np.uint8))
    rows = evaluation_set_manifest("adults", {"images": tmp_path / "imgs", "glob": "*_0.*", "label": "NORMAL"})
    assert list(rows["filename"]) == ["a_0.png", "b_0.png"] and set(rows["subset"]) == {"adults"}
    csv = tmp_path / "set.csv"
    pd.DataFrame({"path": ["imgs/c_1.png"], "label": ["PNEUMONIA"]}).to_csv(csv, index=False)
    assert list(evaluation_set_manifest("c", {"csv": csv})["label"]) == ["PNEUMONIA"]
    with pytest.raises(ValueError, match="exactly one"):
        evaluation_set_manifest("x", {"csv": csv, "images": tmp_path})
    with pytest.raises(ValueError, match="label"):
        evaluation_set_manifest("x", {"images": tmp_path / "imgs"})

