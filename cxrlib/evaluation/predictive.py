"""Positive and negative predictive values at a stated prevalence, from each seed's sensitivity and specificity.

A test split's share of PNEUMONIA (62.5% in the Kermany release, 390 of 624) is set by how the set was assembled,
not by a clinic; what a positive or negative call means at another prevalence follows from Bayes' rule
(:func:`predictive_values`). At the test split's own prevalence the formula gives the split's precision and NPV.
"""

import numpy as np
import pandas as pd

from .operating_points import POINT_LABELS
from .tables import headed, mean_sd, percent

__all__ = ["ILLUSTRATIVE_PREVALENCES", "PREDICTIVE_FORMULA", "predictive_values", "predictive_values_record",
           "predictive_values_table", "predictive_values_sentence"]

#: Prevalences of a setting where 1 in 10 or 3 in 10 imaged children has pneumonia: stated, not measured.
ILLUSTRATIVE_PREVALENCES = (0.10, 0.30)
#: Bayes' rule for the predictive values, as the report prints it.
PREDICTIVE_FORMULA = ("PPV = sens·p / (sens·p + (1 − spec)·(1 − p)) and "
                      "NPV = spec·(1 − p) / (spec·(1 − p) + (1 − sens)·p), with p the prevalence")


def predictive_values(sensitivity, specificity, prevalence):
    """PPV and NPV at a prevalence, from sensitivity and specificity (Bayes' rule, :data:`PREDICTIVE_FORMULA`).

    Parameters
    ----------
    sensitivity, specificity : float or array
        In [0, 1].
    prevalence : float
        In (0, 1).

    Returns
    -------
    ppv, npv : float or ndarray
        nan where no image would be called positive (PPV) or negative (NPV).
    """
    sens, spec = np.asarray(sensitivity, dtype=np.float64), np.asarray(specificity, dtype=np.float64)
    if not 0 < float(prevalence) < 1:
        raise ValueError(f"prevalence must be in (0, 1), got {prevalence!r}")
    if ((sens < 0) | (sens > 1) | (spec < 0) | (spec > 1)).any():
        raise ValueError("sensitivity and specificity must lie in [0, 1]")
    p = float(prevalence)
    with np.errstate(invalid="ignore", divide="ignore"):
        return sens * p / (sens * p + (1 - spec) * (1 - p)), spec * (1 - p) / (spec * (1 - p) + (1 - sens) * p)


def predictive_values_record(records, point, *, prevalences=ILLUSTRATIVE_PREVALENCES):
    """Every arm's PPV and NPV at an operating point: at the test split's prevalence and at stated ones.

    Parameters
    ----------
    records : dict
        ``evaluate_arms(...)["arms"]`` (each seed's sensitivity and specificity at ``point``).
    point : str
        A key of :data:`cxrlib.evaluation.OPERATING_POINTS`.
    prevalences : sequence of float
        Stated prevalences besides the test split's.

    Returns
    -------
    dict
        ``operating_point``, ``formula``, ``test_prevalence`` and ``arms``: ``{arm: [{"prevalence", "setting"
        ("test split" or "stated"), "ppv", "ppv_sd", "npv", "npv_sd", "ppv_per_seed", "npv_per_seed"}]}`` (means
        and SDs over seeds; SD nan for one seed).
    """
    first = next(iter(records.values()))
    test_prevalence = first["n_positive"] / first["n"]
    arms = {}
    for arm, record in records.items():
        seeds = record["operating_points"][point]["per_seed"]
        sens, spec = [s["sensitivity"] for s in seeds], [s["specificity"] for s in seeds]
        rows = []
        for p, setting in [(test_prevalence, "test split"), *((q, "stated") for q in prevalences)]:
            ppv, npv = predictive_values(sens, spec, p)
            rows.append({"prevalence": float(p), "setting": setting, "ppv": float(np.nanmean(ppv)),
                         "ppv_sd": float(np.nanstd(ppv, ddof=1)) if len(seeds) > 1 else float("nan"),
                         "npv": float(np.nanmean(npv)),
                         "npv_sd": float(np.nanstd(npv, ddof=1)) if len(seeds) > 1 else float("nan"),
                         "ppv_per_seed": ppv.tolist(), "npv_per_seed": npv.tolist()})
        arms[arm] = rows
    return {"operating_point": point, "formula": PREDICTIVE_FORMULA, "test_prevalence": float(test_prevalence),
            "arms": arms}


def predictive_values_table(record):
    """:func:`predictive_values_record` as a display table: one row per arm, PPV and NPV per prevalence."""
    rows = {}
    for arm, entries in record["arms"].items():
        cells = {}
        for e in entries:
            at = f"{percent(e['prevalence'], 1 if e['setting'] == 'test split' else 0)}" + (
                " (test split)" if e["setting"] == "test split" else "")
            cells[f"PPV at {at}"] = mean_sd(e["ppv_per_seed"])
            cells[f"NPV at {at}"] = mean_sd(e["npv_per_seed"])
        rows[arm] = cells
    return headed(pd.DataFrame.from_dict(rows, orient="index"), "arm")


def predictive_values_sentence(record):
    """How the predictive values were made, in words: the operating point, the prevalences, the formula."""
    stated = " and ".join(percent(e["prevalence"], 0) for e in next(iter(record["arms"].values()))
                          if e["setting"] == "stated")
    return (f"At the **{POINT_LABELS[record['operating_point']]}** operating point, each seed's test sensitivity "
            f"and specificity give its PPV (the share of PNEUMONIA calls that are pneumonia) and NPV (the share of "
            f"NORMAL calls that are normal) by Bayes' rule: {record['formula']}. At the test split's own prevalence "
            f"({percent(record['test_prevalence'])} PNEUMONIA) they are the split's measured precision and NPV; "
            f"{stated} are stated prevalences, not measured ones, for a setting where fewer of the imaged children "
            "have pneumonia. Cells: mean over seeds ± SD between seeds.")
