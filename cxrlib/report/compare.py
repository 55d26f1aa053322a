"""Two runs' records compared, value by value, leaving out what legitimately differs between two runs of one profile.

A refactor, a new machine or a rerun must leave a run's results as they were: :func:`compare_runs` reads every JSON
and CSV record of two run folders (``data.json``, ``roi.json``, ``training.json``, ``metrics.json``,
``processed.csv``, ``test_predictions.csv``, ``gradcam.csv``, the histories, ...) and, optionally, the bytes of their
figures, and names each difference. Left out: timings and dates (keys matching :data:`IGNORED_KEYS`), the code
version and the command line, and the run's own name and work folder inside paths (the records write paths relative
to the run folder, so two runs differ there by exactly those names). ``python -m cxrlib compare RUN_A RUN_B``.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
from pathlib import Path

__all__ = ["IGNORED_KEYS", "compare_runs"]

#: Record keys whose values differ between two runs of the same profile on the same data: durations and dates,
#: the code version and the command line.
IGNORED_KEYS = re.compile(r"seconds|_s$|^t_|^started$|^finished$|duration|^git$|^command$|peak_mib", re.IGNORECASE)


def _names(run_dir):
    """The run's name and its work folder's name, as its records spell them (from ``run.json``)."""
    path = Path(run_dir) / "run.json"
    record = json.loads(path.read_text()) if path.is_file() else {}
    work_dir = record.get("parameters", {}).get("work_dir") or ""
    return [name for name in (Path(work_dir).name, record.get("run_name") or Path(run_dir).name) if name]


def _normal(text, names):
    for i, name in enumerate(names):
        text = text.replace(name, f"<name{i}>")
    return text


def _number(cell):
    try:
        return float(cell)
    except (TypeError, ValueError):
        return cell


def _walk(a, b, where, names_a, names_b, out):
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b), key=str):
            if IGNORED_KEYS.search(str(key)):
                continue
            if key not in a or key not in b:
                out.append(f"{where}/{key}: only in the {'first' if key in a else 'second'} run")
            else:
                _walk(a[key], b[key], f"{where}/{key}", names_a, names_b, out)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            out.append(f"{where}: {len(a)} entries against {len(b)}")
            return
        for i, (x, y) in enumerate(zip(a, b)):
            _walk(x, y, f"{where}[{i}]", names_a, names_b, out)
    elif isinstance(a, str) and isinstance(b, str):
        if _normal(a, names_a) != _normal(b, names_b):
            out.append(f"{where}: {a!r} against {b!r}")
    elif isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return
    elif a != b:
        out.append(f"{where}: {a!r} against {b!r}")


def _read(path):
    if path.suffix == ".json":
        return json.loads(path.read_text(encoding="utf-8"))
    with open(path, newline="", encoding="utf-8") as handle:
        return [{key: _number(value) for key, value in row.items()} for row in csv.DictReader(handle)]


def _files(run_dir, suffixes):
    run_dir = Path(run_dir)
    return {path.relative_to(run_dir).as_posix() for path in run_dir.rglob("*")
            if path.is_file() and path.suffix in suffixes
            and not any(part.startswith(".") for part in path.relative_to(run_dir).parts)}


def compare_runs(run_a, run_b, *, figures=True):
    """Every difference between the records (and figures) of two run folders.

    Parameters
    ----------
    run_a, run_b : str or Path
        Run folders (``reports/<run_name>``) of the same profile.
    figures : bool, optional
        Also compare the files of ``figures/`` byte by byte.

    Returns
    -------
    differences : list of str
        One line per difference: the record and the key path, then both values; empty when the runs agree.
    """
    run_a, run_b = Path(run_a), Path(run_b)
    for name, folder in (("run_a", run_a), ("run_b", run_b)):
        if not folder.is_dir():
            raise ValueError(f"{name} {str(folder)!r} is not a folder; give two run folders (reports/<run_name>)")
    names_a, names_b = _names(run_a), _names(run_b)
    out = []
    suffixes = {".json", ".csv"} | ({".png", ".jpg"} if figures else set())
    found_a, found_b = _files(run_a, suffixes), _files(run_b, suffixes)
    for name in sorted(found_a ^ found_b):
        out.append(f"{name}: only in the {'first' if name in found_a else 'second'} run")
    for name in sorted(found_a & found_b):
        path_a, path_b = run_a / name, run_b / name
        if path_a.suffix in (".png", ".jpg"):
            if path_a.read_bytes() != path_b.read_bytes():
                out.append(f"{name}: the figure differs")
            continue
        _walk(_read(path_a), _read(path_b), name, names_a, names_b, out)
    return out


def main(argv):
    """``python -m cxrlib compare RUN_A RUN_B [--no-figures]``: print the differences; status 1 when there are any."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m cxrlib compare", description=__doc__.split("\n\n")[0])
    parser.add_argument("run_a")
    parser.add_argument("run_b")
    parser.add_argument("--no-figures", action="store_true", help="compare the records only, not figures/")
    args = parser.parse_args(argv)
    differences = compare_runs(args.run_a, args.run_b, figures=not args.no_figures)
    for line in differences:
        print(line)
    print(f"{len(differences)} difference(s) between {os.fspath(args.run_a)} and {os.fspath(args.run_b)}")
    return 1 if differences else 0
