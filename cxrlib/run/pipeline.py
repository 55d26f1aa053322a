"""The study runner: executes the notebooks in order with papermill and renders the report.

``python -m cxrlib run params/demo.yaml`` converts each jupytext notebook in
``notebooks/`` (``NN_name.py``) to ``.ipynb``, executes it with papermill in
the run folder ``reports/<run_name>/``, injecting only the parameters its
``parameters`` cell declares, renders it to HTML and finally writes
``index.html`` and ``run.json``. Every kernel starts with ``KERAS_BACKEND`` set to the
profile's ``keras_backend`` (:mod:`cxrlib.models.backend`); ``run.json`` records the backend, its
versions and the device it sees. The first failing notebook stops the run with
its name, the failing cell and the error; the partial executed notebook stays.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from ..atomic import write_json
from ..models.backend import BackendError, backend_versions, package_versions, require_backend
from .pages import render_page
from .params import StudyParams

__all__ = [
    "NOTEBOOKS_DIR",
    "StudyRunError",
    "Step",
    "discover_steps",
    "render_run",
    "run_study",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
_PACKAGES = ("cxrlib", "tensorflow", "jax", "jaxlib", "keras", "numpy", "pandas", "opencv-python", "scikit-image",
             "scikit-learn", "scipy", "statsmodels", "seaborn", "matplotlib", "papermill", "jupytext", "nbconvert")


class StudyRunError(RuntimeError):
    """A study run that stopped; the message says which notebook, which cell and why."""


@dataclass(frozen=True)
class Step:
    """One notebook of the study sequence (``notebooks/NN_name.py``)."""

    source: Path

    @property
    def stem(self) -> str:
        return self.source.stem

    @property
    def number(self) -> str:
        return self.stem.split("_", 1)[0]


def discover_steps(notebooks_dir: Path = NOTEBOOKS_DIR) -> list[Step]:
    """The study's notebooks, ``NN_name.py`` files in order."""
    steps = [Step(path) for path in sorted(Path(notebooks_dir).glob("[0-9][0-9]_*.py"))]
    if not steps:
        raise StudyRunError(f"no notebooks (NN_name.py) found in {notebooks_dir}")
    return steps


def _select_steps(steps: list[Step], only: str | None) -> list[Step]:
    if only is None:
        return steps
    chosen = [s for s in steps if only in (s.stem, s.number, s.stem.split("_", 1)[1])]
    if not chosen:
        raise StudyRunError(f"--only {only!r} names no notebook; choose one of: {', '.join(s.stem for s in steps)}")
    return chosen


#: The records each step reads, and the step that writes them (the steps pass data only through the run folder).
STEP_INPUTS = {
    "02": {"manifest.csv": "01", "data.json": "01"},
    "03": {"processed.csv": "02", "data.json": "01"},
    "04": {"processed.csv": "02", "roi.json": "02", "training.json": "03", "data.json": "01"},
    "05": {"processed.csv": "02", "training.json": "03", "test_predictions.csv": "04", "data.json": "01"},
}


def _check_inputs(steps: list[Step], run_dir: Path, params: StudyParams) -> None:
    """Refuse a run whose steps would fail on a missing input, before a kernel starts or a file is written."""
    numbers = {step.number for step in steps}
    missing = sorted({(name, writer) for step in steps for name, writer in STEP_INPUTS.get(step.number, {}).items()
                      if writer not in numbers and not (run_dir / name).is_file()}, key=lambda item: item[1])
    if missing:
        listed = ", ".join(f"{name} (written by step {writer})" for name, writer in missing)
        raise StudyRunError(f"{run_dir} lacks {listed}: run the study from the start (python -m cxrlib run PROFILE) "
                            f"or with --only {missing[0][1]} first")
    if "01" in numbers and params.data_dir is not None:
        from ..data.manifest import DatasetLayoutError, find_dataset_root

        try:
            find_dataset_root(params.data_dir)
        except DatasetLayoutError as exc:
            raise StudyRunError(f"data_dir: {exc}") from None


def _check_kernel(kernel_name: str) -> None:
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec(kernel_name)
    except NoSuchKernel:
        known = ", ".join(sorted(KernelSpecManager().find_kernel_specs())) or "none"
        raise StudyRunError(
            f"Jupyter kernel {kernel_name!r} is not installed (installed: {known}). Register this environment's "
            f"Python with `{sys.executable} -m ipykernel install --user --name {kernel_name}` or set "
            f"kernel_name in the profile (--set kernel_name=python3)."
        ) from None


def _declared_parameters(notebook) -> list[str]:
    for cell in notebook.cells:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            names = []
            for line in cell.source.splitlines():
                name, sep, _ = line.partition("=")
                if sep and name.strip().isidentifier():
                    names.append(name.strip())
            return names
    return []


