"""Training one classifier: data, modes, best epoch, threshold, history, resume.

:func:`train_classifier` trains the Xception classifier of :mod:`cxrlib.model` on the
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
6. The three operating points are chosen on validation only (:func:`cxrlib.metrics.operating_thresholds`).

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

from ..atomic import atomic_path, write_csv, write_json
from ..report.index import shown_weights
from .backend import accelerators, device_name, require_tensorflow
from .inputs import ImageBatches, cached_features, class_weights, fingerprint, image_dataset, read_images
from .backbones import PRECISIONS, TRAIN_RANGES
from ..evaluation.operating_points import operating_thresholds
from .model import (BLOCKS, backbone_spec, build_classifier, compile_classifier, configure_trainable, cut_layer,
                    lr_schedule, resolve_weights, split_at, to_model_input)

__all__ = [
    "TrainSettings",
    "TrainingResult",
    "train_classifier",
    "distribution",
    "settings_table",
    "model_name",
    "predict_scores",
    "gradcam_inputs",
    "save_training_outputs",
    "plot_histories",
    "plot_validation_scores",
]


_LABELS = {"NORMAL": 0, "PNEUMONIA": 1}


@dataclasses.dataclass(frozen=True)
class TrainSettings:
    """Everything that decides a training run (the profile's model and training keys).

    The defaults are our choice (the paper's Table 1 is missing from our copy):
    a frozen ImageNet Xception with a trained head, Adam 1e-3 decayed by Eq. 10
    (D = 0.9 every 100 steps), dropout 0.3, 30 epochs of 32 images, no augmentation
    (the same defaults as :class:`cxrlib.params.StudyParams`).
    ``feature_cache`` (not in the paper) lets a frozen prefix be computed once; ``precision`` is the
    Keras dtype policy (:data:`cxrlib.backbones.PRECISIONS`).
    """

    backbone: str = "xception"
    model_input_size: int = 224
    train_mode: str = "frozen"
    weights: str = "imagenet"
    epochs: int = 30
    batch_size: int = 32
    learning_rate: float = 1e-3
    lr_decay_rate: float = 0.9
    lr_decay_steps: int = 100
    dropout: float = 0.3
    finetune_from_block: str | None = None
    augment: bool = False
    feature_cache: bool = True
    precision: str = "auto"
    seed: int = 0

    def __post_init__(self):
        def check(name, ok, accepted):
            if not ok:
                raise ValueError(f"{name}={getattr(self, name)!r} is refused; expected {accepted}")

        def is_int(value):
            return isinstance(value, (int, np.integer)) and not isinstance(value, bool)

        spec = backbone_spec(self.backbone)
        check("model_input_size", is_int(self.model_input_size) and self.model_input_size >= spec.min_input_size,
              f"an int >= {spec.min_input_size} ({self.backbone} refuses smaller inputs)")
        check("train_mode", self.train_mode in ("frozen", "finetune"), "'frozen' or 'finetune'")
        for name, (low, high) in TRAIN_RANGES.items():
            check(name, is_int(getattr(self, name)) and low <= getattr(self, name) <= high,
                  f"an int in [{low}, {high}]")
        check("learning_rate", float(self.learning_rate) > 0, "a float > 0")
        check("lr_decay_rate", 0 < float(self.lr_decay_rate) <= 1, "a float in (0, 1]")
        check("dropout", 0 <= float(self.dropout) < 1, "a float in [0, 1)")
        check("finetune_from_block", self.finetune_from_block is None or self.finetune_from_block in BLOCKS,
              f"null or one of {', '.join(BLOCKS)}")
        check("augment", isinstance(self.augment, bool), "true or false")
        check("feature_cache", isinstance(self.feature_cache, bool), "true or false")
        check("precision", self.precision in PRECISIONS, " or ".join(map(repr, PRECISIONS)))
        check("seed", is_int(self.seed) and self.seed >= 0, "an int >= 0")
        resolve_weights(self.weights)

    @property
    def cached(self):
        """Whether training runs on cached features of a frozen prefix."""
        has_prefix = self.train_mode == "frozen" or self.finetune_from_block not in (None, "block1")
        return self.feature_cache and has_prefix


@dataclasses.dataclass
class TrainingResult:
    """What :func:`train_classifier` returns.

    Attributes
    ----------
    model : keras.Model
        The full classifier with the best epoch's weights (:mod:`cxrlib.model`).
    history : pandas.DataFrame
        One row per epoch: epoch, loss, accuracy, val_loss, val_accuracy, val_auc,
        learning_rate, seconds.
    threshold : float
        Decision threshold chosen on validation by Youden's J (P(pneumonia) >= threshold: pneumonia).
    thresholds : dict of str to float
        The study's three operating points, all chosen on validation (:func:`cxrlib.metrics.operating_thresholds`).
    val_auc : float
        Validation ROC AUC of the best epoch.
    best_epoch : int
        1-based.
    train_seconds : float
        Feature extraction (if any) plus fitting, summed over resumed runs.
    feature_seconds : float
    validation : pandas.DataFrame
        The validation rows with ``label_int``, ``score`` and ``predicted``.
    settings : TrainSettings
    trainable_layers : list of str
    device : str
    dtype_policy : str
        The Keras dtype policy it trained in (``precision`` resolved on this machine).
    """

    model: object
    history: pd.DataFrame
    threshold: float
    thresholds: dict
    val_auc: float
    best_epoch: int
    train_seconds: float
    feature_seconds: float
    validation: pd.DataFrame
    settings: TrainSettings
    trainable_layers: list
    device: str
    dtype_policy: str

    def summary(self):
        """A JSON-ready dict for training.json."""
        best = self.history.loc[self.history.epoch == self.best_epoch].iloc[0]
        return {
            "threshold": float(self.threshold),
            "thresholds": {k: float(v) for k, v in self.thresholds.items()},
            "val_auc": float(self.val_auc),
            "val_accuracy_at_threshold": float((self.validation.predicted == self.validation.label_int).mean()),
            "best_epoch": int(self.best_epoch),
            "best_epoch_val_loss": float(best.val_loss),
            "epochs_run": int(len(self.history)),
            "train_seconds": round(float(self.train_seconds), 1),
            "feature_seconds": round(float(self.feature_seconds), 1),
            "trainable_layers": len(self.trainable_layers),
            "trainable_params": int(sum(np.prod(w.shape) for w in self.model.trainable_weights)),
            "cached_features": self.settings.cached,
            "device": self.device,
            "dtype_policy": self.dtype_policy,
            "settings": dataclasses.asdict(self.settings),
        }


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

    ``precision`` (:data:`cxrlib.backbones.PRECISIONS`) is resolved: ``auto`` is ``mixed_float16``
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
    stamp = (source.stat().st_size, source.stat().st_mtime_ns) if isinstance(source, Path) else source
    key = fingerprint(name, sorted(dataclasses.asdict(settings).items()), stamp, keras.backend.backend(), policy,
                      x_train, y_train, x_val, y_val)  # a run on another backend trains anew, never resumes this one
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


def plot_histories(histories, *, best_epochs=None):
    """Loss, accuracy at 0.5 and ROC AUC per epoch, train and validation; one row per arm, a line per seed.

    Parameters
    ----------
    histories : dict of str -> dict of int -> pandas.DataFrame
        ``{arm: {seed: TrainingResult.history}}``.
    best_epochs : dict of str -> dict of int -> int, optional
        ``{arm: {seed: best epoch}}``, marked with dotted lines.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    if not histories:
        raise ValueError("histories is empty; pass {arm: {seed: history DataFrame}}")
    fig, axes = plt.subplots(len(histories), 3, figsize=(12, 2.9 * len(histories)), squeeze=False)
    panels = [("loss", "loss (class-weighted BCE)"), ("accuracy", "accuracy at 0.5"), ("auc", "ROC AUC")]
    for row, (arm, by_seed) in zip(axes, histories.items()):
        for ax, (metric, label) in zip(row, panels):
            for i, (seed, history) in enumerate(by_seed.items()):
                tag = dict(label=None) if i else {}
                if metric in history:
                    ax.plot(history.epoch, history[metric], "o-", ms=3, alpha=0.8, color="tab:blue",
                            **(tag or {"label": "train"}))
                ax.plot(history.epoch, history[f"val_{metric}"], "o-", ms=3, alpha=0.8, color="tab:orange",
                        **(tag or {"label": "validation"}))
                if best_epochs and arm in best_epochs and seed in best_epochs[arm]:
                    ax.axvline(best_epochs[arm][seed], color="grey", ls=":", **(tag or {"label": "epoch kept"}))
            ax.set(title=f"{arm}: {label} ({len(by_seed)} seed{'s' if len(by_seed) > 1 else ''})", xlabel="epoch")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            low, high = ax.get_ylim()
            if metric != "loss" and high - low < 0.05:  # a flat curve is shown flat, not blown up
                middle = min(max((low + high) / 2, 0.025), 0.975)
                ax.set_ylim(middle - 0.025, middle + 0.025)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


_SOURCES = {
    "backbone": "paper: Xception (§3.4); small_cnn: ours, for the demo and teaching",
    "model_input_size": "paper: 400 (§3.2); a profile may use less (kermany224: the copies' 224)",
    "train_mode": "paper: transfer learning (§3.4); 'frozen' is our CPU path",
    "weights": "paper: ImageNet transfer learning (§3.4)",
    "epochs": "paper: 100 (Table 2); fewer on CPU: our choice",
    "batch_size": "our choice (paper's Table 1 missing)",
    "learning_rate": "our choice: Lr_i of Eq. 10 (Table 1 missing)",
    "lr_decay_rate": "our choice: D of Eq. 10 (Table 1 missing)",
    "lr_decay_steps": "our choice: ds of Eq. 10, in optimizer steps (Table 1 missing)",
    "dropout": "our choice: head dropout (Table 1 missing)",
    "finetune_from_block": "our choice (paper does not say which layers train)",
    "augment": "our choice: rotation ±5°, shift ±5 %, zoom ±10 %, contrast ±20 %, no flips",
    "feature_cache": "our choice: frozen prefix computed once (not in the paper)",
    "precision": "our choice: Keras dtype policy (auto: mixed_float16 on a GPU, float32 on a CPU)",
    "seed": "our choice",
}


def settings_table(settings):
    """The settings with where each value comes from (the paper, or our choice).

    Returns
    -------
    pandas.DataFrame
        Index: setting name; columns ``value``, ``source``.
    """
    values = dataclasses.asdict(settings)
    values["weights"] = shown_weights(values["weights"])
    return pd.DataFrame({"value": [str(v) for v in values.values()],
                         "source": [_SOURCES.get(k, "") for k in values]}, index=list(values))


def _inference_copy(model):
    """The same layers in an uncompiled model: saved without the optimizer (Adam's moments triple the file)."""
    return keras.Model(model.inputs, model.outputs, name=model.name)


def predict_scores(model, images, *, settings, work_dir=None, batch_size=32, progress=True):
    """P(pneumonia) of a trained classifier, through the cached frozen prefix when it trained on one.

    The prefix of a pretrained backbone is the same for every seed of an arm, so its features are
    computed once (:func:`cxrlib.inputs.cached_features`, keyed by images and weights) and each seed's
    model runs only the part it trained; the scores equal a full forward pass up to the float16 features.

    Parameters
    ----------
    model : keras.Model
        From :func:`cxrlib.model.load_classifier`.
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


def model_name(arm, seed):
    """The name of one trained model: ``<arm>-seed<seed>`` (its checkpoint folder and ``.keras`` file)."""
    return f"{arm}-seed{int(seed)}"


def save_training_outputs(results, run_dir, models_dir):
    """Write the training outputs of every arm and seed, each file atomically.

    Parameters
    ----------
    results : dict of (str, int) -> TrainingResult
        Keyed by (arm name, seed).
    run_dir : str or Path
        The run folder (records for the report).
    models_dir : str or Path
        Where the ``.keras`` models go (under ``work_dir``: models are not part of the report).

    Writes ``models_dir/<arm>-seed<k>.keras`` (weights and graph, no optimizer state),
    ``run_dir/training/<arm>-seed<k>_history.csv``, ``run_dir/training.json``
    (``{"arms": {arm: {"seeds": {seed: TrainingResult.summary()}}}}``) and
    ``run_dir/validation_predictions.csv`` (arm, seed, path, patient_id, label, score, threshold, predicted).

    Returns
    -------
    paths : list of Path
    """
    run_dir, models_dir = Path(run_dir), Path(models_dir)
    paths, rows, summary = [], [], {"arms": {}}
    for (arm, seed), result in results.items():
        name = model_name(arm, seed)
        model_path = models_dir / f"{name}.keras"
        with atomic_path(model_path) as tmp:
            _inference_copy(result.model).save(tmp)
        history_path = run_dir / "training" / f"{name}_history.csv"
        with atomic_path(history_path) as tmp:
            result.history.to_csv(tmp, index=False)
        paths += [model_path, history_path]
        val = result.validation
        rows.append(pd.DataFrame({"arm": arm, "seed": int(seed), "path": val["path"],
                                  "patient_id": val.get("patient_id", ""), "label": val["label"],
                                  "score": val["score"], "threshold": result.threshold,
                                  "predicted": np.where(val["predicted"] == 1, "PNEUMONIA", "NORMAL")}))
        summary["arms"].setdefault(arm, {"seeds": {}})["seeds"][str(int(seed))] = result.summary()
    json_path = write_json(summary, run_dir / "training.json", relative_to=run_dir.resolve())
    csv_path = write_csv(pd.concat(rows), run_dir / "validation_predictions.csv", relative_to=run_dir.resolve())
    return paths + [json_path, csv_path]


def plot_validation_scores(results):
    """Validation P(pneumonia) by true class, with the chosen thresholds; one panel per arm (its first seed).

    Parameters
    ----------
    results : dict of str -> TrainingResult
        ``{arm: result}``, one seed's model per arm.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    columns = min(len(results), 4)
    rows = -(-len(results) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.2 * rows), squeeze=False)
    bins = np.linspace(0, 1, 41)
    for ax, (name, result) in zip(axes.flat, results.items()):
        val = result.validation
        for label, color in (("NORMAL", "tab:blue"), ("PNEUMONIA", "tab:red")):
            ax.hist(val.score[val.label == label], bins=bins, alpha=0.6, color=color,
                    label=f"{label} (n={int((val.label == label).sum())})")
        for point, style in (("youden", "--"), ("sensitivity_0.95", ":")):
            ax.axvline(result.thresholds[point], color="k", ls=style,
                       label=f"{point} {result.thresholds[point]:.3f}")
        ax.set(title=f"{name} (seed {result.settings.seed})", xlabel="P(pneumonia)", ylabel="images")
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(results):]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig
