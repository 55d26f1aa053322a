"""Shortcut audit on constructed cases: where the label is, the tests must find it."""

import cv2
import keras
import numpy as np
import pandas as pd
import pytest

from cxrlib import audit
from cxrlib.preprocess import Arm, PreprocessConfig
from cxrlib.models import build_classifier, to_model_input

SIZE = 64
BOX = (0.25, 0.25, 0.75, 0.75)
CONFIG = PreprocessConfig(preprocess_size=SIZE, output_size=SIZE, contour_size=SIZE, roi_mean_filter=5)
WHOLE = Arm("original")
CROPPED = Arm("roi", roi=True)
FILL = {"raw": 100.0, "equalized": 128.0, "n": 1}


def _dataset(folder, *, signal, n=24, seed=0):
    """Radiograph-like noise; PNEUMONIA carries `signal`: a bright corner marker or a bright thorax."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        label = "PNEUMONIA" if i % 2 else "NORMAL"
        image = rng.normal(100, 10, (SIZE, SIZE))
        if label == "PNEUMONIA" and signal == "corner":
            image[:8, :8] = 250
        if label == "PNEUMONIA" and signal == "thorax":
            image[24:40, 24:40] = 220
        path = folder / f"{i}.png"
        cv2.imwrite(str(path), np.clip(image, 0, 255).astype(np.uint8))
        mask = np.zeros((SIZE, SIZE), np.uint8)
        mask[20:44, 20:44] = 255
        cv2.imwrite(str(folder / f"{i}_mask.png"), mask)
        rows.append({"path": str(path), "image_original": str(path), "label": label, "filename": path.name,
                     "patient_id": f"p{i}", "roi_y0": BOX[0], "roi_x0": BOX[1], "roi_y1": BOX[2], "roi_x1": BOX[3],
                     "mask_path": str(folder / f"{i}_mask.png")})
    return pd.DataFrame(rows)


def _reader(region):
    """A 'model' that scores the brightness of one region of its input."""
    rows, cols = region
    return lambda arm, seed, images: images[:, rows, cols].mean(axis=(1, 2)) / 255.0


THRESHOLDS = {"original": {0: {"youden": 0.5, "fixed_0.5": 0.5, "sensitivity_0.95": 0.5}}}


def test_a_corner_marker_model_fails_thorax_only_and_passes_thorax_blanked(tmp_path):
    table = _dataset(tmp_path, signal="corner")
    scores = audit.score_perturbations(table, [WHOLE], _reader((slice(0, 8), slice(0, 8))), CONFIG, seeds=[0],
                                       fill=FILL, progress=False)
    result = audit.summarize_perturbations(scores, {"original": {0: {"youden": 0.6}}}, n_boot=100)["original"]
    assert result["none"]["roc_auc"] == 1.0
    assert result["thorax_blanked"]["roc_auc"] == 1.0  # the marker is outside the thorax: it survives
    assert result["mask_blanked"]["roc_auc"] == 1.0
    assert result["thorax_only"]["roc_auc"] < 0.75     # the marker is gone: chance
    # the thorax swap leaves the marker where it was: the prediction follows the surroundings, not the thorax
    assert result["swap"]["follows_thorax_rate"] == 0.0


def test_swap_follows_the_thorax_when_the_label_is_in_the_thorax(tmp_path):
    table = _dataset(tmp_path, signal="thorax")
    scores = audit.score_perturbations(table, [WHOLE], _reader((slice(26, 38), slice(26, 38))), CONFIG, seeds=[0],
                                       fill=FILL, progress=False)
    result = audit.summarize_perturbations(scores, {"original": {0: {"youden": 0.6}}}, n_boot=100)["original"]
    assert result["swap"]["follows_thorax_rate"] == 1.0 and result["swap"]["roc_auc"] == 1.0
    assert result["thorax_blanked"]["roc_auc"] < 0.75
    assert result["thorax_only"]["roc_auc"] == 1.0


def test_unperturbed_scores_given_are_used_instead_of_scoring_again(tmp_path):
    table = _dataset(tmp_path, signal="corner")
    reader = _reader((slice(0, 8), slice(0, 8)))
    fresh = audit.score_perturbations(table, [WHOLE], reader, CONFIG, seeds=[0], conditions=(), fill=FILL,
                                      progress=False)
    calls = []
    given = fresh.assign(score=fresh["score"] + 1.0).sample(frac=1.0, random_state=0)  # shuffled: matched by name
    reused = audit.score_perturbations(table, [WHOLE], lambda *a: calls.append(a), CONFIG, seeds=[0], conditions=(),
                                       fill=FILL, unperturbed=given, progress=False)
    assert not calls
    np.testing.assert_allclose(reused["score"], fresh["score"] + 1.0)


def test_perturb_refuses_unknown_conditions_and_missing_inputs():
    image = np.zeros((SIZE, SIZE), np.uint8)
    with pytest.raises(ValueError, match="unknown"):
        audit.perturb(image, BOX, condition="blur", fill=100)
    with pytest.raises(ValueError, match="mask"):
        audit.perturb(image, BOX, condition="mask_blanked", fill=100)
    with pytest.raises(ValueError, match="donor"):
        audit.perturb(image, BOX, condition="swap")
    with pytest.raises(ValueError, match="needs fill"):
        audit.perturb(image, BOX, condition="thorax_blanked")
    with pytest.raises(ValueError, match="both classes"):
        audit.swap_donors([1, 1, 1])


def _exposure_dataset(folder, n=40, seed=0):
    """No anatomy, one label cue: PNEUMONIA films are exposed brighter, inside and outside the thorax alike."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        label = "PNEUMONIA" if i % 2 else "NORMAL"
        image = rng.normal(80 + 60 * (i % 2), 20, (SIZE, SIZE))
        path = folder / f"{i}.png"
        cv2.imwrite(str(path), np.clip(image, 0, 255).astype(np.uint8))
        rows.append({"path": str(path), "image_original": str(path), "image_roi": str(path), "label": label,
                     "filename": path.name, "patient_id": f"p{i}", "roi_y0": BOX[0], "roi_x0": BOX[1],
                     "roi_y1": BOX[2], "roi_x1": BOX[3]})
    return pd.DataFrame(rows)


