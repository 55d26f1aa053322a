"""Course exercises: variants, the build (otter assign), grading (otter without Docker) and the gradebook.

One build and one graded folder are shared by the whole module (session-scoped fixtures): for each exercise and
three student identifiers the solution, the unmodified student notebook and one plausible wrong answer, plus files
that are not gradable notebooks. The graded kernels get a temporary folder of this session (``TMPDIR``), where
exercise c keeps its trainings: the wrong answer and the second grading of a student reuse the solution's
(:func:`cxrlib.models.train_classifier` resumes a finished training with the same settings and images).
"""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

from cxrlib.course import build, checks, grade, variants
from cxrlib.run.pipeline import discover_steps

STUDENTS = ("s1000001", "ana.garcia", "X-42")
# Plausible wrong answers: one cell edit each, and the one question it must cost.
WRONG = {
    "a": ("return preprocess.roi_box(lung_fields(image), margin=0.04)", "return (0.0, 0.0, 1.0, 1.0)", "a2"),
    "b": ("fp, fn = int(np.sum(pred & ~y)), int(np.sum(~pred & y))",
          "fn, fp = int(np.sum(pred & ~y)), int(np.sum(~pred & y))", "b1"),
    "c": ("marker_box = (float(y0 / h), float(x0 / w), float(y1 / h), float(x1 / w))",
          "marker_box = (float(y0 / h), 1 - float(x1 / w), float(y1 / h), 1 - float(x0 / w))", "c1"),
    "d": ('threshold = choose_threshold(validation["label"], validation["score"])',
          'threshold = choose_threshold(test["label"], test["score"])', "d1"),
}


def _edit(source_path, student_id, old, new, out_path):
    grade.set_student_id(source_path, student_id, out_path)
    notebook = nbformat.read(out_path, as_version=4)
    line = re.compile(rf"^(\s*){re.escape(old)}", re.MULTILINE)  # a whole statement, not a longer name
    edited = [cell for cell in notebook.cells if cell.cell_type == "code" and line.search(cell.source)]
    assert len(edited) == 1, f"the solution of {source_path} no longer contains the line {old!r}"
    edited[0].source = line.sub(lambda m: m.group(1) + new, edited[0].source)
    nbformat.write(notebook, out_path)


@pytest.fixture(scope="session")
def course(tmp_path_factory):
    out = tmp_path_factory.mktemp("course")
    record = build.build_course(out, with_solutions=True)
    return out, record


@pytest.fixture(scope="session")
def kernel_tmp(tmp_path_factory):
    """A temporary folder of this session for the graded kernels (they inherit ``TMPDIR``)."""
    before = os.environ.get("TMPDIR")
    os.environ["TMPDIR"] = str(tmp_path_factory.mktemp("kernel-tmp"))
    yield Path(os.environ["TMPDIR"])
    if before is None:
        del os.environ["TMPDIR"]
    else:
        os.environ["TMPDIR"] = before


@pytest.fixture(scope="session")
def graded(course, kernel_tmp, tmp_path_factory):
    out, record = course
    subs = tmp_path_factory.mktemp("submissions")
    for letter, entry in record["exercises"].items():
        stem = Path(entry["notebook"]).stem
        old, new, _ = WRONG[letter]
        for sid in STUDENTS:
            folder = subs / sid
            grade.set_student_id(out / "solutions" / entry["notebook"], sid, folder / f"{stem}-solution.ipynb")
            grade.set_student_id(out / "student" / entry["notebook"], sid, folder / f"{stem}-blank.ipynb")
            _edit(out / "solutions" / entry["notebook"], sid, old, new, folder / f"{stem}-wrong.ipynb")
    (subs / "bad").mkdir()
    (subs / "bad" / "not-json.ipynb").write_text("this is not a notebook")
    (subs / "bad" / "photo.ipynb").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    crash = nbformat.read(out / "student" / record["exercises"]["b"]["notebook"], as_version=4)
    crash.cells.insert(2, nbformat.v4.new_code_cell("raise SystemExit('student ended Python')"))
    nbformat.write(crash, subs / "bad" / "b_evaluation-exits.ipynb")
    other = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print('hello')")])
    nbformat.write(other, subs / "bad" / "homework3.ipynb")
    # two at a time: the gradebook must not depend on it (the second grading below runs one at a time)
    gradebook = grade.grade_submissions(out / "autograder", subs, subs.parent / "gradebook.csv", workers=2,
                                        progress=False)
    return subs, gradebook, record


