"""cxrlib.audit (Grad-CAM): Grad-CAM on tiny Keras models, frame mapping, mass and pointing-game measures."""

import cv2
import numpy as np
import pandas as pd
import pytest

keras = pytest.importorskip("keras")

from cxrlib import audit  # noqa: E402

SIZE = 32


def to_input(images):
    """Test stand-in for cxrlib.models.model's conversion: gray uint8 -> (B, H, W, 3) float in [0, 1]."""
    x = np.stack(images).astype(np.float32) / 255.0
    return np.repeat(x[..., None], 3, axis=-1)


def bright_square_model(nested=True):
    """A classifier whose PNEUMONIA logit grows with bright pixels, wherever they are.

    conv 'bright' (3x3 mean of the channels, minus 0.5, ReLU) -> global average -> dense(+20).
    Grad-CAM of class 1 must therefore follow the bright pixels.
    """
    inputs = keras.Input((SIZE, SIZE, 3))
    conv = keras.layers.Conv2D(1, 3, padding="same", name="bright_conv")
    x = conv(inputs)
    x = keras.layers.Activation("relu", name="bright")(x)
    conv.set_weights([np.full((3, 3, 3, 1), 1 / 27, np.float32), np.array([-0.5], np.float32)])
    if nested:
        base = keras.Model(inputs, x, name="base")
        outer_in = keras.Input((SIZE, SIZE, 3))
        x = base(outer_in)
        inputs = outer_in
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dropout(0.3)(x)
    head = keras.layers.Dense(1, activation="sigmoid", name="head")
    out = head(x)
    head.set_weights([np.array([[20.0]], np.float32), np.array([0.0], np.float32)])
    return keras.Model(inputs, out)


def square_image(y, x, side=8, rng=None):
    rng = np.random.default_rng(0) if rng is None else rng
    image = rng.integers(0, 60, (SIZE, SIZE)).astype(np.uint8)
    image[y:y + side, x:x + side] = 250
    return image