GLOBAL_STATISTICS = {  # 'models' whose score is a function of the input's global statistics only
    "mean": lambda images: images.mean(axis=(1, 2)),
    "sd": lambda images: images.std(axis=(1, 2)),
    "p95 - p05": lambda images: np.percentile(images, 95, axis=(1, 2)) - np.percentile(images, 5, axis=(1, 2)),
}


@pytest.mark.parametrize("statistic", GLOBAL_STATISTICS)
def test_a_cropped_arm_with_its_box_blanked_is_at_chance_whatever_the_kept_part_says(tmp_path, statistic):
    """The fill depends on no image: a cropped arm whose whole input is blanked scores every image alike. A fill
    drawn from the kept part's statistics (the earlier design) carried the exposure cue into the blanked box."""
    table = _exposure_dataset(tmp_path)
    fill = audit.neutral_fill(table["path"], CONFIG, n=10, seed=0)
    assert 0 <= fill["raw"] <= 255 and fill["n"] == 10
    of_statistic = GLOBAL_STATISTICS[statistic]
    score = lambda arm, seed, images: 1 / (1 + np.exp(-(of_statistic(images.astype(float)) - 100) / 30))
    scores = audit.score_perturbations(table, [CROPPED, WHOLE], score, CONFIG, seeds=[0, 1], fill=fill,
                                       conditions=("thorax_blanked",), progress=False)
    thresholds = {a: {s: {"youden": 0.5} for s in (0, 1)} for a in ("roi", "original")}
    result = audit.summarize_perturbations(scores, thresholds, n_boot=200)
    blanked = result["roi"]["thorax_blanked"]
    assert abs(blanked["roc_auc"] - 0.5) <= 0.05 and blanked["ci"][0] <= 0.5 <= blanked["ci"][1]
    assert scores.query("arm == 'roi' and condition == 'thorax_blanked'")["score"].nunique() == 1
    # the whole-image arm keeps the exposed frame around the box: there the cue is, and the audit shows it
    if statistic == "mean":
        assert result["original"]["thorax_blanked"]["roc_auc"] > 0.9


def test_the_fill_is_the_same_whatever_is_kept():
    dark, bright = np.full((SIZE, SIZE), 20, np.uint8), np.full((SIZE, SIZE), 230, np.uint8)
    for condition in ("thorax_blanked", "thorax_only"):
        a, removed = audit.perturb(dark, BOX, condition=condition, fill=100)
        b, _ = audit.perturb(bright, BOX, condition=condition, fill=100)
        assert (a[removed] == 100).all() and (b[removed] == 100).all() and removed.any()


def test_trivial_floor_finds_a_label_carried_by_brightness(tmp_path):
    rng = np.random.default_rng(0)
    paths, labels = [], []
    for i in range(60):
        label = i % 2
        image = rng.normal(90 + 40 * label, 15, (48, 48))
        path = tmp_path / f"{i}.png"
        cv2.imwrite(str(path), np.clip(image, 0, 255).astype(np.uint8))
        paths.append(path)
        labels.append(label)
    features = audit.image_statistics(paths, progress=False)
    assert list(features.columns) == list(audit.STATISTICS)
    floor = audit.fit_trivial_floor(features.iloc[:40], labels[:40])
    scores = floor.predict_proba(features.iloc[40:].to_numpy(float))[:, 1]
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(labels[40:], scores) > 0.97


# --------------------------------------------------------------------------- Grad-CAM checks


