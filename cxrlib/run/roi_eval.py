"""``python -m cxrlib roi-eval``: the ROI measured on lung masks and on stress sets of them, as a table or JSON."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

__all__ = ["roi_eval_main"]


def _set_name(images_dir):
    """A set's name in roi-eval's report: the images folder's name, or its parent's when it is called 'images'."""
    folder = Path(images_dir).resolve()
    return folder.parent.name if folder.name == "images" else folder.name


def roi_eval_main(argv):
    """``python -m cxrlib roi-eval --images DIR --masks DIR [--stress OUT [--transforms T,...] [--seed N]] [--json]
    [--workers N] [--per-image CSV]``.

    Measures the ROI on the given set and, with ``--stress OUT``, on each stress transform of it
    (:data:`cxrlib.preprocess.STRESS_TRANSFORMS`), built into ``OUT/<transform>/`` first; the goal on the median box
    area is checked only on sets that keep the film's framing.

    Parameters
    ----------
    argv : list of str
        Arguments after ``roi-eval``.

    Returns
    -------
    status : int
        0 on success, 2 on an input error (printed as one line on stderr).
    """
    from ..atomic import write_csv
    from ..data.images import ImageReadError
    from ..preprocess.roi_evaluation import ROI_GOALS, evaluate_roi
    from ..preprocess.stress import FRAMING_KEPT, STRESS_CROP, STRESS_TRANSFORMS, build_stress_set

    parser = argparse.ArgumentParser(
        prog="python -m cxrlib roi-eval",
        description="Measure how much of manual lung masks the thorax ROI box keeps (coverage, per lung) and how large "
                    "the box is (area, and area over the tightest box around the mask), on the given set and on stress "
                    "transforms of it. Images and masks are paired by file stem; nonzero mask pixels are lung.")
    parser.add_argument("--images", required=True, help="folder of radiographs")
    parser.add_argument("--masks", required=True, help="folder of lung masks with the same stems")
    parser.add_argument("--stress", metavar="OUT",
                        help="also build stress sets of the pairs into OUT/<transform>/ (outside git) and measure each: "
                             f"{', '.join(STRESS_TRANSFORMS)} (see cxrlib.preprocess.stress); 'crop' cuts "
                             f"{STRESS_CROP['bottom_cut']} of the lungs' height at the bottom and "
                             f"{STRESS_CROP['side_cut']} of their width on one side")
    parser.add_argument("--transforms", default=",".join(STRESS_TRANSFORMS),
                        help="comma-separated stress transforms to build with --stress (default: all)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the stress transforms (default 0)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    parser.add_argument("--per-image", metavar="CSV",
                        help="also write the per-image table (all sets) to this CSV file")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    progress = not args.no_progress and not args.json
    transforms = [t.strip() for t in args.transforms.split(",") if t.strip()] if args.stress else []
    unknown = sorted(set(transforms) - set(STRESS_TRANSFORMS))
    if unknown:
        print(f"error: --transforms {', '.join(unknown)} unknown; choose among {', '.join(STRESS_TRANSFORMS)}",
              file=sys.stderr)
        return 2
    name = _set_name(args.images)
    sets = {name: (Path(args.images), Path(args.masks), ROI_GOALS)}
    summaries, tables = {}, []
    try:
        for transform in transforms:
            folder = Path(args.stress) / transform
            build_stress_set(args.images, args.masks, folder, transform=transform, seed=args.seed, progress=progress)
            goals = ROI_GOALS if transform in FRAMING_KEPT else {k: v for k, v in ROI_GOALS.items()
                                                                 if k != "area_median"}
            sets[f"{name}/{transform}"] = (folder / "images", folder / "masks", goals)
        for set_name, (images, masks, goals) in sets.items():
            summary, per_image = evaluate_roi(images, masks, workers=args.workers, progress=progress, goals=goals)
            summaries[set_name] = summary
            tables.append(per_image.assign(set=set_name))
    except (ValueError, ImageReadError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    config = summaries[name].pop("config")
    for summary in summaries.values():
        summary.pop("config", None)
    if args.per_image:
        write_csv(pd.concat(tables, ignore_index=True), args.per_image)
    report = {"sets": summaries, "config": config,
              "stress": {"folder": str(args.stress), "seed": args.seed, "transforms": transforms, **STRESS_CROP}
              if args.stress else None}
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"ROI on lung masks: {summaries[name]['n']} image/mask pairs from {args.images}")
    labels = ["as given", *transforms]
    width = max(12, *(len(label) + 2 for label in labels))
    print(f"{'metric':<30}{'goal':<10}" + "".join(f"{label:>{width}}" for label in labels))
    for metric in ("coverage_median", "coverage_p05", "coverage_mean", "coverage_min", "area_median", "fallback_rate",
                   "implausible_rate", "fallback_or_implausible_rate", "inverted_rate", "both_lungs_rate",
                   "area_ratio_median"):
        goal = ROI_GOALS.get(metric)
        cells = []
        for summary in summaries.values():
            met = summary["goals"].get(metric)
            cells.append(f"{summary[metric]:.4f}{'' if met is None or met['met'] else ' NO'}")
        print(f"{metric:<30}{(f'{goal[0]} {goal[1]}' if goal else ''):<10}" + "".join(f"{c:>{width}}" for c in cells))
    for set_name, summary in summaries.items():
        if summary["images_without_mask"] or summary["masks_without_image"] or summary["n_empty_masks"]:
            print(f"{set_name}: unpaired {summary['images_without_mask']} images, {summary['masks_without_image']} "
                  f"masks; empty masks: {summary['n_empty_masks']}")
    print(f"config key {config['key']}")
    return 0
