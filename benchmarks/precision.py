"""Does a faster dtype policy change the study's results? Two runs of one profile, compared metric by metric.

Prints one table: for every arm and operating point, the reference run's mean over seeds with its 95%
patient-bootstrap interval, the other run's mean, the difference, and whether the other mean falls inside the
reference interval. The question it answers (issue 8): do bfloat16 features and training (``precision:
mixed_bfloat16``, about 1.5 times as fast on a CPU with AVX512_BF16 or AMX, ``benchmarks/train.py --policy``)
leave the metrics within their CI of the float32 ones? Exit status 1 when a mean falls outside.

The float32 run of params/kermany224.yaml is the committed report of commit 09c381a, before the profile
switched to bfloat16:

    git show 09c381a:reports/kermany224/metrics.json > /tmp/kermany224-float32.json
    python benchmarks/precision.py /tmp/kermany224-float32.json reports/kermany224/metrics.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

METRICS = ("roc_auc", "average_precision", "accuracy", "sensitivity", "specificity")


def compare(reference: dict, other: dict) -> list[dict]:
    """One row per arm, operating point and metric of two ``metrics.json`` records."""
    rows = []
    for arm, ref in reference["arms"].items():
        if arm not in other["arms"]:
            continue
        for point, ref_point in ref["operating_points"].items():
            new_point = other["arms"][arm]["operating_points"][point]
            for metric in METRICS:
                if metric in ("roc_auc", "average_precision") and point != "youden":
                    continue  # threshold-free: one row is enough
                low, high = ref_point["ci"][metric]
                value = new_point[metric]
                rows.append({"arm": arm, "point": "threshold-free" if metric in ("roc_auc", "average_precision")
                             else point, "metric": metric, "reference": ref_point[metric], "low": low, "high": high,
                             "other": value, "difference": value - ref_point[metric],
                             "inside": low <= value <= high})
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("reference", type=Path, help="metrics.json of the reference run (float32)")
    parser.add_argument("other", type=Path, help="metrics.json of the run compared with it (e.g. mixed_bfloat16)")
    args = parser.parse_args(argv)
    rows = compare(*(json.loads(path.read_text()) for path in (args.reference, args.other)))
    if not rows:
        sys.exit("the two records share no arm; compare two runs of the same profile")
    print(f"reference: {args.reference}\nother: {args.other}\nmeans over seeds; interval: the reference's 95% "
          "patient-bootstrap CI")
    print(f"{'arm':10} {'point':16} {'metric':18} {'reference':>9} {'95% CI':>15} {'other':>7} {'diff':>7}  inside")
    for r in rows:
        print(f"{r['arm']:10} {r['point']:16} {r['metric']:18} {r['reference']:9.3f} "
              f"{r['low']:7.3f}-{r['high']:.3f} {r['other']:7.3f} {r['difference']:+7.3f}  {'yes' if r['inside'] else 'NO'}")
    outside = [r for r in rows if not r["inside"]]
    print(f"{len(rows) - len(outside)} of {len(rows)} means inside the reference's interval")
    return 1 if outside else 0


if __name__ == "__main__":
    sys.exit(main())