def random_model(seed=0):
    """Small nested conv net with random weights (several channels), for the reference comparison."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.Conv2D(6, 3, padding="same", activation="relu")(inputs)
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", name="last_conv")(x)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.Activation("relu", name="last_act")(x)
    base = keras.Model(inputs, x, name="base")
    outer_in = keras.Input((SIZE, SIZE, 3))
    y = keras.layers.GlobalAveragePooling2D()(base(outer_in))
    out = keras.layers.Dense(1, activation="sigmoid")(y)
    return keras.Model(outer_in, out), base


def keras_io_heatmap(img_array, flat_model, layer_name):
    """The keras-io reference (examples/vision/grad_cam.py) on a flat model, one image.

    Under TensorFlow its own ``tf.GradientTape``; under JAX the same computation with ``jax.grad`` of
    the model's tail (the layers after ``layer_name``) at the layer's output.
    """
    if keras.backend.backend() == "jax":
        import jax

        cut = flat_model.get_layer(layer_name).output
        conv = np.asarray(keras.Model(flat_model.input, cut)(img_array))
        tail = keras.Model(cut, flat_model.output)
        grads = np.asarray(jax.grad(lambda c: keras.ops.sum(tail(c)[:, 0]))(conv))
        pooled = grads.mean(axis=(0, 1, 2))
        heat = conv[0] @ pooled
        return np.maximum(heat, 0) / heat.max()
    import tensorflow as tf

    grad_model = keras.models.Model(flat_model.input, [flat_model.get_layer(layer_name).output, flat_model.output])
    with tf.GradientTape() as tape:
        conv, preds = grad_model(img_array)
        class_channel = preds[:, 0]
    grads = tape.gradient(class_channel, conv)
    pooled = tf.reduce_mean(grads, axis=(0, 1, 2))
    heat = tf.squeeze(conv[0] @ pooled[..., tf.newaxis])
    return (tf.maximum(heat, 0) / tf.math.reduce_max(heat)).numpy()


# --------------------------------------------------------------------------- Grad-CAM itself


@pytest.mark.parametrize("nested", [True, False])
def test_heatmap_follows_the_planted_signal(nested):
    model = bright_square_model(nested=nested)
    images = [square_image(2, 2), square_image(20, 22), square_image(4, 20)]
    heat, prob = audit.gradcam(images, model, pred_index=1, to_input=to_input, batch_size=2)
    assert heat.shape == (3, SIZE, SIZE) and heat.dtype == np.float32
    assert np.isfinite(heat).all() and heat.min() >= 0 and heat.max(axis=(1, 2)).tolist() == [1, 1, 1]
    assert prob == pytest.approx(model.predict(to_input(images), verbose=0).ravel(), abs=1e-5)
    for h, (y, x) in zip(heat, [(2, 2), (20, 22), (4, 20)]):
        inside = h[y:y + 8, x:x + 8].sum() / h.sum()
        assert inside > 0.8  # the square is 6% of the image
        assert audit.heatmap_measures(h, (y / SIZE, x / SIZE, (y + 8) / SIZE, (x + 8) / SIZE))["thorax_pointing"] == 1


def test_class_without_support_gives_a_zero_map():
    model = bright_square_model()
    heat, _ = audit.gradcam([square_image(2, 2)], model, pred_index=0, to_input=to_input)
    assert heat.max() == 0  # bright pixels only argue for PNEUMONIA


def test_matches_the_keras_io_reference_and_restores_the_model():
    model, base = random_model()
    rng = np.random.default_rng(1)
    images = [rng.integers(0, 255, (SIZE, SIZE)).astype(np.uint8) for _ in range(3)]
    before = model.predict(to_input(images), verbose=0)
    heat, _ = audit.gradcam(images, model, layer_name="last_act", pred_index=1, to_input=to_input)
    flat = keras.Model(base.input, model.layers[-1](model.layers[-2](base.output)))
    for image, h in zip(images, heat):
        reference = keras_io_heatmap(to_input([image]), flat, "last_act")
        assert h.shape == reference.shape == (SIZE // 2, SIZE // 2)
        np.testing.assert_allclose(h, reference, atol=1e-4)
    # the temporary changes (recording call, linear head) are undone
    np.testing.assert_allclose(model.predict(to_input(images), verbose=0), before, atol=1e-6)
    assert "call" not in vars(base.get_layer("last_act"))
    assert model.layers[-1].activation is keras.activations.sigmoid


def test_default_layer_and_refusals():
    model, _ = random_model()
    assert audit.find_layer(model).name == "last_act"  # no block14 here: the last 4-D layer
    with pytest.raises(ValueError, match="'nope' is not in the model"):
        audit.find_layer(model, "nope")
    x = to_input([np.zeros((SIZE, SIZE), np.uint8)])
    with pytest.raises(ValueError, match="pred_index"):
        audit.make_gradcam_heatmap(x, model, pred_index=2)
    with pytest.raises(ValueError, match="img_array"):
        audit.make_gradcam_heatmap(x[0], model)
    with pytest.raises(ValueError, match="2-D uint8"):
        audit.gradcam([np.zeros((SIZE, SIZE), np.float32)], model, to_input=to_input)
    with pytest.raises(ValueError, match="empty"):
        audit.gradcam([], model, to_input=to_input)


# --------------------------------------------------------------------------- frames and measures


def test_box_pixels_and_to_frame():
    assert audit.box_pixels((0.25, 0.5, 0.75, 1.0), (100, 200)) == (25, 100, 75, 200)
    with pytest.raises(ValueError, match="box must be fractions"):
        audit.box_pixels((0.5, 0, 0.4, 1), (10, 10))
    crop_map = np.ones((7, 7), np.float32)
    full = audit.to_frame(crop_map, (100, 100), box=(0.2, 0.1, 0.6, 0.5))
    assert full.shape == (100, 100)
    assert full[20:60, 10:50].min() == 1 and full.sum() == 40 * 40
    assert audit.to_frame(crop_map, (50, 60)).shape == (50, 60)


def test_expand_box():
    assert audit.expand_box((0.1, 0.5, 0.2, 0.95), 0.1) == pytest.approx((0.0, 0.4, 0.3, 1.0))
    with pytest.raises(ValueError, match="margin"):
        audit.expand_box((0.1, 0.1, 0.2, 0.2), -0.1)


def test_mass_and_pointing_on_constructed_heatmaps():
    heat = np.zeros((100, 100), np.float32)
    heat[0:10, 0:10] = 1.0  # outside the box, a marker in the corner
    heat[40:50, 40:50] = 0.5  # inside
    box = (0.3, 0.3, 0.7, 0.7)
    mask = np.zeros((100, 100), bool)
    mask[40:45, 30:70] = True  # half of the inner blob is on the mask
    m = audit.heatmap_measures(heat, box, mask=mask)
    assert m["thorax_mass"] == pytest.approx(50 / 150)
    assert m["lung_mass"] == pytest.approx(25 / 150)
    assert m["thorax_pointing"] == 0 and m["lung_pointing"] == 0  # the maximum is the corner marker
    assert m["thorax_chance"] == pytest.approx(0.16)
    assert m["lung_chance"] == pytest.approx(0.02)
    assert m["thorax_mass_over_chance"] == pytest.approx(m["thorax_mass"] - 0.16)
    assert m["lung_mass_over_chance"] == pytest.approx(m["lung_mass"] - 0.02)
    heat[45, 45] = 2.0
    assert audit.heatmap_measures(heat, box, mask=mask)["thorax_pointing"] == 1
    empty = audit.heatmap_measures(np.zeros((10, 10)), box)
    assert np.isnan(empty["thorax_mass"]) and np.isnan(empty["lung_mass"]) and empty["thorax_chance"] > 0
    cropped = audit.heatmap_measures(heat, None, mask=mask)  # a cropped arm's frame is its box: no thorax measure
    assert np.isnan(cropped["thorax_mass"]) and np.isnan(cropped["thorax_chance"]) and cropped["lung_mass"] > 0
    with pytest.raises(ValueError, match="mask must have"):
        audit.heatmap_measures(heat, box, mask=mask[:50])


def test_a_uniform_map_is_at_chance_in_either_frame():
    """The gain a cropped arm got for free in the whole-image frame: a map spread evenly over its box put the box's
    share of lung on the lungs, above the lungs' share of the whole image. In its own frame it is exactly chance."""
    mask = np.zeros((200, 200), bool)
    mask[60:140, 40:90] = mask[60:140, 110:160] = True  # two lungs, 20% of the image
    box = (0.25, 0.15, 0.75, 0.85)  # the thorax box around them, 35% of the image
    uniform = np.ones((7, 7), np.float32)
    whole, whole_mask = audit.frame_of(uniform, 100, mask=mask)
    in_box, box_mask = audit.frame_of(uniform, 100, box=box, mask=mask)
    for heat, frame_mask, frame_box in ((whole, whole_mask, box), (in_box, box_mask, None)):
        m = audit.heatmap_measures(heat, frame_box, mask=frame_mask)
        assert m["lung_mass_over_chance"] == pytest.approx(0, abs=1e-6)
    assert audit.heatmap_measures(in_box, None, mask=box_mask)["lung_chance"] == pytest.approx(0.2 / 0.35, abs=0.02)
    # measured in the whole image, the same crop map would have gained the difference of the two chance levels
    placed = audit.to_frame(uniform, (100, 100), box=box)
    whole_frame_mass = audit.heatmap_measures(placed, box, mask=whole_mask)["lung_mass_over_chance"]
    assert whole_frame_mass == pytest.approx(0.2 / 0.35 - 0.2, abs=0.02)


