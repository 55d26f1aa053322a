"""Tests of cxrlib.models.model and cxrlib.models.training on tiny synthetic radiographs (weights='none', 72-px inputs)."""

import json

import cv2
import keras
import numpy as np
import pandas as pd
import pytest

from conftest import shared_path
from cxrlib import models
from cxrlib.evaluation import choose_threshold, operating_thresholds, threshold_for_sensitivity
from cxrlib.models import BACKBONES, TrainSettings, train_classifier
from cxrlib.models import training as ct  # patched in place
from cxrlib.models.training import _EpochKeeper

SIZE = 72


def _image(label, rng, size=SIZE):
    image = rng.normal(90, 20, (size, size))
    if label == "PNEUMONIA":
        yy, xx = np.mgrid[:size, :size]
        cy, cx = rng.uniform(0.3, 0.7, 2) * size
        image += 90 * (((yy - cy) ** 2 + (xx - cx) ** 2) < (size / 5) ** 2)
    return np.clip(image, 0, 255).astype(np.uint8)


def make_frame(folder, *, per_class=(12, 6), size=SIZE, seed=0):
    """A processed.csv-like frame: `per_class` = (train, val) images per class, plus 2 test rows per class."""
    rng = np.random.default_rng(seed)
    rows = []
    for subset, n in (("train", per_class[0]), ("val", per_class[1]), ("test", 2)):
        for label in ("NORMAL", "PNEUMONIA"):
            for i in range(n):
                path = folder / f"{subset}-{label}-{i}.png"
                cv2.imwrite(str(path), _image(label, rng, size))
                rows.append({"path": str(path), "image_paper": str(path), "label": label, "subset": subset,
                             "patient_id": f"{subset}{label}{i}"})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def frame(tmp_path_factory):
    return make_frame(tmp_path_factory.mktemp("images"))


@pytest.fixture(scope="module")
def classifier():
    return models.build_classifier(input_size=SIZE, weights="none", dropout=0.2)


RANDOM_FROZEN = pytest.mark.filterwarnings("ignore:train_mode 'frozen' with weights 'none'")
FAST = dict(model_input_size=SIZE, weights="none", batch_size=8, learning_rate=1e-2, lr_decay_steps=10,
            augment=False, seed=0)


# ----------------------------------------------------------------------------- model


def test_classifier_shapes_and_gradcam_layer(classifier):
    assert classifier.input_shape == (None, SIZE, SIZE, 3)
    assert classifier.output_shape == (None, 1)
    conv = classifier.get_layer(BACKBONES["xception"].gradcam_layer)
    assert conv.output.shape[-1] == 2048
    # the layer is part of the classifier's own graph: a Grad-CAM model can be cut from it
    grad_model = keras.Model(classifier.input, [conv.output, classifier.output])
    maps, proba = grad_model(models.to_model_input(np.zeros((2, SIZE, SIZE), np.uint8)))
    assert maps.shape[0] == 2 and proba.shape == (2, 1)


def test_input_below_71_is_refused():
    with pytest.raises(ValueError, match="at least 71"):
        models.build_classifier(input_size=70, weights="none")
    with pytest.raises(ValueError, match="model_input_size"):
        TrainSettings(model_input_size=64, weights="none")


def test_missing_weights_file_is_refused(tmp_path):
    missing = tmp_path / "nope.weights.h5"
    with pytest.raises(FileNotFoundError, match="nope.weights.h5"):
        models.build_classifier(input_size=SIZE, weights=missing)
    with pytest.raises(FileNotFoundError, match="imagenet"):
        TrainSettings(weights=str(missing))


def test_wrong_weights_file_is_refused(tmp_path):
    garbage = tmp_path / "garbage.weights.h5"
    garbage.write_bytes(b"not an h5 file")
    with pytest.raises(ValueError, match="garbage.weights.h5"):
        models.build_classifier(input_size=SIZE, weights=garbage)
    other = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    wrong = tmp_path / "dense.weights.h5"
    other.save_weights(wrong)
    with pytest.raises(ValueError, match="dense.weights.h5"):
        models.build_classifier(input_size=SIZE, weights=wrong)


