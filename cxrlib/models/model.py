"""The classifier for NORMAL (0) vs PNEUMONIA (1) (paper §3.4, §4.2), on a chosen backbone.

One Keras functional model per backbone (:data:`cxrlib.models.BACKBONES`), flattened
into one graph so every layer is reachable by name (Grad-CAM reads the backbone's
``gradcam_layer``)::

    image (S, S, 3) float32, pixel values 0..255 (a grayscale radiograph repeated 3 times)
    xception:  -> "xception_preprocess" Rescaling(1/127.5, offset=-1) = xception.preprocess_input
               -> Xception block1 ... block14 (ImageNet weights, a local weights file, or random)
    small_cnn: -> "rescale" Rescaling(1/255) -> conv1 ... conv4 (3x3 conv, batch norm, ReLU "convN_act",
               2x2 max pooling after the first three), trained from scratch
    -> "avg_pool" GlobalAveragePooling2D -> "head_dropout" Dropout -> "pneumonia" Dense(1, sigmoid)

This module is the only place where cxrlib's image convention, 2-D ``uint8``
grayscale, becomes the network's input (:func:`to_model_input`). Saved classifiers
(``.keras``) are read back with :func:`load_classifier` and scored with
:func:`predict_proba`, which take ``(N, S, S)`` uint8 images of the model's input size
(``cxrlib.models.read_images(paths, size=S)`` reads and resizes files).

Which layers train is set by :func:`configure_trainable`: ``frozen`` trains the head
alone; ``finetune`` trains everything from a named Xception block on (``block1``: end
to end). Batch-normalisation layers of a pretrained base stay in inference mode
(the Keras fine-tuning guide's advice: their ImageNet statistics are kept and small
batches cannot disturb them); from random weights they train.

The learning rate follows the paper's Eq. 10, ``Lr = Lr_i * D ** (s / ds)`` with
``s`` the optimizer step, as ``keras.optimizers.schedules.ExponentialDecay``
(:func:`lr_schedule`).
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

import numpy as np

import keras

from .backbones import BACKBONES

__all__ = [
    "BLOCKS",
    "INPUT_RANGE",
    "resolve_weights",
    "build_classifier",
    "configure_trainable",
    "split_at",
    "cut_layer",
    "lr_schedule",
    "compile_classifier",
    "to_model_input",
    "predict_proba",
    "load_classifier",
]

BLOCKS = tuple(f"block{i}" for i in range(1, 15))
"""Xception's blocks: 1-4 entry flow, 5-12 middle flow, 13-14 exit flow."""
INPUT_RANGE = (0.0, 255.0)
"""Pixel range of the classifier's input; the model applies preprocess_input itself."""


def resolve_weights(weights):
    """Check a ``weights`` setting and return it in canonical form.

    Parameters
    ----------
    weights : str or Path or None
        ``"imagenet"`` (Keras downloads the ImageNet weights), ``"none"`` or None
        (random initialisation), or the path of a Keras Xception no-top
        ``.weights.h5`` file (offline machines).

    Returns
    -------
    weights : "imagenet" or None or Path
    """
    if weights is None or (isinstance(weights, str) and weights.lower() == "none"):
        return None
    if isinstance(weights, str) and weights == "imagenet":
        return "imagenet"
    if not isinstance(weights, (str, Path)):
        raise TypeError(f"weights must be 'imagenet', 'none' or a file path, got {type(weights).__name__}")
    path = Path(weights).expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            f"weights file {str(path)!r} does not exist; give the path of a Keras Xception no-top "
            "'.weights.h5' file (this project's is ../shared/weights/xception_imagenet_notop.weights.h5), "
            "'imagenet' on a machine with internet access, or 'none' to train from scratch"
        )
    return path.resolve()


def backbone_spec(backbone):
    """The :class:`cxrlib.models.Backbone` named ``backbone``; a clear error for an unknown name."""
    if backbone not in BACKBONES:
        raise ValueError(f"backbone={backbone!r} is unknown; choose one of {', '.join(BACKBONES)}")
    return BACKBONES[backbone]


def _check_input_size(input_size, backbone="xception"):
    if isinstance(input_size, bool) or not isinstance(input_size, (int, np.integer)):
        raise TypeError(f"input_size must be an int, got {type(input_size).__name__}")
    low = backbone_spec(backbone).min_input_size
    if input_size < low:
        raise ValueError(
            f"input_size={input_size} is too small: {backbone} needs inputs of at least {low}x{low} pixels; "
            f"set model_input_size to {low} or more"
        )
    return int(input_size)


