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

__all__ = ["CHROMIUM_ARGS", "LAB_OVERRIDES", "browser_missing", "check_pages", "chromium", "write_lab_overrides"]

#: Flags that let Chromium run headless in a container, without a sandbox, GPU or background traffic.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]

#: JupyterLab settings overrides of ``make lab``: a double-click opens a ``.py`` notebook as a notebook (jupytext).
LAB_OVERRIDES = {"@jupyterlab/docmanager-extension:plugin": {"defaultViewers": {"python": "Jupytext Notebook"}}}

#: Chromium's console line for a failed request, which is recorded already (with its address) as the request.
_ECHO = "Failed to load resource"


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
    error. A full-page screenshot of each page goes to ``screenshot_dir/<page>.png``.
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
    page = browser.new_page()
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
    page.screenshot(path=screenshot, full_page=True)
    page.close()
    return problems


def write_lab_overrides(settings_dir: str | os.PathLike) -> Path:
    """Write :data:`LAB_OVERRIDES` as ``settings_dir/overrides.json`` (a JupyterLab app settings folder)."""
    return write_text(json.dumps(LAB_OVERRIDES) + "\n", Path(settings_dir) / "overrides.json")