def _region_model(rows, cols):
    """A fixed network whose P(pneumonia) is the brightness of one input region (no training)."""
    image = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.Conv2D(1, 1, use_bias=False, kernel_initializer="ones", name="conv_act")(image)
    x = keras.layers.Cropping2D(((rows[0], SIZE - rows[1]), (cols[0], SIZE - cols[1])))(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    out = keras.layers.Dense(1, activation="sigmoid", name="pneumonia",
                             kernel_initializer=keras.initializers.Constant(0.05 / 3),
                             bias_initializer=keras.initializers.Constant(-4.0))(x)
    return keras.Model(image, out)


def _signal_images(n, seed=0):
    """Noise images whose explained class lives in one bright region (rows 10-20, columns 40-50)."""
    rng = np.random.default_rng(seed)
    images = np.clip(rng.normal(60, 10, (n, SIZE, SIZE)), 0, 255).astype(np.uint8)
    images[:, 10:20, 40:50] = 250
    return images


def _map_at(cells, n):
    heatmaps = np.zeros((n, 8, 8), np.float32)
    heatmaps[(slice(None), *cells)] = 1.0
    return heatmaps


def test_deletion_and_insertion_pass_a_map_on_the_signal_and_fail_a_map_away_from_it():
    model = _region_model((10, 20), (40, 50))
    images = _signal_images(12)
    explained = np.ones(12, int)
    on_signal = audit.deletion_insertion(model, images, _map_at((slice(1, 3), slice(5, 7)), 12), explained=explained,
                                           fill=60, steps=5, seed=0)
    rows, cols = np.mgrid[0:8, 0:8]
    away_map = np.repeat(np.hypot(rows - 1.5, cols - 5.5)[None].astype(np.float32), 12, axis=0)  # lowest on the signal
    away = audit.deletion_insertion(model, images, away_map, explained=explained, fill=60, steps=5, seed=0)
    assert (on_signal["deletion_auc"] < on_signal["random_deletion_auc"]).all()
    assert (on_signal["insertion_auc"] > on_signal["random_insertion_auc"]).all()
    passed = audit.faithfulness_summary([on_signal, on_signal.iloc[::-1].reset_index(drop=True)], n_boot=200)
    failed = audit.faithfulness_summary([away], n_boot=200)
    assert passed["deletion"]["verdict"] == passed["insertion"]["verdict"] == "faithful"
    assert failed["deletion"]["verdict"] == failed["insertion"]["verdict"] == "worse than random"
    assert passed["n"] == 12 and passed["seeds"] == 2


def test_deletion_follows_the_logit_where_the_probability_saturates():
    model = _region_model((10, 20), (40, 50))
    model.get_layer("pneumonia").bias.assign([30.0])  # P(pneumonia) = 1 in float32 for every image
    images = _signal_images(4)
    assert (keras.ops.convert_to_numpy(model(to_model_input(images))) == 1.0).all()
    result = audit.deletion_insertion(model, images, _map_at((slice(1, 3), slice(5, 7)), 4),
                                        explained=np.ones(4, int), fill=60, steps=5, seed=0)
    assert (result["deletion_gain"] > 0).all() and (result["insertion_gain"] > 0).all()
    logits = audit.class_logits(model, to_model_input(images), explained=[1, 0, 1, 0])
    assert logits[0] == pytest.approx(-logits[1], rel=1e-5) and logits[0] > 30


def test_deletion_insertion_refuses_bad_inputs():
    model = _region_model((10, 20), (40, 50))
    images = _signal_images(2)
    maps = _map_at((slice(1, 3), slice(5, 7)), 2)
    with pytest.raises(ValueError, match="explained"):
        audit.deletion_insertion(model, images, maps, explained=[1], fill=60)
    with pytest.raises(ValueError, match="fill"):
        audit.deletion_insertion(model, images, maps, explained=[1, 1], fill=300)
    with pytest.raises(ValueError, match="steps"):
        audit.deletion_insertion(model, images, maps, explained=[1, 1], fill=60, steps=1)


def test_randomization_drops_the_correlation_of_a_trained_small_cnn():
    rng = np.random.default_rng(0)
    labels = np.tile([0, 1], 40)
    images = np.clip(rng.normal(80, 15, (80, SIZE, SIZE)), 0, 255).astype(np.uint8)
    for image, label in zip(images, labels):
        if label:
            y, x = rng.integers(10, 40, 2)
            image[y:y + 14, x:x + 14] = 230
    keras.utils.set_random_seed(0)
    model = build_classifier(backbone="small_cnn", input_size=SIZE, weights="none", dropout=0.0)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="binary_crossentropy")
    model.fit(to_model_input(images), labels.astype(np.float32), epochs=6, batch_size=16, verbose=0)
    table = audit.randomization_check(model, images[labels == 1][:12], stages=5, seed=0)
    assert list(table["stage"])[:2] == ["pneumonia", "conv4"]
    assert table["spearman_mean"].iloc[-1] < 0.5
    assert table["spearman_mean"].iloc[-1] < table["spearman_mean"].iloc[0] or table["spearman_mean"].iloc[0] < 0.5