def _row(gradebook, submission):
    rows = gradebook[gradebook["submission"] == submission]
    assert len(rows) == 1, f"{submission} is not in the gradebook once: {gradebook['submission'].tolist()}"
    return rows.iloc[0]


# --------------------------------------------------------------------------- variants


def test_variants_are_deterministic_per_student_and_differ_between_students():
    a1, a2, b = (variants.predictions_table(s) for s in ("s1", "s1", "s2"))
    pd.testing.assert_frame_equal(a1, a2)
    assert not a1["score"].equals(b["score"])
    assert variants.variant_seed("a", "s1") != variants.variant_seed("b", "s1")
    first, again = variants.roi_cases("s1")[0], variants.roi_cases("s1")[0]
    assert np.array_equal(first.image, again.image)
    assert not np.array_equal(first.image, variants.roi_cases("s2")[0].image)
    assert not np.array_equal(first.image, variants.roi_cases("s1", stream="fresh")[0].image)


def test_roi_cases_carry_the_generators_lung_masks():
    case = variants.roi_cases("s1")[0]
    assert case.lung_mask.dtype == bool and case.lung_mask.shape == case.image.shape
    assert 0.1 < case.lung_mask.mean() < 0.5
    # the lungs are darker than the rest of the body
    assert case.image[case.lung_mask].mean() < case.image[~case.lung_mask].mean()


@pytest.mark.parametrize("bad", ["", "   ", None, 42, "two words", "x" * 65, "a/b"])
def test_student_id_refused_with_what_to_write(bad):
    with pytest.raises(ValueError, match='STUDENT_ID = "s1234567"'):
        variants.check_student_id(bad)
    with pytest.raises(AssertionError, match="STUDENT_ID"):
        checks.grade_threshold(0.5, bad)


def test_unknown_exercise_and_stream_refused():
    with pytest.raises(ValueError, match="exercise must be one of"):
        variants.variant_seed("e", "s1")
    with pytest.raises(ValueError, match="stream must be one of"):
        variants.roi_cases("s1", stream="test")


def test_study_runner_does_not_pick_up_the_exercises():
    steps = [step.source for step in discover_steps()]
    assert steps and all(path.parent.name == "notebooks" for path in steps)
    assert any(build.EXERCISES_DIR.glob("*.py"))


# --------------------------------------------------------------------------- checks, directly


def test_box_checks_tell_a_whole_image_box_from_a_thorax_box():
    checks.grade_thorax_box(lambda image: checks_solution_box(image), "s1")
    with pytest.raises(AssertionError, match="cover a median 100% of the image"):
        checks.grade_thorax_box(lambda image: (0.0, 0.0, 1.0, 1.0), "s1")
    with pytest.raises(AssertionError, match=r"y0 < y1"):
        checks.check_thorax_box(lambda image: (0.5, 0.0, 0.2, 1.0), variants.roi_cases("s1")[0].image)


def checks_solution_box(image):
    from cxrlib.preprocess import PreprocessConfig, apply_clahe, extract_roi

    return extract_roi(apply_clahe(image), PreprocessConfig(preprocess_size=image.shape[0])).box


def test_shortcut_marker_sits_in_a_corner_outside_the_thorax_and_differs_between_students(tmp_path):
    markers = [variants.shortcut_marker(s) for s in ("s1", "s2", "s3", "s4", "s5", "s6")]
    assert variants.shortcut_marker("s1") == markers[0]
    assert len({(m.kind, m.corner, m.box) for m in markers}) > 3
    for m in markers:
        y0, x0, y1, x1 = m.box
        assert m.kind in variants.MARKER_KINDS and m.corner in variants.MARKER_CORNERS
        assert (y1 <= 0.14 if m.corner.startswith("top") else y0 >= 0.86)
        assert (x1 <= 0.14 if m.corner.endswith("left") else x0 >= 0.86)


