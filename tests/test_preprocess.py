"""Preprocessing and thorax ROI: each step on tiny synthetic arrays, refusals, fallback, real-image checks."""

import dataclasses
import itertools
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage.segmentation import (inverse_gaussian_gradient, morphological_chan_vese,
                                  morphological_geodesic_active_contour)

from cxrlib import preprocess
from cxrlib.data import read_radiograph, synthetic_radiograph
from cxrlib.preprocess import (PreprocessConfig, agreement_sample, apply_clahe, evaluate_roi, extract_roi,
                               preprocess_image, resize_image)
from cxrlib.run.roi_eval import roi_eval_main

SHARED = Path(__file__).resolve().parents[2] / "shared"


def shared(*parts):
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is not on this machine")
    return path


def phantom(size=128, seed=0):
    """Body (bright) on dark air, two dark elliptic 'lungs', a bright 'R' marker in the top-left air.

    Returns the image and the lung mask.
    """
    rng = np.random.default_rng(seed)
    image = np.full((size, size), 25, np.float32)
    s = size / 128
    cv2.rectangle(image, (int(18 * s), int(10 * s)), (int(110 * s), int(127 * s)), 170, -1)
    lungs = np.zeros((size, size), np.uint8)
    cv2.ellipse(lungs, (int(43 * s), int(58 * s)), (int(16 * s), int(32 * s)), 0, 0, 360, 1, -1)
    cv2.ellipse(lungs, (int(85 * s), int(58 * s)), (int(16 * s), int(32 * s)), 0, 0, 360, 1, -1)
    image[lungs > 0] = 70
    cv2.rectangle(image, (int(3 * s), int(3 * s)), (int(12 * s), int(14 * s)), 255, -1)
    image += rng.normal(0, 6, image.shape).astype(np.float32)
    return np.clip(image, 0, 255).astype(np.uint8), lungs.astype(bool)


def iou(a, b):
    return (a & b).sum() / max(1, (a | b).sum())


# --------------------------------------------------------------------------- resize, CLAHE


def test_resize_image_square_uint8():
    out = resize_image(np.zeros((50, 80), np.uint8), 40)
    assert out.shape == (40, 40) and out.dtype == np.uint8
    assert resize_image(np.full((20, 30), 7, np.uint8), 64).max() == 7


@pytest.mark.parametrize("image, size, error", [
    (np.zeros((20, 20), np.float32), 32, ValueError),
    (np.zeros((20, 20, 3), np.uint8), 32, ValueError),
    ([[0, 1], [2, 3]], 32, TypeError),
    (np.zeros((20, 20), np.uint8), 8, ValueError),
    (np.zeros((20, 20), np.uint8), True, ValueError),
])
def test_resize_image_refuses(image, size, error):
    with pytest.raises(error):
        resize_image(image, size)


def test_apply_clahe_raises_local_contrast():
    rng = np.random.default_rng(0)
    flat = (120 + rng.integers(-5, 6, (64, 64))).astype(np.uint8)
    out = apply_clahe(flat, clip_limit=2.0, tile_grid=4)
    assert out.shape == flat.shape and out.dtype == np.uint8
    assert out.std() > 1.5 * flat.std()


@pytest.mark.parametrize("kwargs", [{"clip_limit": 0}, {"clip_limit": -1.0}, {"tile_grid": 0}, {"tile_grid": 2.5}])
def test_apply_clahe_refuses(kwargs):
    with pytest.raises(ValueError):
        apply_clahe(np.zeros((16, 16), np.uint8), **kwargs)


# --------------------------------------------------------------------------- ROI steps


def test_mean_threshold_is_eq_1_and_2():
    image = np.array([[0, 10], [20, 30]], np.uint8)
    binary, th = preprocess.mean_threshold(image)
    assert th == 15.0
    assert binary.tolist() == [[False, False], [True, True]]


@pytest.mark.parametrize("image, error", [(np.zeros((4, 4), bool), TypeError), (np.zeros((4, 4, 3)), ValueError),
                                          (np.zeros(5), ValueError), ("image", TypeError)])
def test_mean_threshold_refuses(image, error):
    with pytest.raises(error):
        preprocess.mean_threshold(image)


