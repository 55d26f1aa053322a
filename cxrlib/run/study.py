"""What every study notebook does the same way: its run folder, its figures, the run's records.

A notebook opens its run folder once (``run = StudyRun(run_dir, step="03", work_dir=work_dir)``), then
``run.show(fig, "curves")`` shows a figure inline and saves it as ``figures/03_curves.png``;
``run.data`` is ``data.json``, ``run.processed()`` the rows of ``processed.csv``, ``run.model_path(arm,
seed)`` where a trained model lives (under ``work_dir``, not in the report), ``run.write_csv`` and
``run.write_json`` write records atomically. The study's arms arrive as the profile's plain mapping;
:meth:`StudyRun.arms` turns them into :class:`cxrlib.preprocess.Arm` values.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from ..preprocess.arms import arms_from
from ..atomic import write_csv, write_json
from ..report.figures import FIGURE_METADATA, save_figure
from ..models.records import model_name

__all__ = ["StudyRun"]


class StudyRun:
    """One notebook's view of the run folder.

    Parameters
    ----------
    run_dir : str or Path
        The run folder (``reports/<run_name>``).
    step : str
        The notebook's number, ``"01"`` ... ``"05"``: the prefix of its figures.
    work_dir : str or Path, optional
        Caches and models (outside git).
    """

    def __init__(self, run_dir, *, step, work_dir=None):
        self.dir = Path(run_dir)
        self.step = str(step)
        self.work_dir = Path(work_dir) if work_dir is not None else None
        self.figures = self.dir / "figures"
        self.figures.mkdir(parents=True, exist_ok=True)

    # records ------------------------------------------------------------------------------------
    def read_json(self, name):
        """A JSON record of the run folder, with a clear error when the step that writes it has not run."""
        path = self.dir / name
        if not path.is_file():
            raise FileNotFoundError(f"{path} does not exist: run the step that writes it first "
                                    "(python -m cxrlib run PROFILE runs every step in order)")
        return json.loads(path.read_text())

    @property
    def data(self):
        """``data.json`` (step 01): ``source`` ('synthetic' or 'kermany'), ``description``, ``root`` (absolute), ..."""
        record = self.read_json("data.json")
        record["root"] = self._absolute(record["root"])
        return record

    def _absolute(self, path):
        """A path of a record (relative to the run folder, as records are written) as an absolute path."""
        return os.path.normpath(os.path.join(self.dir.resolve(), path)) if path else path

    @property
    def is_synthetic(self):
        return self.data["source"] == "synthetic"

    def read_csv(self, name):
        """A CSV record of the run folder; its columns of file paths (``path``, ``*_path``, ``image_*``) absolute."""
        path = self.dir / name
        if not path.is_file():
            raise FileNotFoundError(f"{path} does not exist: run the step that writes it first")
        table = pd.read_csv(path, keep_default_na=False)
        for column in table.columns:
            if column == "path" or column.endswith("_path") or column.startswith("image_"):
                table[column] = table[column].map(self._absolute)
        return table

    def processed(self, subset=None):
        """Rows of ``processed.csv`` (step 02), all or one subset ('train', 'val', 'test'), index reset."""
        table = self.read_csv("processed.csv")
        if subset is not None:
            table = table[table["subset"] == subset].reset_index(drop=True)
        return table

    def write_csv(self, frame, name):
        """Write a DataFrame (no index) into the run folder atomically, paths relative to it; return the path."""
        return write_csv(frame, self.dir / name, relative_to=self.dir.resolve())

    def write_json(self, record, name):
        """Write a JSON record into the run folder atomically, paths relative to it; return the path."""
        return write_json(record, self.dir / name, relative_to=self.dir.resolve())

    # arms and models ----------------------------------------------------------------------------
    @staticmethod
    def arms(mapping):
        """The profile's ``arms`` mapping as :class:`cxrlib.preprocess.Arm` values, in order."""
        return arms_from(mapping)

    @property
    def models_dir(self):
        """``work_dir/models/<run name>``: trained models stay out of the report folder."""
        if self.work_dir is None:
            raise ValueError("this StudyRun was opened without work_dir; pass work_dir= to find the models")
        return self.work_dir / "models" / self.dir.name

    def arm_models(self, mapping, seeds, *, batch_size=32):
        """Every arm's trained model of every seed (:class:`cxrlib.models.ArmModels`, from ``training.json``)."""
        from ..models.arms import ArmModels

        return ArmModels(arms_from(mapping), seeds, self.read_json("training.json")["arms"], self.model_path,
                         work_dir=self.work_dir, batch_size=batch_size)

    def model_path(self, arm, seed):
        path = self.models_dir / f"{model_name(arm, seed)}.keras"
        return path

    # what a notebook shows ------------------------------------------------------------------------
    @staticmethod
    def display(*items):
        """Show each item inline, in order: a string as Markdown, anything else (a table) as it is; None is skipped."""
        from IPython.display import Markdown, display

        for item in items:
            if item is not None:
                display(Markdown(item) if isinstance(item, str) else item)

    def show(self, fig, name, caption):
        """Save a figure as ``figures/<step>_<name>.png`` (``.jpg`` when it shows radiographs) with its caption (one
        sentence on what a reader takes from it; the alt text is read from the figure), and show that file.

        The inline output carries the file's name in its metadata (:data:`cxrlib.report.FIGURE_METADATA`), so the
        rendered section page links the saved file, with its caption, instead of embedding the figure again.
        """
        from IPython.display import Image, display

        path = save_figure(fig, self.figures / f"{self.step}_{name}", caption)
        display(Image(filename=str(path), metadata={FIGURE_METADATA: f"figures/{path.name}"}))
