"""The prepared GPU run: pack what travels, run the paper's regime there, check what comes back.

The GPU machines this project borrows have JAX but no TensorFlow, no internet, at most 64 MiB of
working tree travelling to them per command (repository, data and wheels together) and at most
10 minutes per command; what comes back is at most 16 MB per file and 64 MB in all. Three commands:

``python -m cxrlib gpu pack`` (here, with PyPI)
    Fills ``.gpu/`` (git-ignored): ``data/<name>/`` (a copy of the dataset), ``weights/`` (the
    ImageNet Xception no-top weights cast to float16, half the size; the GPU run computes in
    mixed float16 anyway), ``wheels/`` (cp312 manylinux wheels of every package the GPU image
    lacks: Keras and the notebook stack, found from this environment's metadata and
    :data:`GPU_IMAGE_PACKAGES`). It measures each part and the repository, and plans the
    *loads*: which ``.gpu`` folders each device call carries (``carry``) so that every call's
    working tree stays under 64 MiB; it refuses when no plan fits. ``.gpu/PACK.json`` records it.
``python -m cxrlib gpu run`` (there, ``python3`` of the image; once per load, same command)
    Installs the wheels into ``.gpu/site`` when they have come, refuses clearly while a load is
    missing, then runs the steps of the profile (default ``params/paper224-gpu.yaml``) not yet
    done, each with ``python -m cxrlib run --only NN`` under ``KERAS_BACKEND=jax``. Training
    resumes from its checkpoints, so a call stopped at its time limit is continued by the next.
    Output stays in ``.gpu/run`` (never carried, so kept between calls on the warm machine).
    When every step is done it checks the report's size and copies it to ``--out`` (``$OUT``).
``python -m cxrlib gpu check-report RUN_DIR``
    The size check alone (:func:`check_report`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from ..atomic import atomic_path, write_json

__all__ = [
    "GPU_IMAGE_PACKAGES",
    "TRAVEL_LIMIT",
    "FILE_BACK_LIMIT",
    "TOTAL_BACK_LIMIT",
    "GpuPackError",
    "wheel_requirements",
    "plan_loads",
    "check_report",
    "hide_tensorflow",
    "pack",
    "run_there",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
TRAVEL_LIMIT = 64 * 2**20
"""Bytes of working tree one device call may carry (repository, data and wheels)."""
FILE_BACK_LIMIT = 16 * 10**6
"""Bytes one file that comes back may have."""
TOTAL_BACK_LIMIT = 64 * 10**6
"""Bytes all that comes back may have."""
GPU_PYTHON = {"python_version": "3.12", "python_full_version": "3.12.3", "implementation_name": "cpython",
              "platform_python_implementation": "CPython", "sys_platform": "linux", "platform_system": "Linux",
              "platform_machine": "x86_64", "os_name": "posix"}
"""The GPU image's interpreter, for evaluating requirement markers."""
GPU_PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64",
                 "manylinux1_x86_64")
#: What cxrlib needs on the GPU machine besides what its image holds (the roots of the wheel closure).
GPU_ROOTS = ("keras", "papermill", "nbclient", "nbconvert", "nbformat", "jupytext", "ipykernel", "jupyter_client",
             "pydantic")
