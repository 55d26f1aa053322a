"""Reports and JupyterLab in headless Chromium: every page loads without a failed request and reads cleanly; make
lab's double-click."""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from PIL import Image

from cxrlib.report import browser_missing, check_pages, chromium, write_lab_overrides

REPO = Path(__file__).resolve().parents[1]
COMMITTED = REPO / "reports" / "kermany224"

MISSING = browser_missing()
pytestmark = pytest.mark.skipif(MISSING is not None, reason=MISSING or "")


def run_folder(root: Path, image: str, script: str = "") -> Path:
    """A two-page run folder: ``index.html`` shows ``image`` below the fold, ``01_intro.html`` runs ``script``."""
    (root / "figures").mkdir(parents=True)
    Image.new("L", (8, 8), 128).save(root / "figures" / "01_ok.png")
    (root / "index.html").write_text('<!doctype html><meta charset="utf-8"><title>run</title>'
                                     '<a href="01_intro.html">01</a><div style="height: 4000px"></div>'
                                     f'<img src="{image}" loading="lazy" alt="figure">')
    (root / "01_intro.html").write_text('<!doctype html><meta charset="utf-8"><title>01</title>'
                                        f'<img src="figures/01_ok.png" alt="ok"><script>{script}</script>')
    return root


def test_a_clean_run_folder_reports_nothing_and_each_page_is_screenshot(tmp_path):
    run_dir = run_folder(tmp_path / "run", "figures/01_ok.png")
    assert check_pages(run_dir, tmp_path / "shots") == []
    with Image.open(tmp_path / "shots" / "index.png") as shot:
        assert shot.height > 4000  # the whole page, not the window
    assert (tmp_path / "shots" / "01_intro.png").is_file()


def test_a_missing_image_and_a_script_error_are_reported(tmp_path):
    run_dir = run_folder(tmp_path / "run", "figures/01_missing.png", script="undefined_function()")
    problems = check_pages(run_dir, tmp_path / "shots")
    assert len(problems) == 2, problems
    assert problems[0].startswith("index.html: request failed: figures/01_missing.png")
    assert problems[1].startswith("01_intro.html: script error") and "undefined_function" in problems[1]


def test_what_a_reader_trips_over_in_the_loaded_page_is_reported(tmp_path):
    run_dir = run_folder(tmp_path / "run", "figures/01_ok.png")
    wide = "".join(f"<td style=\"white-space:nowrap\">column {i} of a table too wide</td>" for i in range(12))
    (run_dir / "01_intro.html").write_text(
        '<!doctype html><meta charset="utf-8"><title>Notebook</title>'
        "<p>| step | choice |\n| --- | --- |</p><p>3 rows × 24 columns</p>"
        f'<div style="overflow-x:auto"><table><tr><th>fallback_rate</th>{wide}</tr></table></div>')
    problems = check_pages(run_dir, tmp_path / "shots")
    assert problems[:4] == ["01_intro.html: has a title that names no page: 'Notebook'",
                            "01_intro.html: shows a Markdown table that did not render: '| step | choice |'",
                            "01_intro.html: shows a Markdown table that did not render: '| --- | --- |'",
                            "01_intro.html: shows pandas' truncated output: '3 rows × 24 columns'"]
    assert problems[4] == "01_intro.html: shows a code name as a label (th): 'fallback_rate'"
    assert problems[5].startswith("01_intro.html: wider than the page: table ") and len(problems) == 6, problems


def test_the_committed_report_loads_without_a_failed_request(tmp_path):
    if not (COMMITTED / "index.html").is_file():
        pytest.skip(f"{COMMITTED} is not in this checkout")
    problems = check_pages(COMMITTED, tmp_path)
    assert problems == [], "\n".join(problems)


@pytest.mark.slow
def test_a_fresh_run_loads_without_a_failed_request(tiny_study, tmp_path):
    problems = check_pages(tiny_study, tmp_path)
    assert problems == [], "\n".join(problems)


@contextmanager
def lab_server(root: Path, app_settings: Path) -> Iterator[str]:
    """JupyterLab on a free local port with ``app_settings``, serving ``root/notebooks``; yields its address.

    Its user settings, workspaces, runtime files and config live under ``root`` too, so nothing of this machine's
    own JupyterLab setup (the venv's overrides from ``make lab`` included) takes part; the server is stopped on exit.
    """
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    env = {**os.environ, "JUPYTERLAB_SETTINGS_DIR": str(root / "user-settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(root / "workspaces"), "JUPYTER_RUNTIME_DIR": str(root / "runtime"),
           "JUPYTER_CONFIG_DIR": str(root / "config")}
    log = root / "lab.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", "--ServerApp.ip=127.0.0.1",
             f"--port={port}", "--IdentityProvider.token=", "--ServerApp.password=",
             f"--ServerApp.root_dir={root / 'notebooks'}", f"--LabApp.app_settings_dir={app_settings}"],
            env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/status", timeout=1)
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, log.read_text()[-2000:]
                time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:  # once a notebook was opened it can hang at exit on an idle worker thread
            server.kill()
            server.wait()


@pytest.mark.slow
@pytest.mark.parametrize("overrides, opens, not_opened", [(True, ".jp-NotebookPanel", ".jp-FileEditor"),
                                                          (False, ".jp-FileEditor", ".jp-NotebookPanel")])
def test_make_lab_settings_open_a_py_notebook_as_a_notebook_on_double_click(tmp_path, overrides, opens,
                                                                              not_opened):
    pytest.importorskip("jupyterlab", reason='JupyterLab is not installed: pip install -e ".[notebook]"')
    (tmp_path / "notebooks").mkdir()  # a copy: an opened notebook can be autosaved (with its paired .ipynb)
    shutil.copy(REPO / "notebooks" / "01_eda.py", tmp_path / "notebooks")
    app_settings = tmp_path / "app-settings"
    app_settings.mkdir()
    if overrides:  # what make lab writes; without them (the control) the double-click opens a text editor
        write_lab_overrides(app_settings)
    with lab_server(tmp_path, app_settings) as url, chromium() as browser:
        page = browser.new_page()
        page.set_default_timeout(60_000)
        page.goto(f"{url}/lab")
        page.locator(".jp-DirListing-item", has_text="01_eda.py").dblclick()
        page.wait_for_selector(".jp-NotebookPanel .jp-RenderedMarkdown h1, .jp-FileEditor .cm-content")
        page.screenshot(path=tmp_path / "lab.png")
        assert page.locator(opens).count() == 1 and page.locator(not_opened).count() == 0
