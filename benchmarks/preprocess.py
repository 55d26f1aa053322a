"""Speed and peak memory of the batch preprocessing path (cxrlib.preprocess.preprocess_manifest), per data set,
and how closely the fast ROI path agrees with the full-size reference, per contour size.

Prints one table (two with --agreement). Each data set runs in its own process, on a fresh temporary cache (every image is
computed), over all cores unless --workers says otherwise; then the same call again (every image is a
cache hit). The manifest (with sha256, as notebook 01 writes it) is built before the clock starts.

Columns: images/s of the whole batch call; mean per-image milliseconds inside a worker for decode
(read_radiograph), CLAHE (resize + CLAHE), contours (ROI extraction + crop) and write (two PNGs, atomic);
peak resident memory of the main process and of the largest worker; wall seconds of the cached rerun.
``--contour-sizes`` repeats the run for each size of the image the ROI contours run on (speed against
agreement: issue 10 asks for >= 150 images/s on kermany224 and a box IoU against the reference of median
>= 0.95, 5th percentile >= 0.90). ``--agreement N`` adds the second table: on a seeded sample of N images
(half lungmasks-shenzhen, half kermany224), box IoU of the fast path against
``extract_roi(..., reference=True)`` (cxrlib.preprocess.compare_to_reference).

    nice -n 10 .venv/bin/python benchmarks/preprocess.py
    python benchmarks/preprocess.py --datasets ../shared/data/kermany224 --workers 2 --limit 2000
    python benchmarks/preprocess.py --datasets ../shared/data/kermany224 --contour-sizes 100 200 --agreement 200
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
DEFAULT_DATASETS = [SHARED / "kermany224", SHARED / "kermany-fullres-sample"]


def _one(dataset: str, workers: int | None, limit: int | None, contour_size: int) -> dict:
    import warnings

    import pandas as pd

    from cxrlib.data import build_manifest
    from cxrlib.preprocess import PreprocessConfig, arms_from, cache_folder, preprocess_manifest

    manifest = build_manifest(dataset, with_hashes=True, progress=False, required_splits=("train",))
    if limit:
        manifest = manifest.iloc[:limit]
    config = PreprocessConfig(contour_size=contour_size)
    arms = arms_from({"original": {}, "paper": {"clahe": True, "roi": True}})      # the profiles' default arms
    with tempfile.TemporaryDirectory() as cache_dir, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        out = preprocess_manifest(manifest, cache_dir, config, arms=arms, workers=workers, progress=False)
        wall = time.perf_counter() - start
        start = time.perf_counter()
        preprocess_manifest(manifest, cache_dir, config, arms=arms, workers=workers, progress=False)
        rerun = time.perf_counter() - start
        table = pd.read_csv(cache_folder(cache_dir, config) / "table.csv")
    return {
        "dataset": Path(dataset).name, "contour_size": contour_size, "images": len(manifest), "unique": len(table),
        "workers": workers or os.cpu_count(), "wall_s": wall, "images_per_s": len(manifest) / wall,
        **{name: 1e3 * table[f"t_{name}_s"].mean() for name in ("decode", "clahe", "contour", "write")},
        "main_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "worker_mib": max(table["worker_peak_mib"].max(),
                          resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024),
        "rerun_s": rerun, "fallback_rate": float(out["fallback"].mean()),
    }


def _agreement(count: int, contour_size: int, workers: int | None) -> dict:
    import numpy as np

    from cxrlib.preprocess import PreprocessConfig, agreement_sample, compare_to_reference

    paths = agreement_sample(SHARED / "lungmasks-shenzhen" / "images", SHARED / "kermany224", count)
    start = time.perf_counter()
    table = compare_to_reference(paths, PreprocessConfig(contour_size=contour_size), workers=workers, progress=False)
    return {"contour_size": contour_size, "images": len(table), "box_iou_median": float(table["box_iou"].median()),
            "box_iou_p05": float(np.percentile(table["box_iou"], 5)), "box_iou_min": float(table["box_iou"].min()),
            "mask_iou_median": float(table["mask_iou"].median()),
            "fallback_disagreements": int((table["fallback_fast"] != table["fallback_reference"]).sum()),
            "wall_s": time.perf_counter() - start}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=[str(d) for d in DEFAULT_DATASETS],
                        help="Kermany-layout folders (train/{NORMAL,PNEUMONIA}/...)")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    parser.add_argument("--limit", type=int, default=None, help="first N images of each data set")
    parser.add_argument("--contour-sizes", type=int, nargs="+", default=[100],
                        help="sides of the image the ROI contours run on (default: 100, the default config)")
    parser.add_argument("--agreement", type=int, default=0, metavar="N",
                        help="also measure fast path against the full-size reference on N seeded images "
                             "(about 2 s per image and core)")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--agree", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(_one(args.one, args.workers, args.limit, args.contour_sizes[0])))
        return 0
    if args.agree:
        print(json.dumps(_agreement(args.agreement, args.contour_sizes[0], args.workers)))
        return 0
    rows, agreement = [], []
    for contour_size in args.contour_sizes:
        options = ["--contour-sizes", str(contour_size)] + (["--workers", str(args.workers)] if args.workers else [])
        for dataset in args.datasets:
            if not Path(dataset).is_dir():
                print(f"skipping {dataset}: not a folder", file=sys.stderr)
                continue
            command = [sys.executable, __file__, "--one", dataset, *options]
            command += ["--limit", str(args.limit)] if args.limit else []
            done = subprocess.run(command, capture_output=True, text=True, check=True)
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        if args.agreement:
            command = [sys.executable, __file__, "--agree", "--agreement", str(args.agreement), *options]
            done = subprocess.run(command, capture_output=True, text=True, check=True)
            agreement.append(json.loads(done.stdout.strip().splitlines()[-1]))
    print(f"cpu cores: {os.cpu_count()}, load average at the end: {os.getloadavg()[0]:.1f}")
    header = (f"{'dataset':<24}{'contour':>8}{'images':>7}{'workers':>8}{'wall s':>8}{'img/s':>8}{'decode':>8}"
              f"{'CLAHE':>7}{'contours':>9}{'write':>7}{'main MiB':>9}{'worker MiB':>11}{'rerun s':>8}{'fallback':>9}")
    print(header)
    print(f"{'':<55}{'(ms per image in a worker)':^31}")
    for r in rows:
        print(f"{r['dataset']:<24}{r['contour_size']:>8}{r['images']:>7}{r['workers']:>8}{r['wall_s']:>8.1f}"
              f"{r['images_per_s']:>8.1f}{r['decode']:>8.2f}{r['clahe']:>7.2f}{r['contour']:>9.2f}{r['write']:>7.2f}"
              f"{r['main_mib']:>9.0f}{r['worker_mib']:>11.0f}{r['rerun_s']:>8.2f}{r['fallback_rate']:>9.1%}")
    if agreement:
        print("\nfast path vs full-size reference (seeded sample, half lungmasks-shenzhen, half kermany224)")
        print(f"{'contour':>8}{'images':>7}{'box IoU median':>15}{'p05':>7}{'min':>7}{'mask IoU median':>16}"
              f"{'fallback differ':>16}{'wall s':>8}")
        for r in agreement:
            print(f"{r['contour_size']:>8}{r['images']:>7}{r['box_iou_median']:>15.3f}{r['box_iou_p05']:>7.3f}"
                  f"{r['box_iou_min']:>7.3f}{r['mask_iou_median']:>16.3f}{r['fallback_disagreements']:>16}"
                  f"{r['wall_s']:>8.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