#: Packages of the GPU image ('cuda'), as the device notes list them (read 2026-11-17): never carried.
GPU_IMAGE_PACKAGES = frozenset("""
absl-py accelerate aiofiles aiohappyeyeballs aiohttp aiosignal annotated-doc anyio attrs botorch build certifi
charset-normalizer chex click cloudpickle cmake colorama contourpy coverage cuda-bindings cuda-core cuda-pathfinder
cuda-toolkit cupy-cuda13x cycler cython diffrax e3nn einops equinox etils execnet filelock flatbuffers flax
fonttools formulaic frozenlist fsspec gpytorch grpcio h11 h5py hf-xet httpcore httpx huggingface-hub humanize
hypothesis idna imageio interface-meta iniconfig jax jax-cuda13-pjrt jax-cuda13-plugin jaxlib jaxtyping jinja2
joblib kiwisolver lazy-loader lightning lightning-utilities linear-operator lineax llvmlite lxml markdown
markdown-it-py markupsafe matplotlib mdurl meson ml-dtypes mpi4py mpmath msgpack multidict multipledispatch
mypy-extensions nanobind narwhals networkx ninja numba numba-cuda numpy numpyro nvidia-cublas nvidia-cuda-cupti
nvidia-cuda-nvrtc nvidia-cuda-runtime nvidia-cudnn-cu13 nvidia-cufft nvidia-cufile nvidia-curand nvidia-cusolver
nvidia-cusparse nvidia-cusparselt-cu13 nvidia-ml-py nvidia-nccl-cu13 nvidia-nvjitlink nvidia-nvshmem-cu13
nvidia-nvtx onnx onnx-ir onnxruntime onnxscript opencv-python-headless optax opt-einsum opt-einsum-fx optimistix
orbax-checkpoint packaging pandas pathspec patsy peft pillow pip pluggy portalocker prometheus-client propcache
protobuf psutil pyarrow pybind11 py-cpuinfo pygments pyparsing pyproject-hooks pyre-extensions pytest
pytest-benchmark pytest-cov pytest-mock pytest-timeout pytest-xdist python-dateutil pytorch-lightning pyyaml regex
requests rich sacrebleu safetensors scikit-build-core scikit-image scikit-learn scipy seaborn sentencepiece
sentence-transformers setuptools shellingham simplejson six sortedcontainers statsmodels sympy tabulate
tensorboard tensorboard-data-server tensorstore threadpoolctl tifffile tiktoken timm tokenizers toolz torch
torchaudio torchdiffeq torch-geometric torchmetrics torchvision tqdm transformers treescope triton typer
typing-extensions typing-inspect urllib3 uvloop wadler-lindig werkzeug wheel wrapt xarray xxhash yarl zipp
""".split())
#: Requirements left behind on purpose, both optional at run time and unused by papermill: ipykernel's debugger
#: (debugpy, about 4 MB of wheel) and IPython's tab completion (jedi, 4.7 MB, with parso).
GPU_SKIPPED = frozenset({"debugpy", "jedi"})
WEIGHTS_NAME = "xception_imagenet_notop_float16.weights.h5"


class GpuPackError(RuntimeError):
    """The GPU run cannot go on as asked; the message says what is too big or missing and what to do."""


def _canonical(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def _mib(size):
    return f"{size / 2**20:.1f} MiB"


def wheel_requirements(roots=GPU_ROOTS, *, image=GPU_IMAGE_PACKAGES, skipped=GPU_SKIPPED):
    """Every distribution the GPU machine lacks for ``roots``, with this environment's version.

    Walks the requirements of the installed distributions, their markers evaluated for the GPU
    image's Python (:data:`GPU_PYTHON`), and stops at what the image holds.

    Parameters
    ----------
    roots : sequence of str
    image : set of str
        Canonical names the GPU image holds.
    skipped : set of str
        Canonical names deliberately not carried.

    Returns
    -------
    dict of str to str
        Distribution name (as installed here) -> version, sorted by name.
    """
    from packaging.requirements import Requirement

    found, queue = {}, [(name, frozenset()) for name in roots]
    while queue:
        name, extras = queue.pop()
        key = _canonical(name)
        if key in image or key in skipped or key in found:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            raise GpuPackError(f"{name} is needed on the GPU machine but is not installed here, so its version is "
                               f"unknown; install cxrlib's environment first (make test builds it)") from None
        found[key] = (dist.metadata["Name"], dist.version)
        for line in dist.requires or []:
            requirement = Requirement(line)
            marker_extras = extras | {""}
            if requirement.marker is None or any(requirement.marker.evaluate({**GPU_PYTHON, "extra": extra})
                                                 for extra in marker_extras):
                queue.append((requirement.name, frozenset(requirement.extras)))
    return dict(sorted(found.values()))


def _download_wheels(requirements, folder):
    folder.mkdir(parents=True, exist_ok=True)
    wanted = {f"{_canonical(name)}-{version}" for name, version in requirements.items()}
    for wheel in folder.glob("*.whl"):  # one version of each: two would stop the install there
        name, version = wheel.name.split("-")[:2]
        if f"{_canonical(name)}-{version}" not in wanted:
            wheel.unlink()
    have = {_canonical("-".join(w.name.split("-")[:2])) for w in folder.glob("*.whl")}
    missing = [f"{name}=={version}" for name, version in requirements.items()
               if _canonical(f"{name}-{version}") not in have]
    if not missing:
        return
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
               "--python-version", GPU_PYTHON["python_version"], "--implementation", "cp", "-d", str(folder)]
    for platform in GPU_PLATFORMS:
        command += ["--platform", platform]
    result = subprocess.run(command + missing, capture_output=True, text=True)
    if result.returncode != 0:
        raise GpuPackError(f"pip could not download cp312 wheels of {', '.join(missing)}:\n{result.stderr[-2000:]}")


