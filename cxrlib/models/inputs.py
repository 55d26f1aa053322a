"""Inputs of the classifier: image loading, augmentation, tf.data pipelines, cached features.

Radiographs are read once into memory as ``(N, S, S)`` uint8 arrays (:func:`read_images`).
Training on images goes through :func:`image_dataset` (tf.data: shuffle, batch,
augment, prefetch, all seeded), or, under a Keras backend other than TensorFlow
(JAX on a GPU machine without TensorFlow), its twin :class:`ImageBatches`. Training with a frozen prefix of the network goes
through :func:`cached_features`, which computes the prefix's output once and keeps it
on disk as float16 ``.npy``, keyed by the image content, the prefix's weights and its
input shape, so a second run (or a resumed one) skips the expensive forward pass.

Augmentation (:func:`make_augmenter`), our choice for radiographs: rotation up to ±5°,
shift up to ±5 % of the side, zoom ±10 %, contrast ±20 %; borders filled with black. It runs on the
grey channel before the copy to the network's three (a third of the work, the same images).
No flips: a horizontal flip moves the heart to the right (dextrocardia, about 1 in
10,000 people) and mirrors the side marker, so flipped images are not plausible
radiographs; a vertical flip even less so.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np
from sklearn.utils.class_weight import compute_class_weight
from tqdm.auto import tqdm

import keras

from ..atomic import atomic_path
from .backend import require_tensorflow
from ..data.images import read_radiograph
from .model import to_model_input

__all__ = [
    "read_images",
    "class_weights",
    "make_augmenter",
    "image_dataset",
    "ImageBatches",
    "fingerprint",
    "cached_features",
]


def read_images(paths, *, size, progress=True):
    """Read radiographs and resize them to the model's input size.

    Parameters
    ----------
    paths : sequence of str or Path
        Image files (JPEG or PNG; read with ``cxrlib.data.read_radiograph``).
    size : int
        Side S of the output; images of another size are resized with
        ``cv2.INTER_AREA`` (aspect ratio not kept, as the paper's 400x400 resize).
    progress : bool
        Show a tqdm bar.

    Returns
    -------
    images : (N, S, S) uint8 ndarray
    """
    paths = list(paths)
    size = int(size)
    if size < 1:
        raise ValueError(f"size must be a positive int, got {size}")
    out = np.empty((len(paths), size, size), dtype=np.uint8)
    for i, path in enumerate(tqdm(paths, desc="reading images", disable=not progress, leave=False)):
        image = read_radiograph(path)
        if image.shape != (size, size):
            image = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
        out[i] = image
    return out


def class_weights(labels):
    """Class weights ``n / (2 n_c)`` (scikit-learn's "balanced") for 0/1 labels.

    Parameters
    ----------
    labels : (N,) int ndarray
        0 = NORMAL, 1 = PNEUMONIA; both classes must occur.

    Returns
    -------
    weights : dict {0: float, 1: float}
        With the training set's 1:2.9 ratio, about {0: 1.94, 1: 0.67}.
    """
    labels = np.asarray(labels).astype(int).reshape(-1)
    present = set(np.unique(labels).tolist())
    if present != {0, 1}:
        raise ValueError(f"labels must contain both classes 0 and 1, got {sorted(present)}")
    weights = compute_class_weight("balanced", classes=np.array([0, 1]), y=labels)
    return {0: float(weights[0]), 1: float(weights[1])}


def make_augmenter(*, seed=0):
    """The random augmentation applied to training batches (see the module docstring).

    Returns
    -------
    augmenter : keras.Sequential
        Maps (B, S, S, C) float 0..255 to the same shape; random only with ``training=True``.
    """
    fill = {"fill_mode": "constant", "fill_value": 0.0}
    return keras.Sequential([
        keras.layers.RandomRotation(5.0 / 360.0, seed=seed, **fill),
        keras.layers.RandomTranslation(0.05, 0.05, seed=seed + 1, **fill),
        keras.layers.RandomZoom(0.1, seed=seed + 2, **fill),
        keras.layers.RandomContrast(0.2, value_range=(0, 255), seed=seed + 3),
    ], name="augment")


def image_dataset(images, labels, *, batch_size, training, augment=False, seed=0):
    """A tf.data pipeline of classifier batches from in-memory radiographs.

    Parameters
    ----------
    images : (N, S, S) uint8 ndarray
    labels : (N,) int ndarray
        0 = NORMAL, 1 = PNEUMONIA.
    batch_size : int
    training : bool
        Shuffle every epoch (seeded) and, with ``augment``, augment.
    augment : bool
    seed : int

    Returns
    -------
    dataset : tf.data.Dataset
        Of ``((B, S, S, 3) float32 0..255, (B, 1) float32)`` batches, the
        tf.data twin of :func:`cxrlib.models.to_model_input`.
    """
    tf = require_tensorflow("image_dataset (tf.data); ImageBatches is its backend-neutral twin")
    images = np.asarray(images)
    labels = np.asarray(labels, dtype=np.float32).reshape(-1, 1)
    if images.dtype != np.uint8 or images.ndim != 3:
        raise ValueError(f"images must be a (N, S, S) uint8 array, got {images.dtype} {images.shape}")
    if len(images) == 0 or len(images) != len(labels):
        raise ValueError(f"images ({len(images)}) and labels ({len(labels)}) must be non-empty and of equal length")
    dataset = tf.data.Dataset.from_tensor_slices((images, labels))
    if training:
        dataset = dataset.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(int(batch_size))

    layers = make_augmenter(seed=seed).layers if training and augment else []

    def to_input(x, y):
        x = tf.cast(x, tf.float32)[..., None]
        for layer in layers:  # one by one: each switches to TF ops inside tf.data
            x = layer(x, training=True)
        return tf.repeat(x, 3, axis=-1), y  # augmented on one channel, then copied to three

    dataset = dataset.map(to_input, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return dataset.prefetch(tf.data.AUTOTUNE)


class ImageBatches(keras.utils.PyDataset):
    """Backend-neutral twin of :func:`image_dataset` (a ``keras.utils.PyDataset``).

    The order of epoch ``e`` is a permutation drawn from ``numpy.random.default_rng([seed, e])``;
    augmentation runs the :func:`make_augmenter` layers on the backend's device.

    Parameters
    ----------
    images : (N, S, S) uint8 ndarray
    labels : (N,) int ndarray
    batch_size : int
    training : bool
    augment : bool
    seed : int
    """

    def __init__(self, images, labels, *, batch_size, training, augment=False, seed=0):
        super().__init__()
        self.images = np.asarray(images)
        self.labels = np.asarray(labels, dtype=np.float32).reshape(-1, 1)
        if self.images.dtype != np.uint8 or self.images.ndim != 3:
            raise ValueError(f"images must be a (N, S, S) uint8 array, got {self.images.dtype} {self.images.shape}")
        if len(self.images) == 0 or len(self.images) != len(self.labels):
            raise ValueError(f"images ({len(self.images)}) and labels ({len(self.labels)}) must be non-empty "
                             "and of equal length")
        self.batch_size, self.training, self.seed = int(batch_size), bool(training), int(seed)
        self.augmenter = make_augmenter(seed=seed) if training and augment else None
        self.epoch = 0
        self.order = self._order()

    def _order(self):
        if not self.training:
            return np.arange(len(self.images))
        return np.random.default_rng([self.seed, self.epoch]).permutation(len(self.images))

    def __len__(self):
        return -(-len(self.images) // self.batch_size)

    def __getitem__(self, index):
        rows = self.order[index * self.batch_size:(index + 1) * self.batch_size]
        if self.augmenter is None:
            return to_model_input(self.images[rows]), self.labels[rows]
        gray = self.images[rows][..., None].astype(np.float32)
        gray = keras.ops.convert_to_numpy(self.augmenter(gray, training=True))
        return np.repeat(gray, 3, axis=-1), self.labels[rows]  # augmented on one channel, then copied to three

    def on_epoch_end(self):
        self.epoch += 1
        self.order = self._order()


def fingerprint(*parts):
    """sha256 hex digest of arrays (their bytes, dtype and shape) and strings."""
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, np.ndarray):
            digest.update(f"{part.dtype}{part.shape}".encode())
            digest.update(np.ascontiguousarray(part).data)
        else:
            digest.update(repr(part).encode())
        digest.update(b"\0")
    return digest.hexdigest()


def _save_atomic(array, path):
    with atomic_path(path) as tmp:
        np.save(tmp, array)


def cached_features(images, prefix, *, cache_dir=None, batch_size=32, progress=True):
    """Output of a frozen network prefix for each image, computed once and cached.

    Parameters
    ----------
    images : (N, S, S) uint8 ndarray
    prefix : keras.Model
        Maps :func:`cxrlib.models.to_model_input` batches to a feature tensor
        (``cxrlib.models.split_at``); run in inference mode.
    cache_dir : str or Path, optional
        Folder of the ``.npy`` cache (float16); None computes without caching. The
        file name is a fingerprint of the images, the prefix's weights, its input
        and output shapes and its dtype policy.
    batch_size : int
    progress : bool

    Returns
    -------
    features : (N, ...) float16 ndarray
    """
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 3 or len(images) == 0:
        raise ValueError(f"images must be a non-empty (N, S, S) uint8 array, got {images.dtype} {images.shape}")
    path = None
    if cache_dir is not None:
        key = fingerprint(images, *[np.asarray(w) for w in prefix.weights], tuple(prefix.input_shape),
                          tuple(prefix.output_shape), prefix.dtype_policy.name)
        path = Path(cache_dir) / f"features-{key[:32]}.npy"
        if path.is_file():
            features = np.load(path)
            if len(features) == len(images):
                return features
    shape = tuple(prefix.output_shape[1:])
    features = np.empty((len(images), *shape), dtype=np.float16)
    steps = range(0, len(images), batch_size)
    for start in tqdm(steps, desc="frozen features", disable=not progress, leave=False):
        batch = to_model_input(images[start:start + batch_size])
        features[start:start + len(batch)] = np.asarray(prefix.predict_on_batch(batch), dtype=np.float32)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        _save_atomic(features, path)
    return features
