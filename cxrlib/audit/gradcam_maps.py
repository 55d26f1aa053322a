"""Grad-CAM heatmaps of the Keras classifiers (Selvaraju et al. 2017), in batches, on either Keras backend.

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

Where the heatmaps fall is measured in :mod:`cxrlib.audit.gradcam_measures`, summarized and compared in
:mod:`cxrlib.audit.gradcam_summaries`, and checked in :mod:`cxrlib.audit.gradcam_checks`.
"""

import warnings

import numpy as np
from tqdm.auto import tqdm

from ..models.backbones import BACKBONES

__all__ = ["find_layer", "make_gradcam_heatmap", "gradcam", "heatmaps_in_batches", "sublayers", "output_layer",
           "default_to_input"]


_BACKBONE_LAYERS = {spec.gradcam_layer for spec in BACKBONES.values()}


def sublayers(model):
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):
            yield from sublayers(layer)


def find_layer(model, name=None):
    """The layer Grad-CAM reads, searched also inside nested models.

    Parameters
    ----------
    model : keras.Model
    name : str, optional
        Layer name. None: the backbone's ``gradcam_layer`` (:data:`cxrlib.models.BACKBONES`)
        when the model has it, otherwise the last layer (in model order, nested models
        included) with a 4-D output.

    Returns
    -------
    keras.layers.Layer
    """
    import keras

    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras.Model, got {type(model).__name__}")
    layers = list(sublayers(model))
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


def output_layer(model):
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
        The network's input (already converted, e.g. by cxrlib.models.model).
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
    head = output_layer(model)
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


def default_to_input(images):
    from ..models.model import to_model_input

    return to_model_input(np.stack(images))


def gradcam(images, model, *, layer_name=None, pred_index=None, threshold=0.5, batch_size=16, to_input=None,
            progress=False):
    """Grad-CAM heatmaps of many grayscale images, in batches.

    Parameters
    ----------
    images : sequence of (S, S) uint8 ndarray
        Grayscale radiographs at the model's input size, as the model sees them
        (whole image or ROI crop); e.g. from ``cxrlib.models.read_images``.
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
        Default: ``cxrlib.models.to_model_input``.
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
    convert = default_to_input if to_input is None else to_input
    return heatmaps_in_batches(lambda rows: convert(images[rows]), len(images), model, layer_name=layer_name,
                       pred_index=pred_index, threshold=threshold, batch_size=batch_size, progress=progress)


def heatmaps_in_batches(batch_of, n, model, *, layer_name, pred_index, threshold, batch_size, progress):
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
