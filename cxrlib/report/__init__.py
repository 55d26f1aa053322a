"""The report of a run: its front page ``index.html``, its figures on disk, and the checks a reader's view must pass.

* :mod:`~cxrlib.report.index`: ``index.html``, assembled from the run folder's records;
* :mod:`~cxrlib.report.sections` and :mod:`~cxrlib.report.summary`: its sections, and what it says in sentences
  (with the README's headline table); :mod:`~cxrlib.report.html`: their building blocks;
* :mod:`~cxrlib.report.figures`: the one writer of a run's ``figures/``, and the at-a-glance figure;
* :mod:`~cxrlib.report.checks`: what a reader of a rendered run would trip over (links, local paths, stderr, machine
  output, code names as labels, titles);
* :mod:`~cxrlib.report.compare`: two runs' records compared, ignoring what legitimately differs between runs;
* :mod:`~cxrlib.report.browser`: a rendered run in headless Chromium, and the JupyterLab settings of ``make lab``.
"""

from ..lazy import attach

__getattr__, __dir__, __all__ = attach(__name__, {
    "index": ["write_index"],
    "summary": ["readme_headline"],
    "figures": ["FIGURE_METADATA", "save_figure", "plot_at_a_glance"],
    "checks": ["REMOTE_SCRIPT", "check_run", "page_problems"],
    "compare": ["IGNORED_KEYS", "compare_runs"],
    "browser": ["CHROMIUM_ARGS", "LAB_OVERRIDES", "browser_missing", "check_pages", "chromium", "write_lab_overrides"],
})