def test_local_imagenet_weights_are_loaded():
    path = shared_path("weights", "xception_imagenet_notop.weights.h5")
    model = models.build_classifier(input_size=SIZE, weights=path)
    reference = keras.applications.Xception(include_top=False, weights=None, input_shape=(SIZE, SIZE, 3))
    reference.load_weights(path)
    for name in ("block1_conv1", "block14_sepconv2"):
        for got, want in zip(model.get_layer(name).get_weights(), reference.get_layer(name).get_weights()):
            np.testing.assert_array_equal(got, want)


def test_trainable_layers_per_mode(classifier):
    names = models.configure_trainable(classifier, train_mode="frozen")
    assert names == ["pneumonia"]
    assert len(classifier.trainable_weights) == 2
    names = models.configure_trainable(classifier, train_mode="finetune", finetune_from_block="block14")
    assert "block14_sepconv1" in names and "pneumonia" in names
    assert not any(n.startswith("block13") for n in names)
    assert not any(n.endswith("_bn") for n in names)  # pretrained statistics kept
    names = models.configure_trainable(classifier, train_mode="finetune", finetune_from_block="block13")
    assert "block13_sepconv1" in names and not any(n.startswith("block12") for n in names)
    assert len([n for n in names if n.startswith("conv2d")]) == 1  # block13's residual projection
    batchnorm = [layer for layer in classifier.layers if isinstance(layer, keras.layers.BatchNormalization)]
    models.configure_trainable(classifier, train_mode="finetune", train_batchnorm=True)
    assert len(classifier.non_trainable_weights) == 2 * len(batchnorm)  # only the BN moving statistics
    models.configure_trainable(classifier, train_mode="finetune")
    assert not any(layer.trainable for layer in batchnorm)
    with pytest.raises(ValueError, match="block15"):
        models.configure_trainable(classifier, train_mode="finetune", finetune_from_block="block15")
    with pytest.raises(ValueError, match="train_mode"):
        models.configure_trainable(classifier, train_mode="partial")


def test_split_at_composes_to_the_classifier(classifier):
    prefix, suffix = models.split_at(classifier, "block14_sepconv1")
    x = models.to_model_input(np.random.default_rng(0).integers(0, 256, (2, SIZE, SIZE), dtype=np.uint8))
    np.testing.assert_allclose(suffix.predict_on_batch(prefix.predict_on_batch(x)),
                               classifier.predict_on_batch(x), rtol=1e-5, atol=1e-6)
    assert len(suffix.layers) < 12


@pytest.mark.parametrize("lr,rate,steps", [(1e-3, 0.9, 100), (5e-4, 0.5, 7)])
def test_schedule_is_eq10(lr, rate, steps):
    schedule = models.lr_schedule(learning_rate=lr, decay_rate=rate, decay_steps=steps)
    for s in (0, 1, 7, 50, 100, 1234):
        assert float(schedule(s)) == pytest.approx(lr * rate ** (s / steps), rel=1e-5)


def test_schedule_refusals():
    with pytest.raises(ValueError, match="lr_decay_rate"):
        models.lr_schedule(learning_rate=1e-3, decay_rate=1.5, decay_steps=10)
    with pytest.raises(ValueError, match="learning_rate"):
        models.lr_schedule(learning_rate=0, decay_rate=0.9, decay_steps=10)


def test_model_input_conversion():
    images = np.arange(2 * 4 * 4, dtype=np.uint8).reshape(2, 4, 4)
    batch = models.to_model_input(images)
    assert batch.shape == (2, 4, 4, 3) and batch.dtype == np.float32
    np.testing.assert_array_equal(batch[..., 2], images)
    assert models.to_model_input(images[0]).shape == (1, 4, 4, 3)
    with pytest.raises(TypeError, match="uint8"):
        models.to_model_input(images.astype(float))