@contextlib.contextmanager
def _dtype_policy(policy):
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def build_classifier(*, backbone="xception", input_size=224, weights="imagenet", dropout=0.3, seed=0,
                     dtype_policy=None):
    """Build the classifier on a backbone (not compiled, all layers trainable).

    Parameters
    ----------
    backbone : str
        A name in :data:`cxrlib.models.BACKBONES`: ``"xception"`` (the paper's) or ``"small_cnn"``.
    input_size : int
        Side S of the square input, at least the backbone's minimum (71 for Xception).
    weights : str or Path or None
        See :func:`resolve_weights`; a backbone that trains from scratch takes only None / ``"none"``.
    dropout : float
        Dropout rate of the head, in [0, 1).
    seed : int
        Seed of the head's initialisation and dropout.
    dtype_policy : str, optional
        Keras dtype policy of the layers, e.g. ``"mixed_float16"`` on a GPU; the output
        unit is always float32.

    Returns
    -------
    model : keras.Model
        Input ``(None, S, S, 3)`` float32 in 0..255, output ``(None, 1)`` P(pneumonia).
    """
    spec = backbone_spec(backbone)
    input_size = _check_input_size(input_size, backbone)
    weights = resolve_weights(weights)
    if weights is not None and not spec.pretrained:
        raise ValueError(f"backbone {backbone!r} trains from scratch and takes no weights; set weights to 'none'")
    if not 0.0 <= float(dropout) < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
    with _dtype_policy(dtype_policy or keras.config.dtype_policy()):
        image = keras.Input((input_size, input_size, 3), name="image")
        features = spec.build(image, weights=weights, input_size=input_size, seed=seed)
        x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(features)
        x = keras.layers.Dropout(float(dropout), seed=seed, name="head_dropout")(x)
        output = keras.layers.Dense(1, activation="sigmoid", dtype="float32", name="pneumonia",
                                    kernel_initializer=keras.initializers.GlorotUniform(seed=seed))(x)
    return keras.Model(image, output, name=f"{backbone}_pneumonia")


def _check_block(block):
    if block is None:
        return "block1"
    if block not in BLOCKS:
        raise ValueError(f"finetune_from_block={block!r} is not an Xception block; use one of "
                         f"{', '.join(BLOCKS)} (block14: exit flow only), or null for end to end")
    return block


def cut_layer(model, *, train_mode, finetune_from_block=None):
    """Name of the layer whose input is the first trained tensor, or None (end to end).

    ``frozen``: the head's ``"head_dropout"`` (the pooled features are fixed);
    ``finetune``: the first layer of ``finetune_from_block`` (None for ``block1``).
    """
    if train_mode == "frozen":
        return "head_dropout"
    if train_mode != "finetune":
        raise ValueError(f"train_mode must be 'frozen' or 'finetune', got {train_mode!r}")
    block = _check_block(finetune_from_block)
    if block == "block1":
        return None
    pattern = re.compile(rf"^{block}_")
    return next(layer.name for layer in model.layers if pattern.match(layer.name))


def split_at(model, layer_name):
    """Split a classifier into a prefix and a suffix sharing its layers.

    Parameters
    ----------
    model : keras.Model
        A classifier from :func:`build_classifier`.
    layer_name : str
        The suffix starts at this layer's input.

    Returns
    -------
    prefix : keras.Model
        image -> the cut tensor.
    suffix : keras.Model
        the cut tensor -> P(pneumonia); training it trains ``model``'s layers.
    """
    cut = model.get_layer(layer_name).input
    return keras.Model(model.input, cut, name="prefix"), keras.Model(cut, model.output, name="suffix")


def configure_trainable(model, *, train_mode, finetune_from_block=None, train_batchnorm=False):
    """Set which layers train; return the names of the trainable ones.

    Parameters
    ----------
    model : keras.Model
        A classifier from :func:`build_classifier`.
    train_mode : {"frozen", "finetune"}
        ``frozen``: the head only. ``finetune``: every layer from the first layer of
        ``finetune_from_block`` on (all of them for ``block1`` / None).
    finetune_from_block : str, optional
        ``"block1"`` ... ``"block14"``; None means block1.
    train_batchnorm : bool
        Whether batch normalisation layers train (True when the base starts from
        random weights; False keeps pretrained statistics in inference mode). Trained
        ones get momentum 0.9 instead of Keras' 0.99, so that their running statistics,
        which inference uses, settle within the few hundred steps of a short run
        (with 0.99 a 100-step demo run predicts a constant on validation).

    Returns
    -------
    names : list of str
    """
    cut = cut_layer(model, train_mode=train_mode, finetune_from_block=finetune_from_block)
    if cut is None:
        trained = {layer.name for layer in model.layers}
    else:
        trained = {layer.name for layer in split_at(model, cut)[1].layers}
    names = []
    for layer in model.layers:
        is_bn = isinstance(layer, keras.layers.BatchNormalization)
        layer.trainable = layer.name in trained and (train_batchnorm or not is_bn)
        if is_bn and layer.trainable:
            layer.momentum = 0.9
        if layer.trainable and layer.weights:
            names.append(layer.name)
    return names