def _git_commit(run_dir: Path) -> dict:
    """The code's commit, and whether tracked files differ from it; the run's own folder does not count (a run
    of the committed report's profile rewrites that report)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout.strip()

    pathspec = ["--", "."]
    if run_dir.is_relative_to(REPO_ROOT):
        pathspec.append(f":(exclude){run_dir.relative_to(REPO_ROOT).as_posix()}")
    try:
        return {"commit": git("rev-parse", "HEAD"),
                "dirty": bool(git("status", "--porcelain", "--untracked-files=no", *pathspec))}
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "dirty": None}


def _package_versions() -> dict:
    return {"python": platform.python_version(), **package_versions(_PACKAGES)}


def _device(backend: str) -> str:
    """CPU, or the GPU names the backend sees (asked in a subprocess under that backend, so the runner stays light)."""
    code = "from cxrlib.models.backend import device_name; print(device_name())"
    env = {**os.environ, "KERAS_BACKEND": backend, "PYTHONPATH": _with_repository(os.environ.get("PYTHONPATH"))}
    try:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180, env=env)
        lines = out.stdout.strip().splitlines()
        if out.returncode == 0 and lines:
            return lines[-1]
        error = (out.stderr.strip().splitlines() or ["no output"])[-1]
    except (OSError, subprocess.TimeoutExpired) as exc:
        error = str(exc)
    return f"unknown (Keras on {backend} did not start: {error})"


def _with_repository(pythonpath: str | None) -> str:
    """``PYTHONPATH`` with this repository first, so kernels import the cxrlib that runs them."""
    return os.pathsep.join(filter(None, [str(REPO_ROOT), pythonpath]))


@contextlib.contextmanager
def _kernel_environment(backend: str):
    """Kernels started inside inherit ``KERAS_BACKEND=backend`` (set before Keras is imported there) and this
    repository's cxrlib (a relative or absent ``PYTHONPATH`` would find another copy from the kernel's folder)."""
    previous = {name: os.environ.get(name) for name in ("KERAS_BACKEND", "PYTHONPATH")}
    os.environ["KERAS_BACKEND"] = backend
    os.environ["PYTHONPATH"] = _with_repository(previous["PYTHONPATH"])
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def _kernel_stderr(log: Path | None):
    """Kernels started inside write their native stderr (TensorFlow's absl and oneDNN lines, ipykernel's warnings)
    to ``log`` instead of the console; this process's own ``sys.stderr`` (progress bar, errors) stays on the
    console. ``log=None``: leave everything on the console (``-v``)."""
    if log is None:
        yield
        return
    log.parent.mkdir(parents=True, exist_ok=True)
    sys.stderr.flush()
    console = os.dup(2)
    previous = sys.stderr
    with open(log, "wb") as sink:
        os.dup2(sink.fileno(), 2)
        sys.stderr = open(console, "w", closefd=False, buffering=1, encoding=getattr(previous, "encoding", "utf-8"))
        try:
            yield
        finally:
            sys.stderr.flush()
            sys.stderr = previous
            os.dup2(console, 2)
            os.close(console)


def _execute(step: Step, params: StudyParams, run_dir: Path, *, progress: bool, log_output: bool) -> Path:
    import jupytext
    import papermill
    from nbclient.exceptions import DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    notebook = jupytext.read(step.source)
    declared = _declared_parameters(notebook)
    known = set(StudyParams.known_keys()) | {"run_dir"}
    unknown = [name for name in declared if name not in known]
    if unknown:
        raise StudyRunError(f"{step.source.name}: parameters cell declares {unknown}, which the profile schema "
                            f"(cxrlib/run/params.py) does not know")
    # the comparisons are resolved here, once: notebooks receive the pairs, never a rule to make them
    values = {**params.model_dump(), "compare": [list(pair) for pair in params.comparisons()], "run_dir": str(run_dir)}
    injected = {name: values[name] for name in declared}

    notebook.metadata["kernelspec"] = {"name": params.kernel_name, "language": "python",
                                       "display_name": f"Python ({params.kernel_name})"}
    source_ipynb = run_dir / ".sources" / f"{step.stem}.ipynb"
    source_ipynb.parent.mkdir(parents=True, exist_ok=True)
    jupytext.write(notebook, source_ipynb)
    output = run_dir / f"{step.stem}.ipynb"
    try:
        papermill.execute_notebook(
            str(source_ipynb), str(output), parameters=injected, kernel_name=params.kernel_name,
            progress_bar=progress, log_output=log_output, cwd=str(run_dir), start_timeout=120,
        )
    except PapermillExecutionError as exc:
        source = exc.source.strip().splitlines()
        first = source[0] if source else ""
        raise StudyRunError(
            f"{step.source.name} failed in cell {exc.exec_count} (starting {first!r}): {exc.ename}: {exc.evalue}\n"
            f"The partial executed notebook is kept at {output}"
        ) from None
    except DeadKernelError as exc:
        raise StudyRunError(
            f"{step.source.name}: the kernel died ({exc}). The likely cause is running out of memory: lower "
            f"batch_size or model_input_size in the profile. The partial notebook is kept at {output}"
        ) from None
    return output


def render_run(run_dir: str | os.PathLike) -> Path:
    """Render an existing run folder again (each executed notebook's HTML and index.html), executing nothing."""
    from ..report.index import write_index

    run_dir = Path(run_dir)
    executed = sorted(run_dir.glob("[0-9][0-9]_*.ipynb"))
    if not executed:
        raise StudyRunError(f"{run_dir} holds no executed notebooks (NN_name.ipynb); run the study first")
    stems = [notebook.stem for notebook in executed]
    for notebook in executed:
        render_page(notebook, stems, NOTEBOOKS_DIR)
    return write_index(run_dir)


def run_study(params: StudyParams, *, only: str | None = None, notebooks_dir: Path = NOTEBOOKS_DIR,
              progress: bool = True, verbose: bool = False) -> Path:
    """Execute the study's notebooks for one profile and render the report.

    Parameters
    ----------
    params : StudyParams
        The validated profile (see :func:`cxrlib.run.load_profile`).
    only : str, optional
        Run one step (``"02"``, ``"preprocessing"`` or ``"02_preprocessing"``) in an
        existing run folder, reusing the outputs of the steps before it. Without it the run starts from an
        empty run folder; an earlier run there is kept as ``<run_name>.previous`` until this one finishes.
    notebooks_dir : Path
        Folder holding the ``NN_name.py`` notebooks.
    progress : bool
        Show papermill's cell progress bar.
    verbose : bool
        Show everything on the console: the notebooks' cell output and the kernels' own log lines. Otherwise
        the console shows the runner's progress and the first error; the kernels' log lines go to
        ``work_dir/logs/<run_name>/NN_name.log``.

    Returns
    -------
    Path
        The run folder, ``<reports_dir>/<run_name>``.
    """
    from ..report.index import write_index

    steps = _select_steps(discover_steps(notebooks_dir), only)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # kernels inherit it: no C++ log noise on the console
    try:
        require_backend(params.keras_backend)
    except BackendError as exc:
        raise StudyRunError(str(exc)) from None
    _check_kernel(params.kernel_name)
    run_dir = (Path(params.reports_dir) / params.run_name).resolve()
    _check_inputs(steps, run_dir, params)  # before anything is written: a refused run leaves nothing behind
    previous_run = run_dir.with_name(f"{run_dir.name}.previous")
    if only is None and run_dir.exists():
        # a full run starts from an empty folder, so no file of an earlier run can pass for one of this run;
        # the earlier run is kept beside it until this one has finished
        shutil.rmtree(previous_run, ignore_errors=True)
        run_dir.rename(previous_run)
    (run_dir / "figures").mkdir(parents=True, exist_ok=True)
    run_json = run_dir / "run.json"
    previous = json.loads(run_json.read_text()) if only and run_json.is_file() else {}
    record = {
        "run_name": params.run_name,
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "git": _git_commit(run_dir),
        "packages": _package_versions(),
        "backend": {"name": params.keras_backend, "KERAS_BACKEND_before_run": os.environ.get("KERAS_BACKEND"),
                    **backend_versions(params.keras_backend)},
        "device": _device(params.keras_backend),
        "command": " ".join(["python -m cxrlib", *sys.argv[1:]]),
        "parameters": params.model_dump(),
        "steps": previous.get("steps", {}),
    }
    for number, step in enumerate(steps, 1):
        print(f"[{number}/{len(steps)}] {step.stem} ...", flush=True)
        started = time.perf_counter()
        record["steps"][step.stem] = {"status": "running"}
        write_json(record, run_json, relative_to=run_dir)
        try:
            log = None if verbose else Path(params.work_dir) / "logs" / params.run_name / f"{step.stem}.log"
            with _kernel_environment(params.keras_backend), _kernel_stderr(log):
                executed = _execute(step, params, run_dir, progress=progress, log_output=verbose)
        except StudyRunError as exc:
            record["steps"][step.stem] = {"status": "failed", "seconds": round(time.perf_counter() - started, 1)}
            write_json(record, run_json, relative_to=run_dir)
            if log is not None:
                raise StudyRunError(f"{exc}\nThe kernel's log lines: {log}") from None
            raise
        render_page(executed, [s.stem for s in discover_steps(notebooks_dir)], notebooks_dir)
        seconds = round(time.perf_counter() - started, 1)
        record["steps"][step.stem] = {"status": "done", "seconds": seconds, "keras_backend": params.keras_backend}
        print(f"[{number}/{len(steps)}] {step.stem} done in {seconds:.0f} s", flush=True)
    data_json = run_dir / "data.json"
    if data_json.is_file():
        record["data"] = json.loads(data_json.read_text())
    record["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    write_json(record, run_json, relative_to=run_dir)
    index = write_index(run_dir)
    if only is None:
        shutil.rmtree(previous_run, ignore_errors=True)
    print(_time_table(record["steps"]))
    print(f"Report: {index}")
    return run_dir


def _time_table(steps: dict) -> str:
    """Where the time went: one line per step, with its share of the total."""
    done = {stem: s["seconds"] for stem, s in steps.items() if "seconds" in s}
    total = sum(done.values()) or 1.0
    lines = [f"  {stem:<20} {seconds:8.0f} s  {100 * seconds / total:5.1f}%" for stem, seconds in done.items()]
    return "\n".join(["Time per step:", *lines, f"  {'total':<20} {sum(done.values()):8.0f} s"])
