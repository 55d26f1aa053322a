"""Grad-CAM for the Keras classifiers, and where on the radiograph the heatmaps fall.

Grad-CAM (Selvaraju et al., ICCV 2017), after the keras-io example
``examples/vision/grad_cam.py`` (``make_gradcam_heatmap``), adapted to

* a sigmoid output: the explained score is the logit (pre-sigmoid) of PNEUMONIA for
  class 1 and its negative for class 0, as Grad-CAM uses the pre-softmax score;
* a base network nested inside the classifier (``keras.applications.Xception`` as one
  layer of the outer model), where ``model.get_layer(name).output`` is not reachable
  from the outer input: the chosen layer's output is recorded during one ordinary
  forward pass instead;
* batches (one forward and one backward pass per batch);
* either Keras backend: the gradient at the layer's output is the backend's own
  (``tf.GradientTape`` under TensorFlow, ``jax.value_and_grad`` under JAX), same results on the same weights.

Measurement frame. Each heatmap is measured in the frame its network saw: the whole radiograph
for a whole-image arm, the thorax ROI box for a cropped arm (:func:`frame_of`; the lung mask is cut to
the box). A cropped arm's map cannot fall outside its box, so measured in the whole image it would gain
the box's share for free; in its own frame it gains nothing. Every mass has the chance level of its frame,
the region's share of it (what a uniform map gives):

``lung_mass``, ``lung_chance``, ``lung_mass_over_chance``
    share of the heatmap mass on the lung-field mask of preprocessing (``mask_path``), the mask's share
    of the frame, and the difference; two arms are compared on the difference only.
``thorax_mass``, ``thorax_chance``, ``thorax_mass_over_chance``
    the same for the thorax box, whole-image arms only ("does it look at the thorax at all?"); a cropped
    arm sees nothing else, so these are nan for it (1 by construction).
``lung_pointing``, ``thorax_pointing``
    whether the heatmap maximum lies there (pointing game; its chance level is the region's share too).
``mass_in_<name>``
    share inside any other box given per image (e.g. the synthetic data's planted marker), in the
    whole-image frame.

The heatmaps are coarse (Xception's last block is 1/32 of the input side, 7x7 at 224
px) and bilinearly upsampled, which blurs mass across region edges.
"""

import warnings

import cv2
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ..models.backbones import BACKBONES

__all__ = [
    "MEASURES",
    "CHANCE",
    "MEASURE_LABELS",
    "ROI_COLUMNS",
    "find_layer",
    "make_gradcam_heatmap",
    "gradcam",
    "upsample",
    "box_pixels",
    "expand_box",
    "to_frame",
    "frame_of",
    "heatmap_measures",
    "measure_gradcam",
    "summarize_measures",
    "summary_table",
    "paired_test",
    "compare_measures",
    "compare_groups",
    "select_examples",
    "overlay",
    "plot_examples",
    "plot_measure_distributions",
    "weight_groups",
    "randomization_check",
    "class_logits",
    "deletion_insertion",
    "faithfulness_summary",
    "faithfulness_table",
    "gradcam_sentence",
    "plot_faithfulness",
]

#: Per-image measures :func:`heatmap_measures` returns, in the network's own frame: the share of heatmap mass on
#: the thorax box (whole-image arms only) and on the lung fields, and whether the heatmap's peak lies there.
MEASURES = ("thorax_mass", "thorax_pointing", "lung_mass", "lung_pointing")
#: Their chance levels, the region's share of the frame (what a uniform map gives, for the mass and for a
#: pointing hit alike), and each mass minus its chance level (above 0: the map concentrates there).
CHANCE = ("thorax_chance", "thorax_mass_over_chance", "lung_chance", "lung_mass_over_chance")
#: How each measure is named for a reader.
MEASURE_LABELS = {
    "thorax_mass": "heatmap mass on the thorax box", "thorax_chance": "thorax box's share of the frame (chance)",
    "thorax_mass_over_chance": "thorax mass over chance", "thorax_pointing": "peak in the thorax box",
    "lung_mass": "heatmap mass on the lung fields", "lung_chance": "lung fields' share of the frame (chance)",
    "lung_mass_over_chance": "lung mass over chance", "lung_pointing": "peak on the lung fields",
}
#: Columns of processed.csv holding the ROI box as fractions of the image height/width.
ROI_COLUMNS = ("roi_y0", "roi_x0", "roi_y1", "roi_x1")


# --------------------------------------------------------------------------- Grad-CAM

_BACKBONE_LAYERS = {spec.gradcam_layer for spec in BACKBONES.values()}


def _sublayers(model):
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):
            yield from _sublayers(layer)


def find_layer(model, name=None):
    """The layer Grad-CAM reads, searched also inside nested models.

    Parameters
    ----------
    model : keras.Model
    name : str, optional
        Layer name. None: the backbone's ``gradcam_layer`` (:data:`cxrlib.backbones.BACKBONES`)
        when the model has it, otherwise the last layer (in model order, nested models
        included) with a 4-D output.

    Returns
    -------
    keras.layers.Layer
    """
    import keras

    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras.Model, got {type(model).__name__}")
    layers = list(_sublayers(model))
    if name is not None:
        if not isinstance(name, str):
            raise TypeError(f"name must be a layer name (str) or None, got {name!r}")
        for layer in layers:
            if layer.name == name:
                return layer
        convs = [layer.name for layer in layers if _is_4d(layer)]
        raise ValueError(f"layer {name!r} is not in the model; layers with a 4-D output: {convs[-8:]}")
    for layer in layers:
        if layer.name in _BACKBONE_LAYERS:
            return layer
    candidates = [layer for layer in layers if _is_4d(layer) and not hasattr(layer, "layers")]
    if not candidates:
        raise ValueError("the model has no layer with a 4-D (batch, height, width, channels) output for Grad-CAM")
    return candidates[-1]


def _is_4d(layer):
    try:
        return len(layer.output.shape) == 4
    except (AttributeError, ValueError):
        return False


def _output_layer(model):
    """The layer producing the model's output, if its activation is a sigmoid we can switch off."""
    import keras

    layer = model.layers[-1]
    history = getattr(model.outputs[0], "_keras_history", None)  # the operation that made the output
    if len(model.outputs) == 1 and history is not None and history.operation is layer:
        if getattr(layer, "activation", None) is keras.activations.sigmoid:
            return layer
    return None


