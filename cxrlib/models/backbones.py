"""The networks a study can use and the bounds of their training settings, declared once.

This module imports no deep-learning framework, so the profile schema and the runner can list
the backbones without starting Keras; :mod:`cxrlib.model` builds them.

* ``xception``: the paper's network, ``keras.applications.Xception`` without its top, with
  ImageNet weights (or a local weights file, or random ones).
* ``small_cnn``: four convolution blocks (16-32-64-128 filters, batch normalisation, ReLU, max
  pooling), about 0.1 M parameters, trained from scratch end to end; about a minute on a 2-core
  CPU for the demo's images. For the demo and for teaching, not for the paper's numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["Backbone", "BACKBONES", "PRECISIONS", "TRAIN_RANGES", "shown_weights"]


@dataclass(frozen=True)
class Backbone:
    """What the rest of cxrlib needs to know about a network before building it.

    Attributes
    ----------
    name : str
    description : str
    min_input_size : int
        Smallest input side the network accepts.
    pretrained : bool
        Whether it takes ImageNet (or file) weights; one that does not trains from scratch, end to end.
    gradcam_layer : str
        Name of its last convolutional activation, the default Grad-CAM layer.
    """

    name: str
    description: str
    min_input_size: int
    pretrained: bool
    gradcam_layer: str


BACKBONES = {
    "xception": Backbone("xception", "the paper's Xception (ImageNet weights, a local file, or none)",
                         min_input_size=71, pretrained=True, gradcam_layer="block14_sepconv2_act"),
    "small_cnn": Backbone("small_cnn", "four conv blocks trained from scratch in about a minute on a CPU "
                          "(demo and teaching)", min_input_size=32, pretrained=False, gradcam_layer="conv4_act"),
}
"""Every backbone a profile's ``backbone`` key may name."""

TRAIN_RANGES = {"epochs": (1, 1000), "batch_size": (1, 1024), "lr_decay_steps": (1, 10**9)}
"""Bounds of the integer training settings, declared once (``TrainSettings`` and the profile schema read them)."""

PRECISIONS = ("auto", "float32", "mixed_bfloat16", "mixed_float16")
"""The Keras dtype policies a profile's ``precision`` key may name. ``auto``: ``mixed_float16`` on a GPU,
``float32`` on a CPU. ``mixed_bfloat16`` computes in bfloat16 with float32 weights; on a CPU with
bfloat16 instructions (AVX512_BF16 or AMX) it runs Xception about 1.5 times as fast as float32."""


def shown_weights(value) -> str:
    """The ``weights`` setting as a reader should see it: a local file by its name, not the machine's path."""
    return f"local file {Path(str(value)).name}" if "/" in str(value) else str(value)
