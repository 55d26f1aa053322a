"""Batch preprocessing cache: contract columns, cache hits and misses, parameter sensitivity, atomic writes."""

import dataclasses
import os
import shutil

import cv2
import numpy as np
import pandas as pd
import pytest

from cxrlib.preprocess import cache
from cxrlib.preprocess import Arm, PreprocessConfig, ROI_COLUMNS, cache_folder, preprocess_manifest
from cxrlib.atomic import write_bytes
from cxrlib.data import ImageReadError

CONFIG = PreprocessConfig(preprocess_size=128, contour_size=64, output_size=48, roi_mean_filter=7)
ARMS = [Arm("paper", clahe=True, roi=True)]


def phantom(size=128, seed=0):
    """Body on dark air with two dark elliptic lungs and a bright corner marker."""
    rng = np.random.default_rng(seed)
    image = np.full((size, size), 25, np.float32)
    s = size / 128
    cv2.rectangle(image, (int(18 * s), int(10 * s)), (int(110 * s), int(127 * s)), 170, -1)
    for cx in (43, 85):
        cv2.ellipse(image, (int(cx * s), int(58 * s)), (int(16 * s), int(32 * s)), 0, 0, 360, 70, -1)
    cv2.rectangle(image, (int(3 * s), int(3 * s)), (int(12 * s), int(14 * s)), 255, -1)
    image += rng.normal(0, 6, image.shape).astype(np.float32)
    return np.clip(image, 0, 255).astype(np.uint8)


@pytest.fixture
def manifest(tmp_path):
    """Four files: 8-bit JPEG, 16-bit PNG, RGBA PNG, and a byte-identical copy of the first."""
    folder = tmp_path / "images"
    folder.mkdir()
    paths = [folder / "a.jpeg", folder / "b16.png", folder / "c_rgba.png", folder / "a_copy.jpeg"]
    cv2.imwrite(str(paths[0]), phantom(140, seed=0))
    cv2.imwrite(str(paths[1]), phantom(150, seed=1).astype(np.uint16) * 200)
    cv2.imwrite(str(paths[2]), cv2.cvtColor(phantom(130, seed=2), cv2.COLOR_GRAY2BGRA))
    shutil.copy(paths[0], paths[3])
    return pd.DataFrame({"path": [str(p) for p in paths], "label": ["NORMAL", "PNEUMONIA", "NORMAL", "NORMAL"]})


def _tree(folder):
    return {p: p.stat().st_mtime_ns for p in sorted(folder.rglob("*")) if p.is_file()}


def test_preprocess_manifest_returns_the_contract_columns(manifest, tmp_path):
    out = preprocess_manifest(manifest, tmp_path / "cache", CONFIG, arms=ARMS, workers=1, progress=False)
    assert list(out.columns[: len(manifest.columns)]) == list(manifest.columns)
    assert set(ROI_COLUMNS + ["sha256", "image_paper"]) <= set(out.columns) and len(out) == 4
    assert out["fallback"].dtype == bool and not out["fallback"].any()
    for row in out.itertuples():
        assert 0 <= row.roi_y0 < row.roi_y1 <= 1 and 0 <= row.roi_x0 < row.roi_x1 <= 1
        crop = cv2.imread(row.image_paper, cv2.IMREAD_UNCHANGED)
        mask = cv2.imread(row.mask_path, cv2.IMREAD_UNCHANGED)
        assert crop.shape == (48, 48) and crop.dtype == np.uint8
        assert mask.shape == (128, 128) and set(np.unique(mask)) <= {0, 255}
        assert 0 < row.mask_area < 1
    assert out.loc[0, "image_paper"] == out.loc[3, "image_paper"]       # same bytes, one cache entry
    folder = cache_folder(tmp_path / "cache", CONFIG)
    table = pd.read_csv(folder / "table.csv")
    assert len(table) == 3 and {"roi_y0", "mask_area", "fallback", "t_contour_s"} <= set(table.columns)
    assert (folder / "config.json").exists()


def test_rerun_with_the_same_parameters_does_nothing(manifest, tmp_path, monkeypatch):
    first = preprocess_manifest(manifest, tmp_path / "cache", CONFIG, arms=ARMS, workers=1, progress=False)
    before = _tree(tmp_path / "cache")

    def fail(task):
        raise AssertionError(f"recomputed {task[0]}")

    monkeypatch.setattr(cache, "_process_one", fail)
    second = preprocess_manifest(manifest, tmp_path / "cache", CONFIG, arms=ARMS, workers=1, progress=False)
    pd.testing.assert_frame_equal(first, second)
    assert _tree(tmp_path / "cache") == before


def test_content_not_path_is_the_key(manifest, tmp_path, monkeypatch):
    preprocess_manifest(manifest, tmp_path / "cache", CONFIG, arms=ARMS, workers=1, progress=False)
    moved = tmp_path / "moved.jpeg"
    shutil.copy(manifest.loc[0, "path"], moved)
    monkeypatch.setattr(cache, "_process_one", lambda task: pytest.fail("cache miss for identical bytes"))
    out = preprocess_manifest(pd.DataFrame({"path": [str(moved)]}), tmp_path / "cache", CONFIG, arms=ARMS, workers=1,
                              progress=False)
    assert out.loc[0, "image_paper"].endswith(".png")


