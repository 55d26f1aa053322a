"""Training one classifier on one arm's images: data, modes, best epoch, thresholds, history, resume.

:func:`train_classifier` trains the Xception classifier of :mod:`cxrlib.models.model` on the
rows of a processed manifest whose ``subset`` is ``train`` and selects on those whose
``subset`` is ``val`` (validation carved from train by patient). Test rows are never
read. The steps:

1. Read the images of one column (one arm's images, ``image_<arm>`` of processed.csv)
   at the model's input size.
2. Build the classifier, set which layers train (:class:`TrainSettings`).
3. When a frozen prefix exists (``frozen``, or ``finetune`` from block 2..14) and
   ``feature_cache`` is on, compute the prefix's output once (cached on disk under
   ``work_dir``) and train only the rest on it; otherwise train on images through
   the tf.data pipeline (``ImageBatches`` under a non-TensorFlow Keras backend),
   with augmentation if asked (the only path that augments).
4. Adam on the paper's Eq. 10 schedule, binary cross-entropy with balanced class
   weights (``n / (2 n_c)``: the 1:2.9 imbalance weighs NORMAL about 2.9 times as
   much as PNEUMONIA).
5. After every epoch: the validation loss (weighted like the training loss, so the
   curves compare), accuracy at 0.5 and ROC AUC (scikit-learn); the weights of the
   epoch with the highest validation AUC are kept (the first such epoch on ties),
   and the last epoch is checkpointed under ``work_dir`` with the optimizer state,
   so a rerun after an interruption resumes where it stopped (and a finished run
   returns at once with its result).
6. The three operating points are chosen on validation only (:func:`cxrlib.evaluation.operating_thresholds`).

A loss that turns NaN or infinite stops training (``keras.callbacks.TerminateOnNaN``)
and raises :class:`FloatingPointError`; the last good checkpoint is kept.
"""

from __future__ import annotations

import dataclasses
import json
import re
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from tqdm.auto import tqdm

import keras

from ..atomic import atomic_path
from ..data.manifest import sha256_file
from ..evaluation.operating_points import operating_thresholds
from .backbones import PRECISIONS
from .backend import accelerators, device_name, require_tensorflow
from .inputs import ImageBatches, cached_features, class_weights, fingerprint, image_dataset, read_images
from .model import (build_classifier, compile_classifier, configure_trainable, cut_layer, lr_schedule, resolve_weights,
                    split_at, to_model_input)
from .settings import TrainingResult, TrainSettings

__all__ = ["train_classifier", "distribution"]


_LABELS = {"NORMAL": 0, "PNEUMONIA": 1}


def _split(frame, image_column):
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"frame must be a pandas DataFrame (processed.csv), got {type(frame).__name__}")
    missing = [c for c in (image_column, "label", "subset") if c not in frame.columns]
    if missing:
        raise ValueError(f"frame lacks the column(s) {missing}; expected processed.csv from notebooks/02 "
                         f"(columns path, image_<arm>, label, subset, ...)")
    bad = sorted(set(frame.label) - set(_LABELS))
    if bad:
        raise ValueError(f"label values {bad} are refused; expected 'NORMAL' or 'PNEUMONIA'")
    parts = []
    for subset in ("train", "val"):
        rows = frame.loc[frame.subset == subset].reset_index(drop=True)
        if rows.empty:
            raise ValueError(f"the {subset!r} subset is empty; the manifest needs rows with subset={subset!r} "
                             "(cxrlib.data.split_train_validation carves 'val' from train by patient)")
        counts = rows.label.value_counts()
        if len(counts) < 2:
            raise ValueError(f"the {subset!r} subset has only {counts.index[0]} images ({counts.iloc[0]}); "
                             "both classes are needed to train and to choose a threshold")
        parts.append(rows)
    return parts