def _float16_weights(source, target):
    """Copy a Keras ``.weights.h5`` file with its float32 arrays cast to float16 (half the bytes)."""
    import h5py
    import numpy as np

    with atomic_path(target) as tmp, h5py.File(source, "r") as old, h5py.File(tmp, "w") as new:
        new.attrs.update(dict(old.attrs))

        def copy(name, item):
            if isinstance(item, h5py.Group):
                new.require_group(name).attrs.update(dict(item.attrs))
                return
            data = item[()]
            if getattr(data, "dtype", None) == np.float32:
                data = data.astype(np.float16)
                if not np.isfinite(data).all():
                    raise GpuPackError(f"{source}: array {name!r} overflows float16; carry the float32 file instead")
            new.create_dataset(name, data=data).attrs.update(dict(item.attrs))

        old.visititems(copy)


def _tree_size(path):
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _repository_size(root=REPO_ROOT):
    """Bytes of the working tree that every device call carries: tracked and untracked, not ignored, files."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=root,
                            capture_output=True, check=True).stdout.split(b"\0")
    return sum((root / os.fsdecode(name)).stat().st_size for name in listed
               if name and (root / os.fsdecode(name)).is_file())


def plan_loads(repository, parts, *, limit=TRAVEL_LIMIT):
    """Split the parts that travel into as few device calls as fit, each carrying the repository too.

    Parameters
    ----------
    repository : int
        Bytes of the working tree every call carries.
    parts : dict of str to int
        Carried folder -> bytes.
    limit : int
        Bytes one call may carry.

    Returns
    -------
    list of list of str
        The folders each call carries, in order (weights first, then wheels, data last).

    Raises
    ------
    GpuPackError
        When a part alone, with the repository, is over the limit; the message gives the sizes.
    """
    room = limit - repository
    too_big = {name: size for name, size in parts.items() if size > room}
    if too_big:
        listed = ", ".join(f"{name} {_mib(size)}" for name, size in too_big.items())
        raise GpuPackError(f"cannot travel: the repository takes {_mib(repository)} of every call's "
                           f"{_mib(limit)}, leaving {_mib(room)}, and {listed} is larger; cut it (fewer wheels, a "
                           "smaller dataset copy) or split it into folders that travel in separate calls")
    loads = []
    for name, size in sorted(parts.items(), key=lambda item: -item[1]):  # first fit, largest first
        for load in loads:
            if sum(parts[n] for n in load) + size <= room:
                load.append(name)
                break
        else:
            loads.append([name])
    order = {"weights": 0, "wheels": 1, "data": 2}
    return sorted((sorted(load, key=lambda n: order.get(Path(n).name, 3)) for load in loads),
                  key=lambda load: min(order.get(Path(n).name, 3) for n in load))


def check_report(run_dir, *, file_limit=FILE_BACK_LIMIT, total_limit=TOTAL_BACK_LIMIT):
    """Refuse a report folder too large to bring back from the GPU machine.

    Parameters
    ----------
    run_dir : str or Path
        The run folder (``index.html``, executed notebooks, figures, records).
    file_limit, total_limit : int
        Bytes per file and in all.

    Returns
    -------
    dict
        ``{"files": n, "bytes": total, "largest": [path, bytes]}``.

    Raises
    ------
    GpuPackError
        Naming the files over ``file_limit`` or the total over ``total_limit``, and what to lower.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise GpuPackError(f"report folder {run_dir} does not exist; run the study first")
    sizes = {str(p.relative_to(run_dir)): p.stat().st_size for p in sorted(run_dir.rglob("*")) if p.is_file()}
    total = sum(sizes.values())
    over = {name: size for name, size in sizes.items() if size > file_limit}
    hint = ("lower gradcam_examples, or leave executed notebooks (*.ipynb) behind: their HTML holds the same "
            "outputs")
    if over:
        listed = ", ".join(f"{name} ({size / 1e6:.1f} MB)" for name, size in over.items())
        raise GpuPackError(f"{run_dir}: {listed} over the {file_limit / 1e6:.0f} MB a file may have to come back; "
                           + hint)
    if total > total_limit:
        raise GpuPackError(f"{run_dir}: {total / 1e6:.1f} MB in {len(sizes)} files, over the "
                           f"{total_limit / 1e6:.0f} MB that may come back; " + hint)
    largest = max(sizes.items(), key=lambda item: item[1]) if sizes else ("", 0)
    return {"files": len(sizes), "bytes": total, "largest": list(largest)}


