"""What a browser shows: a rendered run loaded in headless Chromium, and the JupyterLab settings of ``make lab``.

Uses playwright (the ``test`` extra) with the system's Chromium (Debian's ``chromium``), never a downloaded one.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..atomic import write_text
from .checks import page_problems

__all__ = ["CHROMIUM_ARGS", "LAB_OVERRIDES", "browser_missing", "check_pages", "chromium", "write_lab_overrides"]

#: Flags that let Chromium run headless in a container, without a sandbox, GPU or background traffic.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]

#: JupyterLab settings overrides of ``make lab``: a double-click opens a ``.py`` notebook as a notebook (jupytext).
LAB_OVERRIDES = {"@jupyterlab/docmanager-extension:plugin": {"defaultViewers": {"python": "Jupytext Notebook"}}}

#: Chromium's console line for a failed request, which is recorded already (with its address) as the request.
_ECHO = "Failed to load resource"
#: Tables, figures and text blocks wider than the page, or than a box that clips or scrolls them sideways.
_TOO_WIDE = """() => {
  const page = document.documentElement.clientWidth, found = [];
  for (const element of document.querySelectorAll("table, img, pre")) {
    const box = element.getBoundingClientRect();
    let outer = element.parentElement;
    while (outer && !(outer.scrollWidth > outer.clientWidth + 1
                      && /auto|scroll|hidden/.test(getComputedStyle(outer).overflowX))) outer = outer.parentElement;
    if (box.right > page + 1 || outer)
      found.push(`${element.tagName.toLowerCase()} ${Math.round(box.width)} px wide in a column of `
                 + `${Math.round(outer ? outer.clientWidth : page)} px: ${(element.textContent || element.alt || "")
                   .replace(/\\s+/g, " ").trim().slice(0, 60)}`);
  }
  return found;
}"""


def _chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def browser_missing() -> str | None:
    """Why :func:`chromium` cannot start here (``None``: it can)."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return 'playwright is not installed: pip install -e ".[test]"'
    if _chromium_path() is None:
        return "no chromium on PATH (apt-get install chromium)"
    return None


@contextmanager
def chromium() -> Iterator:
    """A headless Chromium (a playwright ``Browser``), closed on exit."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=_chromium_path(), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def check_pages(run_dir: str | os.PathLike, screenshot_dir: str | os.PathLike) -> list[str]:
    """Load ``index.html`` and every ``NN_*.html`` of a run over file:// as a reader would; one line per problem.

    A problem is a request that failed or answered with status >= 400, a console error or an uncaught script
    error; what :func:`cxrlib.report.page_problems` finds in the page as loaded (unrendered Markdown, truncated
    tables, reprs, code names as labels, empty header rows, a title that names no page); and a table, image or
    text block wider than the page (a 1280-px window) or than a box that makes the reader scroll it sideways.
    A full-page screenshot of each page goes to ``screenshot_dir/<page>.png``.
    """
    run_dir, screenshot_dir = Path(run_dir).resolve(), Path(screenshot_dir)
    screenshot_dir.mkdir(parents=True, exist_ok=True)
    pages = [run_dir / "index.html", *sorted(run_dir.glob("[0-9][0-9]_*.html"))]
    problems = []
    with chromium() as browser:
        for path in pages:
            if path.is_file():
                problems += [f"{path.name}: {p.replace(run_dir.as_uri() + '/', '')}"
                             for p in _page_problems(browser, path, screenshot_dir / f"{path.stem}.png")]
            else:
                problems.append(f"{path.name}: missing")
    return problems


def _page_problems(browser, path: Path, screenshot: Path) -> list[str]:
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    problems = []
    page.on("requestfailed", lambda request: problems.append(f"request failed: {request.url} ({request.failure})"))
    page.on("response", lambda response: response.status >= 400
            and problems.append(f"status {response.status}: {response.url}"))
    page.on("console", lambda message: message.type == "error" and not message.text.startswith(_ECHO)
            and problems.append(f"console error: {message.text}"))
    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    page.goto(path.as_uri(), wait_until="load")
    # lazy images below the fold would load only when scrolled to: load them all now
    page.evaluate("document.querySelectorAll('img[loading=lazy]').forEach(img => img.loading = 'eager')")
    page.wait_for_load_state("networkidle")
    problems += [p.split(": ", 1)[1] for p in page_problems(page.content(), path.name)]
    problems += [f"wider than the page: {found}" for found in page.evaluate(_TOO_WIDE)]
    page.screenshot(path=screenshot, full_page=True)
    page.close()
    return problems


def write_lab_overrides(settings_dir: str | os.PathLike) -> Path:
    """Write :data:`LAB_OVERRIDES` as ``settings_dir/overrides.json`` (a JupyterLab app settings folder)."""
    return write_text(json.dumps(LAB_OVERRIDES) + "\n", Path(settings_dir) / "overrides.json")
