"""The package's layout, read from the source with ast (nothing is imported): layers, modules, public names.

The layers are declared once, below; a module may import from its own layer and from the layers before it, never
from a later one, and no chain of imports (those inside functions included) may lead back to where it started.
"""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "cxrlib"

#: The layers, lowest first. A module belongs to the first entry that is its name or a package above it.
LAYERS = (
    ("cxrlib.lazy", "cxrlib.atomic", "cxrlib.annotations"),  # file writes, lazy exports, data files
    ("cxrlib.data",),  # the data set, its manifest and images
    ("cxrlib.preprocess",),  # resize, CLAHE, thorax ROI, the cache, the ROI's evaluation
    ("cxrlib.evaluation",),  # metrics on scores: intervals, comparisons, operating points
    ("cxrlib.models",),  # backbones, the Keras classifier, training, scoring
    ("cxrlib.audit",),  # what the models use: trivial floor, perturbations, Grad-CAM and its checks
    ("cxrlib.report",),  # the run's page, figures on disk, checks of a run
    ("cxrlib.course",),  # the course exercises, their checks and grading
    ("cxrlib.run",),  # profiles, the runner, the notebooks' run folder, the GPU run, the command line
    ("cxrlib.__main__",),  # python -m cxrlib
)
MAX_LINES = 500


def module_name(path):
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules():
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


MODULES = modules()


def layer_of(name):
    if name == "cxrlib":
        return 0  # the package's own __init__ imports nothing
    for index, layer in enumerate(LAYERS):
        if any(name == top or name.startswith(top + ".") for top in layer):
            return index
    raise AssertionError(f"{name} belongs to no layer of LAYERS; add its package there")


def resolve(name, path, node):
    """The cxrlib modules an import statement reads (``from . import a, b`` reads a and b)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names if alias.name.split(".")[0] == "cxrlib"]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    if node.level:
        base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    if target.split(".")[0] != "cxrlib":
        return []
    found = [f"{target}.{alias.name}" for alias in node.names if f"{target}.{alias.name}" in MODULES]
    return found or [target]


def imports():
    """``{module: [(imported module, line, names), ...]}`` over every import statement, nested ones included."""
    graph = {}
    for name, path in MODULES.items():
        edges = []
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [alias.name for alias in node.names]
                edges += [(target, node.lineno, names) for target in resolve(name, path, node)]
        graph[name] = edges
    return graph


GRAPH = imports()


def test_every_import_names_a_module_that_exists():
    missing = [f"{name}:{line} imports {target}" for name, edges in GRAPH.items() for target, line, _ in edges
               if target not in MODULES]
    assert missing == []


def test_imports_run_downward_through_the_layers():
    upward = [f"{name}:{line} ({LAYERS[layer_of(name)][0]}) imports {target} ({LAYERS[layer_of(target)][0]})"
              for name, edges in GRAPH.items() for target, line, _ in edges if layer_of(target) > layer_of(name)]
    assert upward == []


def test_the_import_graph_has_no_circle():
    edges = {name: sorted({t for t, _, _ in targets if t in MODULES and t != name}) for name, targets in GRAPH.items()}
    # a package's __init__ is imported with any of its modules; an edge into it is an edge to a package, not a circle
    # unless the package's own __init__ imports back (checked like any module)
    state, stack, circles = {}, [], []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for target in edges[node]:
            if state.get(target) == "open":
                circles.append(" -> ".join(stack[stack.index(target):] + [target]))
            elif target not in state:
                visit(target)
        stack.pop()
        state[node] = "done"

    for node in edges:
        if node not in state:
            visit(node)
    assert circles == []


def test_no_private_name_crosses_a_module():
    crossings = []
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text())
        bound = set()  # names bound to cxrlib modules: `from . import contours`, `import cxrlib.x as y`
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and resolve(name, path, node):
                for alias in node.names:
                    if alias.name.startswith("_") and not alias.name.startswith("__"):
                        crossings.append(f"{name}:{node.lineno} imports {alias.name}")
                    if any(t.endswith("." + alias.name) for t in resolve(name, path, node)):
                        bound.add(alias.asname or alias.name)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("cxrlib"):
                        bound.add(alias.asname or alias.name.split(".")[0])
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in bound
                    and node.attr.startswith("_") and not node.attr.startswith("__")):
                crossings.append(f"{name}:{node.lineno} reads {node.value.id}.{node.attr}")
    assert crossings == []


@pytest.mark.parametrize("name", sorted(MODULES))
def test_a_module_is_one_job_of_at_most_500_lines_said_in_its_docstring(name):
    source = MODULES[name].read_text()
    lines = source.count("\n")
    assert lines <= MAX_LINES, f"{name} has {lines} lines; split it by job (at most {MAX_LINES})"
    docstring = ast.get_docstring(ast.parse(source))
    assert docstring, f"{name} has no docstring saying its job"
    first = docstring.split("\n\n")[0].replace("\n", " ")
    assert first.rstrip().endswith("."), f"{name}: the docstring's first paragraph should be one sentence: {first!r}"


def test_plots_live_in_the_figures_module_of_their_package():
    stray = [f"{name}.{node.name}" for name, path in MODULES.items() if path.name != "figures.py"
             for node in ast.parse(path.read_text()).body
             if isinstance(node, ast.FunctionDef) and node.name.startswith("plot_")]
    assert stray == []


def exports(path):
    """``{module: [names]}`` a package's __init__ hands to :func:`cxrlib.lazy.attach`; None when it has none."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "attach":
            return {key.value: [e.value for e in value.elts] for key, value in zip(node.args[1].keys,
                                                                                  node.args[1].values)}
    return None


