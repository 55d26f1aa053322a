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

Measurement frame. The *original* model sees the whole radiograph, the *processed*
model only the thorax ROI crop, so its heatmap lives in crop coordinates. Both are
mapped into one square frame of the whole image (:func:`to_frame`): the original
model's map is resized to the frame, the processed model's map is resized to the ROI
box and placed there on a zero canvas. In that frame:

``mass_in_roi``
    share of the heatmap mass inside the ROI box. It asks "does the model look at the
    thorax at all?"; for the processed model it is 1 by construction (it sees nothing
    else), so it measures the original model against a known answer.
``mass_in_mask``
    share inside the mask of preprocessing (``mask_path``: the lung fields, or the thorax
    mask the box was drawn around), when there is one; not trivial for either model.
``mask_share_in_roi``
    share of the mass *inside the box* that lies on the mask: where inside the thorax
    each model looks, with the same chance level for both (mask area / box area,
    ``mask_share_in_roi_chance``). This is the fair comparison of the two models.
``pointing_hit``, ``pointing_hit_mask``
    whether the heatmap maximum lies in the box / on the mask (pointing game).
``mass_in_<name>``
    share inside any other box given per image (e.g. the synthetic data's planted marker).

The heatmaps are coarse (Xception's last block is 1/32 of the input side, 7x7 at 224
px) and bilinearly upsampled, which blurs mass across region edges; the processed
model's map covers only the box and is therefore finer in the full frame.
"""

import warnings

import cv2
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .backbones import BACKBONES

__all__ = [
    "MEASURES",
    "CHANCE",
    "ROI_COLUMNS",
    "find_layer",
    "make_gradcam_heatmap",
    "gradcam",
    "upsample",
    "box_pixels",
    "expand_box",
    "to_frame",
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
    "deletion_insertion",
    "plot_faithfulness",
]

#: Per-image measures :func:`heatmap_measures` returns (besides the areas).
MEASURES = ("mass_in_roi", "mass_in_mask", "mask_share_in_roi", "pointing_hit", "pointing_hit_mask")
#: Chance baselines of the mass measures: the region's share of the frame (what a uniform map would put there),
#: and each mass minus its baseline (above 0: the map concentrates there more than chance).
CHANCE = ("roi_area_share", "mask_area_share", "mass_minus_roi_area", "mass_minus_mask_area")
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
    from .backend import require_tensorflow

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
    from cxrlib.model import to_model_input

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


def heatmap_measures(heatmap, box, *, mask=None):
    """Where a whole-frame heatmap puts its mass (see the module docstring).

    Parameters
    ----------
    heatmap : (M, N) float ndarray
        Non-negative heatmap in the whole-image frame (:func:`to_frame`).
    box : tuple of float
        ROI box ``(y0, x0, y1, x1)`` as fractions.
    mask : (M, N) bool ndarray, optional
        Lung-field mask in the same frame.

    Returns
    -------
    dict
        ``mass_in_roi``, ``pointing_hit``, ``roi_area_share`` (box area / frame area),
        ``mass_minus_roi_area`` and, with a mask, ``mass_in_mask``, ``mask_share_in_roi``,
        ``pointing_hit_mask``, ``mask_area_share``, ``mass_minus_mask_area``,
        ``mask_share_in_roi_chance`` (nan without one). The masses are nan when the
        heatmap is zero everywhere.
    """
    h = _check_heatmap(heatmap)
    y0, x0, y1, x1 = box_pixels(box, h.shape)
    inside = np.zeros(h.shape, bool)
    inside[y0:y1, x0:x1] = True
    out = dict.fromkeys(MEASURES + CHANCE + ("mask_share_in_roi_chance",), np.nan)
    out["roi_area_share"] = float(inside.mean())
    if mask is not None:
        m = np.asarray(mask)
        if m.shape != h.shape:
            raise ValueError(f"mask must have the heatmap's shape {h.shape}, got {m.shape}")
        m = m.astype(bool)
        out["mask_area_share"] = float(m.mean())
        out["mask_share_in_roi_chance"] = float((m & inside).sum() / inside.sum())
    total = float(h.sum(dtype=np.float64))
    if total <= 0:
        return out
    peak = np.unravel_index(np.argmax(h), h.shape)
    in_box = float(h[inside].sum(dtype=np.float64))
    out["mass_in_roi"] = in_box / total
    out["mass_minus_roi_area"] = out["mass_in_roi"] - out["roi_area_share"]
    out["pointing_hit"] = float(inside[peak])
    if mask is not None:
        out["mass_in_mask"] = float(h[m].sum(dtype=np.float64)) / total
        out["mass_minus_mask_area"] = out["mass_in_mask"] - out["mask_area_share"]
        out["mask_share_in_roi"] = float(h[m & inside].sum(dtype=np.float64)) / in_box if in_box > 0 else np.nan
        out["pointing_hit_mask"] = float(m[peak])
    return out


def _mass_in(heatmap, box):
    y0, x0, y1, x1 = box_pixels(box, heatmap.shape)
    total = float(heatmap.sum(dtype=np.float64))
    return float(heatmap[y0:y1, x0:x1].sum(dtype=np.float64)) / total if total > 0 else np.nan


def measure_gradcam(table, model, *, image_column, crop, frame_size=256, regions=None, layer_name=None,
                    pred_index=None, threshold=0.5, batch_size=16, to_input=None, inputs=None, progress=True):
    """Grad-CAM of one model on every row of a processed table, measured in the whole-image frame.

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
        True when the images are ROI crops (their heatmaps are placed into the box).
    frame_size : int
        Side of the square whole-image frame the measures are taken in.
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
        :func:`heatmap_measures` and the ``mass_in_<name>`` columns.
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
    from cxrlib.data import read_radiograph
    from cxrlib.inputs import read_images

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
    frame = (frame_size, frame_size)
    has_masks = "mask_path" in table.columns
    rows = []
    for i, record in enumerate(table.itertuples(index=False)):
        box = tuple(getattr(record, c) for c in ROI_COLUMNS)
        full = to_frame(heatmaps[i], frame, box=box if crop else None)
        mask = None
        if has_masks and isinstance(record.mask_path, str) and record.mask_path:
            mask = cv2.resize(read_radiograph(record.mask_path), (frame_size, frame_size),
                              interpolation=cv2.INTER_NEAREST) > 0
        row = heatmap_measures(full, box, mask=mask)
        for name, boxes in regions.items():
            row[f"mass_in_{name}"] = np.nan if boxes[i] is None else _mass_in(full, boxes[i])
        rows.append(row)
    out = pd.DataFrame(rows, index=table.index)
    out.insert(0, "probability", probs)
    out.insert(1, "explained_class", (probs >= threshold).astype(int) if pred_index is None else pred_index)
    if out["mass_in_roi"].isna().any():
        warnings.warn(f"{int(out['mass_in_roi'].isna().sum())} heatmaps are zero everywhere (no location supports "
                      "the explained class); their measures are nan", stacklevel=2)
    return out, heatmaps


# --------------------------------------------------------------------------- summaries and tests


def _measure_columns(measures):
    return [c for c in measures.columns if c in MEASURES + CHANCE or c.startswith("mass_in_")]


def summarize_measures(measures, *, groups=None, n_boot=2000, confidence=0.95, seed=0):
    """Mean of each per-image measure with a patient-bootstrap interval.

    Parameters
    ----------
    measures : pandas.DataFrame
        Output of :func:`measure_gradcam`.
    groups : (N,) array, optional
        Patient id per row.
    n_boot, confidence, seed
        As in :func:`cxrlib.metrics.bootstrap_intervals`.

    Returns
    -------
    dict
        ``n``, and per measure ``<name>_mean`` and ``<name>_ci``; the pointing games
        as ``pointing_hit_rate`` / ``pointing_hit_mask_rate`` (with ``<..>_rate_ci``). Measures
        that are nan for every row (e.g. no mask) are left out.
    """
    from cxrlib.metrics import bootstrap_mean

    if not isinstance(measures, pd.DataFrame):
        raise TypeError(f"measures must be the DataFrame from measure_gradcam, got {type(measures).__name__}")
    out = {"n": int(len(measures))}
    for column in _measure_columns(measures):
        values = measures[column].to_numpy(dtype=float)
        if not np.isfinite(values).any():
            continue
        key = f"{column}_rate" if column.startswith("pointing") else column
        mean, ci = bootstrap_mean(values, groups=groups, n_boot=n_boot, confidence=confidence, seed=seed)
        out[key if key.endswith("_rate") else f"{key}_mean"], out[f"{key}_ci"] = mean, ci
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
        One row per measure, cells ``"mean (low-high)"``; '-' where a model lacks the measure.
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
    return pd.DataFrame(table, index=keys)


def paired_test(values_a, values_b, *, groups=None, n_boot=2000, confidence=0.95, seed=0):
    """Wilcoxon signed-rank test (scipy) of ``a - b`` on paired per-image values.

    Images where either value is nan are dropped; zero differences are dropped by
    the test ('wilcox' zero method). When every difference is zero there is no
    evidence of a difference: statistic 0, p-value 1.

    Parameters
    ----------
    values_a, values_b : (N,) float arrays
        The same images measured under model a and model b.
    groups : (N,) array, optional
        Patient id per image, for the bootstrap interval of the mean difference.
        (The Wilcoxon test itself treats images as independent.)
    n_boot, confidence, seed
        As in :func:`cxrlib.metrics.bootstrap_intervals`.

    Returns
    -------
    dict
        ``n`` (pairs), ``n_nonzero``, ``statistic``, ``p_value``, ``median_difference``,
        ``mean_difference``, ``mean_difference_ci``.
    """
    from scipy.stats import wilcoxon

    from cxrlib.metrics import bootstrap_mean

    a = np.asarray(values_a, dtype=float)
    b = np.asarray(values_b, dtype=float)
    if a.ndim != 1 or a.shape != b.shape:
        raise ValueError(f"values_a and values_b must be 1-D of the same length, got {a.shape} and {b.shape}")
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() == 0:
        raise ValueError("values_a and values_b have no pair where both are finite")
    diff = a[ok] - b[ok]
    g = None if groups is None else np.asarray(groups)[ok]
    nonzero = int(np.count_nonzero(diff))
    if nonzero == 0:
        statistic, p_value = 0.0, 1.0
    else:
        result = wilcoxon(diff, zero_method="wilcox", alternative="two-sided")
        statistic, p_value = float(result.statistic), float(result.pvalue)
    mean, ci = bootstrap_mean(diff, groups=g, n_boot=n_boot, confidence=confidence, seed=seed)
    return {
        "n": int(ok.sum()), "n_nonzero": nonzero, "statistic": statistic, "p_value": p_value,
        "median_difference": float(np.median(diff)), "mean_difference": mean, "mean_difference_ci": ci,
    }


def compare_measures(measures_a, measures_b, *, groups=None, n_boot=2000, confidence=0.95, seed=0):
    """:func:`paired_test` of every mass measure two models share (rows are the same images).

    Returns
    -------
    dict
        ``{measure: paired_test result}`` for the ``mass_*`` / ``mask_share_in_roi``
        columns with at least one finite pair.
    """
    if not measures_a.index.equals(measures_b.index):
        raise ValueError("measures_a and measures_b must cover the same images (the same index)")
    out = {}
    for column in _measure_columns(measures_a):
        if column.startswith("pointing") or column in CHANCE or column not in measures_b.columns:
            continue
        a, b = measures_a[column].to_numpy(float), measures_b[column].to_numpy(float)
        if (np.isfinite(a) & np.isfinite(b)).any():
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


def plot_measure_distributions(measures, *, columns=("mass_in_roi", "mass_in_mask", "mask_share_in_roi")):
    """Per-image distributions of heatmap measures for several models (box plot + points).

    Parameters
    ----------
    measures : dict
        ``{model name: DataFrame from measure_gradcam}`` (same images).
    columns : tuple of str
        Measures to show; those that are nan everywhere are skipped.

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
    fig, axes = plt.subplots(1, len(shown), figsize=(3.6 * len(shown), 3.8), squeeze=False)
    rng = np.random.default_rng(0)  # jitter only
    for ax, column in zip(axes[0], shown):
        data = [m[column].dropna().to_numpy() for m in measures.values()]
        ax.boxplot(data, showfliers=False)
        ax.set_xticks(range(1, len(measures) + 1), list(measures))
        for i, values in enumerate(data, start=1):
            ax.scatter(i + rng.uniform(-0.15, 0.15, values.size), values, s=6, alpha=0.4)
        if column == "mask_share_in_roi":
            chance = next(iter(measures.values()))["mask_share_in_roi_chance"].mean()
            ax.axhline(chance, ls=":", color="grey", label=f"chance {chance:.2f}")
            ax.legend(loc="lower left", fontsize=8)
        ax.set(title=column.replace("_", " "), ylim=(-0.02, 1.02), ylabel="share of heatmap mass")
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


def deletion_insertion(model, images, heatmaps, *, steps=10, seed=0, batch_size=32, to_input=None):
    """Faithfulness of saliency maps (Petsiuk et al. 2018): delete or reveal the most salient pixels first.

    Deletion replaces the most salient pixels, in ``steps`` equal shares, with the image's mean and records
    P(pneumonia); insertion starts from the image's mean everywhere and reveals them. A faithful map makes
    the deletion curve fall fast (small area under it) and the insertion curve rise fast (large area). The
    same curves for a random ordering of the pixels (seeded) are the reference.

    Parameters
    ----------
    model : keras.Model
    images : (N, S, S) uint8 ndarray
        The model's inputs.
    heatmaps : (N, h, w) float ndarray
        Maps over the same inputs (upsampled to S here).
    steps : int
    seed : int
    batch_size : int
    to_input : callable, optional
        As in :func:`gradcam`.

    Returns
    -------
    pandas.DataFrame
        One row per image: ``deletion_auc``, ``insertion_auc``, ``random_deletion_auc``,
        ``random_insertion_auc`` (areas under P(pneumonia) against the share of pixels changed, in [0, 1]).
    """
    from .model import predict_proba

    images = np.asarray(images)
    if images.ndim != 3 or len(images) != len(heatmaps):
        raise ValueError("images must be (N, S, S) and heatmaps hold one map per image")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 2:
        raise ValueError(f"steps must be an int >= 2, got {steps!r}")
    size = images.shape[1]
    rng = np.random.default_rng(seed)
    fractions = np.linspace(0, 1, steps + 1)
    curves = {key: [] for key in ("deletion", "insertion", "random_deletion", "random_insertion")}
    for image, heatmap in zip(images, heatmaps):
        order = np.argsort(-upsample(heatmap, (size, size)).ravel(), kind="stable")
        random_order = rng.permutation(order.size)
        fill = np.full(image.shape, int(round(image.mean())), np.uint8)
        rankings = {"deletion": order, "random_deletion": random_order, "insertion": order,
                    "random_insertion": random_order}
        batch = []  # every step of the four curves of this image, scored in one call
        for key, ranking in rankings.items():
            for fraction in fractions:
                chosen = ranking[: int(round(fraction * order.size))]
                if key.endswith("deletion"):
                    changed = image.copy().ravel()
                    changed[chosen] = fill.ravel()[chosen]
                else:
                    changed = fill.copy().ravel()
                    changed[chosen] = image.ravel()[chosen]
                batch.append(changed.reshape(image.shape))
        probs = (predict_proba(model, np.stack(batch), batch_size=batch_size) if to_input is None else
                 np.asarray(model.predict_on_batch(to_input(batch)), dtype=np.float64).reshape(-1))
        for key, curve in zip(rankings, probs.reshape(len(rankings), len(fractions))):
            curves[key].append(float(np.trapezoid(curve, fractions)))
    return pd.DataFrame({f"{key}_auc": values for key, values in curves.items()})


def plot_faithfulness(randomization, faithfulness):
    """The two map checks per arm: correlation after cascading randomization, and deletion/insertion areas.

    Parameters
    ----------
    randomization : dict of str -> pandas.DataFrame
        ``{arm: randomization_check(...)}``.
    faithfulness : dict of str -> pandas.DataFrame
        ``{arm: deletion_insertion(...)}``.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.6))
    for arm, table in randomization.items():
        left.plot(range(1, len(table) + 1), table["spearman_mean"], "o-", label=arm)
    first = next(iter(randomization.values()))
    left.set_xticks(range(1, len(first) + 1), [f"+{s}" for s in first["stage"]], rotation=30, fontsize=8)
    left.axhline(0, color="grey", lw=0.8)
    low = min(-0.2, min(float(t["spearman_mean"].min()) for t in randomization.values()) - 0.05)
    left.set(ylim=(low, 1.02), ylabel="Spearman with the trained maps", xlabel="randomized so far (cascading)",
             title="Randomization check (lower is better)")
    left.legend(fontsize=8)
    arms = list(faithfulness)
    x = np.arange(len(arms))
    for offset, (column, label, color) in enumerate([("deletion_auc", "deletion", "tab:red"),
                                                     ("random_deletion_auc", "deletion, random map", "mistyrose"),
                                                     ("insertion_auc", "insertion", "tab:green"),
                                                     ("random_insertion_auc", "insertion, random map", "honeydew")]):
        right.bar(x + (offset - 1.5) * 0.2, [faithfulness[a][column].mean() for a in arms], 0.2, label=label,
                  color=color, edgecolor="grey")
    right.set_xticks(x, arms)
    right.set(ylim=(0, 1), ylabel="area under P(pneumonia)", title="Deletion (lower) and insertion (higher)")
    right.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return fig