def test_shortcut_dataset_plants_the_marker_with_the_label_except_in_test(tmp_path):
    from cxrlib.audit import box_pixels
    from cxrlib.models import read_images

    table = variants.shortcut_dataset("s1", tmp_path)
    plan = variants.shortcut_plan("s1")
    assert table[["image_id", "subset", "label"]].equals(plan[["image_id", "subset", "label"]])
    assert "has_marker" not in table.columns
    rates = plan.groupby(["subset", "label"])["has_marker"].mean()
    assert rates["train", "PNEUMONIA"] == rates["val", "PNEUMONIA"] == 0.9
    assert rates["train", "NORMAL"] == rates["val", "NORMAL"] == 0.1
    assert rates["test", "PNEUMONIA"] == rates["test", "NORMAL"] == 0.5
    marker = variants.shortcut_marker("s1")
    y0, x0, y1, x1 = box_pixels(marker.box, (variants.SHORTCUT_SIZE,) * 2)
    images = read_images(table["path"], size=variants.SHORTCUT_SIZE, progress=False)
    ink = variants.marker_stamp(marker.kind, y1 - y0) > 0.9
    brightness = images[:, y0:y1, x0:x1][:, ink].mean(axis=1)
    assert brightness[plan["has_marker"]].min() > 200 > brightness[~plan["has_marker"]].max()
    again = variants.shortcut_dataset("s1", tmp_path / "again")
    assert np.array_equal(images, read_images(again["path"], size=variants.SHORTCUT_SIZE, progress=False))


def test_marker_checks_tell_the_marker_from_its_mirror_image_and_the_kind():
    marker = variants.shortcut_marker("s1")
    y0, x0, y1, x1 = marker.box
    checks.check_marker_box(marker.box)
    checks.grade_marker_box(marker.box, "s1")
    with pytest.raises(AssertionError, match="mirror image"):
        checks.grade_marker_box((y0, 1 - x1, y1, 1 - x0), "s1")
    with pytest.raises(AssertionError, match="covers 100% of the image"):
        checks.check_marker_box((0.0, 0.0, 1.0, 1.0))
    with pytest.raises(AssertionError, match="marker_box is not defined"):
        checks.check_marker_box(None)
    checks.grade_marker_kind(marker.kind, "s1")
    other = next(kind for kind in variants.MARKER_KINDS if kind != marker.kind)
    with pytest.raises(AssertionError, match=f"not a {other}"):
        checks.grade_marker_kind(other, "s1")
    with pytest.raises(AssertionError, match="must be one of"):
        checks.check_marker_kind("letter")


def test_shortcut_gap_check_refuses_malformed_answers_and_another_students_table(tmp_path):
    with pytest.raises(AssertionError, match=r'auc must be \{"whole"'):
        checks.check_shortcut_auc({"whole": 0.9})
    with pytest.raises(AssertionError, match="lies in"):
        checks.check_shortcut_auc({"whole": {"val": 1.2, "test": 0.5}, "crop": {"val": 0.5, "test": 0.5}})
    auc = {"whole": {"val": 0.9, "test": 0.6}, "crop": {"val": 0.7, "test": 0.7}}
    with pytest.raises(AssertionError, match="not the table of your variant"):
        checks.grade_shortcut_gap(auc, None, None, variants.shortcut_dataset("s2", tmp_path), "s1")


@pytest.mark.parametrize("kind", list(variants.MARKER_KINDS))
def test_marker_stamps_differ_and_bad_arguments_are_refused(kind):
    stamp = variants.marker_stamp(kind, 12)
    assert stamp.shape == (12, 12) and 0 <= stamp.min() and stamp.max() <= 1
    others = [variants.marker_stamp(k, 12) for k in variants.MARKER_KINDS if k != kind]
    assert all(np.abs(stamp - o).mean() > 0.1 for o in others)
    with pytest.raises(ValueError, match="kind must be one of"):
        variants.marker_stamp("letter", 12)
    with pytest.raises(ValueError, match="side must be an int >= 4"):
        variants.marker_stamp(kind, 3)


def test_optimism_is_positive_and_reference_is_reproducible():
    validation, test = variants.operating_point_tables("s1")
    mean, sd = checks.reference_optimism(validation, test, n_resamples=300, seed=0)
    assert (mean, sd) == checks.reference_optimism(validation, test, n_resamples=300, seed=0)
    assert mean > 0 and sd > 0


# --------------------------------------------------------------------------- build


def test_build_writes_student_autograder_solutions_and_guide(course):
    out, record = course
    assert set(record["exercises"]) == set(build.load_course_profile()["exercises"])
    for entry in record["exercises"].values():
        student = nbformat.read(out / "student" / entry["notebook"], as_version=4)
        solution = nbformat.read(out / "solutions" / entry["notebook"], as_version=4)
        assert (out / "autograder" / entry["autograder"]).is_file()
        text = json.dumps(student)
        assert "BEGIN SOLUTION" not in text and "hidden=True" not in json.dumps(student.metadata)
        assert "grade_" not in text, "hidden checks leaked into the student notebook"
        assert grade.read_student_id(student) == ""
        assert len(json.dumps(solution)) > len(text)
        assert sum(entry["questions"].values()) == entry["max_score"] > 0
    guide = (out / "instructor-guide.html").read_text()
    for letter, entry in build.load_course_profile()["exercises"].items():
        assert entry["title"] in guide and entry["paper_section"].split(" ")[0] in guide
        for question in record["exercises"][letter]["questions"]:
            assert f"<code>{question}</code>" in guide