def test_predict_proba_checks_size(classifier):
    proba = models.predict_proba(classifier, np.zeros((3, SIZE, SIZE), np.uint8), batch_size=2)
    assert proba.shape == (3,) and np.all((proba >= 0) & (proba <= 1))
    with pytest.raises(ValueError, match="read_images"):
        models.predict_proba(classifier, np.zeros((3, 64, 64), np.uint8))


def test_missing_model_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="03_training"):
        models.load_classifier(tmp_path / "processed.keras")


# ----------------------------------------------------------------------------- threshold


def test_threshold_maximises_youden_on_validation():
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    scores = np.array([0.1, 0.2, 0.3, 0.7, 0.4, 0.8, 0.9, 0.95])
    threshold = choose_threshold(labels, scores)
    # best split: positives are scores >= 0.4 except the 0.7 negative -> J = 1 - 1/4 at 0.4 (or 0.8: 0.75 - 0)
    predicted = scores >= threshold
    sens = predicted[labels == 1].mean()
    spec = 1 - predicted[labels == 0].mean()
    candidates = [(scores >= t)[labels == 1].mean() - (scores >= t)[labels == 0].mean() for t in scores]
    assert sens + spec - 1 == pytest.approx(max(candidates))
    assert threshold == pytest.approx((0.8 + 0.7) / 2)  # first maximum (highest threshold), midpoint below it
    separable = choose_threshold([0, 0, 1, 1], [0.1, 0.3, 0.6, 0.9])
    assert separable == pytest.approx(0.45)


def test_threshold_refusals():
    with pytest.raises(ValueError, match="both classes"):
        choose_threshold([1, 1, 1], [0.2, 0.5, 0.9])
    with pytest.raises(ValueError, match="NaN"):
        choose_threshold([0, 1], [0.2, np.nan])


# ----------------------------------------------------------------------------- training


@RANDOM_FROZEN
def test_frozen_training_lowers_the_loss_and_saves_a_usable_model(frame, tmp_path):
    settings = TrainSettings(train_mode="frozen", epochs=6, **FAST)
    result = train_classifier(frame, image_column="image_paper", settings=settings, work_dir=tmp_path,
                              name="processed", progress=False)
    history = result.history
    assert list(history.epoch) == [1, 2, 3, 4, 5, 6]
    assert history.loss.iloc[-1] < history.loss.iloc[0]
    assert set(history.columns) >= {"loss", "accuracy", "val_loss", "val_accuracy", "val_auc", "learning_rate"}
    assert result.best_epoch == int(history.val_auc.idxmax()) + 1
    assert 0 < result.threshold < 1 and result.val_auc == pytest.approx(history.val_auc.max(), abs=1e-3)
    assert len(result.validation) == 12 and set(result.validation.subset) == {"val"}
    assert result.trainable_layers == ["pneumonia"]
    assert list((tmp_path / "features").glob("*.npy"))  # frozen features cached on disk
    json.dumps(result.summary())
    # the saved classifier is a full-image model that 04/05 can load and score
    path = tmp_path / "processed.keras"
    result.model.save(path)
    loaded = models.load_classifier(path)
    images = np.stack([cv2.imread(p, cv2.IMREAD_GRAYSCALE) for p in result.validation.image_paper])
    np.testing.assert_allclose(models.predict_proba(loaded, images), result.validation.score, atol=2e-3)
    assert loaded.get_layer(BACKBONES["xception"].gradcam_layer) is not None