def test_chan_vese_contour_recovers_dark_lungs_from_noisy_init():
    image, lungs = phantom()
    rng = np.random.default_rng(1)
    init = lungs ^ (rng.random(lungs.shape) < 0.15)
    out = preprocess.chan_vese_contour(image, init, iterations=10)
    inside_body = np.zeros_like(lungs)
    inside_body[12:126, 20:108] = True
    assert iou(out & inside_body, lungs) > 0.9


def test_chan_vese_contour_matches_scikit_image():
    image, lungs = phantom()
    binary, _ = preprocess.mean_threshold(cv2.GaussianBlur(image, (0, 0), 1))
    ours = preprocess.chan_vese_contour(image, ~binary, iterations=8, smoothing=1)
    theirs = morphological_chan_vese(image.astype(float), 8, init_level_set=~binary, smoothing=1).astype(bool)
    assert iou(ours, theirs) > 0.995


def test_geodesic_contour_grows_to_the_edge_and_matches_scikit_image():
    image = np.full((80, 80), 200, np.uint8)
    cv2.circle(image, (40, 40), 25, 60, -1)
    truth = image == 60
    seed = np.zeros((80, 80), bool)
    seed[35:45, 35:45] = True
    gimage = inverse_gaussian_gradient(image / 255.0, sigma=1.5)
    ours = preprocess.geodesic_contour(gimage, seed, iterations=40, balloon=1, threshold=0.5)
    assert iou(ours, truth) > 0.85
    theirs = morphological_geodesic_active_contour(gimage, 40, init_level_set=seed, smoothing=1, balloon=1,
                                                  threshold=0.5)
    assert iou(ours, theirs.astype(bool)) > 0.995


@pytest.mark.parametrize("kwargs, error", [
    ({"init_mask": np.zeros((5, 5), bool)}, ValueError),
    ({"iterations": -1}, ValueError),
    ({"smoothing": 1.5}, ValueError),
    ({"lambda1": 0}, ValueError),
])
def test_chan_vese_contour_refuses(kwargs, error):
    args = {"image": np.zeros((8, 8)), "init_mask": np.zeros((8, 8), bool), "iterations": 2, **kwargs}
    with pytest.raises(error):
        preprocess.chan_vese_contour(args.pop("image"), args.pop("init_mask"), **args)


@pytest.mark.parametrize("kwargs", [{"balloon": 2}, {"threshold": "median"}, {"iterations": -3}])
def test_geodesic_contour_refuses(kwargs):
    with pytest.raises(ValueError):
        preprocess.geodesic_contour(np.ones((8, 8)), np.zeros((8, 8), bool), **{"iterations": 1, **kwargs})


def test_mean_filter_mask_drops_small_blobs_keeps_large_regions():
    mask = np.zeros((60, 60), bool)
    mask[10:40, 10:40] = True
    mask[50:53, 50:53] = True
    out = preprocess.mean_filter_mask(mask, 9)
    assert out[25, 25] and not out[51, 51]
    assert iou(out, mask) > 0.85


@pytest.mark.parametrize("size, level", [(4, 0.5), (0, 0.5), (5, 0.0), (5, 1.5)])
def test_mean_filter_mask_refuses(size, level):
    with pytest.raises(ValueError):
        preprocess.mean_filter_mask(np.zeros((10, 10), bool), size, level=level)


def test_select_lung_fields_cuts_necks_and_drops_outside_air():
    mask = np.zeros((100, 100), bool)
    mask[20:80, 15:40] = True          # lung
    mask[20:80, 60:85] = True          # lung
    mask[:, 0:8] = True                # air beside the body, touches the border
    mask[40:44, 8:15] = True           # narrow neck joining the left lung to the air
    mask[88:91, 48:51] = True          # small blob
    fields = preprocess.select_lung_fields(mask, split_radius=5, min_fraction=0.1)
    assert fields[50, 25] and fields[50, 70]
    assert not fields[:, 0:8].any() and not fields[88:91, 48:51].any()


def test_select_lung_fields_empty_when_all_touch_the_border():
    mask = np.zeros((50, 50), bool)
    mask[:, :20] = True
    assert not preprocess.select_lung_fields(mask, split_radius=3).any()
    with pytest.raises(ValueError):
        preprocess.select_lung_fields(mask, split_radius=0)