def lr_schedule(*, learning_rate, decay_rate, decay_steps):
    """The paper's Eq. 10, ``Lr = Lr_i * D ** (s / ds)``, s = optimizer step (not staircase).

    Parameters
    ----------
    learning_rate : float
        Lr_i, > 0.
    decay_rate : float
        D, in (0, 1].
    decay_steps : int
        ds, >= 1.

    Returns
    -------
    keras.optimizers.schedules.ExponentialDecay
    """
    if not float(learning_rate) > 0:
        raise ValueError(f"learning_rate must be > 0, got {learning_rate!r}")
    if not 0 < float(decay_rate) <= 1:
        raise ValueError(f"lr_decay_rate must be in (0, 1], got {decay_rate!r}")
    if int(decay_steps) < 1:
        raise ValueError(f"lr_decay_steps must be >= 1, got {decay_steps!r}")
    return keras.optimizers.schedules.ExponentialDecay(float(learning_rate), int(decay_steps),
                                                       float(decay_rate), staircase=False)


def compile_classifier(model, *, learning_rate=1e-3, decay_rate=0.9, decay_steps=100):
    """Compile with Adam on :func:`lr_schedule`, binary cross-entropy and accuracy."""
    optimizer = keras.optimizers.Adam(lr_schedule(learning_rate=learning_rate, decay_rate=decay_rate,
                                                  decay_steps=decay_steps))
    model.compile(optimizer=optimizer, loss="binary_crossentropy",
                  metrics=[keras.metrics.BinaryAccuracy(name="accuracy")])
    return model


def to_model_input(images):
    """Turn grayscale radiographs into the classifier's input.

    Parameters
    ----------
    images : (N, S, S) or (S, S) uint8 ndarray
        cxrlib's image convention.

    Returns
    -------
    batch : (N, S, S, 3) float32 ndarray
        Pixel values 0..255 repeated in 3 channels (the model does preprocess_input).
    """
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise TypeError(f"images must be uint8 grayscale (cxrlib's convention), got dtype {images.dtype}")
    if images.ndim == 2:
        images = images[None]
    if images.ndim != 3:
        raise ValueError(f"images must have shape (N, S, S) or (S, S), got {images.shape}")
    return np.repeat(images[..., None].astype(np.float32), 3, axis=-1)


def load_classifier(path):
    """Read a classifier saved by ``model.save(path)`` (a ``.keras`` file), uncompiled.

    The returned model takes :func:`to_model_input` batches; ``cxrlib.audit.find_layer`` reaches
    its backbone's last convolutional activation.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model file {str(path)!r} does not exist; run notebooks/03_training.py first")
    return keras.models.load_model(path, compile=False)


def predict_proba(model, images, *, batch_size=32):
    """P(pneumonia) for grayscale radiographs.

    Parameters
    ----------
    model : keras.Model
        A classifier (from :func:`build_classifier` or :func:`load_classifier`).
    images : (N, S, S) uint8 ndarray
        Radiographs at the model's input size S.
    batch_size : int

    Returns
    -------
    proba : (N,) float64 ndarray
    """
    images = np.asarray(images)
    if images.ndim == 2:
        images = images[None]
    size = model.input_shape[1]
    if images.ndim != 3 or images.shape[1:] != (size, size):
        raise ValueError(f"images must have shape (N, {size}, {size}) for this model, got {images.shape}; "
                         f"read them with cxrlib.models.read_images(paths, size={size})")
    out = np.empty(len(images), dtype=np.float64)
    for start in range(0, len(images), batch_size):
        batch = to_model_input(images[start:start + batch_size])
        out[start:start + len(batch)] = np.asarray(model.predict_on_batch(batch), dtype=np.float64).reshape(-1)
    return out
