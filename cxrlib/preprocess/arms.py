"""The study's arms as the library receives them: a name and the paper's steps it applies.

The profile declares arms (``cxrlib.run.ArmSpec``); the notebooks turn them into :class:`Arm`
values with :func:`arms_from` and hand those to the library, which never reads a profile.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

__all__ = ["Arm", "arms_from", "arms_table"]


@dataclass(frozen=True)
class Arm:
    """One arm: which of the paper's preprocessing steps the network's images get.

    Attributes
    ----------
    name : str
    clahe : bool
        CLAHE-equalized image (else the resized radiograph as it is).
    roi : bool
        Cropped to the thorax box (else the whole image).
    """

    name: str
    clahe: bool = False
    roi: bool = False

    @property
    def variant(self) -> str:
        """Name of the image set this arm reads; arms with the same steps share it."""
        steps = [step for step, on in (("clahe", self.clahe), ("roi", self.roi)) if on]
        return "_".join(steps) or "raw"

    @property
    def column(self) -> str:
        """Column of processed.csv holding this arm's image paths."""
        return f"image_{self.name}"

    @property
    def steps(self) -> str:
        """The steps in words, for tables."""
        return " + ".join(s for s, on in (("CLAHE", self.clahe), ("thorax crop", self.roi)) if on) or "none"


def arms_from(mapping):
    """``{name: {"clahe": bool, "roi": bool}}`` (the profile's ``arms``) as a list of :class:`Arm`, in order."""
    if not isinstance(mapping, dict) or not mapping:
        raise ValueError(f"arms must be a non-empty mapping of name -> {{clahe, roi}}, got {mapping!r}")
    arms = []
    for name, spec in mapping.items():
        spec = dict(spec or {})
        unknown = set(spec) - {"clahe", "roi"}
        if unknown:
            raise ValueError(f"arm {name!r}: unknown key(s) {sorted(unknown)}; an arm takes clahe and roi")
        arms.append(Arm(str(name), clahe=bool(spec.get("clahe", False)), roi=bool(spec.get("roi", False))))
    return arms


def arms_table(arms):
    """The arms as a table: each arm's preprocessing steps (arms with the same steps read one image set)."""
    return pd.DataFrame({"steps": [a.steps for a in arms]}, index=[a.name for a in arms]).rename_axis(columns="arm")
