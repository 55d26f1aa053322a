"""Build the course with otter-grader: student notebooks, autograder, solutions and the instructor guide.

For every exercise of ``params/course.yaml``, the jupytext master ``notebooks/exercises/<x>_<name>.py`` (otter's
assign format: questions, solutions, public and hidden tests) is converted to ``.ipynb`` and run through
``otter assign`` (tests not run at build time; ``tests/test_course.py`` runs them). The outputs land in::

    OUT_DIR/student/<x>_<name>.ipynb      what students receive: solutions stripped, public tests kept
    OUT_DIR/autograder/<x>_<name>.zip     otter's autograder (hidden tests included)
    OUT_DIR/autograder/course.json        which zip grades which assignment, and each question's points
    OUT_DIR/solutions/<x>_<name>.ipynb    the filled-in notebooks (only with ``with_solutions``)
    OUT_DIR/instructor-guide.html         learning goals, paper sections, times, rubric and points

Every file is written through :func:`cxrlib.atomic.atomic_path`.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import tempfile
import zipfile
from importlib import metadata
from pathlib import Path

import mistune
import yaml

from ..atomic import atomic_path
from .variants import EXERCISES, VARIANT_VERSION

__all__ = ["COURSE_PROFILE", "EXERCISES_DIR", "CourseBuildError", "load_course_profile", "build_course"]

_ROOT = Path(__file__).resolve().parents[2]
COURSE_PROFILE = _ROOT / "params" / "course.yaml"
EXERCISES_DIR = _ROOT / "notebooks" / "exercises"
_EXERCISE_KEYS = {"master": str, "title": str, "paper_section": str, "learning_goal": str,
                  "expected_minutes": int, "compute_minutes": int}


class CourseBuildError(RuntimeError):
    """The course cannot be built; the message names the file or key and what to change."""


def load_course_profile(path=COURSE_PROFILE):
    """Read and check the course profile (``params/course.yaml``).

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    dict
        ``title`` and ``exercises`` (``{letter: {master, title, paper_section, learning_goal, expected_minutes,
        compute_minutes}}``, in file order).
    """
    path = Path(path)
    try:
        profile = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise CourseBuildError(f"cannot read the course profile {path}: {exc}") from None
    if not isinstance(profile, dict) or set(profile) != {"title", "exercises"}:
        raise CourseBuildError(f"{path} must hold exactly the keys 'title' and 'exercises', got "
                               f"{sorted(profile) if isinstance(profile, dict) else type(profile).__name__}")
    exercises = profile["exercises"]
    if not isinstance(exercises, dict) or not exercises:
        raise CourseBuildError(f"{path}: 'exercises' must map exercise letters {EXERCISES} to their entries")
    for letter, entry in exercises.items():
        if letter not in EXERCISES:
            raise CourseBuildError(f"{path}: unknown exercise {letter!r}; known: {EXERCISES}")
        if not isinstance(entry, dict) or set(entry) != set(_EXERCISE_KEYS):
            got = sorted(entry) if isinstance(entry, dict) else type(entry).__name__
            raise CourseBuildError(f"{path}: exercise {letter!r} needs exactly the keys {sorted(_EXERCISE_KEYS)}, "
                                   f"got {got}")
        for key, kind in _EXERCISE_KEYS.items():
            if not isinstance(entry[key], kind) or isinstance(entry[key], bool):
                raise CourseBuildError(f"{path}: exercises.{letter}.{key} must be a {kind.__name__}, "
                                       f"got {entry[key]!r}")
        if not entry["master"].startswith(f"{letter}_"):
            raise CourseBuildError(f"{path}: exercises.{letter}.master must be named '{letter}_<name>.py', "
                                   f"got {entry['master']!r}")
    return profile


def _assign(master, work):
    """Run otter assign on one jupytext master inside `work`; return the dist folder."""
    import jupytext
    from otter.assign import main as otter_assign

    notebook = jupytext.read(master)
    ipynb = work / f"{master.stem}.ipynb"
    jupytext.write(notebook, ipynb)
    dist = work / "dist"
    try:
        otter_assign(str(ipynb), str(dist), no_pdfs=True, no_run_tests=True)
    except Exception as exc:
        raise CourseBuildError(f"otter assign failed on {master}: {type(exc).__name__}: {exc}") from exc
    return dist


def _questions(autograder_zip):
    """``{question: points}`` from the test files of an autograder zip, in question order."""
    points = {}
    with zipfile.ZipFile(autograder_zip) as archive:
        for name in sorted(n for n in archive.namelist() if re.fullmatch(r"tests/[^/]+\.py", n)):
            source = archive.read(name).decode()
            match = re.search(r'^name = "([^"]+)"\s*\npoints = ([0-9.]+)', source, re.MULTILINE)
            if match:
                points[match.group(1)] = float(match.group(2))
    return points


def _prompts(master):
    """``{question: prompt markdown}``: the first markdown cell after each ``# BEGIN QUESTION`` raw cell."""
    import jupytext

    prompts, current = {}, None
    for cell in jupytext.read(master).cells:
        source = cell.source.strip()
        if cell.cell_type == "raw" and re.match(r"#\s*BEGIN QUESTION", source):
            current = (yaml.safe_load(source.split("\n", 1)[1]) or {}).get("name")
        elif cell.cell_type == "markdown" and current and current not in prompts:
            prompts[current] = source
    return prompts