def test_measure_gradcam_end_to_end(tmp_path):
    model = bright_square_model()
    rows = []
    for i, (y, x) in enumerate([(2, 2), (12, 12), (22, 4)]):
        path = tmp_path / f"im{i}.png"
        cv2.imwrite(str(path), square_image(y, x))
        mask = np.zeros((SIZE, SIZE), np.uint8)
        mask[8:24, 8:24] = 255
        cv2.imwrite(str(tmp_path / f"mask{i}.png"), mask)
        rows.append({"path": str(path), "mask_path": str(tmp_path / f"mask{i}.png"), "patient_id": f"p{i // 2}",
                     "roi_y0": 0.25, "roi_x0": 0.25, "roi_y1": 0.75, "roi_x1": 0.75})
    table = pd.DataFrame(rows)
    marker = [(2 / SIZE, 2 / SIZE, 10 / SIZE, 10 / SIZE), None, None]
    measures, heat = audit.measure_gradcam(
        table, model, image_column="path", crop=False, frame_size=64, regions={"marker": marker},
        to_input=to_input, progress=False)
    assert heat.shape == (3, SIZE, SIZE)
    assert measures["thorax_mass"].iloc[1] > 0.8 > measures["thorax_mass"].iloc[0]
    assert measures["mass_in_marker"].iloc[0] > 0.7 and measures["mass_in_marker"].isna().tolist() == [
        False, True, True]
    assert measures["explained_class"].tolist() == [1, 1, 1]
    summary = audit.summarize_measures([measures, measures], groups=table["patient_id"], n_boot=50)
    assert summary["n"] == 3 and summary["seeds"] == 2
    assert 0 <= summary["lung_pointing_rate"] <= 1 and "lung_pointing_rate_ci" in summary
    assert summary["thorax_mass_ci"][0] <= summary["thorax_mass_mean"] <= summary["thorax_mass_ci"][1]
    shown = audit.summary_table({"a": summary, "b": {"n": 0}})
    label = audit.MEASURE_LABELS["thorax_mass"]
    lo, hi = summary["thorax_mass_ci"]
    assert shown.loc[label, "a"] == f"{summary['thorax_mass_mean']:.3f} ({lo:.3f} to {hi:.3f})"
    assert shown.loc[label, "b"] == "-"
    assert not any("_" in name for name in shown.index) and shown.index.name is None
    # the same images as ROI crops: measured in the box, the lung mask cut to it; no thorax measure
    cropped, _ = audit.measure_gradcam(table, model, image_column="path", crop=True, frame_size=64,
                                         to_input=to_input, progress=False)
    assert cropped["thorax_mass"].isna().all()
    assert measures["lung_chance"].tolist() == pytest.approx([0.25] * 3)  # the mask is a quarter of the image...
    assert cropped["lung_chance"].tolist() == pytest.approx([1.0] * 3)  # ...and fills the box
    comparison = audit.compare_measures(cropped, measures, groups=table["patient_id"], n_boot=50)
    assert set(comparison) == {"lung_mass_over_chance"}  # masses over each frame's own chance only
    with pytest.raises(ValueError, match="same seeds"):
        audit.compare_measures([cropped, cropped], measures)
    with pytest.raises(ValueError, match="lacks the columns"):
        audit.measure_gradcam(table.drop(columns="roi_x1"), model, image_column="path", crop=False)