def test_body_midline_finds_the_bright_spine():
    image = np.full((60, 100), 50, np.uint8)
    image[:, 54:60] = 220
    assert abs(preprocess.body_midline(image, np.zeros_like(image, bool)) - 0.57) < 0.03


def test_roi_box_fractions_margin_and_mirroring():
    fields = np.zeros((100, 200), bool)
    fields[20:60, 40:80] = True                  # left lung only
    assert preprocess.roi_box(fields, margin=0) == (0.2, 0.2, 0.6, 0.4)
    y0, x0, y1, x1 = preprocess.roi_box(fields, margin=0.1)
    assert (y0, y1) == pytest.approx((0.16, 0.64)) and (x0, x1) == pytest.approx((0.18, 0.42))
    mirrored = preprocess.roi_box(fields, margin=0, midline=0.5)
    assert mirrored == pytest.approx((0.2, 0.2, 0.6, 0.8))
    fields[20:60, 120:160] = True                # both lungs: no mirroring about an off-centre midline
    assert preprocess.roi_box(fields, margin=0, midline=0.45) == pytest.approx((0.2, 0.2, 0.6, 0.8))


def test_trim_thin_parts_cuts_back_a_strip_and_keeps_a_lung_at_the_edge():
    fields = np.zeros((100, 100), bool)
    fields[20:70, 30:60] = True                  # a lung, 30 px wide
    fields[60:100, 0:4] = True                   # a strip along the left edge, 4 px wide ...
    fields[60:64, 0:30] = True                   # ... joined to the lung's base
    trimmed = preprocess.trim_thin_parts(fields, radius=3)
    assert trimmed[20:70, 30:60].all()           # the lung keeps every pixel, corners included
    assert not trimmed[:, :20].any()             # the strip ends within 2 * radius of the lung's core
    y0, x0, y1, x1 = preprocess.roi_box(trimmed, margin=0)
    assert (y0, y1, x1) == (0.2, 0.7, 0.6) and 0.3 - 0.06 <= x0 < 0.3    # at most 2 * radius past the lung
    base = np.zeros((100, 100), bool)
    base[50:100, 10:90] = True                   # a lung base cut by the lower edge is not thin
    assert (preprocess.trim_thin_parts(base, radius=3) == base).all()
    strip = np.zeros((100, 100), bool)
    strip[:, 0:4] = True                         # nothing wide at all: the fields are kept as they are
    assert (preprocess.trim_thin_parts(strip, radius=3) == strip).all()
    with pytest.raises(ValueError, match="radius"):
        preprocess.trim_thin_parts(fields, radius=0)


@pytest.mark.parametrize("kwargs", [{"margin": -0.1}, {"margin": 0.1, "midline": 1.5}, {"margin": 0.1, "balance": 2}])
def test_roi_box_refuses(kwargs):
    fields = np.zeros((10, 10), bool)
    fields[2:5, 2:5] = True
    with pytest.raises(ValueError):
        preprocess.roi_box(fields, **kwargs)
    with pytest.raises(ValueError):
        preprocess.roi_box(np.zeros((10, 10), bool), margin=0.1)


def test_crop_box_takes_the_box_and_resizes():
    image = np.zeros((100, 100), np.uint8)
    image[20:60, 30:90] = 200
    crop = preprocess.crop_box(image, (0.2, 0.3, 0.6, 0.9), output_size=32)
    assert crop.shape == (32, 32) and crop.dtype == np.uint8 and crop.min() == 200


@pytest.mark.parametrize("box", [(0.5, 0.2, 0.4, 0.9), (0, 0, 1, 1.2), (0, 0, 1), "box"])
def test_crop_box_refuses_bad_boxes(box):
    with pytest.raises(ValueError):
        preprocess.crop_box(np.zeros((10, 10), np.uint8), box, output_size=8)


# --------------------------------------------------------------------------- whole ROI / chain


def test_extract_roi_keeps_both_phantom_lungs_and_drops_the_marker():
    image, lungs = phantom(200)
    config = PreprocessConfig(preprocess_size=200, contour_size=100, output_size=64)
    result = preprocess_image(image, config)
    assert not result.roi.fallback and result.roi.reason == ""
    r0, c0, r1, c1 = preprocess.box_pixels(result.roi.box, lungs.shape)
    assert lungs[r0:r1, c0:c1].sum() / lungs.sum() > 0.99
    assert r0 > 0.1 * 200 and c0 > 0.1 * 200          # the marker (top-left corner) is outside
    assert result.processed.shape == (64, 64) and result.processed.dtype == np.uint8
    assert result.roi.lung_mask.shape == (200, 200)
    assert set(result.roi.stages) == {"smoothed", "binary", "contour", "filtered", "fields", "lungs"}