def _copy(source, target):
    with atomic_path(target) as tmp:
        shutil.copyfile(source, tmp)


def _check_out_dir(out_dir):
    if out_dir.exists() and not out_dir.is_dir():
        raise CourseBuildError(f"OUT_DIR {out_dir} is a file; give a folder (absent, empty, or an earlier build)")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not (out_dir / "autograder" / "course.json").is_file():
        raise CourseBuildError(f"OUT_DIR {out_dir} is not empty and holds no earlier course build "
                               "(autograder/course.json); give an empty or new folder")


def build_course(out_dir, *, with_solutions=False, profile=COURSE_PROFILE, exercises_dir=EXERCISES_DIR):
    """Build the student notebooks, the autograder, optionally the solutions, and the instructor guide.

    Parameters
    ----------
    out_dir : str or Path
        Absent, empty, or an earlier build (its files are replaced).
    with_solutions : bool, optional
        Also write ``OUT_DIR/solutions/``.
    profile : str or Path, optional
        The course profile (default ``params/course.yaml``).
    exercises_dir : str or Path, optional
        Folder of the masters (default ``notebooks/exercises``).

    Returns
    -------
    dict
        What ``OUT_DIR/autograder/course.json`` records.
    """
    out_dir, exercises_dir = Path(out_dir).resolve(), Path(exercises_dir)
    course = load_course_profile(profile)
    _check_out_dir(out_dir)
    record = {"title": course["title"], "variant_version": VARIANT_VERSION,
              "otter_grader": metadata.version("otter-grader"), "exercises": {}}
    prompts = {}
    for letter, entry in course["exercises"].items():
        master = exercises_dir / entry["master"]
        if not master.is_file():
            raise CourseBuildError(f"exercise {letter}: master {master} not found (params: exercises.{letter}.master)")
        with tempfile.TemporaryDirectory(prefix=f"course-{letter}-") as work:
            dist = _assign(master, Path(work))
            zips = sorted((dist / "autograder").glob("*.zip"))
            if len(zips) != 1:
                raise CourseBuildError(f"otter assign made {len(zips)} autograder zips for {master}, expected one")
            stem = master.stem
            student = json.loads((dist / "student" / f"{stem}.ipynb").read_text())
            questions = _questions(zips[0])
            _copy(dist / "student" / f"{stem}.ipynb", out_dir / "student" / f"{stem}.ipynb")
            _copy(zips[0], out_dir / "autograder" / f"{stem}.zip")
            if with_solutions:
                _copy(dist / "autograder" / f"{stem}.ipynb", out_dir / "solutions" / f"{stem}.ipynb")
        prompts[letter] = _prompts(master)
        record["exercises"][letter] = {
            "assignment_name": student["metadata"]["otter"]["assignment_name"], "notebook": f"{stem}.ipynb",
            "autograder": f"{stem}.zip", "questions": questions, "max_score": sum(questions.values()),
        }
    with atomic_path(out_dir / "autograder" / "course.json") as tmp:
        tmp.write_text(json.dumps(record, indent=2) + "\n")
    guide = render_guide(course, record, prompts)
    with atomic_path(out_dir / "instructor-guide.html") as tmp:
        tmp.write_text(guide, encoding="utf-8")
    return record