def make_gradcam_heatmap(img_array, model, last_conv_layer_name=None, pred_index=None, *, threshold=0.5):
    """Grad-CAM heatmaps of one batch at the resolution of the chosen layer.

    Parameters
    ----------
    img_array : (B, H, W, C) float ndarray
        The network's input (already converted, e.g. by cxrlib.model).
    model : keras.Model
        Classifier with one sigmoid output, P(PNEUMONIA).
    last_conv_layer_name : str, optional
        Layer to explain (see :func:`find_layer`); None: the last convolutional block.
    pred_index : {None, 0, 1}
        Class to explain: 1 PNEUMONIA, 0 NORMAL, None the predicted class at `threshold`.
    threshold : float
        Decision threshold used when `pred_index` is None.

    Returns
    -------
    heatmaps : (B, h, w) float32 ndarray
        ReLU of the gradient-weighted sum of the layer's channels, divided by each
        map's maximum (values in [0, 1]; all zero when no location supports the class).
    probabilities : (B,) float ndarray
        The model's P(PNEUMONIA) for the batch.
    """
    import keras

    x = np.asarray(img_array, dtype=np.float32)
    if x.ndim != 4:
        raise ValueError(f"img_array must be a (batch, height, width, channels) array, got shape {x.shape}")
    if pred_index not in (None, 0, 1):
        raise ValueError(f"pred_index must be None, 0 (NORMAL) or 1 (PNEUMONIA), got {pred_index!r}")
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be in (0, 1), got {threshold}")
    layer = find_layer(model, last_conv_layer_name)
    head = _output_layer(model)
    gradient = _LAYER_GRADIENTS.get(keras.backend.backend())
    if gradient is None:
        raise ValueError(f"Grad-CAM runs on Keras' {' or '.join(_LAYER_GRADIENTS)} backend, "
                         f"not {keras.backend.backend()!r}")

    def class_score(out):
        """The explained score (summed over the batch) and P(PNEUMONIA), from the model's output."""
        ops = keras.ops
        out = ops.cast(ops.reshape(out, (x.shape[0], -1)), "float32")
        if out.shape[1] != 1:
            raise ValueError(f"model must have one sigmoid output unit, got output shape {tuple(out.shape)}")
        if head is None:  # no switchable sigmoid: recover the logit from the probability
            p = ops.clip(out[:, 0], 1e-7, 1 - 1e-7)
            logit = ops.log(p) - ops.log1p(-p)
        else:
            logit = out[:, 0]
        prob = ops.sigmoid(logit)
        target = (prob >= threshold) if pred_index is None else ops.full(prob.shape, pred_index == 1)
        return ops.sum(ops.where(target, logit, -logit)), prob

    # Hook the layer's call to reach its output during one ordinary forward pass (works when it
    # sits in a nested model), and read the pre-sigmoid logit by switching the output activation off.
    original_call = layer.call
    hook = {}

    def hooked_call(*args, **kwargs):
        return hook["on_output"](original_call(*args, **kwargs))

    layer.call = hooked_call
    if head is not None:
        head.activation = keras.activations.linear
    try:
        activation, grads, prob = gradient(model, layer, x, hook, class_score)
    finally:
        del layer.call  # back to the class method
        if head is not None:
            head.activation = keras.activations.sigmoid
    if head is None:
        warnings.warn(
            "the model's output is not a Dense/Activation layer with a sigmoid; the logit is recovered from the "
            "probability, so saturated predictions give flat heatmaps",
            stacklevel=2,
        )
    weights = grads.mean(axis=(1, 2))  # (B, C): how much each channel matters to the class
    cam = np.maximum(np.einsum("bhwc,bc->bhw", activation, weights), 0.0)
    peak = cam.max(axis=(1, 2), keepdims=True)
    cam = np.divide(cam, peak, out=np.zeros_like(cam), where=peak > 0)
    return cam.astype(np.float32), prob.astype(np.float64)


def _recorded_once(recorded, layer):
    if len(recorded) != 1:
        raise ValueError(f"layer {layer.name!r} ran {len(recorded)} times in one forward pass; choose another")
    return recorded[0]


def _layer_gradient_tensorflow(model, layer, x, hook, class_score):
    """TensorFlow: ``tf.GradientTape`` watches the layer's output as the forward pass makes it."""
    from ..models.backend import require_tensorflow

    tf = require_tensorflow("Grad-CAM's tf.GradientTape")
    recorded = []
    with tf.GradientTape(watch_accessed_variables=False) as tape:
        def on_output(out):
            tape.watch(out)
            recorded.append(out)
            return out

        hook["on_output"] = on_output
        score, prob = class_score(model(x, training=False))
    activation = _recorded_once(recorded, layer)
    grads = tape.gradient(score, activation)
    return (tf.cast(activation, tf.float32).numpy(), tf.cast(grads, tf.float32).numpy(),
            tf.cast(prob, tf.float32).numpy())


def _layer_gradient_jax(model, layer, x, hook, class_score):
    """JAX: ``jax.value_and_grad`` of the score as a function of an offset added to the layer's output.

    The offset is zero, so the forward pass is the model's own; the gradient with respect to it is
    the gradient with respect to the layer's output.
    """
    import jax
    import jax.numpy as jnp

    try:
        shape = (x.shape[0], *layer.output.shape[1:])
    except (AttributeError, ValueError):
        raise ValueError(f"layer {layer.name!r} has no single output in the model's graph; choose another") from None

    def score_of_offset(offset):
        recorded = []

        def on_output(out):
            recorded.append(out)
            return out + offset.astype(out.dtype)

        hook["on_output"] = on_output
        score, prob = class_score(model(x, training=False))
        return score, (_recorded_once(recorded, layer), prob)

    (_, (activation, prob)), grads = jax.value_and_grad(score_of_offset, has_aux=True)(
        jnp.zeros(shape, jnp.float32))
    return (np.asarray(activation, dtype=np.float32), np.asarray(grads, dtype=np.float32),
            np.asarray(prob, dtype=np.float32))


_LAYER_GRADIENTS = {"tensorflow": _layer_gradient_tensorflow, "jax": _layer_gradient_jax}
"""Backend -> ``gradient(model, layer, x, hook, class_score) -> (activation, grads, prob)`` ndarrays."""


def _default_to_input(images):
    from ..models.model import to_model_input

    return to_model_input(np.stack(images))


def gradcam(images, model, *, layer_name=None, pred_index=None, threshold=0.5, batch_size=16, to_input=None,
            progress=False):
    """Grad-CAM heatmaps of many grayscale images, in batches.

    Parameters
    ----------
    images : sequence of (S, S) uint8 ndarray
        Grayscale radiographs at the model's input size, as the model sees them
        (whole image or ROI crop); e.g. from ``cxrlib.inputs.read_images``.
    model : keras.Model
        Classifier with one sigmoid output.
    layer_name : str, optional
        Layer to explain; None: the last convolutional block.
    pred_index : {None, 0, 1}
        Class to explain (None: the predicted one at `threshold`).
    threshold : float
        Decision threshold.
    batch_size : int
        Images per forward/backward pass.
    to_input : callable, optional
        ``to_input(list of (S, S) uint8) -> (B, S, S, C) float`` network input.
        Default: ``cxrlib.model.to_model_input``.
    progress : bool
        Show a progress bar.

    Returns
    -------
    heatmaps : (N, h, w) float32 ndarray
        Low-resolution heatmaps in [0, 1] (upsample with :func:`upsample` or :func:`to_frame`).
    probabilities : (N,) float ndarray
        P(PNEUMONIA) from the same forward pass.
    """
    images = list(images)
    if not images:
        raise ValueError("images is empty; pass at least one (M, N) uint8 image")
    for i, image in enumerate(images):
        if not isinstance(image, np.ndarray) or image.ndim != 2 or image.dtype != np.uint8:
            raise ValueError(
                f"images[{i}] must be a 2-D uint8 grayscale array (cxrlib's image convention), got "
                f"{getattr(image, 'dtype', type(image).__name__)} with shape {getattr(image, 'shape', None)}"
            )
    convert = _default_to_input if to_input is None else to_input
    return _in_batches(lambda rows: convert(images[rows]), len(images), model, layer_name=layer_name,
                       pred_index=pred_index, threshold=threshold, batch_size=batch_size, progress=progress)


