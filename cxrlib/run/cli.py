"""Command line: ``python -m cxrlib {run,render,compare,fetch,roi-eval,course,gpu} ...``."""

from __future__ import annotations

import argparse
import json
import sys

__all__ = ["main"]


def _run(args: argparse.Namespace) -> int:
    from .params import load_profile, parse_overrides
    from .pipeline import run_study

    params = load_profile(args.profile, parse_overrides(args.set))
    run_study(params, only=args.only, progress=not args.quiet, verbose=args.verbose)
    return 0


def _render(args: argparse.Namespace) -> int:
    from .pipeline import render_run

    print(f"Report: {render_run(args.run_dir)}")
    return 0


def _fetch(args: argparse.Namespace) -> int:
    from ..data.fetch import fetch_dataset

    record = fetch_dataset(args.source, args.dest, sha256=args.sha256, expected_size=args.size)
    print(json.dumps(record, indent=2, default=str))
    return 0


def _course(args: argparse.Namespace) -> int:
    if args.course_command == "build":
        from ..course.build import build_course

        record = build_course(args.out_dir, with_solutions=args.with_solutions)
        print(f"Built {len(record['exercises'])} exercises in {args.out_dir}: student/, autograder/"
              f"{', solutions/' if args.with_solutions else ''} and instructor-guide.html")
        return 0
    from ..course.grade import grade_submissions

    gradebook = grade_submissions(args.autograder_dir, args.submissions_dir, args.out, timeout=args.timeout,
                                  workers=args.workers)
    print(f"Graded {len(gradebook)} notebooks: {args.out}")
    return 0


