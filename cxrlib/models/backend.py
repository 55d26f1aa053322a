"""Which Keras backend runs the study, and what it runs on; declared once.

Keras 3 runs the same models on TensorFlow or JAX. A study chooses with the profile key
``keras_backend`` (``tensorflow`` or ``jax``); left null, the ``KERAS_BACKEND`` environment variable
decides, and without it TensorFlow (:func:`resolve_backend`). The runner starts every notebook's
kernel with ``KERAS_BACKEND`` set to the choice, before Keras is imported there, and refuses a
backend whose package is not installed, naming the extra that installs it (:func:`require_backend`).

Inside cxrlib only the TensorFlow backend may import TensorFlow (``tf.data``, ``tf.GradientTape``,
``tf.distribute``); :func:`require_tensorflow` guards those places. :func:`accelerators` and
:func:`device_name` ask the running backend which GPUs it sees.

This module imports no deep-learning framework at import time, so the profile schema and the
runner can use it without starting Keras.
"""

from __future__ import annotations

import importlib.util
import os
from importlib import metadata

__all__ = [
    "BACKENDS",
    "BackendError",
    "resolve_backend",
    "require_backend",
    "require_tensorflow",
    "package_versions",
    "backend_versions",
    "accelerators",
    "device_name",
]

BACKENDS = {
    "tensorflow": ("tensorflow", 'pip install -e .  (TensorFlow is a core dependency; "[gpu]" adds CUDA)'),
    "jax": ("jax", 'pip install -e ".[jax]"'),
}
"""Backend name -> (the module that must be importable, how to install it)."""


class BackendError(ValueError):
    """A Keras backend that cannot be used: unknown, or not installed (the message says how to fix it)."""


def resolve_backend(value=None, *, environ=None):
    """The backend a run uses, and where the choice came from.

    Parameters
    ----------
    value : {"tensorflow", "jax"} or None
        The profile's ``keras_backend``; None defers to ``KERAS_BACKEND``.
    environ : mapping, optional
        The environment to read ``KERAS_BACKEND`` from (default ``os.environ``).

    Returns
    -------
    name : str
        ``"tensorflow"`` or ``"jax"``.
    source : str
        ``"profile"``, ``"KERAS_BACKEND"`` or ``"default"``.

    Raises
    ------
    BackendError
        When the profile's value or ``KERAS_BACKEND`` names a backend cxrlib does not run on.
    """
    environ = os.environ if environ is None else environ
    if value is not None:
        name, source = value, "profile"
    elif environ.get("KERAS_BACKEND"):
        name, source = environ["KERAS_BACKEND"], "KERAS_BACKEND"
    else:
        name, source = "tensorflow", "default"
    if name not in BACKENDS:
        where = "" if source == "profile" else "environment variable KERAS_BACKEND: "
        raise BackendError(f"{where}backend {name!r} is refused; cxrlib runs on {' or '.join(BACKENDS)} "
                           "(set keras_backend in the profile, e.g. --set keras_backend=jax, or unset KERAS_BACKEND)")
    return name, source


def require_backend(name):
    """Refuse a backend whose package is not importable, naming how to install it.

    Parameters
    ----------
    name : {"tensorflow", "jax"}

    Raises
    ------
    BackendError
        Unknown backend, or its package is missing.
    """
    if name not in BACKENDS:
        raise BackendError(f"backend {name!r} is refused; cxrlib runs on {' or '.join(BACKENDS)}")
    module, install = BACKENDS[name]
    if importlib.util.find_spec(module) is None:
        raise BackendError(f"keras_backend {name!r} is asked for but the package {module!r} is not installed in "
                           f"this environment; install it with `{install}`, or choose another backend "
                           f"(--set keras_backend=...)")


def require_tensorflow(what):
    """Import TensorFlow for ``what``, refusing when Keras runs on another backend.

    Parameters
    ----------
    what : str
        What needs TensorFlow (named in the error), e.g. ``"image_dataset (tf.data)"``.

    Returns
    -------
    module
        ``tensorflow``.
    """
    import keras

    backend = keras.backend.backend()
    if backend != "tensorflow":
        raise BackendError(f"{what} needs Keras' TensorFlow backend, but Keras runs on {backend!r}; "
                           "use the backend-neutral path (cxrlib chooses it by itself in train_classifier and gradcam)")
    import tensorflow as tf

    return tf


def package_versions(packages):
    """``{package: installed version}`` (None where one is not installed), read from package metadata."""
    versions = {}
    for package in packages:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return versions


def backend_versions(name):
    """Versions of Keras and of the backend's packages (None where one is not installed)."""
    return package_versions({"tensorflow": ("keras", "tensorflow"), "jax": ("keras", "jax", "jaxlib")}[name])


def accelerators():
    """Names of the GPUs the running Keras backend sees (empty on a CPU machine)."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        tf = require_tensorflow("listing GPUs")
        return [tf.config.experimental.get_device_details(d).get("device_name", d.name)
                for d in tf.config.list_physical_devices("GPU")]
    if backend == "jax":
        import jax

        return [d.device_kind for d in jax.devices() if d.platform == "gpu"]
    return []


def device_name():
    """The GPUs the backend sees, or ``"CPU (n cores)"``."""
    gpus = accelerators()
    return "; ".join(gpus) if gpus else f"CPU ({os.cpu_count()} cores)"
