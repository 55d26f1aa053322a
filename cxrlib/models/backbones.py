"""The networks a study can use and the bounds of their training settings, declared once.

A backbone is declared here once, with the function that builds its layers (Keras is imported only when a
network is built, so the profile schema and the runner can list the backbones without starting Keras);
:func:`cxrlib.models.build_classifier` puts the classifier's head on it. A new backbone is one more entry of
:data:`BACKBONES` and its builder, here.

* ``xception``: the paper's network, ``keras.applications.Xception`` without its top, with
  ImageNet weights (or a local weights file, or random ones).
* ``small_cnn``: four convolution blocks (16-32-64-128 filters, batch normalisation, ReLU, max
  pooling), about 0.1 M parameters, trained from scratch end to end; about a minute on a 2-core
  CPU for the demo's images. For the demo and for teaching, not for the paper's numbers.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Backbone", "BACKBONES", "PRECISIONS", "PRECISION_LABELS", "TRAIN_RANGES", "shown_weights"]


@dataclass(frozen=True)
class Backbone:
    """What the rest of cxrlib needs to know about a network before building it.

    Attributes
    ----------
    name : str
    label : str
        How a reader sees it named (tables, the report).
    description : str
    min_input_size : int
        Smallest input side the network accepts.
    pretrained : bool
        Whether it takes ImageNet (or file) weights; one that does not trains from scratch, end to end.
    gradcam_layer : str
        Name of its last convolutional activation, the default Grad-CAM layer.
    build : callable
        ``build(x, *, weights, input_size, seed)``: its layers on the Keras tensor ``x`` (the image, 0..255), returning
        its last activation; ``weights`` as :func:`cxrlib.models.resolve_weights` gives them.
    """

    name: str
    label: str
    description: str
    min_input_size: int
    pretrained: bool
    gradcam_layer: str
    build: Callable = None


def _load_local_weights(base, path, input_size):
    import keras

    reference = keras.applications.Xception(include_top=False, weights=None,
                                            input_shape=(input_size, input_size, 3))
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            reference.load_weights(path)
        skipped = [str(w.message) for w in caught if "Skipping" in str(w.message)]
        if skipped:  # Keras loads what matches and warns about the rest: refuse a partial load
            raise ValueError(f"{len(skipped)} parts of the file do not match, e.g. {skipped[0]}")
    except Exception as exc:  # h5py, Keras: wrong file, wrong architecture, truncated
        raise ValueError(
            f"weights file {str(path)!r} could not be loaded into Xception(include_top=False) ({exc}); "
            "it must be a Keras 3 '.weights.h5' file saved from an Xception without its top, "
            "like ../shared/weights/xception_imagenet_notop.weights.h5 (see its PROVENANCE.md)"
        ) from None
    base.set_weights(reference.get_weights())


def _small_cnn(x, *, seed, **_):
    """The ``small_cnn`` backbone's layers on tensor ``x`` (0..255); returns its last activation."""
    import keras

    x = keras.layers.Rescaling(1.0 / 255.0, name="rescale")(x)
    for block, filters in enumerate((16, 32, 64, 128), 1):
        x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"conv{block}",
                                kernel_initializer=keras.initializers.HeNormal(seed=seed + block))(x)
        x = keras.layers.BatchNormalization(momentum=0.9, name=f"conv{block}_bn")(x)
        x = keras.layers.Activation("relu", name=f"conv{block}_act")(x)
        if block < 4:
            x = keras.layers.MaxPooling2D(2, name=f"pool{block}")(x)
    return x


def _xception(x, *, weights, input_size, **_):
    """The Xception base's layers on tensor ``x`` (0..255); returns its last activation."""
    import keras

    x = keras.layers.Rescaling(1.0 / 127.5, offset=-1.0, name="xception_preprocess")(x)
    try:
        base = keras.applications.Xception(include_top=False, input_tensor=x,
                                           weights="imagenet" if weights == "imagenet" else None)
    except Exception as exc:
        if weights != "imagenet":
            raise
        raise RuntimeError(
            f"Keras could not fetch the ImageNet Xception weights ({exc}); on a machine without internet "
            "access set weights to a local no-top '.weights.h5' file, or to 'none'"
        ) from None
    if isinstance(weights, Path):
        _load_local_weights(base, weights, input_size)
    return base.output


BACKBONES = {
    "xception": Backbone("xception", "Xception", "the paper's Xception (ImageNet weights, a local file, or none)",
                         min_input_size=71, pretrained=True, gradcam_layer="block14_sepconv2_act", build=_xception),
    "small_cnn": Backbone("small_cnn", "small CNN", "four conv blocks trained from scratch in about a minute on a "
                          "CPU (demo and teaching)", min_input_size=32, pretrained=False, gradcam_layer="conv4_act",
                          build=_small_cnn),
}
"""Every backbone a profile's ``backbone`` key may name."""

TRAIN_RANGES = {"epochs": (1, 1000), "batch_size": (1, 1024), "lr_decay_steps": (1, 10**9)}
"""Bounds of the integer training settings, declared once (``TrainSettings`` and the profile schema read them)."""

PRECISIONS = ("auto", "float32", "mixed_bfloat16", "mixed_float16")
"""The Keras dtype policies a profile's ``precision`` key may name. ``auto``: ``mixed_float16`` on a GPU,
``float32`` on a CPU. ``mixed_bfloat16`` computes in bfloat16 with float32 weights; on a CPU with
bfloat16 instructions (AVX512_BF16 or AMX) it runs Xception about 1.5 times as fast as float32."""
#: Each policy (and ``auto``) as a reader reads it.
PRECISION_LABELS = {"auto": "auto (mixed float16 on a GPU, float32 on a CPU)", "float32": "float32",
                    "mixed_bfloat16": "mixed bfloat16 (bfloat16 arithmetic, float32 weights)",
                    "mixed_float16": "mixed float16 (float16 arithmetic, float32 weights)"}


def shown_weights(value) -> str:
    """The ``weights`` setting as a reader should see it: a local file by its name, not the machine's path."""
    return f"local file {Path(str(value)).name}" if "/" in str(value) else str(value)