class _EpochKeeper(keras.callbacks.Callback):
    """Validation metrics, best-epoch weights, checkpoint and progress after every epoch."""

    def __init__(self, val_inputs, val_labels, directory, *, class_weight, schedule, batch_size, epochs,
                 images, progress):
        super().__init__()
        self.val_inputs, self.val_labels = val_inputs, np.asarray(val_labels, dtype=np.float64)
        self.directory = Path(directory)
        self.class_weight, self.schedule = class_weight, schedule
        self.batch_size, self.epochs, self.images, self.progress = batch_size, epochs, images, progress
        self.state = {"epoch": 0, "best_epoch": 0, "best_auc": -np.inf, "history": [], "fit_seconds": 0.0}
        self.failed_epoch = None

    # files
    @property
    def state_path(self):
        return self.directory / "state.json"

    def _save_weights(self, filename):
        with atomic_path(self.directory / filename) as tmp:
            self.model.save_weights(tmp)

    def _save_state(self):
        with atomic_path(self.state_path) as tmp:
            tmp.write_text(json.dumps(self.state, indent=1, default=float))

    def restore(self, model):
        """Load the last checkpoint into ``model``; return the epoch to start from."""
        self.directory.mkdir(parents=True, exist_ok=True)
        if not (self.state_path.is_file() and (self.directory / "last.weights.h5").is_file()):
            return 0
        state = json.loads(self.state_path.read_text())
        if state["epoch"] < self.epochs:
            model.load_weights(self.directory / "last.weights.h5")
        self.state = state
        return int(state["epoch"])

    def predict(self, model):
        out = []
        for start in range(0, len(self.val_inputs), self.batch_size):
            batch = self.val_inputs[start:start + self.batch_size]
            batch = to_model_input(batch) if self.images else batch.astype(np.float32)
            out.append(np.asarray(model.predict_on_batch(batch), dtype=np.float64).reshape(-1))
        return np.concatenate(out)

    def _val_metrics(self, scores):
        y = self.val_labels
        p = np.clip(scores, 1e-7, 1 - 1e-7)
        weights = np.where(y == 1, self.class_weight[1], self.class_weight[0])
        loss = float(np.mean(-weights * (y * np.log(p) + (1 - y) * np.log(1 - p))))
        accuracy = float(np.mean((scores >= 0.5) == (y == 1)))
        return loss, accuracy, float(roc_auc_score(y, scores))

    # callback hooks
    def on_train_begin(self, logs=None):
        start = self.state["epoch"]
        self.bar = tqdm(total=self.epochs, initial=start, desc="epochs", disable=not self.progress)

    def on_epoch_begin(self, epoch, logs=None):
        self.t0 = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        if not np.isfinite(logs.get("loss", np.nan)):
            self.failed_epoch = epoch + 1
            return
        loss, accuracy, auc = self._val_metrics(self.predict(self.model))
        logs.update(val_loss=loss, val_accuracy=accuracy, val_auc=auc)
        seconds = time.perf_counter() - self.t0
        row = {"epoch": epoch + 1, "loss": float(logs["loss"]), "accuracy": float(logs.get("accuracy", np.nan)),
               "val_loss": loss, "val_accuracy": accuracy, "val_auc": auc,
               "learning_rate": float(self.schedule(int(self.model.optimizer.iterations.numpy()))),
               "seconds": round(seconds, 2)}
        self.state["history"].append(row)
        self.state["fit_seconds"] += seconds
        if auc > self.state["best_auc"]:
            self.state.update(best_auc=auc, best_epoch=epoch + 1)
            self._save_weights("best.weights.h5")
        self.state["epoch"] = epoch + 1
        self._save_weights("last.weights.h5")
        self._save_state()
        self.bar.update(1)
        self.bar.set_postfix(loss=f"{row['loss']:.3f}", val_auc=f"{auc:.4f}")

    def on_train_end(self, logs=None):
        self.bar.close()