def test_changing_any_parameter_recomputes(manifest, tmp_path):
    base = preprocess_manifest(manifest, tmp_path / "cache", CONFIG, arms=ARMS, workers=1, progress=False)
    wider = dataclasses.replace(CONFIG, roi_margin=0.2)
    other = preprocess_manifest(manifest, tmp_path / "cache", wider, arms=ARMS, workers=1, progress=False)
    assert cache_folder(tmp_path / "cache", CONFIG) != cache_folder(tmp_path / "cache", wider)
    assert all(os.path.exists(p) for p in other["image_paper"])
    assert (other["roi_y1"] - other["roi_y0"] > base["roi_y1"] - base["roi_y0"]).all()


def test_process_pool_gives_the_same_result(manifest, tmp_path):
    serial = preprocess_manifest(manifest, tmp_path / "serial", CONFIG, arms=ARMS, workers=1, progress=False)
    pooled = preprocess_manifest(manifest, tmp_path / "pooled", CONFIG, arms=ARMS, workers=2, progress=False)
    columns = ["roi_y0", "roi_x0", "roi_y1", "roi_x1", "mask_area", "fallback"]
    pd.testing.assert_frame_equal(serial[columns], pooled[columns])


def test_write_bytes_leaves_no_partial_file(tmp_path):
    target = tmp_path / "x.png"
    write_bytes(b"abc", target)
    assert target.read_bytes() == b"abc"
    with pytest.raises(TypeError):
        write_bytes(object(), tmp_path / "y.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.png"]


def test_interrupted_run_keeps_no_table_rows_for_missing_files(manifest, tmp_path):
    out = preprocess_manifest(manifest, tmp_path / "cache", CONFIG, arms=ARMS, workers=1, progress=False)
    os.remove(out.loc[1, "image_paper"])
    again = preprocess_manifest(manifest, tmp_path / "cache", CONFIG, arms=ARMS, workers=1, progress=False)
    assert os.path.exists(again.loc[1, "image_paper"])
    assert len(pd.read_csv(cache_folder(tmp_path / "cache", CONFIG) / "table.csv")) == 3


def test_refusals(manifest, tmp_path):
    with pytest.raises(TypeError):
        preprocess_manifest(manifest.to_dict(), tmp_path, CONFIG, arms=ARMS)
    with pytest.raises(ValueError, match="'path'"):
        preprocess_manifest(manifest.rename(columns={"path": "file"}), tmp_path, CONFIG, arms=ARMS)
    with pytest.raises(TypeError):
        preprocess_manifest(manifest, tmp_path, {"roi_margin": 0.1}, arms=ARMS)
    with pytest.raises(ValueError, match="workers"):
        preprocess_manifest(manifest, tmp_path, CONFIG, arms=ARMS, workers=0, progress=False)
    broken = tmp_path / "broken.jpeg"
    broken.write_bytes(b"not an image")
    with pytest.raises(ImageReadError):
        preprocess_manifest(pd.DataFrame({"path": [str(broken)]}), tmp_path / "c2", CONFIG, arms=ARMS, workers=1, progress=False)


def test_one_image_set_per_distinct_preprocessing(manifest, tmp_path):
    arms = [Arm("original"), Arm("clahe", clahe=True), Arm("roi", roi=True), Arm("paper", clahe=True, roi=True),
            Arm("paper_again", clahe=True, roi=True)]
    out = preprocess_manifest(manifest, tmp_path / "cache", CONFIG, arms=arms, workers=1, progress=False)
    folder = cache_folder(tmp_path / "cache", CONFIG)
    assert sorted(p.name for p in folder.glob("images-*")) == ["images-clahe", "images-clahe_roi", "images-raw",
                                                               "images-roi"]
    assert (out["image_paper"] == out["image_paper_again"]).all()
    row = out.iloc[0]
    images = {arm.name: cv2.imread(row[arm.column], cv2.IMREAD_UNCHANGED) for arm in arms}
    assert all(image.shape == (48, 48) for image in images.values())
    # the original arm is the resized radiograph, unchanged; CLAHE changes it; the crop differs from the whole image
    from cxrlib.data import read_radiograph
    from cxrlib.preprocess import resize_image
    expected = resize_image(resize_image(read_radiograph(row["path"]), 128), 48)
    assert np.array_equal(images["original"], expected)
    assert not np.array_equal(images["clahe"], images["original"])
    assert not np.array_equal(images["roi"], images["original"])
    assert not np.array_equal(images["paper"], images["roi"])


def test_arms_are_required(manifest, tmp_path):
    with pytest.raises(TypeError, match="Arm"):
        preprocess_manifest(manifest, tmp_path, CONFIG, arms=[{"clahe": True}], workers=1, progress=False)