def _in_batches(batch_of, n, model, *, layer_name, pred_index, threshold, batch_size, progress):
    """Heatmaps and probabilities of ``n`` network inputs, ``batch_of(slice)`` giving each batch."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    maps, probs = [], []
    for start in tqdm(range(0, n, batch_size), desc="Grad-CAM", unit="batch", disable=not progress):
        heat, prob = make_gradcam_heatmap(batch_of(slice(start, start + batch_size)), model, layer_name, pred_index,
                                          threshold=threshold)
        maps.append(heat)
        probs.append(prob)
    return np.concatenate(maps), np.concatenate(probs)


# --------------------------------------------------------------------------- frames and measures


def _check_heatmap(heatmap, name="heatmap"):
    h = np.asarray(heatmap, dtype=np.float32)
    if h.ndim != 2 or h.size == 0 or not np.isfinite(h).all() or h.min() < 0:
        raise ValueError(f"{name} must be a finite, non-negative 2-D array, got shape {h.shape}")
    return h


def upsample(heatmap, shape):
    """Bilinear resize of a heatmap to ``shape`` (values stay in the input's range).

    Parameters
    ----------
    heatmap : (h, w) float ndarray
    shape : tuple of int
        ``(M, N)`` target size.

    Returns
    -------
    (M, N) float32 ndarray
    """
    h = _check_heatmap(heatmap)
    rows, cols = (int(v) for v in shape)
    if rows < 1 or cols < 1:
        raise ValueError(f"shape must be two positive sizes, got {shape}")
    return cv2.resize(h, (cols, rows), interpolation=cv2.INTER_LINEAR)


def box_pixels(box, shape):
    """ROI box as fractions ``(y0, x0, y1, x1)`` -> end-exclusive pixel indices in an image of ``shape``.

    Returns
    -------
    tuple of int
        ``(y0, x0, y1, x1)`` with at least one pixel in each direction.
    """
    y0, x0, y1, x1 = (float(v) for v in box)
    if not (0 <= y0 < y1 <= 1 and 0 <= x0 < x1 <= 1):
        raise ValueError(f"box must be fractions (y0, x0, y1, x1) with 0 <= y0 < y1 <= 1 and 0 <= x0 < x1 <= 1, "
                         f"got {box}")
    rows, cols = shape[:2]
    py0, px0 = min(int(round(y0 * rows)), rows - 1), min(int(round(x0 * cols)), cols - 1)
    py1, px1 = max(int(round(y1 * rows)), py0 + 1), max(int(round(x1 * cols)), px0 + 1)
    return py0, px0, py1, px1


def expand_box(box, margin):
    """Grow a box of fractions by ``margin`` (a fraction of the image side) on every side, clipped to [0, 1].

    Used to measure mass on a small object with a coarse heatmap: grow the object's box
    by half a heatmap cell so that mass landing on the cell holding it is counted.

    Returns
    -------
    tuple of float
        ``(y0, x0, y1, x1)``.
    """
    y0, x0, y1, x1 = (float(v) for v in box)
    if not margin >= 0:
        raise ValueError(f"margin must be a fraction >= 0, got {margin}")
    return (max(0.0, y0 - margin), max(0.0, x0 - margin), min(1.0, y1 + margin), min(1.0, x1 + margin))


def to_frame(heatmap, frame_shape, *, box=None):
    """Map a heatmap into the whole-image frame.

    Parameters
    ----------
    heatmap : (h, w) float ndarray
        Heatmap over the model's input.
    frame_shape : tuple of int
        ``(M, N)`` size of the whole-image frame.
    box : tuple of float, optional
        ROI box ``(y0, x0, y1, x1)`` as fractions when the model's input was the ROI
        crop: the heatmap is resized to the box and placed there, zero elsewhere.
        None: the input was the whole image; the heatmap is resized to the frame.

    Returns
    -------
    (M, N) float32 ndarray
    """
    if box is None:
        return upsample(heatmap, frame_shape)
    y0, x0, y1, x1 = box_pixels(box, frame_shape)
    canvas = np.zeros(tuple(int(v) for v in frame_shape[:2]), np.float32)
    canvas[y0:y1, x0:x1] = upsample(heatmap, (y1 - y0, x1 - x0))
    return canvas


def heatmap_measures(heatmap, box=None, *, mask=None):
    """Where a heatmap puts its mass, in the frame the network saw (see the module docstring).

    Parameters
    ----------
    heatmap : (M, N) float ndarray
        Non-negative heatmap over the network's own frame: the whole image for a whole-image arm, the ROI
        box for a cropped arm (:func:`frame_of`).
    box : tuple of float, optional
        The thorax ROI box ``(y0, x0, y1, x1)`` as fractions of that frame; None for a cropped arm, whose frame
        is the box (its thorax measures would be 1 by construction and are nan).
    mask : (M, N) bool ndarray, optional
        Lung-field mask in the same frame.

    Returns
    -------
    dict
        The keys of :data:`MEASURES` and :data:`CHANCE`: ``thorax_*`` need a box, ``lung_*`` a mask (nan
        otherwise); the masses and pointing hits are nan when the heatmap is zero everywhere. The chance level
        of a mass (and of a pointing hit) is the region's share of the frame: what a uniform map would give.
    """
    h = _check_heatmap(heatmap)
    out = dict.fromkeys(MEASURES + CHANCE, np.nan)
    regions = {}
    if box is not None:
        y0, x0, y1, x1 = box_pixels(box, h.shape)
        regions["thorax"] = np.zeros(h.shape, bool)
        regions["thorax"][y0:y1, x0:x1] = True
    if mask is not None:
        m = np.asarray(mask)
        if m.shape != h.shape:
            raise ValueError(f"mask must have the heatmap's shape {h.shape}, got {m.shape}")
        regions["lung"] = m.astype(bool)
    total = float(h.sum(dtype=np.float64))
    peak = np.unravel_index(np.argmax(h), h.shape)
    for name, region in regions.items():
        out[f"{name}_chance"] = float(region.mean())
        if total > 0:
            out[f"{name}_mass"] = float(h[region].sum(dtype=np.float64)) / total
            out[f"{name}_mass_over_chance"] = out[f"{name}_mass"] - out[f"{name}_chance"]
            out[f"{name}_pointing"] = float(region[peak])
    return out


def frame_of(heatmap, frame_size, *, box=None, mask=None):
    """A heatmap, and the lung mask, in the frame the network saw, at ``frame_size`` x ``frame_size``.

    Parameters
    ----------
    heatmap : (h, w) float ndarray
        Low-resolution heatmap over the network's input.
    frame_size : int
    box : tuple of float, optional
        The ROI box (fractions of the whole image) when the network's input was the crop of it: the mask is
        cut to the box before resizing. None: the input was the whole image.
    mask : (M, N) bool ndarray, optional
        Lung-field mask over the whole image.

    Returns
    -------
    heatmap : (frame_size, frame_size) float32 ndarray
    mask : (frame_size, frame_size) bool ndarray or None
    """
    shape = (frame_size, frame_size)
    if mask is not None:
        m = np.asarray(mask).astype(np.uint8)
        if box is not None:
            y0, x0, y1, x1 = box_pixels(box, m.shape)
            m = m[y0:y1, x0:x1]
        mask = cv2.resize(m, shape, interpolation=cv2.INTER_NEAREST) > 0
    return upsample(heatmap, shape), mask


def _mass_in(heatmap, box):
    y0, x0, y1, x1 = box_pixels(box, heatmap.shape)
    total = float(heatmap.sum(dtype=np.float64))
    return float(heatmap[y0:y1, x0:x1].sum(dtype=np.float64)) / total if total > 0 else np.nan


def measure_gradcam(table, model, *, image_column, crop, frame_size=256, regions=None, layer_name=None,
                    pred_index=None, threshold=0.5, batch_size=16, to_input=None, inputs=None, progress=True):
    """Grad-CAM of one model on every row of a processed table, measured in the frame the model saw.

    Parameters
    ----------
    table : pandas.DataFrame
        Rows of ``processed.csv``: the image column, ``roi_y0, roi_x0, roi_y1, roi_x1``
        (fractions) and optionally ``mask_path`` (lung-field mask; empty/NaN: none).
    model : keras.Model
        Classifier with one sigmoid output.
    image_column : str
        Column with the model's input images (one arm's, ``image_<arm>`` of processed.csv); read and
        resized to the model's input size by ``cxrlib.inputs.read_images``.
    crop : bool
        True when the images are ROI crops: their frame is the box, and the lung mask is cut to it.
    frame_size : int
        Side of the square frame the measures are taken in (:func:`frame_of`).
    regions : dict, optional
        ``{name: list of boxes}``, one box (fractions) or None per row: adds a column
        ``mass_in_<name>`` (e.g. the synthetic data's shortcut marker).
    layer_name, pred_index, threshold, batch_size, to_input
        As in :func:`gradcam`.
    inputs : ndarray, optional
        The rows' inputs to ``model`` when it is not the whole classifier (the trained part and the cached
        features of the frozen part, :func:`cxrlib.training.gradcam_inputs`); None: read the image column.
    progress : bool
        Show a progress bar.

    Returns
    -------
    measures : pandas.DataFrame
        Same index as `table`: ``probability``, ``explained_class``, the measures of
        :func:`heatmap_measures` and the ``mass_in_<name>`` columns (these in the whole-image frame, where
        a cropped arm's heatmap is zero outside its box).
    heatmaps : (N, h, w) float32 ndarray
        The low-resolution heatmaps (over the model's input).
    """
    missing = [c for c in (image_column, *ROI_COLUMNS) if c not in table.columns]
    if missing:
        raise ValueError(f"table lacks the columns {missing}; pass rows of processed.csv (02_preprocessing)")
    if isinstance(frame_size, bool) or not isinstance(frame_size, int) or frame_size < 8:
        raise ValueError(f"frame_size must be an int >= 8, got {frame_size!r}")
    regions = regions or {}
    for name, boxes in regions.items():
        if len(boxes) != len(table):
            raise ValueError(f"regions[{name!r}] must hold one box (or None) per row ({len(table)}), got {len(boxes)}")
    from ..data.images import read_radiograph
    from ..models.inputs import read_images

    if inputs is None:
        images = read_images(table[image_column], size=model.input_shape[1], progress=progress)
        heatmaps, probs = gradcam(images, model, layer_name=layer_name, pred_index=pred_index, threshold=threshold,
                                  batch_size=batch_size, to_input=to_input, progress=progress)
    elif len(inputs) != len(table):
        raise ValueError(f"inputs holds {len(inputs)} rows for a table of {len(table)}; give one per row")
    else:
        heatmaps, probs = _in_batches(lambda rows: np.asarray(inputs[rows], dtype=np.float32), len(inputs), model,
                                      layer_name=layer_name, pred_index=pred_index, threshold=threshold,
                                      batch_size=batch_size, progress=progress)
    has_masks = "mask_path" in table.columns
    rows = []
    for i, record in enumerate(table.itertuples(index=False)):
        box = tuple(getattr(record, c) for c in ROI_COLUMNS)
        mask = None
        if has_masks and isinstance(record.mask_path, str) and record.mask_path:
            mask = read_radiograph(record.mask_path) > 0
        in_frame, frame_mask = frame_of(heatmaps[i], frame_size, box=box if crop else None, mask=mask)
        row = heatmap_measures(in_frame, None if crop else box, mask=frame_mask)
        if regions:
            full = to_frame(heatmaps[i], (frame_size, frame_size), box=box if crop else None)
            for name, boxes in regions.items():
                row[f"mass_in_{name}"] = np.nan if boxes[i] is None else _mass_in(full, boxes[i])
        rows.append(row)
    out = pd.DataFrame(rows, index=table.index)
    out.insert(0, "probability", probs)
    out.insert(1, "explained_class", (probs >= threshold).astype(int) if pred_index is None else pred_index)
    flat = int((heatmaps.reshape(len(heatmaps), -1).max(axis=1) <= 0).sum())
    if flat:
        warnings.warn(f"{flat} heatmaps are zero everywhere (no location supports the explained class); their "
                      "measures are nan", stacklevel=2)
    return out, heatmaps


# --------------------------------------------------------------------------- summaries and tests


def _measure_columns(measures):
    return [c for c in measures.columns if c in MEASURES + CHANCE or c.startswith("mass_in_")]


def _by_seed(measures, name="measures"):
    """One DataFrame per seed (a single DataFrame is one seed), all over the same images."""
    tables = [measures] if isinstance(measures, pd.DataFrame) else list(measures)
    if not tables or not all(isinstance(t, pd.DataFrame) for t in tables):
        raise TypeError(f"{name} must be the DataFrame from measure_gradcam, or a list of them (one per seed)")
    if any(not t.index.equals(tables[0].index) for t in tables):
        raise ValueError(f"{name}: every seed's measures must cover the same images (the same index)")
    return tables


def summarize_measures(measures, *, groups=None, n_boot=2000, confidence=0.95, seed=0):
    """Mean of each per-image measure over seeds and images, with a bootstrap interval of patients and seeds.

    Parameters
    ----------
    measures : pandas.DataFrame or list of them
        Output of :func:`measure_gradcam`, one per training seed (the same images).
    groups : (N,) array, optional
        Patient id per row.
    n_boot, confidence, seed
        As in :func:`cxrlib.metrics.bootstrap_mean`.

    Returns
    -------
    dict
        ``n`` (images), ``seeds``, and per measure ``<name>_mean`` and ``<name>_ci``; the pointing games as
        ``<name>_rate`` (with ``<name>_rate_ci``). Measures that are nan for every row (no mask, or the thorax
        of a cropped arm) are left out.
    """
    from ..evaluation.intervals import bootstrap_mean

    tables = _by_seed(measures)
    out = {"n": int(len(tables[0])), "seeds": len(tables)}
    for column in _measure_columns(tables[0]):
        values = np.stack([t[column].to_numpy(dtype=float) for t in tables])
        if not np.isfinite(values).any():
            continue
        key = f"{column}_rate" if column.endswith("_pointing") else f"{column}_mean"
        mean, ci = bootstrap_mean(values, groups=groups, n_boot=n_boot, confidence=confidence, seed=seed)
        out[key] = mean
        out[f"{column}_rate_ci" if key.endswith("_rate") else f"{column}_ci"] = ci
    return out


def summary_table(summaries):
    """Display table of :func:`summarize_measures` results: one column per model.

    Parameters
    ----------
    summaries : dict
        ``{model name: summarize_measures output}``.

    Returns
    -------
    pandas.DataFrame
        One row per measure (named by :data:`MEASURE_LABELS`), cells ``"mean (low-high)"``; '-' where a model
        lacks the measure (the thorax of a cropped arm: 1 by construction).
    """
    if not isinstance(summaries, dict) or not summaries:
        raise TypeError("summaries must be a non-empty dict {model name: summarize_measures output}")
    keys = []
    for summary in summaries.values():
        keys += [k for k in summary if k.endswith(("_mean", "_rate")) and k not in keys]
    table = {}
    for name, summary in summaries.items():
        cells = []
        for key in keys:
            if key not in summary:
                cells.append("-")
                continue
            lo, hi = summary[f"{key[:-5]}_ci" if key.endswith("_mean") else f"{key}_ci"]
            cells.append(f"{summary[key]:.3f} ({lo:.3f}-{hi:.3f})")
        table[name] = cells
    return pd.DataFrame(table, index=[MEASURE_LABELS.get(k[:-5], k[:-5].replace("_", " ")) for k in keys])


def paired_test(values_a, values_b, *, groups=None, n_boot=2000, confidence=0.95, seed=0):
    """Wilcoxon signed-rank test (scipy) of ``a - b`` on paired per-image values, and the mean difference.

    Images where either value is nan are dropped; zero differences are dropped by
    the test ('wilcox' zero method). When every difference is zero there is no
    evidence of a difference: statistic 0, p-value 1.

    Parameters
    ----------
    values_a, values_b : (N,) or (K, N) float arrays
        The same images measured under model a and model b, one row per training seed. The test runs on the
        per-image means over seeds; the mean difference's interval resamples patients and seeds together.
    groups : (N,) array, optional
        Patient id per image, for the bootstrap interval of the mean difference.
        (The Wilcoxon test itself treats images as independent.)
    n_boot, confidence, seed
        As in :func:`cxrlib.metrics.bootstrap_mean`.

    Returns
    -------
    dict
        ``n`` (pairs), ``n_nonzero``, ``statistic``, ``p_value``, ``median_difference``,
        ``mean_difference``, ``mean_difference_ci``.
    """
    from scipy.stats import wilcoxon

    from ..evaluation.intervals import bootstrap_mean

    a = np.atleast_2d(np.asarray(values_a, dtype=float))
    b = np.atleast_2d(np.asarray(values_b, dtype=float))
    if a.ndim != 2 or a.shape != b.shape:
        raise ValueError(f"values_a and values_b must be (N,) or (seeds, N) of one shape, got "
                         f"{np.shape(values_a)} and {np.shape(values_b)}")
    ok = (np.isfinite(a) & np.isfinite(b)).all(axis=0)
    if ok.sum() == 0:
        raise ValueError("values_a and values_b have no pair where both are finite")
    diffs = a[:, ok] - b[:, ok]
    diff = diffs.mean(axis=0)
    g = None if groups is None else np.asarray(groups)[ok]
    nonzero = int(np.count_nonzero(diff))
    if nonzero == 0:
        statistic, p_value = 0.0, 1.0
    else:
        result = wilcoxon(diff, zero_method="wilcox", alternative="two-sided")
        statistic, p_value = float(result.statistic), float(result.pvalue)
    mean, ci = bootstrap_mean(diffs, groups=g, n_boot=n_boot, confidence=confidence, seed=seed)
    return {
        "n": int(ok.sum()), "n_nonzero": nonzero, "statistic": statistic, "p_value": p_value,
        "median_difference": float(np.median(diff)), "mean_difference": mean, "mean_difference_ci": ci,
    }


def compare_measures(measures_a, measures_b, *, groups=None, n_boot=2000, confidence=0.95, seed=0):
    """:func:`paired_test` of two models' heatmaps on the same images, each against its own frame's chance.

    Two arms see different frames (the whole image, or the box), so their masses have different chance levels;
    only the masses over chance (``*_mass_over_chance``) and the ``mass_in_<name>`` columns of a shared region
    are compared.

    Parameters
    ----------
    measures_a, measures_b : pandas.DataFrame or list of them
        :func:`measure_gradcam` of each model, one per seed, the same seeds and images.

    Returns
    -------
    dict
        ``{measure: paired_test result}`` for the measures both share with at least one finite pair.
    """
    tables_a, tables_b = _by_seed(measures_a, "measures_a"), _by_seed(measures_b, "measures_b")
    if len(tables_a) != len(tables_b) or not tables_a[0].index.equals(tables_b[0].index):
        raise ValueError("measures_a and measures_b must cover the same seeds and images")
    out = {}
    for column in _measure_columns(tables_a[0]):
        if not (column.endswith("_over_chance") or column.startswith("mass_in_")) or column not in tables_b[0]:
            continue
        a = np.stack([t[column].to_numpy(float) for t in tables_a])
        b = np.stack([t[column].to_numpy(float) for t in tables_b])
        if (np.isfinite(a) & np.isfinite(b)).all(axis=0).any():
            out[column] = paired_test(a, b, groups=groups, n_boot=n_boot, confidence=confidence, seed=seed)
    return out


def compare_groups(values, in_group):
    """Mean of a per-image value in and out of a group of images, with a Mann-Whitney U test (scipy).

    For example the heatmap mass on the synthetic shortcut spot, or P(PNEUMONIA), on
    images that carry the planted tag versus images that do not.

    Parameters
    ----------
    values : (N,) float array
        nan values are dropped.
    in_group : (N,) bool array

    Returns
    -------
    dict
        ``n_in``, ``n_out``, ``mean_in``, ``mean_out``, ``difference`` (in - out),
        ``statistic``, ``p_value`` (two-sided).
    """
    from scipy.stats import mannwhitneyu

    v = np.asarray(values, dtype=float)
    g = np.asarray(in_group)
    if v.ndim != 1 or g.shape != v.shape or g.dtype != bool:
        raise ValueError(f"values and in_group must be 1-D of one length, in_group boolean; got {v.shape}, "
                         f"{g.shape} {g.dtype}")
    ok = np.isfinite(v)
    inside, outside = v[ok & g], v[ok & ~g]
    if inside.size == 0 or outside.size == 0:
        # e.g. a model whose heatmaps are all zero (nan measures) on one group: nothing to compare
        warnings.warn(f"cannot compare groups: {inside.size} finite values in, {outside.size} out",
                      RuntimeWarning, stacklevel=2)
        nan = float("nan")
        return {"n_in": int(inside.size), "n_out": int(outside.size), "mean_in": nan, "mean_out": nan,
                "difference": nan, "statistic": nan, "p_value": nan}
    test = mannwhitneyu(inside, outside, alternative="two-sided")
    return {
        "n_in": int(inside.size), "n_out": int(outside.size), "mean_in": float(inside.mean()),
        "mean_out": float(outside.mean()), "difference": float(inside.mean() - outside.mean()),
        "statistic": float(test.statistic), "p_value": float(test.pvalue),
    }


def select_examples(y_true, pred_a, pred_b, *, n=8, seed=0):
    """Pick images for a side-by-side figure: both classes, right and wrong predictions.

    Images are grouped by (true class, model a right?, model b right?) and drawn
    round-robin from the non-empty groups, wrong predictions first, so that a small
    `n` still shows both classes and the errors.

    Returns
    -------
    (k,) int ndarray
        Row positions, k = min(n, number of images).
    """
    y = np.asarray(y_true).astype(int)
    a, b = np.asarray(pred_a).astype(int), np.asarray(pred_b).astype(int)
    if not (y.shape == a.shape == b.shape) or y.ndim != 1:
        raise ValueError(f"y_true, pred_a and pred_b must be 1-D of one length, got {y.shape}, {a.shape}, {b.shape}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    rng = np.random.default_rng(seed)
    cells = []
    for right_a, right_b in ((False, False), (True, False), (False, True), (True, True)):
        for label in (1, 0):
            members = np.flatnonzero((y == label) & ((a == y) == right_a) & ((b == y) == right_b))
            if members.size:
                cells.append(list(rng.permutation(members)))
    chosen = []
    while len(chosen) < min(n, y.size):
        for cell in cells:
            if cell and len(chosen) < n:
                chosen.append(cell.pop(0))
    return np.array(chosen, dtype=int)


# --------------------------------------------------------------------------- figures


def overlay(image, heatmap, *, alpha=0.4, colormap="jet"):
    """Colour heatmap blended over a grayscale image.

    Parameters
    ----------
    image : (M, N) uint8 ndarray
        Grayscale image.
    heatmap : (h, w) float ndarray
        Values in [0, 1]; resized to the image.
    alpha : float
        Weight of the heatmap colour.
    colormap : str
        Matplotlib colormap name.

    Returns
    -------
    (M, N, 3) uint8 ndarray
        RGB image.
    """
    import matplotlib

    if not isinstance(image, np.ndarray) or image.ndim != 2 or image.dtype != np.uint8:
        raise ValueError(f"image must be a 2-D uint8 grayscale array, got {getattr(image, 'dtype', None)} "
                         f"{getattr(image, 'shape', None)}")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    h = np.clip(upsample(heatmap, image.shape), 0.0, 1.0)
    colour = matplotlib.colormaps[colormap](h)[..., :3]
    gray = np.repeat(image[..., None] / 255.0, 3, axis=2)
    return np.round(255 * ((1 - alpha) * gray + alpha * colour)).astype(np.uint8)


def _draw_box(ax, box, shape, color="white"):
    from matplotlib.patches import Rectangle

    y0, x0, y1, x1 = box_pixels(box, shape)
    ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, ec=color, lw=1.2, ls="--"))


def plot_examples(examples):
    """The paper's Fig. 8 for several images and arms: where each arm's model looks.

    Parameters
    ----------
    examples : list of dict
        One per image, with ``image`` (the whole radiograph, (M, N) uint8), ``box`` (ROI fractions),
        ``heatmaps`` (``{arm: heatmap over that arm's input}``), ``cropped`` (``{arm: bool}``, whether
        the arm's input is the ROI crop) and ``title``.

    Returns
    -------
    matplotlib.figure.Figure
        Rows: images. Columns: the whole image with the ROI box, then one per arm with its heatmap in
        the whole-image frame (a cropped arm's heatmap placed into the box, nothing outside it).
    """
    import matplotlib.pyplot as plt

    if not examples:
        raise ValueError("examples is empty")
    arms = list(examples[0]["heatmaps"])
    columns = 1 + len(arms)
    fig, axes = plt.subplots(len(examples), columns, figsize=(2.3 * columns, 2.3 * len(examples)), squeeze=False)
    headers = ["input + ROI box"] + [f"{arm}" + (" (crop)" if examples[0]["cropped"][arm] else "") for arm in arms]
    for row, ex in zip(axes, examples):
        image = ex["image"]
        row[0].imshow(image, cmap="gray")
        for ax, arm in zip(row[1:], arms):
            heatmap = ex["heatmaps"][arm]
            placed = to_frame(heatmap, image.shape, box=ex["box"]) if ex["cropped"][arm] else heatmap
            ax.imshow(overlay(image, placed))
        for ax in row:
            _draw_box(ax, ex["box"], image.shape)
            ax.set_xticks([])
            ax.set_yticks([])
        row[0].set_ylabel(ex.get("title", ""), fontsize=8)
    for ax, header in zip(axes[0], headers):
        ax.set_title(header, fontsize=9)
    fig.tight_layout()
    return fig


def plot_measure_distributions(measures, *, columns=("lung_mass_over_chance", "thorax_mass_over_chance")):
    """Per-image distributions of heatmap measures over chance for several models (box plot + points).

    Parameters
    ----------
    measures : dict
        ``{model name: DataFrame from measure_gradcam}`` (same images).
    columns : tuple of str
        Measures to show; those that are nan everywhere are skipped, and models for which a measure is nan
        everywhere (the thorax of a cropped arm) are left out of its panel.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    if not isinstance(measures, dict) or not measures:
        raise TypeError("measures must be a non-empty dict {model name: measure_gradcam DataFrame}")
    shown = [c for c in columns if any(c in m and m[c].notna().any() for m in measures.values())]
    if not shown:
        raise ValueError(f"none of the columns {columns} has a finite value")
    fig, axes = plt.subplots(1, len(shown), figsize=(4.2 * len(shown), 3.8), squeeze=False)
    rng = np.random.default_rng(0)  # jitter only
    for ax, column in zip(axes[0], shown):
        names = [n for n, m in measures.items() if column in m and m[column].notna().any()]
        data = [measures[n][column].dropna().to_numpy() for n in names]
        ax.boxplot(data, showfliers=False)
        ax.set_xticks(range(1, len(names) + 1), names)
        for i, values in enumerate(data, start=1):
            ax.scatter(i + rng.uniform(-0.15, 0.15, values.size), values, s=6, alpha=0.4)
        ax.axhline(0, ls=":", color="grey", label="chance (a uniform map)")
        ax.legend(loc="lower left", fontsize=8)
        ax.set(title=MEASURE_LABELS.get(column, column), ylim=(-1.02, 1.02),
               ylabel="share of heatmap mass minus chance")
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- checks of the maps themselves


def weight_groups(model):
    """The model's layers with weights, grouped by block, from the output back to the input.

    A block is the part of a layer's name before its first ``_`` (``block14``, ``conv3``); the output unit
    (``pneumonia``) is its own group, first.

    Returns
    -------
    list of (str, list of keras.layers.Layer)
    """
    groups = {}
    for layer in _sublayers(model):
        if layer.weights and not hasattr(layer, "layers"):
            groups.setdefault(layer.name.split("_")[0], []).append(layer)
    return list(reversed(groups.items()))


def randomization_check(model, images, *, stages=4, layer_name=None, seed=0, batch_size=16):
    """Model-parameter randomization test of Grad-CAM (Adebayo et al. 2018), cascading from the output.

    The head is re-initialised, then successively deeper blocks (each variable redrawn from a normal
    distribution with its trained mean and SD, so activations keep their scale); after each stage the maps
    are recomputed and compared with the trained model's by Spearman rank correlation, image by image. Maps
    that barely change when the weights that produced the decision are destroyed explain nothing.

    Parameters
    ----------
    model : keras.Model
        The trained classifier (left unchanged: a copy is randomised).
    images : (N, S, S) uint8 ndarray
    stages : int
        How many weight groups (:func:`weight_groups`) to randomise in turn.
    layer_name : str, optional
        Grad-CAM layer (default: the backbone's).
    seed : int
    batch_size : int

    Returns
    -------
    pandas.DataFrame
        One row per stage: ``stage`` (the deepest block randomised so far), ``spearman_mean``,
        ``spearman_median`` (a randomized map gone flat counts as 0), ``n`` (images whose trained map is
        not flat) and ``flat_maps``.
    """
    import keras
    from scipy.stats import spearmanr

    layer = find_layer(model, layer_name).name
    trained, _ = gradcam(images, model, layer_name=layer, pred_index=1, batch_size=batch_size)
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    rng = np.random.default_rng(seed)
    rows = []
    for stage, (name, layers) in enumerate(weight_groups(copy)[:stages]):
        for group_layer in layers:
            for variable in group_layer.weights:
                values = np.asarray(variable)
                drawn = rng.normal(values.mean(), values.std() or 1e-3, values.shape)
                if "variance" in variable.path:  # a batch-norm variance must stay positive
                    drawn = np.abs(drawn) + 1e-3
                variable.assign(drawn.astype(values.dtype))
        randomized, _ = gradcam(images, copy, layer_name=layer, pred_index=1, batch_size=batch_size)
        if not np.isfinite(randomized).all():
            raise FloatingPointError(f"Grad-CAM maps became NaN after randomizing {name!r}")
        # a randomized map that is flat (no location supports the class any more) shares no ranking: 0
        rhos = [spearmanr(a.ravel(), b.ravel()).statistic if b.std() > 0 else 0.0
                for a, b in zip(trained, randomized) if a.std() > 0]
        rows.append({"stage": name, "stages_randomized": stage + 1, "spearman_mean": float(np.mean(rhos)) if rhos
                     else np.nan, "spearman_median": float(np.median(rhos)) if rhos else np.nan, "n": len(rhos),
                     "flat_maps": int(sum(b.std() == 0 for a, b in zip(trained, randomized) if a.std() > 0))})
    return pd.DataFrame(rows)


def class_logits(model, inputs, *, explained, batch_size=32):
    """The logit of the explained class (PNEUMONIA's logit, or its negative for NORMAL) of network inputs.

    The logit does not saturate where the probability does (0.99 and 0.9999 are 4.6 and 9.2), so a curve of it
    still moves on images the model is sure of. Read from the output layer with its sigmoid switched off, as
    Grad-CAM does; recovered from the clipped probability when the model has no such layer.

    Parameters
    ----------
    model : keras.Model
        Classifier with one sigmoid output.
    inputs : (N, ...) float ndarray
        Network inputs.
    explained : (N,) array of 0/1
        The class explained for each input.
    batch_size : int

    Returns
    -------
    (N,) float64 ndarray
    """
    import keras

    x = np.asarray(inputs, dtype=np.float32)
    sign = np.where(np.asarray(explained).reshape(-1) == 1, 1.0, -1.0)
    if sign.size != len(x):
        raise ValueError(f"explained holds {sign.size} classes for {len(x)} inputs; give one per input")
    head = _output_layer(model)
    if head is not None:
        head.activation = keras.activations.linear
    try:
        out = np.concatenate([np.asarray(keras.ops.convert_to_numpy(model(x[i:i + batch_size], training=False)),
                                         dtype=np.float64).reshape(-1) for i in range(0, len(x), batch_size)])
    finally:
        if head is not None:
            head.activation = keras.activations.sigmoid
    if head is None:
        p = np.clip(out, 1e-7, 1 - 1e-7)
        out = np.log(p) - np.log1p(-p)
    return sign * out


def deletion_insertion(model, images, heatmaps, *, explained, fill, steps=5, seed=0, batch_size=32,
                       to_input=None):
    """Faithfulness of saliency maps (Petsiuk et al. 2018): delete or reveal the most salient pixels first.

    Deletion replaces the most salient pixels of the model's input, in ``steps`` equal shares, with ``fill``
    and records the explained class's logit (:func:`class_logits`); insertion starts from ``fill`` everywhere
    and reveals them. A faithful map makes the deletion curve fall faster than a random order of the pixels
    (seeded, one per image) and the insertion curve rise faster. ``fill`` is one value for every image (the
    pooled mean of the training inputs, :func:`cxrlib.audit.neutral_fill`), so the fully deleted image is the
    same for all and says nothing of any image or class.

    Parameters
    ----------
    model : keras.Model
    images : (N, S, S) uint8 ndarray
        The model's inputs.
    heatmaps : (N, h, w) float ndarray
        Maps over the same inputs (upsampled to S here).
    explained : (N,) array of 0/1
        The class each map explains.
    fill : float
        Grey level of a deleted pixel, in [0, 255].
    steps : int
        Shares of the pixels changed per curve (>= 2).
    seed : int
    batch_size : int
    to_input : callable, optional
        As in :func:`gradcam`; default ``cxrlib.model.to_model_input``.

    Returns
    -------
    pandas.DataFrame
        One row per image: ``deletion_auc``, ``insertion_auc``, ``random_deletion_auc``,
        ``random_insertion_auc`` (areas under the logit against the share of pixels changed, by the
        trapezoid rule), ``deletion_gain`` (random minus map) and ``insertion_gain`` (map minus random): above
        0 where the map beats random.
    """
    images = np.asarray(images)
    if images.ndim != 3 or images.dtype != np.uint8 or len(images) != len(heatmaps):
        raise ValueError("images must be (N, S, S) uint8 and heatmaps hold one map per image")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 2:
        raise ValueError(f"steps must be an int >= 2, got {steps!r}")
    if not 0 <= float(fill) <= 255:
        raise ValueError(f"fill must be a grey level in [0, 255], got {fill!r}")
    explained = np.asarray(explained).astype(int).reshape(-1)
    if explained.size != len(images) or not np.isin(explained, (0, 1)).all():
        raise ValueError(f"explained must hold one class (0 or 1) per image ({len(images)})")
    convert = _default_to_input if to_input is None else to_input
    size = images.shape[1]
    rng = np.random.default_rng(seed)
    fractions = np.linspace(0, 1, steps + 1)
    blank = np.full(images.shape[1:], int(round(float(fill))), np.uint8)
    keys = ("deletion", "random_deletion", "insertion", "random_insertion")
    # every image's changed inputs (the interior fractions of the four curves), then its own image, scored together;
    # the curves' ends are the image itself and the blank, shared by the map and the random order
    per_image = len(keys) * (steps - 1) + 1

    def variants(image, heatmap):
        order = np.argsort(-upsample(heatmap, (size, size)).ravel(), kind="stable")
        rankings = (order, rng.permutation(order.size), order, rng.permutation(order.size))
        for key, ranking in zip(keys, rankings):
            for fraction in fractions[1:-1]:
                chosen = ranking[: int(round(fraction * order.size))]
                changed = (image if key.endswith("deletion") else blank).copy().ravel()
                changed[chosen] = (blank if key.endswith("deletion") else image).ravel()[chosen]
                yield changed.reshape(image.shape)
        yield image

    logits = []
    for start in range(0, len(images), 8):  # eight images' variants at a time bound the memory
        chunk = range(start, min(start + 8, len(images)))
        batch = [v for i in chunk for v in variants(images[i], heatmaps[i])]
        logits.append(class_logits(model, convert(batch), explained=np.repeat(explained[list(chunk)], per_image),
                                   batch_size=batch_size))
    blank_logit = {c: float(class_logits(model, convert([blank]), explained=[c])[0]) for c in (0, 1)}
    per_image = np.concatenate(logits).reshape(len(images), per_image)
    rows = []
    for values, cls in zip(per_image, explained):
        interior, own = values[:-1].reshape(len(keys), steps - 1), values[-1]
        row = {}
        for key, middle in zip(keys, interior):
            start, end = (own, blank_logit[cls]) if key.endswith("deletion") else (blank_logit[cls], own)
            row[f"{key}_auc"] = float(np.trapezoid(np.concatenate([[start], middle, [end]]), fractions))
        row["deletion_gain"] = row["random_deletion_auc"] - row["deletion_auc"]
        row["insertion_gain"] = row["insertion_auc"] - row["random_insertion_auc"]
        rows.append(row)
    return pd.DataFrame(rows)


def faithfulness_summary(tables, *, groups=None, n_boot=2000, confidence=0.95, seed=0):
    """Deletion and insertion of one arm against the random map, over seeds and images, with a verdict.

    Parameters
    ----------
    tables : list of pandas.DataFrame
        :func:`deletion_insertion` of each seed's model on the same images.
    groups : (N,) array, optional
        Patient id per image.
    n_boot, confidence, seed
        As in :func:`cxrlib.metrics.bootstrap_mean` (patients and seeds resampled together).

    Returns
    -------
    dict
        For ``deletion`` and ``insertion``: ``map_auc``, ``random_auc`` (means), ``gain`` (how much the map
        beats random: mean of the per-image gains) with ``gain_ci``, and ``verdict``: ``"faithful"`` when the
        interval of the gain lies above 0, ``"worse than random"`` when it lies below, ``"not shown"``
        otherwise; ``n`` (images) and ``seeds``.
    """
    from ..evaluation.intervals import bootstrap_mean

    if not tables or any(len(t) != len(tables[0]) for t in tables):
        raise ValueError("tables must hold one deletion_insertion result per seed, over the same images")
    out = {"n": int(len(tables[0])), "seeds": len(tables)}
    for curve in ("deletion", "insertion"):
        gains = np.stack([t[f"{curve}_gain"].to_numpy(float) for t in tables])
        gain, ci = bootstrap_mean(gains, groups=groups, n_boot=n_boot, confidence=confidence, seed=seed)
        out[curve] = {
            "map_auc": float(np.mean([t[f"{curve}_auc"].mean() for t in tables])),
            "random_auc": float(np.mean([t[f"random_{curve}_auc"].mean() for t in tables])),
            "gain": gain, "gain_ci": ci,
            "verdict": "faithful" if ci[0] > 0 else "worse than random" if ci[1] < 0 else "not shown",
        }
    return out


def faithfulness_table(summaries):
    """Display table of :func:`faithfulness_summary` per arm: the areas, the gain over random and the verdict."""
    rows = {}
    for arm, f in summaries.items():
        row = {}
        for curve in ("deletion", "insertion"):
            c = f[curve]
            row[f"{curve}: map"] = f"{c['map_auc']:.2f}"
            row[f"{curve}: random"] = f"{c['random_auc']:.2f}"
            row[f"{curve}: map beats random by"] = f"{c['gain']:+.2f} ({c['gain_ci'][0]:+.2f} to {c['gain_ci'][1]:+.2f})"
            row[f"{curve}: verdict"] = c["verdict"]
        rows[arm] = row
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("arm")


def gradcam_sentence(summary, faithfulness, randomization, *, cropped):
    """One arm's Grad-CAM findings in a sentence, every number with its interval and chance level.

    Parameters
    ----------
    summary : dict
        :func:`summarize_measures` of the arm.
    faithfulness : dict
        :func:`faithfulness_summary` of the arm.
    randomization : pandas.DataFrame
        :func:`randomization_check` of the arm.
    cropped : bool
        Whether the arm sees only the ROI box.

    Returns
    -------
    str
        Markdown.
    """
    parts = []
    if "lung_mass_mean" in summary:
        lo, hi = summary["lung_mass_over_chance_ci"]
        parts.append(f"{summary['lung_mass_mean']:.1%} of its heatmap mass lies on the lung fields, which are "
                     f"{summary['lung_chance_mean']:.1%} of {'its box' if cropped else 'the image'}: "
                     f"{summary['lung_mass_over_chance_mean']:+.3f} over chance (95% interval {lo:+.3f} to {hi:+.3f}, "
                     + ("more than chance" if lo > 0 else "less than chance" if hi < 0 else "not different from chance")
                     + f"); its peak is on the lungs in {summary['lung_pointing_rate']:.1%} of images")
    if not cropped and "thorax_mass_mean" in summary:
        lo, hi = summary["thorax_mass_over_chance_ci"]
        parts.append(f"{summary['thorax_mass_mean']:.1%} of its mass is inside the thorax box, which is "
                     f"{summary['thorax_chance_mean']:.1%} of the image ({summary['thorax_mass_over_chance_mean']:+.3f} "
                     f"over chance, {lo:+.3f} to {hi:+.3f})")
    if cropped:
        parts.append("it sees only the box, so where it looks outside the thorax is not asked")
    last = randomization["spearman_mean"].iloc[-1]
    parts.append(f"with the head and {len(randomization) - 1} deeper blocks randomized its maps keep a Spearman "
                 f"correlation of {last:.2f} with the trained ones "
                 + ("(they change: the maps depend on the trained weights)" if last < 0.5 else
                    "(**they barely change: these maps do not explain the model**)"))
    parts.append("deletion " + faithfulness["deletion"]["verdict"] + ", insertion " + faithfulness["insertion"]["verdict"]
                 + f" (gain over a random map {faithfulness['deletion']['gain']:+.2f} and "
                 f"{faithfulness['insertion']['gain']:+.2f} logit-areas)")
    return "; ".join(parts) + "."


def plot_faithfulness(randomization, faithfulness):
    """The two map checks per arm: correlation after cascading randomization, and deletion/insertion gains.

    Parameters
    ----------
    randomization : dict of str -> pandas.DataFrame
        ``{arm: randomization_check(...)}``.
    faithfulness : dict of str -> dict
        ``{arm: faithfulness_summary(...)}``.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
    for arm, table in randomization.items():
        left.plot(range(1, len(table) + 1), table["spearman_mean"], "o-", label=arm)
    first = next(iter(randomization.values()))
    left.set_xticks(range(1, len(first) + 1), [f"+{i} block{'s' if i > 1 else ''}" if i else "head"
                                                for i in range(len(first))], fontsize=9)
    left.axhline(0, color="grey", lw=0.8)
    low = min(-0.2, min(float(t["spearman_mean"].min()) for t in randomization.values()) - 0.05)
    left.set(ylim=(low, 1.02), ylabel="Spearman with the trained maps", xlabel="randomized so far, from the output",
             title="Randomization: maps should change (towards 0)")
    left.legend(fontsize=8)
    arms = list(faithfulness)
    x = np.arange(len(arms))
    for offset, (curve, color) in enumerate([("deletion", "tab:red"), ("insertion", "tab:green")]):
        gains = np.array([faithfulness[a][curve]["gain"] for a in arms])
        cis = np.array([faithfulness[a][curve]["gain_ci"] for a in arms])
        right.errorbar(x + (offset - 0.5) * 0.25, gains, yerr=[gains - cis[:, 0], cis[:, 1] - gains], fmt="o",
                       color=color, capsize=4, label=f"{curve}: map beats random by")
    right.axhline(0, color="grey", lw=0.8)
    right.set_xticks(x, arms)
    right.set(ylabel="area under the logit, map vs random", title="Deletion and insertion (above 0: faithful)")
    right.legend(fontsize=8)
    fig.tight_layout()
    return fig
