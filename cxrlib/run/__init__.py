"""Running the study: profiles, the notebook runner, what every notebook does alike, the GPU run and the command line.

* :mod:`~cxrlib.run.params`: the typed schema of ``params/*.yaml`` and its loader;
* :mod:`~cxrlib.run.pipeline`: the runner that executes the notebooks with papermill and renders the report;
* :mod:`~cxrlib.run.study`: a notebook's view of its run folder (records, figures, models);
* :mod:`~cxrlib.run.gpu`: the prepared run on a borrowed GPU machine;
* :mod:`~cxrlib.run.cli` (``python -m cxrlib``) and :mod:`~cxrlib.run.roi_eval` (its ``roi-eval`` command).
"""

from ..lazy import attach

__getattr__, __dir__, __all__ = attach(__name__, {
    "params": ["ArmSpec", "EvaluationSetSpec", "ProfileError", "StudyParams", "load_profile", "parse_overrides"],
    "pipeline": ["NOTEBOOKS_DIR", "StudyRunError", "Step", "discover_steps", "render_run", "run_study"],
    "study": ["StudyRun"],
})