# --------------------------------------------------------------------------- paired test, examples, figures


def test_paired_test_on_constructed_cases():
    rng = np.random.default_rng(0)
    a = rng.random(40)
    same = audit.paired_test(a, a.copy(), n_boot=50)
    assert same["p_value"] == 1.0 and same["n_nonzero"] == 0 and same["mean_difference"] == 0
    higher = audit.paired_test(np.clip(a + 0.2 + rng.normal(0, 0.05, 40), 0, 1.5), a, n_boot=200)
    assert higher["p_value"] < 1e-6
    assert higher["mean_difference_ci"][0] > 0.1
    with_nan = audit.paired_test(np.r_[a, np.nan], np.r_[a + 0.1, 0.5], n_boot=20)
    assert with_nan["n"] == 40
    with pytest.raises(ValueError, match="one shape"):
        audit.paired_test(a, a[:5])
    seeds = audit.paired_test(np.stack([a + 0.3, a]), np.stack([a, a]), n_boot=200)  # one seed differs by 0.3
    assert seeds["mean_difference"] == pytest.approx(0.15) and seeds["mean_difference_ci"][1] > 0.25


def test_compare_groups():
    rng = np.random.default_rng(0)
    flag = np.arange(60) % 2 == 0
    values = np.where(flag, 0.3, 0.05) + rng.normal(0, 0.02, 60)
    out = audit.compare_groups(values, flag)
    assert out["n_in"] == out["n_out"] == 30
    assert out["difference"] == pytest.approx(0.25, abs=0.02) and out["p_value"] < 1e-8
    same = audit.compare_groups(rng.normal(0, 1, 60), flag)
    assert same["p_value"] > 0.01
    with pytest.warns(RuntimeWarning, match="cannot compare groups"):
        empty = audit.compare_groups(values, np.ones(60, bool))
    assert empty["n_out"] == 0 and np.isnan(empty["p_value"]) and np.isnan(empty["difference"])
    with pytest.raises(ValueError, match="boolean"):
        audit.compare_groups(values, np.ones(60))


