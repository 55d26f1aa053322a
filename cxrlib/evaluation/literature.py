"""The paper's Table 2: the published results (quoted, not computed), rebuilt with this study's models in front."""

import numpy as np
import pandas as pd

from .classification import implied_metrics

__all__ = ["LITERATURE_TABLE2", "KERMANY_TEST_COUNTS", "paper_table2", "trained_as", "implied_sentence"]


_PAPER = (
    "Galindo-Ramirez V. H., Almaraz-Damian J. A., Cruz-Ramos C., Ponomaryov V., Reyes-Reyes R. "
    "Deteccion y clasificacion de neumonia en imagenes de Rayos X usando tecnicas de "
    "preprocesamiento y Deep Learning. ISSN 1870-4069, pp. 145-157 (2022)"
)

#: Published results, quoted (not computed here). Every entry except Kermany 2018 is
#: copied from Table 2 of the paper above, as printed ('-' there is None here; the
#: paper prints the specificity and precision of its own system as "86~%" and
#: "87~%"). Its row "#Imagenes-Val" is ``n_test`` (624 = the Kermany test split).
#: Table 2 has no AUC row. Kermany 2018 is quoted from its own text (pneumonia vs
#: normal on the same 624 test images; no precision, F1 or epochs reported).
LITERATURE_TABLE2 = {
    "Galindo-Ramirez 2022": {
        "reference": _PAPER + ", Table 2, 'Sistema Propuesto'",
        "architecture": "Xception",
        "accuracy": 0.91, "sensitivity": 0.91, "specificity": 0.86, "precision": 0.87,
        "f1": 0.91, "roc_auc": None, "n_test": 624, "epochs": 100,
    },
    "Jiang [14]": {
        "reference": "Jiang Z., ICBAIE 2020, pp. 341-344; as printed in " + _PAPER + ", Table 2",
        "architecture": "Xception",
        "accuracy": 0.92, "sensitivity": None, "specificity": None, "precision": None,
        "f1": None, "roc_auc": None, "n_test": 500, "epochs": 100,
    },
    "Sanchez [23]": {
        "reference": "Sanchez K. et al., ISBI 2021, pp. 1232-1235; as printed in " + _PAPER + ", Table 2",
        "architecture": "Xception",
        "accuracy": 0.96, "sensitivity": 0.95, "specificity": 0.95, "precision": 0.95,
        "f1": 0.91, "roc_auc": None, "n_test": 200, "epochs": 100,
    },
    "Lujan [17]": {
        "reference": "Lujan-Garcia J. E. et al., Applied Sciences 2020; as printed in " + _PAPER + ", Table 2",
        "architecture": "Xception",
        "accuracy": 0.87, "sensitivity": 0.99, "specificity": 0.84, "precision": 0.84,
        "f1": 0.95, "roc_auc": None, "n_test": 624, "epochs": 100,
    },
    "Varela [28]": {
        "reference": "Varela-Santos S., Melin P., Information Sciences 545 (2021); as printed in " + _PAPER + ", Table 2",
        "architecture": "ANN",
        "accuracy": 0.97, "sensitivity": None, "specificity": None, "precision": None,
        "f1": None, "roc_auc": None, "n_test": 112, "epochs": None,
    },
    "Varela [29]": {
        "reference": "Varela-Santos S., Melin P., Expert Systems with Applications (2020); as printed in " + _PAPER + ", Table 2",
        "architecture": "ANN",
        "accuracy": 0.99, "sensitivity": 0.98, "specificity": 0.99, "precision": None,
        "f1": None, "roc_auc": None, "n_test": 624, "epochs": None,
    },
    "Kermany 2018": {
        "reference": (
            "Kermany D. S., Goldbaum M., et al. Identifying Medical Diagnoses and Treatable "
            "Diseases by Image-Based Deep Learning. Cell 172(5):1122-1131 (2018), "
            "doi:10.1016/j.cell.2018.02.010; pneumonia vs normal"
        ),
        "architecture": "Inception V3",
        "accuracy": 0.928, "sensitivity": 0.932, "specificity": 0.901, "precision": None,
        "f1": None, "roc_auc": 0.968, "n_test": 624, "epochs": None,
    },
}

#: The release's test folder, the paper's 624 images: 390 PNEUMONIA, 234 NORMAL.
KERMANY_TEST_COUNTS = {"n_positive": 390, "n_negative": 234}