def test_finetune_end_to_end_with_augmentation_runs_and_saves(frame, tmp_path):
    settings = TrainSettings(train_mode="finetune", epochs=2, **{**FAST, "augment": True, "learning_rate": 1e-3})
    result = train_classifier(frame, image_column="path", settings=settings, progress=False)
    assert len(result.history) == 2 and np.isfinite(result.history.loss).all()
    assert len(result.trainable_layers) > 75  # every layer with weights
    assert result.settings.cached is False
    paths = models.save_training_outputs({("original", 0): result}, tmp_path, tmp_path / "models")
    model_path = tmp_path / "models" / "original-seed0.keras"
    assert model_path in paths and (tmp_path / "training" / "original-seed0_history.csv").is_file()
    assert model_path.stat().st_size < 1.3 * 4 * result.model.count_params()  # no optimizer state
    loaded = models.load_classifier(model_path)
    images = np.zeros((2, SIZE, SIZE), np.uint8)
    np.testing.assert_allclose(models.predict_proba(loaded, images), models.predict_proba(result.model, images), atol=1e-6)
    saved = pd.read_csv(tmp_path / "validation_predictions.csv")
    assert list(saved.columns) == ["arm", "seed", "path", "patient_id", "label", "score", "threshold", "predicted"]
    record = json.loads((tmp_path / "training.json").read_text())["arms"]["original"]["seeds"]["0"]
    assert record["best_epoch"] == result.best_epoch
    assert set(record["thresholds"]) == {"fixed_0.5", "youden", "sensitivity_0.95"}


def test_finetune_from_block14_on_cached_prefix_lowers_the_loss(frame):
    settings = TrainSettings(train_mode="finetune", finetune_from_block="block14", epochs=4,
                             **{**FAST, "learning_rate": 1e-3})
    result = train_classifier(frame, image_column="path", settings=settings, progress=False)
    assert result.settings.cached
    assert "block14_sepconv2" in result.trainable_layers
    assert result.history.loss.iloc[-1] < result.history.loss.iloc[0]


@RANDOM_FROZEN
def test_interrupted_training_resumes_from_its_checkpoint(frame, tmp_path, monkeypatch):
    settings = TrainSettings(train_mode="frozen", epochs=4, **FAST)
    original = _EpochKeeper.on_epoch_end
    calls = []

    def interrupt_after_two(self, epoch, logs=None):
        original(self, epoch, logs)
        calls.append(epoch)
        if epoch == 1:
            raise KeyboardInterrupt("simulated interruption")

    monkeypatch.setattr(_EpochKeeper, "on_epoch_end", interrupt_after_two)
    with pytest.raises(KeyboardInterrupt):
        train_classifier(frame, image_column="path", settings=settings, work_dir=tmp_path, name="m", progress=False)
    state = json.loads(next((tmp_path / "checkpoints").glob("m-*/state.json")).read_text())
    assert state["epoch"] == 2
    calls.clear()

    def spy(self, epoch, logs=None):
        original(self, epoch, logs)
        calls.append(epoch)

    monkeypatch.setattr(_EpochKeeper, "on_epoch_end", spy)
    result = train_classifier(frame, image_column="path", settings=settings, work_dir=tmp_path, name="m", progress=False)
    assert calls == [2, 3]  # only the epochs left ran
    assert list(result.history.epoch) == [1, 2, 3, 4]
    assert result.history.loss.iloc[:2].tolist() == [row["loss"] for row in state["history"]]
    # the optimizer state came back: the learning rate continues from step 4 epochs * 3 batches
    assert result.history.learning_rate.iloc[-1] == pytest.approx(1e-2 * 0.9 ** (12 / 10), rel=1e-4)
    again = train_classifier(frame, image_column="path", settings=settings, work_dir=tmp_path, name="m", progress=False)
    assert calls == [2, 3] and again.threshold == result.threshold  # a finished run returns its result