def test_select_examples_covers_classes_and_errors():
    y = np.array([1, 1, 1, 1, 0, 0, 0, 0])
    a = np.array([1, 1, 0, 1, 0, 0, 1, 0])
    b = np.array([1, 0, 1, 1, 1, 0, 0, 0])
    chosen = audit.select_examples(y, a, b, n=4, seed=0)
    assert len(set(chosen)) == 4
    assert set(y[chosen]) == {0, 1}
    assert any(a[i] != y[i] or b[i] != y[i] for i in chosen)
    assert (audit.select_examples(y, a, b, n=4, seed=0) == chosen).all()
    assert len(audit.select_examples(y, a, b, n=50)) == 8


def test_seed_calls_follow_the_majority_and_rank_by_the_logit_margin():
    p = np.array([[0.9, 0.2, 0.6, 0.999], [0.8, 0.3, 0.4, 0.99], [0.1, 0.4, 0.45, 0.9]])
    calls, votes, margins = audit.seed_calls(p, [0.5, 0.5, 0.5])
    assert calls.tolist() == [1, 0, 0, 1] and votes.tolist() == [2, 0, 1, 3]
    assert margins[3] > margins[0] > 0 > margins[1]  # the logit keeps ranking where P saturates
    tie, _, _ = audit.seed_calls(np.array([[0.9, 0.45], [0.45, 0.9]]).T, [0.5, 0.5])  # one seed each way
    assert tie.tolist() == [1, 1]  # the tie goes by the mean margin, which leans PNEUMONIA on both
    assert audit.seed_calls([0.3, 0.7], [0.5])[0].tolist() == [0, 1]  # one seed: its own call
    with pytest.raises(ValueError, match="one per seed"):
        audit.seed_calls(p, [0.5])


def test_select_failures_shows_errors_of_every_arm_then_each_arm_s_own():
    y = np.array([0, 0, 0, 0, 1, 1])
    wrong = {"a": np.array([1, 1, 0, 1, 1, 0], bool), "b": np.array([0, 1, 1, 1, 0, 1], bool),
             "c": np.array([1, 1, 0, 1, 0, 0], bool)}
    margins = {"a": np.array([3.0, 5.0, -1, 1, -4, 1]), "b": np.array([-1, 2.0, 4.0, 3, 1, -3.0]),
               "c": np.array([1.0, 1, -1, 2, 1, 1])}
    # images 1 and 3 fool every arm; 1 is surer on average (2.67 against 2). Then each arm's own: a's is image 0,
    # b's image 2; image 0 fools c too and so serves it
    assert audit.select_failures(y, wrong, margins, label=0) == [(1, None), (0, "a"), (2, "b")]
    assert audit.select_failures(y, wrong, margins, label=0, shared=2, per_arm=0) == [(1, None), (3, None)]
    # false negatives: the surest is the most negative margin, only PNEUMONIA images count; none fools every arm
    assert audit.select_failures(y, wrong, margins, label=1, per_arm=3) == [(4, "a"), (5, "b")]
    # a single arm: every error is its own
    assert audit.select_failures(y, {"a": wrong["a"]}, margins, label=0, per_arm=2) == [(1, "a"), (0, "a")]
    with pytest.raises(ValueError, match="label"):
        audit.select_failures(y, wrong, margins, label=2)
    with pytest.raises(ValueError, match="shared"):
        audit.select_failures(y, wrong, margins, label=0, shared=-1)


def fake_maps(tmp_path, probabilities, *, seeds=(0, 1, 2)):
    """An :class:`cxrlib.audit.ArmMaps` built from given probabilities (arm -> (seeds, images)), each map a hot spot at
    the image's index in its seed's row, threshold 0.5, without models."""
    from cxrlib.preprocess import Arm

    n = next(iter(probabilities.values())).shape[1]
    paths = []
    for i in range(n):
        paths.append(str(tmp_path / f"im{i}.png"))
        cv2.imwrite(paths[-1], square_image(4, 4))
    maps = object.__new__(audit.ArmMaps)
    maps.arms = [Arm(name, roi=name == "crop") for name in probabilities]
    maps.names, maps.seeds = list(probabilities), list(seeds)
    maps.y = np.array([0, 0, 1, 1][:n])
    maps.test = pd.DataFrame({"path": paths, "filename": [f"im{i}.png" for i in range(n)],
                              "label": np.where(maps.y == 1, "PNEUMONIA", "NORMAL"), "roi_y0": 0.25, "roi_x0": 0.25,
                              "roi_y1": 0.75, "roi_x1": 0.75})
    maps.thresholds = {(a, s): 0.5 for a in probabilities for s in seeds}
    maps.measures, maps.heatmaps = {}, {}
    for a, p in probabilities.items():
        for k, s in enumerate(seeds):
            maps.measures[a, s] = pd.DataFrame({"probability": p[k]})
            heat = np.zeros((n, 4, 4), np.float32)
            heat[:, k, :] = 1.0  # seed k looks at row k
            maps.heatmaps[a, s] = heat
    return maps