def hide_tensorflow(folder):
    """A folder that, first on ``PYTHONPATH``, makes ``import tensorflow`` fail as on the GPU machine.

    For dry runs on a machine that has TensorFlow. Returns the folder.
    """
    package = Path(folder) / "tensorflow"
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text(
        'raise ModuleNotFoundError("No module named \'tensorflow\' (hidden by cxrlib.run.gpu.hide_tensorflow: '
        'a dry run of the GPU machine, which has no TensorFlow)", name="tensorflow")\n')
    return Path(folder)


def pack(*, data_dir, weights, dest=REPO_ROOT / ".gpu", limit=TRAVEL_LIMIT):
    """Fill ``dest`` with what the GPU run needs, measure it and plan the loads.

    Parameters
    ----------
    data_dir : str or Path
        The dataset folder (e.g. ``../shared/data/kermany224``), copied to ``dest/data/<name>``.
    weights : str or Path
        The Keras Xception no-top ``.weights.h5`` file, carried as float16.
    dest : Path
        The pack folder (git-ignored), inside the repository so that calls can carry its folders.
    limit : int
        Bytes one device call may carry.

    Returns
    -------
    dict
        What ``dest/PACK.json`` holds: sizes, wheels, loads (the ``carry`` of each call).
    """
    data_dir, weights, dest = Path(data_dir).resolve(), Path(weights).resolve(), Path(dest).resolve()
    if not data_dir.is_dir():
        raise GpuPackError(f"data_dir {data_dir} is not a folder; give the dataset to carry (e.g. "
                           "../shared/data/kermany224)")
    if not weights.is_file():
        raise GpuPackError(f"weights file {weights} does not exist; give a Keras Xception no-top .weights.h5")
    root = REPO_ROOT.resolve()
    if root not in dest.parents:
        raise GpuPackError(f"dest {dest} must be inside the repository {root}: device calls carry its folders")
    ignored = subprocess.run(["git", "check-ignore", "-q", str(dest / "x")], cwd=root).returncode == 0
    if not ignored:
        raise GpuPackError(f"{dest} is not ignored by git; add '/{dest.relative_to(root)}/' to .gitignore")

    target = dest / "data" / data_dir.name
    if not target.is_dir() or _tree_size(target) != _tree_size(data_dir):
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(data_dir, target)
    weights_target = dest / "weights" / WEIGHTS_NAME
    if not weights_target.is_file() or weights_target.stat().st_mtime < weights.stat().st_mtime:
        weights_target.parent.mkdir(parents=True, exist_ok=True)
        _float16_weights(weights, weights_target)
    requirements = wheel_requirements()
    _download_wheels(requirements, dest / "wheels")

    parts = {str((dest / name).relative_to(root)): _tree_size(dest / name) for name in ("wheels", "weights", "data")}
    repository = _repository_size(root) + 4096  # PACK.json rides along with every call
    loads = plan_loads(repository, parts, limit=limit)
    record = {
        "limit_bytes": limit,
        "repository_bytes": repository,
        "parts_bytes": parts,
        "data": str(target.relative_to(root)),
        "weights": str(weights_target.relative_to(root)),
        "weights_source": str(weights),
        "wheels": requirements,
        "loads": [],
    }
    record_path = str((dest / "PACK.json").relative_to(root))  # travels with every call: `gpu run` reads it there
    for load in loads:
        record["loads"].append({"carry": [record_path, *load], "bytes": repository + sum(parts[n] for n in load)})
    write_json(record, dest / "PACK.json")
    return record


def _steps_done(run_json):
    if not run_json.is_file():
        return set()
    steps = json.loads(run_json.read_text()).get("steps", {})
    return {stem.split("_", 1)[0] for stem, step in steps.items() if step.get("status") == "done"}


