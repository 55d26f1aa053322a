"""What a subpackage offers, named in its ``__init__`` and imported from its modules on first use.

Each subpackage of cxrlib lists its public names, module by module (``attach(__name__, {"images":
["read_radiograph", ...], ...})``), so that ``from cxrlib.data import read_radiograph`` and
``cxrlib.data.read_radiograph`` work without importing every module of the package at once: naming the models'
backbones must not start Keras, and the runner must not import matplotlib (PEP 562 module ``__getattr__``, as
scikit-image's ``lazy_loader`` does).
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

__all__ = ["attach"]


def attach(package, exports):
    """The ``__getattr__``, ``__dir__`` and ``__all__`` of a package whose names live in its modules.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    exports : dict of str to list of str
        ``{module: [name, ...]}``: each public name and the module (inside the package) that defines it.

    Returns
    -------
    __getattr__ : callable
        Imports a name's module on first access and keeps the name in the package's namespace.
    __dir__ : callable
    __all__ : list of str
        Every name, in the order given.
    """
    home = {}
    for module, names in exports.items():
        for name in names:
            if name in home:
                raise ValueError(f"{package}: {name!r} is exported by both {home[name]!r} and {module!r}")
            home[name] = module

    folders = getattr(sys.modules.get(package), "__path__", None) or []
    clash = sorted(set(home) & {path.stem for folder in folders for path in Path(folder).glob("*.py")})
    if clash:
        raise ValueError(f"{package}: {clash} name both a module of the package and an exported name; rename one")

    def __getattr__(name):
        if name not in home:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{home[name]}"), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__():
        return sorted(set(home) | set(vars(sys.modules[package])))

    return __getattr__, __dir__, list(home)