def test_failures_gallery_counts_calls_and_shows_every_arm(tmp_path):
    probabilities = {"whole": np.array([[0.9, 0.2, 0.8, 0.1], [0.8, 0.3, 0.9, 0.2], [0.2, 0.1, 0.7, 0.4]]),
                     "crop": np.array([[0.6, 0.9, 0.3, 0.9], [0.7, 0.95, 0.2, 0.8], [0.9, 0.9, 0.1, 0.9]])}
    maps = fake_maps(tmp_path, probabilities)
    failures = maps.failures(false_positives=1)
    # whole: image 0 is a false positive (2 of 3 seeds), image 3 a false negative; crop: false positives 0 and 1,
    # false negative 2
    assert failures["counts"] == {"whole": {"false_positives": 1, "normal": 2, "false_negatives": 1, "pneumonia": 2},
                                  "crop": {"false_positives": 2, "normal": 2, "false_negatives": 1, "pneumonia": 2}}
    assert failures["every_arm"] == {"false_positives": 1, "false_negatives": 0}
    # false positives first: image 0 fools both arms, image 1 only crop; then each arm's own false negative
    assert failures["chosen"] == [("im0.png", "false positive", "every arm"), ("im1.png", "false positive", "crop"),
                                  ("im3.png", "false negative", "whole"), ("im2.png", "false negative", "crop")]
    first = failures["rows"][0]
    assert first["label"] == "true: NORMAL\nfalse positive of every arm" and list(first["panels"]) == ["whole", "crop"]
    assert failures["rows"][1]["label"] == "true: NORMAL\ncrop's false positive"
    assert failures["rows"][1]["panels"]["whole"]["correct"] and not failures["rows"][1]["panels"]["crop"]["correct"]
    whole = first["panels"]["whole"]
    assert whole["probability"] == pytest.approx(np.mean([0.9, 0.8, 0.2])) and not whole["correct"]
    assert whole["threshold"] == 0.5
    assert whole["note"] == "(2/3)" and first["panels"]["crop"]["cropped"]
    # the map is the mean of the maps of the two seeds that call PNEUMONIA (rows 0 and 1), scaled to its peak
    assert whole["heatmap"][:2].min() == 1.0 and whole["heatmap"][2:].max() == 0.0
    notes = audit.failures_notes(failures)
    assert notes[0].startswith("Each arm calls a test image by the class most of its 3 seeds give, each seed at its "
                               "own validation Youden threshold")
    assert notes[1].loc["crop", "false positives (of 2 NORMAL)"] == 2 and notes[1].index.name is None
    assert notes[2] == ("Of the 2 NORMAL test images, 1 is a false positive of every arm; of the 2 PNEUMONIA images, "
                        "0 are false negatives of every arm.")
    fig = audit.plot_examples(failures["rows"], headers=maps.headers())
    assert [ax.get_title() for ax in fig.axes[:3]] == ["radiograph\n(ROI box dashed)", "whole\n(raw image)",
                                                       "crop\n(thorax crop)"]


