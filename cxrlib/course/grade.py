"""Grade a folder of submitted notebooks with otter-grader, without Docker, into one gradebook CSV.

Every ``.ipynb`` under the submissions folder is read, matched to its exercise (the otter assignment name in its
metadata, else its file name), and executed from the top in a fresh kernel by ``otter.api.grade_submission`` in a
child process with a time limit, so that a notebook that loops, kills its kernel or is not a notebook at all costs
only its own row: it gets score 0 and a readable reason in ``feedback``, and grading goes on.

The student identifier is the string assigned to ``STUDENT_ID`` in the notebook's first code cell that assigns it
(``STUDENT_ID = "s1234567"``); the gradebook reads it from there without running anything, and the hidden tests read
the same variable after running the notebook.
"""

from __future__ import annotations

import contextlib
import io
import json
import multiprocessing
import os
import re
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pandas as pd
from tqdm.auto import tqdm

from ..atomic import atomic_path

__all__ = ["CourseGradeError", "read_student_id", "set_student_id", "grade_submissions"]

_ID_CELL = re.compile(r"^STUDENT_ID\s*=\s*(['\"])(.*?)\1", re.MULTILINE)
DEFAULT_TIMEOUT = 900  # seconds; the CLI default too


class CourseGradeError(RuntimeError):
    """Grading cannot start (e.g. the autograder folder is not a course build); the message says what to give."""


def read_student_id(notebook):
    """The identifier assigned to ``STUDENT_ID`` in the first code cell that assigns it ('' when absent).

    Parameters
    ----------
    notebook : nbformat.NotebookNode

    Returns
    -------
    str
    """
    for cell in notebook.cells:
        if cell.cell_type == "code":
            match = _ID_CELL.search(cell.source)
            if match:
                return match.group(2).strip()
    return ""