def defined(path):
    names = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


PACKAGES = sorted(name for name, path in MODULES.items() if path.name == "__init__.py" and name != "cxrlib"
                  and name != "cxrlib.annotations")


@pytest.mark.parametrize("package", PACKAGES)
def test_every_subpackage_names_its_public_api_and_every_name_exists(package):
    folder = MODULES[package].parent
    table = exports(MODULES[package])
    assert table, f"{package}/__init__.py names no public API (cxrlib.lazy.attach)"
    submodules = {path.stem for path in folder.glob("*.py")} | {path.name for path in folder.iterdir()
                                                                if (path / "__init__.py").is_file()}
    for module, names in table.items():
        assert module in submodules, f"{package}: no module {module}"
        path = folder / f"{module}.py" if (folder / f"{module}.py").is_file() else folder / module / "__init__.py"
        missing = sorted(set(names) - defined(path))
        assert not missing, f"{package}.{module} does not define {missing}"
        clash = sorted(set(names) & submodules)
        assert not clash, f"{package}: {clash} name both a module and an exported name"
        assert not [n for n in names if n.startswith("_")], f"{package}.{module} exports a private name"


NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
MAX_NOTEBOOK_CODE = 40
#: A line that is only a string literal (a caption or sentence continued from the line above), closing brackets aside.
PROSE = re.compile(r"""^\s*f?("[^"]*"|'[^']*')\s*[),]*\s*$""")


def own_code(path):
    """Lines of code a notebook holds itself: non-blank, non-comment lines of its code cells, the parameters cell
    and lines of prose (a line that is only a string, such as a figure's caption) aside (jupytext percent format:
    ``# %%`` opens a cell, ``[markdown]`` marks prose, a ``parameters`` tag the parameters)."""
    count, counting = 0, False
    for line in path.read_text().splitlines():
        if line.startswith("# %%"):
            counting = "[markdown]" not in line and "parameters" not in line
            continue
        if counting and line.strip() and not line.lstrip().startswith("#") and not PROSE.match(line):
            count += 1
    return count


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_a_notebook_is_a_narrative_with_at_most_40_lines_of_its_own_code(path):
    assert own_code(path) <= MAX_NOTEBOOK_CODE, (
        f"{path.name} holds {own_code(path)} lines of its own code; move what it computes into cxrlib (at most "
        f"{MAX_NOTEBOOK_CODE})")


def test_the_wheel_lists_every_subpackage():
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    packages = {module_name(path) for path in PACKAGE.rglob("__init__.py")}
    assert packages <= listed, f"pyproject.toml's [tool.setuptools] packages lacks {sorted(packages - listed)}"


def test_no_source_file_is_hidden_by_gitignore():
    """A pattern such as `data/` would keep cxrlib/data's new modules out of every commit without a word."""
    import shutil
    import subprocess

    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    sources = [str(p.relative_to(ROOT)) for folder in ("cxrlib", "tests", "notebooks", "benchmarks", "params")
               for p in (ROOT / folder).rglob("*")
               if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".ipynb"]  # notebooks' run copies
    ignored = subprocess.run(["git", "check-ignore", "--no-index", "--stdin"], cwd=ROOT, input="\n".join(sources),
                             capture_output=True, text=True).stdout.split()
    assert ignored == []