def test_extract_roi_on_synthetic_radiographs_keeps_lungs_drops_markers():
    rng = np.random.default_rng(3)
    config = PreprocessConfig(preprocess_size=256, output_size=96)
    for label in ("NORMAL", "PNEUMONIA", "NORMAL", "PNEUMONIA"):
        sample = synthetic_radiograph(label=label, rng=rng, size=256, shortcut=True)
        result = preprocess_image(sample.image, config)
        r0, c0, r1, c1 = preprocess.box_pixels(result.roi.box, sample.image.shape)
        assert sample.lung_mask[r0:r1, c0:c1].sum() / sample.lung_mask.sum() > 0.98
        shortcut = sample.marker_boxes[-1]                  # the planted tag, top-right corner
        assert shortcut[2] <= r0 or shortcut[1] >= c1


def test_degenerate_image_falls_back_to_the_whole_image_and_says_so():
    no_lungs = np.full((120, 120), 20, np.uint8)        # a body without dark lung fields, air at the sides
    no_lungs[:, 25:95] = 180
    config = PreprocessConfig(preprocess_size=120, output_size=48)
    with pytest.warns(UserWarning, match="fell back"):
        result = preprocess_image(no_lungs, config)
    assert result.roi.fallback and result.roi.box == (0.0, 0.0, 1.0, 1.0) and result.roi.reason
    flat = extract_roi(np.full((120, 120), 90, np.uint8), config)
    assert flat.fallback


def test_preprocess_image_refuses_non_uint8_and_bad_config():
    with pytest.raises(ValueError, match="uint8"):
        preprocess_image(np.zeros((50, 50), np.uint16))
    with pytest.raises(TypeError):
        preprocess_image(np.zeros((50, 50), np.uint8), {"preprocess_size": 400})


def test_config_key_is_stable_and_changes_with_every_parameter():
    base = PreprocessConfig()
    assert base.key() == PreprocessConfig().key() and len(base.key()) == 16
    keys = {base.key()}
    for item in dataclasses.fields(PreprocessConfig):
        value = getattr(base, item.name)
        changed = value + 2 if isinstance(value, int) else value * 0.5
        keys.add(dataclasses.replace(base, **{item.name: changed}).key())
    assert len(keys) == 1 + len(dataclasses.fields(PreprocessConfig))


@pytest.mark.parametrize("kwargs", [{"roi_mean_filter": 20}, {"roi_margin": -0.1}, {"preprocess_size": 8},
                                    {"contour_size": True}, {"clahe_clip_limit": 0}, {"mirror_balance": 1.5},
                                    {"smoothing_sigma": float("nan")}])
def test_config_refuses(kwargs):
    with pytest.raises(ValueError, match="PreprocessConfig"):
        PreprocessConfig(**kwargs)


# --------------------------------------------------------------------------- evaluation on masks


def _mask_folder(tmp_path, count=3):
    images, masks = tmp_path / "images", tmp_path / "masks"
    images.mkdir()
    masks.mkdir()
    for i in range(count):
        image, lungs = phantom(160, seed=i)
        cv2.imwrite(str(images / f"case{i}.jpeg"), image)
        cv2.imwrite(str(masks / f"case{i}.png"), lungs.astype(np.uint8) * 255)
    cv2.imwrite(str(images / "unpaired.png"), phantom(160)[0])
    return images, masks


def test_evaluate_roi_summary_and_per_image(tmp_path):
    images, masks = _mask_folder(tmp_path)
    config = PreprocessConfig(preprocess_size=160, output_size=64)
    summary, per_image = evaluate_roi(images, masks, config, workers=1, progress=False)
    assert summary["n"] == 3 and summary["images_without_mask"] == 1
    assert summary["coverage_median"] > 0.99 and 0 < summary["area_median"] < 1
    assert summary["fallback_rate"] == 0 and summary["goals"]["fallback_rate"]["met"]
    assert list(per_image["stem"]) == ["case0", "case1", "case2"]
    json.dumps(summary)