def run_there(*, profile, overrides=(), dest=REPO_ROOT / ".gpu", out=None, python=sys.executable,
              dry_run=False):
    """On the GPU machine: install the wheels, run the steps not yet done, check and copy the report.

    Parameters
    ----------
    profile : str or Path
        The study profile (``params/paper224-gpu.yaml``).
    overrides : sequence of str
        Extra ``key=value`` settings (the dry run's tiny scale).
    dest : Path
        The pack folder (``.gpu``); ``dest/run`` holds the run's reports and work folders.
    out : str or Path, optional
        Where the checked report is copied (the device's ``$OUT``).
    python : str
        The interpreter that runs the study.
    dry_run : bool
        A rehearsal on a CPU machine with TensorFlow and a Python other than the GPU's: TensorFlow is
        made unimportable, the wheels are installed for the GPU's Python (checking that they install as a
        set) but not imported, as this environment holds the same versions built for its own Python.

    Returns
    -------
    dict
        ``{"done": steps done, "report": run folder, "check": check_report(...)}``; "check" is None
        while steps remain.
    """
    dest = Path(dest).resolve()
    record = json.loads((dest / "PACK.json").read_text()) if (dest / "PACK.json").is_file() else None
    if record is None:
        raise GpuPackError(f"{dest}/PACK.json is missing: run `python -m cxrlib gpu pack` on the machine with "
                           "PyPI, then carry the folders it lists")
    root = REPO_ROOT.resolve()
    site = dest / "site"
    wheels = sorted((dest / "wheels").glob("*.whl"))
    if wheels and not (site / ".installed").is_file():
        command = [python, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile", "--no-cache-dir",
                   "--upgrade", "--only-binary=:all:", "--python-version", GPU_PYTHON["python_version"],
                   "--implementation", "cp", "--target", str(site)]
        for platform in GPU_PLATFORMS:
            command += ["--platform", platform]
        subprocess.run(command + [str(w) for w in wheels], check=True)
        (site / ".installed").write_text("\n".join(w.name for w in wheels) + "\n")
    absent = [name for name in (record["data"], record["weights"]) if not (root / name).exists()]
    wheels_dir = dest / "wheels"
    absent += [] if (site / ".installed").is_file() else [
        str(wheels_dir.relative_to(root)) if root in wheels_dir.parents else str(wheels_dir)]
    if absent:
        loads = [load["carry"] for load in record["loads"]
                 if any(item == name or item.startswith(name + "/") for item in absent for name in load["carry"])]
        raise GpuPackError(f"not everything has arrived: {', '.join(absent)} missing; make the device call(s) "
                           f"carrying {loads} with this same command. A machine that went back cold has lost what "
                           "earlier calls brought: carry every load again")
    paths = [str(hide_tensorflow(dest / "no-tensorflow")), str(root)] if dry_run else [str(site), str(root)]
    env = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONUNBUFFERED": "1",
           "PYTHONPATH": os.pathsep.join(paths + [p for p in [os.environ.get("PYTHONPATH")] if p])}
    sets = [f"data_dir={root / record['data']}", f"weights={root / record['weights']}",
            f"reports_dir={dest / 'run' / 'reports'}", f"work_dir={dest / 'run' / 'work'}", *overrides]
    if not dry_run and str(site) not in sys.path:  # pydantic comes from the wheels on the GPU machine
        sys.path.insert(0, str(site))
    from .params import ProfileError, load_profile, parse_overrides

    try:
        params = load_profile(profile, parse_overrides(sets))
    except ProfileError as exc:
        raise GpuPackError(str(exc)) from None
    run_dir = Path(params.reports_dir) / params.run_name
    from .pipeline import discover_steps

    for step in discover_steps():
        if step.number in _steps_done(run_dir / "run.json"):
            continue
        command = [python, "-m", "cxrlib", "run", str(profile), "--only", step.number, "--quiet"]
        for item in sets:
            command += ["--set", item]
        print(f"gpu run: {step.stem}", flush=True)
        result = subprocess.run(command, cwd=root, env=env)
        if result.returncode != 0:
            raise GpuPackError(f"step {step.stem} failed (exit {result.returncode}); its partial notebook is in "
                               f"{run_dir}; the same command resumes after a fix")
    check = check_report(run_dir)
    if out is not None:
        target = Path(out) / run_dir.name
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(run_dir, target)
    return {"done": sorted(_steps_done(run_dir / "run.json")), "report": str(run_dir), "check": check}
