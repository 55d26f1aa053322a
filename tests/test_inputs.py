"""Tests of cxrlib.models.inputs: image reading, class weights, the tf.data pipeline, the feature cache."""

import cv2
import keras
import numpy as np
import pytest

from cxrlib.models import inputs

tf_data = pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                             reason="tf.data is the TensorFlow backend's path; ImageBatches is the other backends'")


def test_read_images_resizes_to_uint8(tmp_path):
    paths = []
    for i, shape in enumerate([(100, 80), (72, 72)]):
        path = tmp_path / f"{i}.png"
        cv2.imwrite(str(path), np.full(shape, 40 * (i + 1), np.uint8))
        paths.append(path)
    images = inputs.read_images(paths, size=72, progress=False)
    assert images.shape == (2, 72, 72) and images.dtype == np.uint8
    assert images[0].mean() == 40 and images[1].mean() == 80
    with pytest.raises(ValueError, match="does not exist"):
        inputs.read_images([tmp_path / "missing.png"], size=72, progress=False)


def test_class_weights_balance_the_classes():
    weights = inputs.class_weights([0] * 10 + [1] * 29)
    assert weights[0] == pytest.approx(39 / 20) and weights[1] == pytest.approx(39 / 58)
    assert 10 * weights[0] == pytest.approx(29 * weights[1])
    with pytest.raises(ValueError, match="both classes"):
        inputs.class_weights([1, 1, 1])


def _images(n=10, size=32, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, size, size), dtype=np.uint8)


@tf_data
def test_image_dataset_batches_are_model_inputs():
    images, labels = _images(), np.arange(10) % 2
    batches = list(inputs.image_dataset(images, labels, batch_size=4, training=False))
    assert [b[0].shape[0] for b in batches] == [4, 4, 2]
    x, y = batches[0]
    assert x.shape == (4, 32, 32, 3) and x.dtype.name == "float32" and y.shape == (4, 1)
    np.testing.assert_array_equal(x.numpy()[..., 1], images[:4])


@tf_data
def test_image_dataset_shuffle_is_seeded():
    images, labels = _images(), np.arange(10)

    def order(seed):
        return np.concatenate([y.numpy().ravel() for _, y in inputs.image_dataset(
            images, labels, batch_size=4, training=True, seed=seed)])

    assert sorted(order(1)) == list(range(10))
    np.testing.assert_array_equal(order(1), order(1))
    assert not np.array_equal(order(1), order(2))


@tf_data
def test_augmentation_changes_pixels_but_not_shapes_or_range():
    images = _images(8, 48)
    x, _ = next(iter(inputs.image_dataset(images, np.zeros(8), batch_size=8, training=True, augment=True)))
    x = x.numpy()
    assert x.shape == (8, 48, 48, 3)
    assert x.min() >= 0 and x.max() <= 255
    assert not np.allclose(np.sort(x[..., 0].reshape(8, -1)), np.sort(images.reshape(8, -1).astype(float)))
    augmenter = inputs.make_augmenter(seed=0)
    assert "RandomFlip" not in {type(layer).__name__ for layer in augmenter.layers}


@tf_data
def test_image_dataset_refusals():
    with pytest.raises(ValueError, match="uint8"):
        inputs.image_dataset(_images().astype(float), np.zeros(10), batch_size=2, training=False)
    with pytest.raises(ValueError, match="non-empty"):
        inputs.image_dataset(_images(0), np.zeros(0), batch_size=2, training=False)


def test_cached_features_are_computed_once(tmp_path):
    prefix = keras.Sequential([keras.Input((16, 16, 3)), keras.layers.Conv2D(4, 3),
                               keras.layers.GlobalAveragePooling2D()])
    images = _images(5, 16)
    first = inputs.cached_features(images, prefix, cache_dir=tmp_path, batch_size=2, progress=False)
    assert first.shape == (5, 4) and first.dtype == np.float16
    files = list(tmp_path.glob("features-*.npy"))
    assert len(files) == 1
    calls = []
    prefix.predict_on_batch = lambda batch: calls.append(batch)  # a second computation would be seen
    again = inputs.cached_features(images, prefix, cache_dir=tmp_path, batch_size=2, progress=False)
    np.testing.assert_array_equal(again, first)
    assert calls == []
    other = images.copy()
    other[0, 0, 0] ^= 1
    assert inputs.fingerprint(other) != inputs.fingerprint(images)


def test_image_batches_are_the_backend_neutral_twin():
    images, labels = _images(), np.arange(10)
    batches = inputs.ImageBatches(images, labels, batch_size=4, training=True, seed=3)
    assert len(batches) == 3
    first = np.concatenate([batches[i][1].ravel() for i in range(len(batches))])
    assert sorted(first) == list(range(10))
    x, y = batches[0]
    assert x.shape == (4, 32, 32, 3) and x.dtype == np.float32 and y.shape == (4, 1)
    np.testing.assert_array_equal(x[..., 0], images[y.ravel().astype(int)])
    batches.on_epoch_end()
    second = np.concatenate([batches[i][1].ravel() for i in range(len(batches))])
    assert not np.array_equal(first, second)  # a new order each epoch ...
    again = inputs.ImageBatches(images, labels, batch_size=4, training=True, seed=3)
    np.testing.assert_array_equal(np.concatenate([again[i][1].ravel() for i in range(3)]), first)  # ... seeded
    fixed = inputs.ImageBatches(images, labels, batch_size=4, training=False)
    np.testing.assert_array_equal(fixed[0][1].ravel(), [0, 1, 2, 3])
    augmented = inputs.ImageBatches(images, labels, batch_size=4, training=True, augment=True)[0][0]
    assert augmented.shape == (4, 32, 32, 3) and augmented.min() >= 0 and augmented.max() <= 255


def test_augmenting_the_grey_channel_then_copying_it_equals_augmenting_three_channels():
    from cxrlib.models.model import to_model_input

    images = _images(4, 40)
    batches = inputs.ImageBatches(images, np.zeros(4), batch_size=4, training=True, augment=True, seed=3)
    one = batches[0][0]
    three = keras.ops.convert_to_numpy(
        inputs.make_augmenter(seed=3)(to_model_input(images[batches.order]), training=True))
    assert not np.allclose(one, to_model_input(images[batches.order]))  # it did augment
    np.testing.assert_allclose(one, three, atol=1e-3)