def _cpu_has_bfloat16():
    """Whether this CPU has bfloat16 instructions (Linux ``/proc/cpuinfo`` flags; False elsewhere)."""
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def distribution(precision="auto"):
    """How to use this machine: ``(scope, dtype_policy)``.

    ``precision`` (:data:`cxrlib.models.PRECISIONS`) is resolved: ``auto`` is ``mixed_float16``
    on a GPU and ``float32`` on a CPU. ``mixed_bfloat16`` on a CPU without bfloat16 instructions is
    emulated, slower than float32, and warns. With several GPUs, data parallelism: the scope of
    ``tf.distribute.MirroredStrategy`` under TensorFlow; under JAX, ``keras.distribution.DataParallel``
    is set globally.
    """
    import contextlib

    if precision not in PRECISIONS:
        raise ValueError(f"precision={precision!r} is refused; expected {' or '.join(map(repr, PRECISIONS))}")
    gpus = accelerators()
    policy = ("mixed_float16" if gpus else "float32") if precision == "auto" else precision
    if policy == "mixed_bfloat16" and not gpus and not _cpu_has_bfloat16():
        warnings.warn("precision mixed_bfloat16 on a CPU without bfloat16 instructions (AVX512_BF16, AMX) is "
                      "emulated and slower than float32; set precision: float32 (or auto)", stacklevel=2)
    if len(gpus) > 1 and keras.backend.backend() == "tensorflow":
        tf = require_tensorflow("tf.distribute.MirroredStrategy")
        return tf.distribute.MirroredStrategy().scope(), policy
    if len(gpus) > 1 and keras.backend.backend() == "jax":
        keras.distribution.set_distribution(keras.distribution.DataParallel())
    return contextlib.nullcontext(), policy