def _gpu(args: argparse.Namespace) -> int:
    from . import gpu

    if args.gpu_command == "pack":
        record = gpu.pack(data_dir=args.data_dir, weights=args.weights)
        print(json.dumps(record, indent=2))
        for number, load in enumerate(record["loads"], 1):
            print(f"device call {number}: carry={json.dumps(load['carry'])} ({load['bytes'] / 2**20:.1f} MiB with "
                  f"the repository, limit {record['limit_bytes'] / 2**20:.0f} MiB); command: "
                  "python3 -m cxrlib gpu run --out $OUT")
        return 0
    if args.gpu_command == "run":
        result = gpu.run_there(profile=args.profile, overrides=args.set, out=args.out, dry_run=args.dry_run)
        print(json.dumps(result, indent=2))
        return 0
    print(json.dumps(gpu.check_report(args.run_dir), indent=2))
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m cxrlib", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run the study notebooks for a profile and render the report")
    run.add_argument("profile", help="a params/*.yaml profile")
    run.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                     help="override one profile key (repeatable), e.g. --set epochs=3")
    run.add_argument("--only", metavar="STEP", help="run one step (e.g. 02 or preprocessing) in an existing run folder")
    run.add_argument("-v", "--verbose", action="store_true",
                     help="show everything: the notebooks' cell output and the kernels' log lines (TensorFlow, "
                          "ipykernel); otherwise these go to work_dir/logs/<run_name>/")
    run.add_argument("--quiet", action="store_true", help="no cell progress bar")
    run.set_defaults(handler=_run)

    render = commands.add_parser("render", help="render an existing run folder's HTML again (executes nothing)")
    render.add_argument("run_dir", help="a run folder, e.g. reports/demo")
    render.set_defaults(handler=_render)

    fetch = commands.add_parser("fetch", help="download or copy the Kermany archive, verify it and unpack it")
    fetch.add_argument("source", help="local path or http(s) URL of ChestXRay2017.zip (or Kaggle's chest_xray zip)")
    fetch.add_argument("--dest", required=True, help="data folder to unpack into")
    fetch.add_argument("--sha256", help="expected sha256 of the archive")
    fetch.add_argument("--size", type=int, help="expected size of the archive in bytes")
    fetch.set_defaults(handler=_fetch)

    course = commands.add_parser("course", help="course exercises: build the notebooks and autograder, grade submissions")
    course_commands = course.add_subparsers(dest="course_command", required=True)
    build = course_commands.add_parser("build", help="otter assign every exercise into OUT_DIR/{student,autograder}")
    build.add_argument("out_dir", help="output folder (absent, empty, or an earlier build)")
    build.add_argument("--with-solutions", action="store_true", help="also write OUT_DIR/solutions/")
    build.set_defaults(handler=_course)
    grade = course_commands.add_parser("grade", help="grade every .ipynb under SUBMISSIONS_DIR (no Docker)")
    grade.add_argument("autograder_dir", help="OUT_DIR/autograder of a course build")
    grade.add_argument("submissions_dir", help="folder of submitted notebooks (searched recursively)")
    grade.add_argument("--out", required=True, help="gradebook CSV to write")
    grade.add_argument("--timeout", type=int, default=900, help="seconds one notebook may run (default 900)")
    grade.add_argument("--workers", type=int, default=1,
                       help="notebooks graded at the same time, one kernel each (default 1)")
    grade.set_defaults(handler=_course)

    gpu = commands.add_parser("gpu", help="the prepared GPU run: pack what travels, run there, check the report size")
    gpu_commands = gpu.add_subparsers(dest="gpu_command", required=True)
    pack = gpu_commands.add_parser("pack", help="fill .gpu/ (data, float16 weights, cp312 wheels) and plan the loads")
    pack.add_argument("--data-dir", default="../shared/data/kermany224", help="dataset folder to carry")
    pack.add_argument("--weights", default="../shared/weights/xception_imagenet_notop.weights.h5",
                      help="Keras Xception no-top .weights.h5 (carried as float16)")
    pack.set_defaults(handler=_gpu)
    there = gpu_commands.add_parser("run", help="on the GPU machine: install the wheels, run the steps not yet done")
    there.add_argument("--profile", default="params/paper224-gpu.yaml")
    there.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override one profile key")
    there.add_argument("--out", help="copy the checked report here (the device's $OUT)")
    there.add_argument("--dry-run", action="store_true",
                       help="CPU rehearsal: TensorFlow hidden, wheels installed for the GPU's Python but not imported")
    there.set_defaults(handler=_gpu)
    check = gpu_commands.add_parser("check-report", help="refuse a report folder too large to bring back")
    check.add_argument("run_dir")
    check.set_defaults(handler=_gpu)

    # compare and roi-eval parse their own options (cxrlib.report.compare.main, cxrlib.run.roi_eval.roi_eval_main);
    # listed here for --help
    commands.add_parser("compare", help="compare the records (and figures) of two run folders, timings and the "
                                        "runs' own names aside (RUN_A RUN_B [--no-figures])")
    commands.add_parser("roi-eval", help="measure how well the thorax ROI keeps the lungs "
                                         "(--images DIR --masks DIR [--json]; roi-eval --help for more)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status. Known errors print one clear line, not a traceback."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["gpu"]:  # before the imports below: on the GPU machine its wheels are not installed yet
        from .gpu import GpuPackError

        try:
            args = _parser().parse_args(argv)
            return args.handler(args)
        except GpuPackError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    from ..course.build import CourseBuildError
    from ..course.grade import CourseGradeError
    from ..data.manifest import DatasetLayoutError
    from ..data.images import ImageReadError
    from ..data.fetch import FetchError
    from .params import ProfileError
    from .pipeline import StudyRunError

    try:
        if argv[:1] == ["compare"]:
            from ..report.compare import main as compare_main

            return compare_main(argv[1:])
        if argv[:1] == ["roi-eval"]:
            from .roi_eval import roi_eval_main

            return roi_eval_main(argv[1:])
        args = _parser().parse_args(argv)
        return args.handler(args)
    except (ProfileError, StudyRunError, DatasetLayoutError, ImageReadError, FetchError, CourseBuildError,
            CourseGradeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