def test_build_refuses_a_foreign_non_empty_folder(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(build.CourseBuildError, match="not empty"):
        build.build_course(tmp_path)


def test_course_profile_errors_name_the_key(tmp_path):
    profile = tmp_path / "course.yaml"
    profile.write_text("title: t\nexercises:\n  a: {master: a_thorax_roi.py, title: x}\n")
    with pytest.raises(build.CourseBuildError, match="exercise 'a' needs exactly the keys"):
        build.load_course_profile(profile)


# --------------------------------------------------------------------------- grading


@pytest.mark.slow
@pytest.mark.parametrize("student_id", STUDENTS)
@pytest.mark.parametrize("letter", ["a", "b", "c", "d"])
def test_solution_full_blank_zero_wrong_loses_its_question(graded, letter, student_id):
    subs, gradebook, record = graded
    entry = record["exercises"][letter]
    stem = Path(entry["notebook"]).stem
    solution = _row(gradebook, f"{student_id}/{stem}-solution.ipynb")
    assert (solution["exercise"], solution["student_id"]) == (letter, student_id)
    assert solution["score"] == solution["max_score"] == entry["max_score"], solution["feedback"]
    blank = _row(gradebook, f"{student_id}/{stem}-blank.ipynb")
    assert blank["score"] == 0
    for question in entry["questions"]:
        assert blank[question] == 0
        assert f"{question}: " in blank["feedback"], f"no message for {question}: {blank['feedback']}"
    wrong = _row(gradebook, f"{student_id}/{stem}-wrong.ipynb")
    lost = WRONG[letter][2]
    assert wrong["score"] == entry["max_score"] - entry["questions"][lost], wrong["feedback"]
    assert wrong[lost] == 0 and wrong["feedback"].startswith(f"{lost}: ")


@pytest.mark.slow
def test_ungradable_files_get_zero_and_a_reason(graded):
    _, gradebook, _ = graded
    assert "not a Jupyter notebook" in _row(gradebook, "bad/not-json.ipynb")["feedback"]
    assert "not a Jupyter notebook" in _row(gradebook, "bad/photo.ipynb")["feedback"]
    assert "not one of this course's notebooks" in _row(gradebook, "bad/homework3.ipynb")["feedback"]
    exits = _row(gradebook, "bad/b_evaluation-exits.ipynb")
    assert exits["score"] == 0 and exits["feedback"]
    for name in ("bad/not-json.ipynb", "bad/photo.ipynb", "bad/homework3.ipynb"):
        assert _row(gradebook, name)["score"] == 0


@pytest.mark.slow
def test_gradebook_columns_and_the_same_folder_grades_the_same(graded, course, tmp_path):
    subs, gradebook, record = graded
    questions = [q for entry in record["exercises"].values() for q in entry["questions"]]
    assert list(gradebook.columns) == ["submission", "exercise", "student_id", "score", "max_score", *questions,
                                       "feedback"]
    on_disk = pd.read_csv(subs.parent / "gradebook.csv", keep_default_na=False)
    assert len(on_disk) == len(gradebook)
    # Again: one student's wrong answers (full and zero marks on their questions, with messages) and the bad files.
    again = tmp_path / "again"
    for path in sorted((subs / STUDENTS[0]).glob("*-wrong.ipynb")):
        (again / STUDENTS[0]).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, again / STUDENTS[0] / path.name)
    shutil.copytree(subs / "bad", again / "bad")
    second = grade.grade_submissions(course[0] / "autograder", again, tmp_path / "g2.csv", progress=False)
    first = gradebook[gradebook["submission"].isin(second["submission"])].reset_index(drop=True)
    pd.testing.assert_frame_equal(first, second)


def test_grade_refuses_a_folder_that_is_not_an_autograder(tmp_path):
    with pytest.raises(grade.CourseGradeError, match="not a course autograder folder"):
        grade.grade_submissions(tmp_path, tmp_path, tmp_path / "g.csv", progress=False)


def test_cli_course_grade_error_is_one_line(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "cxrlib", "course", "grade", str(tmp_path), str(tmp_path),
                           "--out", str(tmp_path / "g.csv")], capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.startswith("error: ") and "course build" in proc.stderr