def test_evaluate_roi_refuses_folders_without_pairs(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with pytest.raises(ValueError, match="same stem"):
        evaluate_roi(tmp_path / "a", tmp_path / "b", progress=False)
    with pytest.raises(ValueError, match="not a folder"):
        evaluate_roi(tmp_path / "missing", tmp_path / "b", progress=False)


def test_roi_eval_main_json_and_table(tmp_path, capsys):
    images, masks = _mask_folder(tmp_path, count=2)
    assert roi_eval_main(["--images", str(images), "--masks", str(masks), "--json", "--workers", "1"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert list(report["sets"]) == [tmp_path.name] and report["stress"] is None and "key" in report["config"]
    assert {"n", "coverage_median", "coverage_p05", "area_median", "fallback_rate",
            "both_lungs_rate"} <= set(report["sets"][tmp_path.name])
    per_image = tmp_path / "per_image.csv"
    assert roi_eval_main(["--images", str(images), "--masks", str(masks), "--workers", "1", "--no-progress",
                          "--per-image", str(per_image)]) == 0
    table = capsys.readouterr().out
    assert "coverage_median" in table and "inverted_rate" in table and per_image.exists()
    assert roi_eval_main(["--images", str(tmp_path / "nope"), "--masks", str(masks)]) == 2
    assert "error:" in capsys.readouterr().err


# --------------------------------------------------------------------------- real radiographs (../shared)


def _pick(folder, pattern, count):
    files = sorted(shared(*folder).glob(pattern))
    return files[:: max(1, len(files) // count)][:count]


def test_opencv_snakes_match_scikit_image_on_real_images():
    config = PreprocessConfig()
    for path in _pick(("data", "kermany-fullres-sample", "train"), "*/*.jpeg", 3):
        equalized = apply_clahe(resize_image(read_radiograph(path), config.preprocess_size))
        stages = extract_roi(equalized, config).stages
        image, init = stages["smoothed"], ~stages["binary"]
        theirs = morphological_chan_vese(image.astype(float), 10, init_level_set=init, smoothing=1).astype(bool)
        assert iou(preprocess.chan_vese_contour(image, init, iterations=10), theirs) > 0.995
        gimage = inverse_gaussian_gradient(image / 255.0, sigma=1.0)
        theirs = morphological_geodesic_active_contour(gimage, 10, init_level_set=init, smoothing=1, balloon=1)
        assert iou(preprocess.geodesic_contour(gimage, init, iterations=10), theirs.astype(bool)) > 0.995


def test_roi_covers_the_lungs_on_shenzhen_masks(tmp_path):
    source = shared("data", "lungmasks-shenzhen")
    images, masks = tmp_path / "images", tmp_path / "masks"
    images.mkdir()
    masks.mkdir()
    for path in _pick(("data", "lungmasks-shenzhen", "images"), "*.jpeg", 16):
        (images / path.name).symlink_to(path)
        (masks / f"{path.stem}.png").symlink_to(source / "masks" / f"{path.stem}.png")
    summary, per_image = evaluate_roi(images, masks, workers=1, progress=False)
    assert summary["n"] == 16 and summary["fallback_rate"] == 0
    assert summary["coverage_median"] >= 0.995 and per_image["coverage"].min() >= 0.95
    assert summary["area_median"] <= 0.65


def test_roi_box_extends_flat_boxes_downwards():
    fields = np.zeros((100, 100), bool)
    fields[10:30, 20:80] = True                     # only the apices: 0.2 tall, 0.6 wide
    y0, x0, y1, x1 = preprocess.roi_box(fields, margin=0, min_aspect=0.8)
    assert (y0, x0, x1) == pytest.approx((0.1, 0.2, 0.8)) and y1 == pytest.approx(0.1 + 0.48)
    assert preprocess.roi_box(fields, margin=0)[2] == pytest.approx(0.3)


# --------------------------------------------------------------------------- lungs at the image edge


def test_select_lung_fields_keeps_lungs_touching_the_bottom_edge():
    mask = np.zeros((100, 100), bool)
    mask[30:100, 15:40] = True          # lung bases cut by the lower edge
    mask[30:100, 60:85] = True
    mask[0:20, 0:30] = True             # air above the shoulder: touches the top edge
    fields = preprocess.select_lung_fields(mask, split_radius=5, midline=0.5)
    assert fields[60, 25] and fields[60, 70] and fields[99, 25] and fields[99, 70]
    assert not fields[5, 5]


def test_select_lung_fields_side_edge_lung_kept_outside_air_dropped():
    mask = np.zeros((100, 100), bool)
    mask[20:90, 0:40] = True            # lung cut by the left edge, reaches to 0.1 of the width from the midline
    mask[20:90, 60:80] = True           # the other lung
    mask[10:100, 94:100] = True         # air beside the chest wall on the right
    fields = preprocess.select_lung_fields(mask, split_radius=3, midline=0.5, reach=0.25)
    assert fields[50, 5] and fields[50, 70]
    assert not fields[50, 97]
    # Without a midline every piece on a side edge is air (the rule before issue 10).
    assert not preprocess.select_lung_fields(mask, split_radius=3)[50, 5]
    assert preprocess.outside_air(mask, split_radius=3, midline=0.5)[50, 97]


def test_outside_air_wider_cuts_free_a_lung_joined_to_the_air_by_a_wide_neck():
    mask = np.zeros((100, 100), bool)
    mask[0:30, 10:90] = True            # air above the shoulders (touches the top edge)
    mask[30:45, 45:55] = True           # a neck 10 px wide: only a cut wider than 2 * 5 px parts it
    mask[45:95, 20:80] = True           # the lung
    mask[40:100, 92:100] = True         # a thin strip of air beside the chest wall: no piece at wider cuts
    # Without a midline every piece touching the top edge is air, the lung with it at the finest cut.
    finest = preprocess.outside_air(mask, split_radius=3)
    assert finest[70, 50] and finest[10, 50] and finest[70, 96]
    air = preprocess.outside_air(mask, split_radius=3, wider_cuts=(2, 3))
    assert not air[70, 50] and air[10, 50] and air[70, 96]
    # With it, the air above the shoulders is told from the lung at the finest cut already (its wide part is shallow).
    air = preprocess.outside_air(mask, split_radius=3, midline=0.5)
    assert not air[70, 50] and air[10, 50] and air[70, 96]
    with pytest.raises(ValueError, match="wider_cuts"):
        preprocess.outside_air(mask, split_radius=3, wider_cuts=(0.5,))


def test_select_lung_fields_keeps_lungs_cut_at_the_apex_and_drops_air_above_the_shoulders():
    mask = np.zeros((100, 100), bool)
    mask[0:85, 12:42] = True            # a lung cut at its apex by a tight frame: wide from the top edge to 0.85
    mask[0:85, 58:88] = True            # the other lung
    fields = preprocess.select_lung_fields(mask, split_radius=3, midline=0.5)
    assert fields[2, 25] and fields[80, 25] and fields[2, 70] and fields[80, 70]
    shoulders = np.zeros((100, 100), bool)
    shoulders[0:25, 55:90] = True       # air above the shoulder: wide, but it ends at the shoulder
    shoulders[25:40, 60:70] = True      # a neck 10 px wide joins it to the lung (not cut at 3 px, not wide at 6)
    shoulders[40:90, 55:85] = True      # the lung
    shoulders[20:90, 15:45] = True      # the other lung
    fields = preprocess.select_lung_fields(shoulders, split_radius=3, midline=0.5)
    assert fields[60, 70] and fields[60, 30] and not fields[5, 70]
    # A wide piece touching the top edge far out to the side is air however deep it runs.
    side = np.zeros((100, 100), bool)
    side[0:90, 2:20] = side[20:90, 35:48] = side[20:90, 52:65] = True
    assert not preprocess.select_lung_fields(side, split_radius=3, midline=0.5, reach=0.2)[50, 10]


def test_mediastinum_gap_and_lungs_apart_tell_two_lungs_from_the_body_around_white_lungs():
    two = np.zeros((100, 100), bool)
    two[20:80, 15:40] = two[20:80, 60:85] = True
    assert preprocess.lungs_apart(two) and preprocess.mediastinum_gap(two) == 0
    ring = np.zeros((100, 100), bool)   # the dark fields of a film of inverted polarity: the body around the lungs
    ring[10:95, 5:95] = True
    ring[20:80, 15:40] = ring[20:80, 60:85] = False
    # rows 38-94 (the lower two thirds of 10-94); a middle column crosses the hole of a lung in rows 38-79
    assert not preprocess.lungs_apart(ring) and preprocess.mediastinum_gap(ring) == pytest.approx(15 / 57)
    one = two.copy()
    one[:, 50:] = False                 # one lung only: no column of the middle half is free of it
    assert not preprocess.lungs_apart(one)
    trachea = two.copy()
    trachea[20:35, 40:60] = True        # the trachea joins the apices: the upper third of the rows is not read
    assert preprocess.mediastinum_gap(trachea) == 0 and preprocess.lungs_apart(trachea)
    joined = two.copy()
    joined[50:60, 40:60] = True         # joined lower down, over 10 of the 40 rows read
    assert preprocess.mediastinum_gap(joined) == pytest.approx(0.25)
    assert not preprocess.lungs_apart(joined) and preprocess.lungs_apart(joined, gap=0.3)
    assert not preprocess.lungs_apart(np.zeros((10, 10), bool)) and preprocess.mediastinum_gap(np.zeros((9, 9))) == 1
    with pytest.raises(ValueError, match="gap"):
        preprocess.lungs_apart(two, gap=2)


def test_flat_edge_regions_finds_a_rotated_film_s_corners_only():
    rng = np.random.default_rng(0)
    image = rng.integers(60, 200, (100, 100)).astype(np.uint8)        # texture: nowhere flat
    turned = cv2.warpAffine(image, cv2.getRotationMatrix2D((50, 50), 10, 1.0), (100, 100), borderValue=0)
    flat = preprocess.flat_edge_regions(turned)
    assert flat[0, 0] and flat[99, 99] and flat[0, 99] and not flat[50, 50]
    assert 0.02 < flat.mean() < 0.2
    assert not preprocess.flat_edge_regions(image).any()
    inside = image.copy()
    inside[40:60, 40:60] = 0                                            # flat, but not at an edge
    assert not preprocess.flat_edge_regions(inside).any()


def test_extract_roi_reads_a_film_of_inverted_polarity_on_its_negative():
    rng = np.random.default_rng(3)
    config = PreprocessConfig(preprocess_size=256, output_size=96)
    for label in ("NORMAL", "PNEUMONIA"):
        sample = synthetic_radiograph(label=label, rng=rng, size=256, shortcut=True)
        positive = preprocess_image(sample.image, config).roi
        negative = preprocess_image(255 - sample.image, config).roi
        assert not positive.inverted and negative.inverted and not negative.fallback
        assert negative.box == pytest.approx(positive.box, abs=0.02)


@pytest.mark.parametrize("kwargs", [{"reach": 1.5}, {"midline": -0.1}, {"split_radius": 0}])
def test_select_lung_fields_and_outside_air_refuse(kwargs):
    args = {"split_radius": 3, **kwargs}
    with pytest.raises(ValueError):
        preprocess.select_lung_fields(np.zeros((10, 10), bool), **args)
    with pytest.raises(ValueError):
        preprocess.outside_air(np.zeros((10, 10), bool), **args)


@pytest.mark.parametrize("rows, cols", [(slice(0, 80), slice(0, 128)), (slice(0, 80), slice(33, 128)),
                                        (slice(0, 84), slice(0, 97))])
def test_extract_roi_keeps_both_lungs_touching_the_bottom_and_a_side(rows, cols):
    image, lungs = phantom(128, seed=2)
    image, lungs = np.ascontiguousarray(image[rows, cols]), lungs[rows, cols]
    assert lungs[-1].any() and (lungs[:, 0].any() or lungs[:, -1].any() or cols == slice(0, 128))
    config = PreprocessConfig(preprocess_size=128, contour_size=64, output_size=32)
    result = extract_roi(cv2.resize(image, (128, 128)), config)
    assert not result.fallback
    r0, c0, r1, c1 = preprocess.box_pixels(result.box, lungs.shape)
    count, labels = cv2.connectedComponents(lungs.astype(np.uint8))
    assert count == 3
    for label in (1, 2):
        lung = labels == label
        assert lung[r0:r1, c0:c1].sum() / lung.sum() >= 0.95


def test_evaluate_roi_reports_each_lung_and_the_area_ratio(tmp_path):
    images, masks = _mask_folder(tmp_path)
    config = PreprocessConfig(preprocess_size=160, output_size=64)
    summary, per_image = evaluate_roi(images, masks, config, workers=1, progress=False,
                                      goals={"both_lungs_rate": (">=", 0.99)})
    assert summary["both_lungs_rate"] == 1.0 and set(summary["goals"]) == {"both_lungs_rate"}
    assert (per_image[["coverage_left", "coverage_right"]] >= 0.9).all().all()
    # box with a 4 % margin around the lungs' tight box: the ratio is a little above 1
    assert 1.0 < summary["area_ratio_median"] < 1.4
    with pytest.raises(ValueError, match="goals"):
        evaluate_roi(images, masks, config, workers=1, progress=False, goals={"speed": (">=", 1)})


def test_two_lungs_splits_by_column_and_handles_joined_masks():
    from cxrlib.preprocess.roi_evaluation import _two_lungs

    mask = np.zeros((20, 30), bool)
    mask[2:18, 20:28] = True
    mask[2:18, 2:10] = True
    mask[0, 15] = True                       # a stray pixel is neither lung
    left, right = _two_lungs(mask)
    assert left[5, 5] and not left[5, 25] and right[5, 25] and not right[0, 15]
    joined = np.zeros((20, 30), bool)
    joined[2:18, 2:28] = True
    left, right = _two_lungs(joined)
    assert left.sum() == right.sum() == joined.sum()


def test_worst_case_plots_return_figures(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import pandas as pd

    from cxrlib.preprocess import plot_lungmask_worst_cases, plot_roi_extremes

    images, masks = _mask_folder(tmp_path)
    config = PreprocessConfig(preprocess_size=160, output_size=64)
    _, per_image = evaluate_roi(images, masks, config, workers=1, progress=False)
    fig = plot_lungmask_worst_cases(per_image, config, groups=pd.Series(["a", "b", "a"]), count=2)
    assert len([ax for ax in fig.axes if ax.images]) == 3
    processed = per_image.rename(columns={"image_path": "path"}).assign(label=["A", "B", "A"],
                                                                       fallback=[False, False, True])
    fig = plot_roi_extremes(processed, config, count=1)
    assert len([ax for ax in fig.axes if ax.images]) == 5 and "1 fallbacks" in fig._suptitle.get_text()
    with pytest.raises(ValueError, match="count"):
        plot_roi_extremes(processed, config, count=0)


def test_clahe_example_titles_are_wrapped_to_their_panels(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from cxrlib.preprocess import plot_clahe_examples

    paths = []
    for i in range(2):
        paths.append(tmp_path / f"{i}.png")
        cv2.imwrite(str(paths[-1]), phantom(seed=i)[0])
    fig = plot_clahe_examples(paths, ["PNEUMONIA (SYNTHETIC data)", "NORMAL person1234_bacteria_5678.jpeg"],
                              PreprocessConfig(preprocess_size=128, output_size=64))
    renderer = fig.canvas.get_renderer()
    boxes = [ax.title.get_window_extent(renderer) for ax in fig.axes]
    assert all(left.x1 < right.x0 for left, right in itertools.pairwise(boxes))
    assert "\n" in fig.axes[0].get_title() and fig.axes[1].get_title().endswith("CLAHE")


def test_agreement_sample_is_seeded_half_and_half_and_refuses_too_few(tmp_path):
    masked, kermany = tmp_path / "images", tmp_path / "kermany" / "train" / "NORMAL"
    masked.mkdir()
    kermany.mkdir(parents=True)
    for i in range(6):
        (masked / f"m{i}.jpeg").touch()
        (kermany / f"k{i}.jpeg").touch()
    paths = agreement_sample(masked, tmp_path / "kermany", 5)
    assert [p.parent for p in paths] == [masked] * 2 + [kermany] * 3 and len(set(paths)) == 5
    assert paths == agreement_sample(masked, tmp_path / "kermany", 5)
    with pytest.raises(ValueError, match="holds 6 matching"):
        agreement_sample(masked, tmp_path / "kermany", 14)
    with pytest.raises(ValueError, match="count"):
        agreement_sample(masked, tmp_path / "kermany", 1)