def set_student_id(notebook_path, student_id, out_path):
    """Write a copy of a course notebook with ``STUDENT_ID`` set (what a student does in the first code cell).

    Parameters
    ----------
    notebook_path : str or Path
    student_id : str
    out_path : str or Path

    Returns
    -------
    Path
        `out_path`.
    """
    notebook = nbformat.read(notebook_path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code" and _ID_CELL.search(cell.source):
            cell.source = _ID_CELL.sub(lambda m: f"STUDENT_ID = {student_id!r}", cell.source, count=1)
            break
    else:
        raise ValueError(f"{notebook_path} has no code cell assigning STUDENT_ID")
    with atomic_path(out_path) as tmp:
        nbformat.write(notebook, tmp)
    return Path(out_path)


def _load_course(autograder_dir):
    autograder_dir = Path(autograder_dir)
    try:
        course = json.loads((autograder_dir / "course.json").read_text())
    except (OSError, ValueError) as exc:
        raise CourseGradeError(f"{autograder_dir} is not a course autograder folder (no readable course.json: {exc}); "
                               "give OUT_DIR/autograder of `python -m cxrlib course build OUT_DIR`") from None
    for letter, entry in course["exercises"].items():
        if not (autograder_dir / entry["autograder"]).is_file():
            raise CourseGradeError(f"{autograder_dir / entry['autograder']} (exercise {letter}) is missing; rebuild")
    return course


def _match_exercise(notebook, path, course):
    name = notebook.metadata.get("otter", {}).get("assignment_name")
    for letter, entry in course["exercises"].items():
        if name == entry["assignment_name"]:
            return letter
    for letter, entry in course["exercises"].items():
        if path.stem.startswith(Path(entry["notebook"]).stem):
            return letter
    return None


def _feedback(message):
    """The exception of an otter test message, without otter's header and the quoted test code."""
    lines = [line for line in message.splitlines()[1:] if line.strip()]
    if lines and lines[0].startswith("Error at line"):
        lines = [line for line in lines[1:] if not line.startswith(" ")]  # the quoted test code is indented
    return " ".join(line.strip() for line in lines) or message.strip()


class _Worker:
    """A child process that grades one notebook at a time with otter; killed and replaced when one runs too long.

    Importing otter takes seconds, so one process serves many submissions; a notebook that loops or kills the
    process costs only its own row.
    """

    def __init__(self, timeout):
        self.timeout = timeout
        self._process = self._conn = None

    def _start(self):
        import cxrlib

        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        package_root = str(Path(cxrlib.__file__).resolve().parents[1])  # the kernel imports this same cxrlib
        self._process = context.Process(target=_serve, args=(child, package_root), daemon=True)
        self._process.start()
        child.close()

    def stop(self):
        """End the child process (it is started again on the next submission)."""
        if self._process is not None:
            self._process.kill()
            self._process.join()
            self._conn.close()
        self._process = self._conn = None

    def grade(self, submission, autograder_zip):
        """Return ``(questions, reason)``: per-question results, or None and why the notebook could not be graded."""
        if self._process is None or not self._process.is_alive():
            self._start()
        self._conn.send((str(submission), str(autograder_zip)))
        if not self._conn.poll(self.timeout):
            self.stop()
            return None, (f"did not finish within {self.timeout} s when run from the top (an endless loop, a cell "
                          "waiting for input, or far more compute than the exercise needs)")
        try:
            ok, payload = self._conn.recv()
        except EOFError:
            self.stop()
            return None, "could not be run: the grading process died (out of memory, or the notebook ended Python)"
        return (payload, "") if ok else (None, f"could not be run: {payload}")


def _serve(conn, package_root):
    """Child process: grade the notebooks sent over `conn` with otter (no Docker); answer per-question results."""
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH", "")]))
    from otter.api import grade_submission

    while True:
        try:
            submission, autograder_zip = conn.recv()
        except EOFError:
            return
        try:
            with contextlib.redirect_stderr(io.StringIO()):
                results = grade_submission(submission, autograder_zip, quiet=True)
        except Exception as exc:
            conn.send((False, f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1] if str(exc).strip() else ''}"))
            continue
        questions = {}
        for name, test_file in results.results.items():
            messages = []
            for case in test_file.test_case_results:
                text = "" if case.passed else _feedback(case.message)
                if text and text not in messages:
                    messages.append(text)
            questions[name] = {"score": float(test_file.score), "messages": messages}
        conn.send((True, questions))


def _grade_one(path, root, course, autograder_dir, worker):
    row = {"submission": path.relative_to(root).as_posix(), "exercise": "", "student_id": "", "score": 0.0,
           "max_score": None, "feedback": ""}
    try:
        notebook = nbformat.reads(path.read_text(encoding="utf-8"), as_version=4)
    except Exception as exc:
        row["feedback"] = f"not a Jupyter notebook ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})"
        return row
    row["student_id"] = read_student_id(notebook)
    letter = _match_exercise(notebook, path, course)
    if letter is None:
        names = ", ".join(e["notebook"] for e in course["exercises"].values())
        row["feedback"] = f"not one of this course's notebooks (no matching otter assignment name; expected {names})"
        return row
    entry = course["exercises"][letter]
    row.update(exercise=letter, max_score=entry["max_score"], **{q: 0.0 for q in entry["questions"]})
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.metadata.setdefault("otter", {})["assignment_name"] = entry["assignment_name"]
    with tempfile.TemporaryDirectory(prefix="course-submission-") as work:
        prepared = Path(work) / entry["notebook"]
        nbformat.write(notebook, prepared)
        questions, reason = worker.grade(prepared, autograder_dir / entry["autograder"])
    if questions is None:
        row["feedback"] = reason
        return row
    notes = []
    for question in entry["questions"]:
        result = questions.get(question)
        if result is None:
            notes.append(f"{question}: not graded (its tests did not run)")
            continue
        row[question] = result["score"]
        if result["messages"]:
            notes.append(f"{question}: " + " / ".join(result["messages"]))
    row["score"] = sum(row[q] for q in entry["questions"])
    row["feedback"] = " | ".join(notes)
    return row


def grade_submissions(autograder_dir, submissions_dir, out_csv, *, timeout=DEFAULT_TIMEOUT, workers=1, progress=True):
    """Grade every ``.ipynb`` under a folder and write the gradebook CSV.

    Parameters
    ----------
    autograder_dir : str or Path
        ``OUT_DIR/autograder`` of a course build.
    submissions_dir : str or Path
        Searched recursively; ``.ipynb_checkpoints`` and hidden files are skipped.
    out_csv : str or Path
        Written atomically: one row per submission, sorted by path; columns ``submission``, ``exercise``,
        ``student_id``, ``score``, ``max_score``, one per question (empty for other exercises' questions),
        ``feedback``.
    timeout : int, optional
        Seconds one notebook may run.
    workers : int, optional
        Notebooks graded at the same time, each in its own child process (one kernel each); the gradebook does
        not depend on it.
    progress : bool, optional

    Returns
    -------
    pandas.DataFrame
        The gradebook.
    """
    autograder_dir, root = Path(autograder_dir).resolve(), Path(submissions_dir).resolve()
    course = _load_course(autograder_dir)
    if not root.is_dir():
        raise CourseGradeError(f"SUBMISSIONS_DIR {root} is not a folder")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be an integer >= 1, got {workers!r}")
    paths = sorted(p for p in root.rglob("*.ipynb")
                   if not any(part.startswith(".") for part in p.relative_to(root).parts))
    pool, local = [], threading.local()

    def grade_one(path):
        if not hasattr(local, "worker"):
            local.worker = _Worker(timeout)
            pool.append(local.worker)
        return _grade_one(path, root, course, autograder_dir, local.worker)

    try:
        with ThreadPoolExecutor(max_workers=workers) as executor:
            rows = list(tqdm(executor.map(grade_one, paths), total=len(paths), desc="grading", unit="notebook",
                             disable=not progress))
    finally:
        for worker in pool:
            worker.stop()
    questions = [q for entry in course["exercises"].values() for q in entry["questions"]]
    columns = ["submission", "exercise", "student_id", "score", "max_score", *questions, "feedback"]
    gradebook = pd.DataFrame(rows, columns=columns)
    with atomic_path(out_csv) as tmp:
        gradebook.to_csv(tmp, index=False)
    return gradebook