def test_overlay_and_figures():
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.colors import to_hex
    from matplotlib.figure import Figure

    image = square_image(4, 4)
    heat = np.zeros((4, 4), np.float32)
    heat[0, 0] = 1
    rgb = audit.overlay(image, heat)
    assert rgb.shape == (SIZE, SIZE, 3) and rgb.dtype == np.uint8
    assert rgb[0, 0, 0] > rgb[0, 0, 2]  # jet: hot is red
    with pytest.raises(ValueError, match="alpha"):
        audit.overlay(image, heat, alpha=2)
    panels = {"paper": {"heatmap": heat, "cropped": True, "probability": 0.934, "threshold": 0.04, "correct": False,
                        "note": "(3/3)"},
              "original": {"heatmap": heat, "cropped": False, "probability": 0.12, "threshold": 0.5, "correct": True,
                           "note": ""}}
    example = {"image": image, "box": (0.25, 0.25, 0.75, 0.75), "label": "true: NORMAL", "name": "im.png",
               "panels": panels}
    fig = audit.plot_examples([example, example])
    assert isinstance(fig, Figure)
    images = [ax for ax in fig.axes if ax.get_images()]
    assert len(images) == 2 * 3
    paper, original = images[1], images[2]
    # each panel says its P(PNEUMONIA) and call; a wrong call in red
    assert paper.get_xlabel() == "P 0.93, threshold 0.04\nwrong (3/3)"
    assert to_hex(paper.xaxis.label.get_color()) == "#c62828"
    assert original.get_xlabel() == "P 0.12, threshold 0.50\nright" and images[0].get_ylabel() == "true: NORMAL"
    # a cropped arm saw nothing outside its box: there the radiograph is dimmed and carries no heatmap colour
    shown = paper.get_images()[0].get_array()
    assert (shown[0, 0] == (image[0, 0] * 0.45).astype(np.uint8)).all()
    # a colour bar says what the colours mean, on the heatmaps' 0-1 scale
    bars = [ax for ax in fig.axes if "Grad-CAM weight" in ax.get_xlabel()]
    assert len(bars) == 1 and bars[0].get_xlim() == (0.0, 1.0)
    frame = pd.DataFrame({"thorax_mass_over_chance": [0.2, 0.5], "lung_mass_over_chance": [np.nan, np.nan]})
    fig = audit.plot_measure_distributions({"a": frame, "b": frame})
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    assert fig.axes[0].get_title() == "heatmap mass in the thorax box over chance"


def test_checks_figure_says_the_target_and_names_the_stages_for_a_reader():
    import matplotlib

    matplotlib.use("Agg")
    table = pd.DataFrame({"stage": ["pneumonia", "block14", "block13"], "spearman_mean": [0.5, 0.2, 0.0]})
    gain = {"gain": 0.5, "gain_ci": [0.1, 0.9]}
    fig = audit.plot_faithfulness({"a": table, "b": table}, {"a": {"deletion": gain, "insertion": gain},
                                                            "b": {"deletion": gain, "insertion": gain}})
    left, right = fig.axes
    assert [t.get_text() for t in left.get_xticklabels()] == ["output layer", "+ block 14", "+ block 13"]
    assert "closer to 0 is better" in left.get_title() and "lower is better" not in left.get_title()
    assert "above 0 is better" in right.get_title()
    assert min(t.get_fontsize() for t in left.get_xticklabels() + right.get_xticklabels()) >= 10
    assert audit.stage_labels(["pneumonia", "conv3", "head_dense"]) == ["output layer", "+ conv 3", "+ head dense"]


def test_measures_are_named_for_a_reader():
    for column in (*audit.MEASURES, *audit.CHANCE, "mass_in_shortcut_spot"):
        assert "_" not in audit.measure_label(column)
    assert audit.measure_label("lung_pointing") == "pointing game: peak on the lung fields"
    assert audit.measure_label("mass_in_side_marker") == "heatmap mass on the side marker"
    with pytest.raises(ValueError, match="not a Grad-CAM measure"):
        audit.measure_label("probability")


@pytest.mark.parametrize("backbone", ["xception", "small_cnn"])
def test_default_layer_is_the_backbone_s_last_convolution(backbone):
    model_module = pytest.importorskip("cxrlib.models.model")
    from cxrlib.models import BACKBONES

    model = model_module.build_classifier(backbone=backbone, input_size=96, weights="none")
    layer = audit.find_layer(model)
    assert layer.name == BACKBONES[backbone].gradcam_layer
    assert len(layer.output.shape) == 4
    heatmap, _ = audit.make_gradcam_heatmap(model_module.to_model_input(np.zeros((1, 96, 96), np.uint8) + 100),
                                           model, layer.name)
    assert np.all(np.isfinite(heatmap))