@RANDOM_FROZEN
def test_nan_loss_is_a_clear_error(frame, monkeypatch):
    real = models.cached_features

    def poisoned(images, prefix, **kwargs):
        features = real(images, prefix, **kwargs)
        features[:] = np.nan
        return features

    monkeypatch.setattr(ct, "cached_features", poisoned)
    with pytest.raises(FloatingPointError, match="NaN"):
        train_classifier(frame, image_column="path", settings=TrainSettings(train_mode="frozen", epochs=2, **FAST),
                         progress=False)


@RANDOM_FROZEN
def test_empty_or_one_class_split_is_refused(frame):
    settings = TrainSettings(train_mode="frozen", epochs=1, **FAST)
    with pytest.raises(ValueError, match="'val' subset is empty"):
        train_classifier(frame[frame.subset != "val"], image_column="path", settings=settings, progress=False)
    one_class = frame[~((frame.subset == "train") & (frame.label == "NORMAL"))]
    with pytest.raises(ValueError, match="both classes"):
        train_classifier(one_class, image_column="path", settings=settings, progress=False)
    with pytest.raises(ValueError, match="image_paper"):
        train_classifier(frame.drop(columns="image_paper"), image_column="image_paper", settings=settings,
                         progress=False)


def test_frozen_random_base_is_warned_about(frame):
    settings = TrainSettings(train_mode="frozen", epochs=1, **FAST)
    with pytest.warns(UserWarning, match="random, untrained network"), pytest.raises(ValueError, match="empty"):
        train_classifier(frame[frame.subset != "val"], image_column="path", settings=settings, progress=False)


# ----------------------------------------------------------------------------- small CNN, operating points, scoring


def test_small_cnn_trains_from_scratch_and_learns_a_visible_opacity(frame, tmp_path):
    settings = TrainSettings(backbone="small_cnn", train_mode="finetune", epochs=8, model_input_size=SIZE,
                             weights="none", batch_size=8, learning_rate=3e-3, lr_decay_steps=50, seed=0)
    result = train_classifier(frame, image_column="path", settings=settings, progress=False)
    assert not result.settings.cached and result.model.count_params() < 200_000
    assert result.history.loss.iloc[-1] < result.history.loss.iloc[0]
    assert result.val_auc >= 0.9  # a bright disc on noise is learnable from 24 images
    path = tmp_path / "m.keras"
    result.model.save(path)
    images = np.stack([cv2.imread(p, cv2.IMREAD_GRAYSCALE) for p in result.validation.path])
    np.testing.assert_allclose(models.predict_scores(models.load_classifier(path), images, settings=settings),
                               result.validation.score, atol=1e-5)


def test_bfloat16_training_learns_records_its_policy_and_loads_with_it(frame, tmp_path, monkeypatch):
    monkeypatch.setattr(ct, "_cpu_has_bfloat16", lambda: True)  # no emulation warning on any CPU
    settings = TrainSettings(backbone="small_cnn", train_mode="finetune", epochs=8, model_input_size=SIZE,
                             weights="none", batch_size=8, learning_rate=3e-3, lr_decay_steps=50, seed=0,
                             precision="mixed_bfloat16")
    result = train_classifier(frame, image_column="path", settings=settings, progress=False)
    assert result.summary()["dtype_policy"] == "mixed_bfloat16" and result.val_auc >= 0.9
    assert all(w.dtype == "float32" for w in result.model.trainable_weights)  # bf16 arithmetic, float32 weights
    path = tmp_path / "m.keras"
    result.model.save(path)
    loaded = models.load_classifier(path)
    assert loaded.get_layer("conv4_act").dtype_policy.name == "mixed_bfloat16"
    images = np.stack([cv2.imread(p, cv2.IMREAD_GRAYSCALE) for p in result.validation.path])
    np.testing.assert_allclose(models.predict_scores(loaded, images, settings=settings), result.validation.score,
                               atol=1e-5)