_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:64rem;margin:2rem auto;padding:0 1rem;
color:#1d1d1f;line-height:1.55}h1{font-size:1.6rem}h2{margin-top:2.2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.6rem 0;font-size:.9rem}th,td{border:1px solid #ccc;padding:.3rem .6rem;
text-align:left;vertical-align:top}thead{background:#f3f3f3}code{background:#f5f5f5;padding:0 .2rem}
pre{background:#f5f5f5;padding:.6rem}.muted{color:#666;font-size:.9rem}
.banner{background:#fff4e5;border:1px solid #f0b66a;padding:.6rem .9rem;border-radius:4px}
"""


def render_guide(course, record, prompts):
    """The instructor guide as one static HTML page.

    Parameters
    ----------
    course : dict
        The course profile (:func:`load_course_profile`).
    record : dict
        What :func:`build_course` records (questions and points per exercise).
    prompts : dict
        ``{letter: {question: prompt markdown}}`` from the masters: the rubric text.

    Returns
    -------
    str
    """
    esc = html.escape
    overview, sections = [], []
    for letter, entry in course["exercises"].items():
        built = record["exercises"][letter]
        overview.append(f"<tr><td>{esc(letter)}</td><td>{esc(entry['title'])}</td><td>{esc(entry['paper_section'])}"
                        f"</td><td>{entry['expected_minutes']} min</td><td>{built['max_score']:g}</td></tr>")
        rubric = "".join(
            f"<tr><td><code>{esc(q)}</code></td><td>{points:g}</td>"
            f"<td>{mistune.html(prompts[letter].get(q, '(no prompt found in the master)'))}</td></tr>"
            for q, points in built["questions"].items())
        sections.append(f"""
<h2>Exercise {esc(letter)} · {esc(entry['title'])}</h2>
<p><strong>Learning goal.</strong> {esc(entry['learning_goal'])}</p>
<p><strong>Paper.</strong> {esc(entry['paper_section'])}</p>
<p><strong>Expected time.</strong> about {entry['expected_minutes']} minutes of work; under
{entry['compute_minutes']} minute(s) of compute on a 2-core laptop CPU.</p>
<p><strong>Files.</strong> student notebook <code>student/{esc(built['notebook'])}</code>, autograder
<code>autograder/{esc(built['autograder'])}</code> (otter assignment <code>{esc(built['assignment_name'])}</code>).</p>
<table><thead><tr><th>question</th><th>points</th><th>rubric (the prompt students see; hidden tests grade it)</th>
</tr></thead><tbody>{rubric}</tbody></table>""")
    total = sum(e["max_score"] for e in record["exercises"].values())
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Instructor guide · {esc(course['title'])}</title><style>{_STYLE}</style></head><body>
<h1>Instructor guide: {esc(course['title'])}</h1>
<p class="muted">Built with otter-grader {esc(record['otter_grader'])}, variant version {record['variant_version']}.
Exercises on V. H. Galindo-Ramirez et al., "Detection and Classification of Pneumonia in X-Ray Images Using
Preprocessing Techniques and Deep Learning", Research in Computing Science 151(6), 2022.</p>
<p class="banner">All exercise data is SYNTHETIC (cartoon radiographs from <code>cxrlib.data.synthetic</code>, simulated
scores); it trains the method and says nothing clinical.</p>
<h2>Overview</h2>
<table><thead><tr><th>exercise</th><th>title</th><th>paper</th><th>expected time</th><th>points</th></tr></thead>
<tbody>{''.join(overview)}</tbody></table>
<p>Total: {total:g} points.</p>
<h2>How it runs</h2>
<ol>
<li><strong>Build</strong>: <code>python -m cxrlib course build OUT_DIR --with-solutions</code>.</li>
<li><strong>Hand out</strong> <code>OUT_DIR/student/*.ipynb</code>. Students need this project's environment
(<code>pip install -e ".[course]"</code>); no dataset and no internet.</li>
<li><strong>Students</strong> write their identifier in the first code cell, <code>STUDENT_ID = "..."</code>; it selects
their variant (data and expected answers) and is where the grader reads it. They run <code>grader.check("a1")</code>
cells: public tests of the form of the answers.</li>
<li><strong>Grade</strong>: collect the <code>.ipynb</code> files in one folder (any sub-folders), then
<code>python -m cxrlib course grade OUT_DIR/autograder SUBMISSIONS_DIR --out gradebook.csv</code>. Each notebook is
executed again from the top (no Docker) and the hidden tests recompute the expected answers from its
<code>STUDENT_ID</code>; a notebook that cannot be read, run or matched to an exercise gets 0 and a reason in the
<code>feedback</code> column.</li>
</ol>
<p>Keep <code>OUT_DIR/autograder</code> and <code>OUT_DIR/solutions</code> away from students. The expected answers
are not stored in any file: the hidden tests compute them with the study's functions (<code>cxrlib.evaluation</code>,
<code>cxrlib.evaluation.choose_threshold</code>, the generator's ground truth) from the identifier, and call the
students' functions on fresh data of their variant. A student who calls the study's own functions instead of
writing them gets the same marks; the variants stop copying between students, not use of the library. The
exception is exercise c's answer key, <code>cxrlib.course.variants.shortcut_marker(STUDENT_ID)</code>: the notebook
never calls it, but a student who reads the package can, and gets c1 and c2 without the work (c3 still needs the two
trained models).</p>
{''.join(sections)}
</body></html>
"""
