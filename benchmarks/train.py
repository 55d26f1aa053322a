"""Training and inference speed and peak memory of the classifier, per mode and input size.

Prints one table. Each configuration runs in its own process so that its peak memory is its own.

Modes (cxrlib.models.model / cxrlib.models.training):
  frozen   the frozen base runs once per image (feature extraction, then cached) and a head trains on the
           pooled features: "train img/s" is the head's, "prefix img/s" the extraction's
  block14  fine-tuning from block14 on cached block13 outputs (the CPU fine-tuning path)
  full     end-to-end fine-tuning on images (the paper's, GPU path; mixed precision on a GPU)
"inference img/s" is the whole classifier on images (cxrlib.models.predict_proba), what steps 04/05 pay.
"train GFLOP/s" counts a training step as 3 forward passes of the part that trains (convolutions and dense
layers, 2 FLOPs per multiply-add); "% of peak" divides it by the measured rate of a 4096x4096 matrix product in
the policy's compute dtype (bfloat16 under mixed_bfloat16), the most this machine reaches on that arithmetic.
Weights are random (speed does not depend on their values); data is random noise.
  fit      (with --fit) cxrlib.models.train_classifier end to end with augmentation on synthetic
           radiographs (cxrlib.data.synthetic), 2 epochs: "train img/s" is the second epoch's, data pipeline,
           augmentation and validation pass included

Backend-neutral (no tf.data): runs under Keras' TensorFlow backend here and JAX on a GPU box without
TensorFlow (KERAS_BACKEND=jax). Usage:

    nice -n 10 .venv/bin/python benchmarks/train.py                      # 224 and 400 px, all modes
    python benchmarks/train.py --sizes 224 --modes frozen block14 --steps 5
    python benchmarks/train.py --sizes 224 --modes block14 --policy mixed_bfloat16   # bf16 on a CPU that has it
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cxrlib.models import PRECISIONS  # noqa: E402  (framework-free)

MODES = ("frozen", "block14", "full")


def _peak_memory_mib():
    """Peak device memory of this process: GPU when there is one, else resident CPU memory."""
    import keras

    backend = keras.backend.backend()
    try:
        if backend == "tensorflow":
            import tensorflow as tf

            if tf.config.list_physical_devices("GPU"):
                return tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20, "GPU"
        elif backend == "jax":
            import jax

            device = jax.devices()[0]
            if device.platform == "gpu":
                return device.memory_stats()["peak_bytes_in_use"] / 2**20, "GPU"
    except (KeyError, RuntimeError, ValueError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "CPU RSS"


def forward_flops(model):
    """Floating-point operations of one image's forward pass (2 per multiply-add of every convolution and dense
    layer; normalization, activations and pooling are left out, a few percent)."""
    import keras

    macs = 0
    for layer in model.layers:
        if hasattr(layer, "layers"):  # a nested model (the backbone)
            macs += forward_flops(layer) // 2
            continue
        if not isinstance(layer, (keras.layers.Conv2D, keras.layers.SeparableConv2D, keras.layers.DepthwiseConv2D,
                                  keras.layers.Dense)):
            continue
        c_in = layer.input.shape[-1]
        out = layer.output.shape
        positions = out[1] * out[2] if len(out) == 4 else 1
        if isinstance(layer, keras.layers.Dense):
            macs += c_in * out[-1]
        elif isinstance(layer, keras.layers.SeparableConv2D):
            kh, kw = layer.kernel_size
            macs += positions * c_in * layer.depth_multiplier * (kh * kw + out[-1])
        elif isinstance(layer, keras.layers.DepthwiseConv2D):
            kh, kw = layer.kernel_size
            macs += positions * out[-1] * kh * kw
        else:
            kh, kw = layer.kernel_size
            macs += positions * out[-1] * kh * kw * c_in // layer.groups
    return 2 * macs


def matmul_peak(policy, n=4096, steps=5):
    """Measured GFLOP/s of an n x n matrix product in the policy's compute dtype: the peak this machine reaches
    on the arithmetic that training runs on (the denominator of the table's '% of peak')."""
    import numpy as np

    import keras

    dtype = keras.mixed_precision.Policy(policy).compute_dtype
    a = keras.ops.convert_to_tensor(np.random.default_rng(0).standard_normal((n, n)), dtype=dtype)
    # reading one element back forces the product; cast first, as numpy has no bfloat16
    product = lambda: keras.ops.convert_to_numpy(keras.ops.cast(keras.ops.matmul(a, a)[0, 0], "float32"))  # noqa: E731
    return 2 * n**3 * _rate(product, 1, steps) / 1e9


def _rate(step, n_images, steps, warmup=2):
    for _ in range(warmup):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return n_images * steps / (time.perf_counter() - start)


def run_one(mode, size, batch_size, steps, policy=None):
    import numpy as np

    import keras
    from cxrlib import models as cm
    from cxrlib.models import device_name, distribution

    rng = np.random.default_rng(0)
    keras.utils.set_random_seed(0)
    scope, policy = distribution(policy or "auto")
    with scope:
        classifier = cm.build_classifier(input_size=size, weights="none", dtype_policy=policy)
        train_mode, block = {"frozen": ("frozen", None), "block14": ("finetune", "block14"),
                             "full": ("finetune", None)}[mode]
        cm.configure_trainable(classifier, train_mode=train_mode, finetune_from_block=block)
        cut = cm.cut_layer(classifier, train_mode=train_mode, finetune_from_block=block)
        prefix, trained = cm.split_at(classifier, cut) if cut else (None, classifier)
        cm.compile_classifier(trained)
    images = rng.integers(0, 256, (batch_size, size, size), dtype=np.uint8)
    x_images = cm.to_model_input(images)
    labels = (np.arange(batch_size) % 2).astype("float32")

    result = {"mode": mode, "size": size, "batch": batch_size, "device": device_name(),
              "backend": keras.backend.backend(), "policy": policy}
    if prefix is not None:
        result["prefix img/s"] = _rate(lambda: prefix.predict_on_batch(x_images), batch_size, steps)
        x_train = np.asarray(prefix.predict_on_batch(x_images), dtype="float32")
        # the trained part is cheap: time more steps
        train_steps = steps * 10
    else:
        x_train, train_steps = x_images, steps
    result["train img/s"] = _rate(lambda: trained.train_on_batch(x_train, labels), batch_size, train_steps)
    # a training step costs about 3 forward passes of what trains (forward, gradients of activations and weights)
    result["train GFLOP/s"] = result["train img/s"] * 3 * forward_flops(trained) / 1e9
    result["peak GFLOP/s"] = matmul_peak(policy)
    result["% of peak"] = 100 * result["train GFLOP/s"] / result["peak GFLOP/s"]
    result["inference img/s"] = _rate(lambda: classifier.predict_on_batch(x_images), batch_size, steps)
    result["peak MiB"], result["memory"] = _peak_memory_mib()
    return result


def run_fit(size, batch_size, per_class=64):
    import tempfile
    import warnings

    from cxrlib import data
    from cxrlib.data import synthetic
    from cxrlib.models import TrainSettings, device_name, train_classifier

    with tempfile.TemporaryDirectory() as tmp:
        root = synthetic.make_synthetic_dataset(Path(tmp) / "synthetic", train_per_class=per_class, test_per_class=2,
                                                size=max(96, size), seed=0, shortcut=False, progress=False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            frame = data.split_train_validation(data.build_manifest(root, progress=False), val_fraction=0.2)
        settings = TrainSettings(model_input_size=size, train_mode="finetune", weights="none", epochs=2,
                                 batch_size=batch_size, augment=True, feature_cache=False)
        result = train_classifier(frame, image_column="path", settings=settings, progress=False)
    n_train = int((frame.subset == "train").sum())
    import keras

    return {"mode": "fit", "size": size, "batch": batch_size, "device": device_name(),
            "backend": keras.backend.backend(),
            "train img/s": n_train / float(result.history.seconds.iloc[-1]),
            "first epoch s": float(result.history.seconds.iloc[0]), "peak MiB": _peak_memory_mib()[0],
            "memory": _peak_memory_mib()[1]}


def _table(rows):
    columns = ["mode", "size", "batch", "prefix img/s", "train img/s", "train GFLOP/s", "% of peak",
               "inference img/s", "first epoch s", "peak MiB", "memory"]
    lines = [" | ".join(columns), " | ".join("---" for _ in columns)]
    for row in rows:
        cells = []
        for column in columns:
            value = row.get(column, "-")
            cells.append(f"{value:.1f}" if isinstance(value, float) else str(value))
        lines.append(" | ".join(cells))
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[224, 400])
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--steps", type=int, default=3, help="timed steps per measure (after 2 warm-up steps)")
    parser.add_argument("--fit", action="store_true", help="also time train_classifier end to end (2 epochs)")
    parser.add_argument("--policy", choices=PRECISIONS,
                        help="Keras dtype policy, as a profile's precision key (default auto: mixed_float16 on a GPU, "
                             "float32 on a CPU)")
    parser.add_argument("--one", nargs=2, metavar=("MODE", "SIZE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        mode, size = args.one[0], int(args.one[1])
        result = (run_fit(size, args.batch_size) if mode == "fit"
                  else run_one(mode, size, args.batch_size, args.steps, args.policy))
        print(json.dumps(result))
        return
    rows = []
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    modes = list(args.modes) + (["fit"] if args.fit else [])
    for size in args.sizes:
        for mode in modes:
            cmd = [sys.executable, __file__, "--one", mode, str(size), "--batch-size", str(args.batch_size),
                   "--steps", str(args.steps)] + (["--policy", args.policy] if args.policy else [])
            out = subprocess.run(cmd, capture_output=True, text=True, env=env)
            if out.returncode != 0:
                rows.append({"mode": mode, "size": size, "batch": args.batch_size, "memory": "failed"})
                print(out.stderr[-2000:], file=sys.stderr)
                continue
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(f"done: {json.dumps(rows[-1])}", file=sys.stderr, flush=True)  # survives a killed run
    if rows and "device" in rows[0]:
        first = rows[0]
        print(f"device: {first['device']}; Keras backend {first['backend']}, dtype policy {first['policy']}; "
              f"random weights and images, {args.steps} timed steps after 2 warm-up")
    print(_table(rows))


if __name__ == "__main__":
    main()