def test_precision_is_resolved_per_machine_and_checked(monkeypatch):
    monkeypatch.setattr(ct, "accelerators", lambda: [])
    assert models.distribution("auto")[1] == "float32"
    monkeypatch.setattr(ct, "_cpu_has_bfloat16", lambda: False)
    with pytest.warns(UserWarning, match="emulated and slower than float32"):
        assert models.distribution("mixed_bfloat16")[1] == "mixed_bfloat16"
    with pytest.raises(ValueError, match="precision='bf16' is refused"):
        TrainSettings(precision="bf16")


def test_small_cnn_refuses_weights_and_tiny_inputs():
    with pytest.raises(ValueError, match="takes no weights"):
        models.build_classifier(backbone="small_cnn", input_size=64, weights="imagenet")
    with pytest.raises(ValueError, match="at least 32"):
        models.build_classifier(backbone="small_cnn", input_size=16, weights="none")
    with pytest.raises(ValueError, match="unknown"):
        models.build_classifier(backbone="resnet", input_size=64, weights="none")


def test_cached_prefix_scores_match_the_full_model_and_are_shared_by_seeds(frame, tmp_path):
    # a fixed weights file stands in for ImageNet's: the frozen prefix is then the same for every seed
    weights = tmp_path / "fixed_notop.weights.h5"
    keras.applications.Xception(include_top=False, weights=None, input_shape=(SIZE, SIZE, 3)).save_weights(weights)
    images = np.stack([cv2.imread(p, cv2.IMREAD_GRAYSCALE) for p in frame.path[:6]])
    scores = []
    for seed in (0, 1):
        settings = TrainSettings(train_mode="frozen", epochs=1, **{**FAST, "seed": seed, "weights": str(weights)})
        result = train_classifier(frame, image_column="path", settings=settings, work_dir=tmp_path, progress=False,
                                  name=f"s{seed}")
        cached = models.predict_scores(result.model, images, settings=settings, work_dir=tmp_path)
        np.testing.assert_allclose(cached, models.predict_proba(result.model, images), atol=2e-3)
        scores.append(cached)
    # one feature file per image set (train, val, these six), whatever the number of seeds
    assert len(list((tmp_path / "features").glob("*.npy"))) == 3
    assert not np.allclose(scores[0], scores[1])  # the heads differ by seed


def test_gradcam_on_cached_features_matches_the_whole_model(frame, tmp_path):
    from cxrlib import audit

    weights = tmp_path / "fixed_notop.weights.h5"
    keras.applications.Xception(include_top=False, weights=None, input_shape=(SIZE, SIZE, 3)).save_weights(weights)
    settings = TrainSettings(train_mode="finetune", finetune_from_block="block14", epochs=1,
                             **{**FAST, "weights": str(weights)})
    model = train_classifier(frame, image_column="path", settings=settings, progress=False).model
    images = np.stack([cv2.imread(p, cv2.IMREAD_GRAYSCALE) for p in frame.path[:6]])
    layer = "block14_sepconv2_act"
    explained, inputs = models.gradcam_inputs(model, images, settings=settings, layer_name=layer, work_dir=tmp_path)
    assert explained.name == "suffix" and len(inputs) == len(images)
    table = frame.iloc[:6].assign(roi_y0=0.0, roi_x0=0.0, roi_y1=1.0, roi_x1=1.0)
    cached, maps = audit.measure_gradcam(table, explained, image_column="path", crop=False, frame_size=32,
                                           layer_name=layer, inputs=inputs, progress=False)
    whole, whole_maps = audit.measure_gradcam(table, model, image_column="path", crop=False, frame_size=32,
                                                layer_name=layer, progress=False)
    np.testing.assert_allclose(cached["probability"], whole["probability"], atol=2e-3)
    np.testing.assert_allclose(maps, whole_maps, atol=0.05)
    # a layer inside the frozen part needs the whole model
    assert models.gradcam_inputs(model, images, settings=settings, layer_name="block13_sepconv2_bn")[1] is None