def train_classifier(frame, *, image_column, settings=None, work_dir=None, name="model",
                     progress=True):
    """Train one classifier on the train subset, selecting on the val subset.

    Parameters
    ----------
    frame : pandas.DataFrame
        processed.csv (or a manifest): columns ``label`` ('NORMAL' | 'PNEUMONIA'),
        ``subset`` ('train' | 'val' | 'test') and ``image_column``. Test rows are ignored.
    image_column : str
        The column of image paths the classifier reads (one arm's images, e.g. ``image_paper``).
    settings : TrainSettings, optional
    work_dir : str or Path, optional
        Caches (``features/``) and checkpoints (``checkpoints/<name>-<key>/``); the key
        is a fingerprint of the settings and the images, so a rerun of the same
        training resumes (or returns its finished result). None: nothing is kept.
    name : str
        Name of the model (checkpoint folder), e.g. ``"paper-seed0"``.
    progress : bool

    Returns
    -------
    TrainingResult
    """
    settings = settings or TrainSettings()
    if not isinstance(settings, TrainSettings):
        raise TypeError(f"settings must be a TrainSettings, got {type(settings).__name__}")
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", str(name)):
        raise ValueError(f"name={name!r} must be letters, digits, '_', '.', '-' (it names a folder)")
    if settings.train_mode == "frozen" and resolve_weights(settings.weights) is None:
        warnings.warn("train_mode 'frozen' with weights 'none' trains a head on the features of a random, "
                      "untrained network; use pretrained weights, or train_mode 'finetune'", stacklevel=2)
    if settings.augment and settings.cached:
        warnings.warn("augment is on but the frozen prefix's features are cached, so images are not augmented; "
                      "set feature_cache: false to augment (every epoch then runs the whole network)", stacklevel=2)
    train, val = _split(frame, image_column)
    size = settings.model_input_size
    x_train = read_images(train[image_column], size=size, progress=progress)
    x_val = read_images(val[image_column], size=size, progress=progress)
    y_train = train.label.map(_LABELS).to_numpy(np.int64)
    y_val = val.label.map(_LABELS).to_numpy(np.int64)
    weights = class_weights(y_train)

    keras.utils.set_random_seed(settings.seed)
    scope, policy = distribution(settings.precision)
    with scope:
        model = build_classifier(backbone=settings.backbone, input_size=size, weights=settings.weights,
                                 dropout=settings.dropout, seed=settings.seed, dtype_policy=policy)
        trainable = configure_trainable(model, train_mode=settings.train_mode,
                                        finetune_from_block=settings.finetune_from_block,
                                        train_batchnorm=resolve_weights(settings.weights) is None)
        if settings.cached:
            cut = cut_layer(model, train_mode=settings.train_mode, finetune_from_block=settings.finetune_from_block)
            prefix, train_model = split_at(model, cut)
        else:
            train_model = model
        compile_classifier(train_model, learning_rate=settings.learning_rate, decay_rate=settings.lr_decay_rate,
                           decay_steps=settings.lr_decay_steps)
        train_model.optimizer.build(train_model.trainable_variables)  # so checkpoints restore its state

    temporary = None
    if work_dir is None:
        temporary = tempfile.TemporaryDirectory(prefix="cxr-train-")
        work_dir = temporary.name
    work_dir = Path(work_dir)
    source = resolve_weights(settings.weights)
    # the weights by their content, not their path or file date: a copied or re-provisioned file resumes the run
    start_weights = sha256_file(source) if isinstance(source, Path) else source
    key = fingerprint(name, sorted({**dataclasses.asdict(settings), "weights": start_weights}.items()),
                      keras.backend.backend(), policy, x_train, y_train, x_val, y_val)  # another backend trains anew
    directory = work_dir / "checkpoints" / f"{name}-{key[:16]}"
    try:
        feature_seconds = 0.0
        if settings.cached:
            start = time.perf_counter()
            fit_x = cached_features(x_train, prefix, cache_dir=work_dir / "features",
                                    batch_size=settings.batch_size, progress=progress)
            val_inputs = cached_features(x_val, prefix, cache_dir=work_dir / "features",
                                         batch_size=settings.batch_size, progress=progress)
            feature_seconds = time.perf_counter() - start
            fit_kwargs = {"x": fit_x.astype(np.float32), "y": y_train.astype(np.float32),
                          "batch_size": settings.batch_size, "shuffle": True}
        else:
            val_inputs = x_val
            batches = image_dataset if keras.backend.backend() == "tensorflow" else ImageBatches
            fit_kwargs = {"x": batches(x_train, y_train, batch_size=settings.batch_size, training=True,
                                       augment=settings.augment, seed=settings.seed),
                          "shuffle": False}  # the dataset shuffles itself (seeded)
        schedule = lr_schedule(learning_rate=settings.learning_rate, decay_rate=settings.lr_decay_rate,
                               decay_steps=settings.lr_decay_steps)
        keeper = _EpochKeeper(val_inputs, y_val, directory, class_weight=weights, schedule=schedule,
                              batch_size=settings.batch_size, epochs=settings.epochs,
                              images=not settings.cached, progress=progress)
        initial_epoch = keeper.restore(train_model)
        feature_seconds = keeper.state.setdefault("feature_seconds", feature_seconds)  # the first run's
        if initial_epoch < settings.epochs:
            train_model.fit(**fit_kwargs, epochs=settings.epochs, initial_epoch=initial_epoch, class_weight=weights,
                            callbacks=[keeper, keras.callbacks.TerminateOnNaN()], verbose=0)
        if keeper.failed_epoch is not None:
            raise FloatingPointError(
                f"the training loss of {name!r} became NaN or infinite in epoch {keeper.failed_epoch}; "
                f"training stopped (learning_rate={settings.learning_rate:g}): lower learning_rate, or check "
                f"the images; the last good epoch ({keeper.state['epoch']}) is checkpointed in {directory}")
        train_model.load_weights(directory / "best.weights.h5")
        scores = keeper.predict(train_model)
    finally:
        if temporary is not None:
            temporary.cleanup()

    thresholds = operating_thresholds(y_val, scores)
    threshold = thresholds["youden"]
    validation = val.assign(label_int=y_val, score=scores, predicted=(scores >= threshold).astype(int))
    state = keeper.state
    return TrainingResult(
        model=model, history=pd.DataFrame(state["history"]), threshold=threshold, thresholds=thresholds,
        val_auc=float(roc_auc_score(y_val, scores)), best_epoch=int(state["best_epoch"]),
        train_seconds=feature_seconds + float(state["fit_seconds"]), feature_seconds=feature_seconds,
        validation=validation, settings=settings, trainable_layers=trainable, device=device_name(),
        dtype_policy=policy,
    )
