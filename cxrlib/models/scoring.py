"""Scoring images with a trained classifier, through the cached frozen prefix when it trained on one."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .inputs import cached_features
from .model import cut_layer, split_at
from .settings import TrainSettings

__all__ = ["predict_scores", "gradcam_inputs"]


def predict_scores(model, images, *, settings, work_dir=None, batch_size=32, progress=True):
    """P(pneumonia) of a trained classifier, through the cached frozen prefix when it trained on one.

    The prefix of a pretrained backbone is the same for every seed of an arm, so its features are
    computed once (:func:`cxrlib.models.cached_features`, keyed by images and weights) and each seed's
    model runs only the part it trained; the scores equal a full forward pass up to the float16 features.

    Parameters
    ----------
    model : keras.Model
        From :func:`cxrlib.models.load_classifier`.
    images : (N, S, S) uint8 ndarray
    settings : TrainSettings or dict
        The model's training settings (``training.json`` holds them).
    work_dir : str or Path, optional
        Where ``features/`` is cached; None computes without caching.
    batch_size : int
    progress : bool

    Returns
    -------
    (N,) float64 ndarray
    """
    from .model import predict_proba

    parts = _cached_parts(model, settings)
    if parts is None:
        return predict_proba(model, images, batch_size=batch_size)
    prefix, suffix = parts
    features = _prefix_features(images, prefix, work_dir=work_dir, batch_size=batch_size, progress=progress)
    out = [np.asarray(suffix.predict_on_batch(features[i:i + batch_size].astype(np.float32)), dtype=np.float64)
           for i in range(0, len(features), batch_size)]
    return np.concatenate(out).reshape(-1)


def gradcam_inputs(model, images, *, settings, layer_name, work_dir=None, batch_size=32, progress=False):
    """What Grad-CAM of ``layer_name`` runs on: ``(model, None)`` (the whole classifier, on ``images``), or,
    when the model trained on a cached frozen prefix and the layer lies after it, ``(suffix, features)``:
    the trained part on the prefix's cached features (the ones :func:`predict_scores` made for the same
    images), so the frozen part does not run again and the probabilities are exactly step 04's.

    Parameters
    ----------
    model : keras.Model
    images : (N, S, S) uint8 ndarray
    settings : TrainSettings or dict
    layer_name : str
    work_dir, batch_size, progress
        As in :func:`predict_scores`.

    Returns
    -------
    (keras.Model, ndarray or None)
    """
    parts = _cached_parts(model, settings)
    if parts is not None and layer_name in {layer.name for layer in parts[1].layers}:
        prefix, suffix = parts
        return suffix, _prefix_features(images, prefix, work_dir=work_dir, batch_size=batch_size, progress=progress)
    return model, None


def _cached_parts(model, settings):
    """``(prefix, suffix)`` of a classifier that trained on a cached frozen prefix; None when it trained on images.

    ``settings``: its TrainSettings, or the dict ``training.json`` holds.
    """
    if isinstance(settings, dict):
        settings = TrainSettings(**settings)
    if not settings.cached:
        return None
    return split_at(model, cut_layer(model, train_mode=settings.train_mode,
                                     finetune_from_block=settings.finetune_from_block))


def _prefix_features(images, prefix, *, work_dir, batch_size, progress):
    """The frozen prefix's output for ``images``, cached under ``work_dir/features`` (None: not cached)."""
    cache_dir = None if work_dir is None else Path(work_dir) / "features"
    return cached_features(np.asarray(images), prefix, cache_dir=cache_dir, batch_size=batch_size, progress=progress)