_TABLE2_ROWS = (
    ("architecture", "Architecture"),
    ("accuracy", "Accuracy"),
    ("sensitivity", "Sensitivity"),
    ("specificity", "Specificity"),
    ("precision", "Precision"),
    ("f1", "F-score"),
    ("roc_auc", "ROC AUC"),
    ("n_test", "#Images (test)"),
    ("epochs", "Epochs"),
)


def _fmt_ours(key, m):
    value = m.get(key)
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "-"
    if key in ("n_test", "epochs"):
        return str(int(value))
    if key == "architecture":
        return str(value)
    ci = m.get("ci", {}).get(key)
    if key == "roc_auc":
        text = f"{value:.3f}"
        return f"{text} ({ci[0]:.3f}-{ci[1]:.3f})" if ci else text
    text = f"{100 * value:.1f}%"
    return f"{text} ({100 * ci[0]:.1f}-{100 * ci[1]:.1f})" if ci else text


def _fmt_cited(key, m):
    value = m.get(key)
    if value is None:
        return "-"
    if key in ("n_test", "epochs", "architecture"):
        return str(value)
    if key == "roc_auc":
        return f"{value:.3f}"
    return f"{100 * value:.1f}".rstrip("0").rstrip(".") + "%"


def trained_as(trained, arm):
    """``epochs`` run and ``architecture`` (backbone) of an arm's first-seed model, as Table 2 lists them.

    ``trained`` is ``training.json``'s ``arms`` mapping.
    """
    first = next(iter(trained.get(arm, {}).get("seeds", {}).values()), {})
    return {"epochs": first.get("epochs_run"),
            "architecture": first.get("architecture", first.get("settings", {}).get("backbone"))}


def paper_table2(ours, *, literature=None):
    """The paper's Table 2 with this study's models added in front.

    Parameters
    ----------
    ours : dict
        ``{name: metrics}`` where metrics is a dict like :func:`evaluate` returns
        (fractions, optional ``"ci"``), optionally with ``n_test`` (default: its
        ``n``), ``epochs`` and ``architecture`` (default 'Xception').
    literature : dict, optional
        Published columns; default :data:`LITERATURE_TABLE2`.

    Returns
    -------
    pandas.DataFrame
        Rows Architecture, Accuracy, Sensitivity, Specificity, Precision, F-score,
        ROC AUC, #Images (test), Epochs; one column per model, ours first as
        "This study: <name>" (with 95% intervals), then the cited ones ('-' where
        a paper reports nothing).
    """
    if not isinstance(ours, dict) or not ours:
        raise TypeError(f"ours must be a non-empty dict {{name: metrics dict}}, got {type(ours).__name__}")
    literature = LITERATURE_TABLE2 if literature is None else literature
    columns = {}
    for name, m in ours.items():
        if not isinstance(m, dict) or "accuracy" not in m:
            raise ValueError(f"ours[{name!r}] must be a metrics dict with 'accuracy' etc., got {m!r:.80}")
        m = {"architecture": "Xception", "n_test": m.get("n"), **m}
        columns[f"This study: {name}"] = [_fmt_ours(k, m) for k, _ in _TABLE2_ROWS]
    for name, m in literature.items():
        columns[name] = [_fmt_cited(k, m) for k, _ in _TABLE2_ROWS]
    return pd.DataFrame(columns, index=[label for _, label in _TABLE2_ROWS])


def implied_sentence(paper, *, n_positive, n_negative):
    """Whether a published row is consistent: the accuracy, precision and F1 its sensitivity and specificity imply on
    a test split of ``n_positive`` PNEUMONIA and ``n_negative`` NORMAL images, against what it prints."""
    implied = implied_metrics(paper["sensitivity"], paper["specificity"], n_positive=n_positive, n_negative=n_negative)
    return (
        f"Consistency of the paper's own row on its test split (the release's {n_positive + n_negative} "
        f"test images: {n_positive} PNEUMONIA, {n_negative} NORMAL): "
        f"its sensitivity {paper['sensitivity']:.0%} and specificity {paper['specificity']:.0%} imply accuracy "
        f"**{implied['accuracy']:.1%}**, precision **{implied['precision']:.1%}** and F1 **{implied['f1']:.1%}**, "
        f"where it prints {paper['accuracy']:.0%}, {paper['precision']:.0%} and {paper['f1']:.0%}."
    )