def test_operating_thresholds_on_constructed_scores():
    labels = np.array([0] * 10 + [1] * 20)
    scores = np.concatenate([np.linspace(0.0, 0.45, 10), np.linspace(0.3, 1.0, 20)])
    points = operating_thresholds(labels, scores)
    assert points["fixed_0.5"] == 0.5
    sensitivity = ((scores >= points["sensitivity_0.95"]) & (labels == 1)).sum() / 20
    assert sensitivity >= 0.95
    # it is the highest such threshold: the next positive score up would drop below 0.95
    assert ((scores > points["sensitivity_0.95"] + 0.04) & (labels == 1)).sum() / 20 < 0.95
    youden = points["youden"]
    j = lambda t: ((scores >= t) & (labels == 1)).mean() * 30 / 20 + ((scores < t) & (labels == 0)).mean() * 30 / 10
    assert j(youden) == pytest.approx(max(j(t) for t in np.unique(scores)))
    with pytest.raises(ValueError, match="target"):
        threshold_for_sensitivity(labels, scores, target=0)


def test_history_plot_has_whole_epoch_ticks_and_does_not_magnify_auc_noise():
    import matplotlib

    matplotlib.use("Agg")
    epochs = np.arange(1, 5)
    history = pd.DataFrame({"epoch": epochs, "loss": [0.25, 0.15, 0.11, 0.08], "val_loss": [0.3, 0.2, 0.15, 0.1],
                            "accuracy": [0.90, 0.94, 0.96, 0.97], "val_accuracy": [0.93, 0.935, 0.937, 0.94],
                            "val_auc": [0.9959, 0.9962, 0.9967, 0.9968]})
    fig = models.plot_histories({"arm": {0: history, 1: history.assign(val_auc=history.val_auc - 0.001)}},
                            best_epochs={"arm": {0: 4, 1: 3}})
    fig.canvas.draw()
    for ax in fig.axes:
        low, high = ax.get_xlim()
        ticks = [t for t in ax.get_xticks() if low <= t <= high]
        assert ticks and all(float(t).is_integer() for t in ticks), ax.get_title()
    accuracy, auc = (ax for ax in fig.axes if "accuracy" in ax.get_title() or "AUC" in ax.get_title())
    for ax in (accuracy, auc):
        low, high = ax.get_ylim()
        assert high - low >= 0.05 - 1e-9 and 0 <= low and high <= 1, (ax.get_title(), low, high)


def test_history_plot_gives_every_arm_the_same_y_range_per_panel():
    import matplotlib

    matplotlib.use("Agg")
    epochs = np.arange(1, 4)
    low = pd.DataFrame({"epoch": epochs, "loss": [0.2, 0.1, 0.05], "val_loss": [0.2, 0.15, 0.1],
                        "accuracy": [0.90, 0.95, 0.98], "val_accuracy": [0.93, 0.95, 0.97], "val_auc": [0.99] * 3})
    high = low.assign(loss=[0.9, 0.6, 0.4], val_loss=[0.8, 0.7, 0.6], accuracy=[0.6, 0.7, 0.8], val_auc=[0.8] * 3)
    fig = models.plot_histories({"a": {0: low, 1: low}, "b": {0: high}}, best_epochs={"a": {0: 3, 1: 2}})
    fig.canvas.draw()
    rows = np.array(fig.axes[:6]).reshape(2, 3)
    for column in range(3):
        assert rows[0, column].get_ylim() == rows[1, column].get_ylim()
    assert rows[0, 0].get_ylim()[1] >= 0.9 and rows[0, 1].get_ylim()[0] <= 0.6  # each range covers both arms
    assert [ax.get_ylabel() for ax in rows[:, 0]] == ["a", "b"]
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["train", "validation", "epoch kept"]
    assert fig.legends[0].get_title().get_text() == "one line per seed (2 seeds)"
    assert min(t.get_fontsize() for ax in rows.flat for t in ax.get_yticklabels()) >= 10
