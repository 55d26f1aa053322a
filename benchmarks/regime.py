"""Validation evidence for a training regime: candidate regimes trained on one arm, scored on validation only.

Reads processed.csv of a run whose step 02 has finished, trains one model per candidate on its ``train`` rows
and scores it on its ``val`` rows (patients held out of the release's train folder in step 01). The test rows
are dropped before training: no test image is read. Prints one table: per candidate the validation ROC AUC and
loss of the kept epoch, the epoch kept, each epoch's validation AUC, and the seconds spent (images read, training,
validation passes), so a regime can be chosen against its time on this machine.

A candidate is SIZE:EPOCHS[:LEARNING_RATE[:FROM_BLOCK]]; FROM_BLOCK is the first Xception block that trains
(default: all). Every candidate trains Xception on images with augmentation, Adam on Eq. 10 and the settings of
FIXED. Usage (a kermany224 run folder made by `python -m cxrlib run params/kermany224.yaml`):

    nice -n 10 .venv/bin/python benchmarks/regime.py reports/kermany224 --work-dir data/work \\
        --arm paper --candidates 96:4 112:3 128:2
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


#: What every candidate shares (the rest of cxrlib.models.TrainSettings at its defaults).
FIXED = {"backbone": "xception", "train_mode": "finetune", "augment": True, "feature_cache": False, "batch_size": 32,
         "lr_decay_rate": 0.9, "lr_decay_steps": 100}


def parse_candidate(text):
    """``SIZE:EPOCHS[:LR[:FROM_BLOCK]]`` → dict of TrainSettings keys."""
    parts = text.split(":")
    if not 2 <= len(parts) <= 4:
        raise argparse.ArgumentTypeError(f"candidate {text!r}: expected SIZE:EPOCHS[:LEARNING_RATE[:FROM_BLOCK]]")
    try:
        out = {"model_input_size": int(parts[0]), "epochs": int(parts[1])}
        if len(parts) > 2:
            out["learning_rate"] = float(parts[2])
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"candidate {text!r}: {error}") from None
    if len(parts) > 3:
        out["finetune_from_block"] = parts[3]
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", help="a run folder whose step 02 has finished (holds processed.csv)")
    parser.add_argument("--work-dir", required=True, help="the run's work_dir (its preprocessed images)")
    parser.add_argument("--arm", default="paper")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--candidates", type=parse_candidate, nargs="+", required=True)
    parser.add_argument("--learning-rate", type=float, default=1e-4, help="for candidates that give none")
    parser.add_argument("--weights", default="../shared/weights/xception_imagenet_notop.weights.h5")
    parser.add_argument("--precision", default="mixed_bfloat16")
    args = parser.parse_args(argv)

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import pandas as pd

    from cxrlib.run.study import StudyRun
    from cxrlib.models import TrainSettings, train_classifier

    run = StudyRun(args.run_dir, step="regime", work_dir=args.work_dir)
    table = run.processed()
    table = table[table.subset.isin(["train", "val"])].reset_index(drop=True)  # the test split is never read
    column = f"image_{args.arm}"
    rows = []
    for candidate in args.candidates:
        settings = TrainSettings(**FIXED, weights=args.weights, precision=args.precision, seed=args.seed,
                                 **{"learning_rate": args.learning_rate, **candidate})
        started = time.perf_counter()
        result = train_classifier(table, image_column=column, settings=settings, work_dir=None,
                                  name=f"regime-{args.arm}", progress=False)
        best = result.history.iloc[result.best_epoch - 1]
        rows.append({
            "size": settings.model_input_size, "epochs": settings.epochs, "lr": settings.learning_rate,
            "from": settings.finetune_from_block or "all", "val AUC": round(result.val_auc, 4),
            "val loss": round(float(best["val_loss"]), 4), "kept epoch": result.best_epoch,
            "val AUC per epoch": " ".join(f"{v:.4f}" for v in result.history["val_auc"]),
            "train s": round(result.train_seconds), "wall s": round(time.perf_counter() - started),
        })
        print(pd.DataFrame(rows[-1:]).to_string(index=False), flush=True)
    print(f"\narm {args.arm}, seed {args.seed}, {len(table)} train+val images, validation only; "
          f"{args.precision}; " + ", ".join(f"{key} {value}" for key, value in FIXED.items()))
    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
