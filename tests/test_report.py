"""The reader's checks on a rendered run folder (cxrlib.report.check_run), on constructed pages."""

from cxrlib.report import check_run

CLEAN = '<html><body><a href="01_eda.html">EDA</a><img src="figures/a.png"><a href="https://doi.org/x">doi</a></body></html>'


def make_run(tmp_path, index):
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "a.png").write_bytes(b"\x89PNG")
    (tmp_path / "01_eda.html").write_text('<a href="index.html">back</a>')
    (tmp_path / "index.html").write_text(index)
    return tmp_path


def test_a_clean_run_has_no_problems(tmp_path):
    assert check_run(make_run(tmp_path, CLEAN)) == []


def test_each_kind_of_problem_is_named(tmp_path):
    page = CLEAN.replace("</body>", (
        '<a href="02_missing.html">x</a><img src="data:image/png;base64,AAAA">'
        "<p>Root: /work/shared/data/kermany224</p>"
        '<div data-mime-type="application/vnd.jupyter.stderr">warning</div>'
        '<script src="https://cdn.example/require.js"></script></body>'))
    problems = "\n".join(check_run(make_run(tmp_path, page)))
    assert "'02_missing.html' does not resolve" in problems
    assert "embeds an image inline" in problems
    assert "/work/shared/data/kermany224" in problems
    assert "stderr" in problems and "script from the web" in problems
