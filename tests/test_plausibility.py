"""Plausibility flags of ROI boxes and failure rates per class."""

import numpy as np
import pandas as pd
import pytest

from cxrlib.preprocess import PLAUSIBLE, failure_rates, flag_boxes, lung_side_ratio, rates_sentence


def _boxes(rows):
    return pd.DataFrame(rows, columns=["roi_y0", "roi_x0", "roi_y1", "roi_x1", "lung_side_ratio", "fallback"])


def test_lung_side_ratio_splits_at_the_box_centre():
    mask = np.zeros((10, 20), bool)
    mask[2:8, 2:6] = True                    # 24 pixels left of column 10
    mask[2:8, 12:14] = True                  # 12 pixels right of it
    assert lung_side_ratio(mask, (0, 0, 1, 1)) == pytest.approx(0.5)
    mask[:, 10:] = False
    assert lung_side_ratio(mask, (0, 0, 1, 1)) == 0.0                 # one lung only
    assert lung_side_ratio(np.zeros((4, 4), bool), (0, 0, 1, 1)) == 0.0


def test_each_flag_catches_its_implausible_box_and_spares_the_rest():
    good = [0.15, 0.15, 0.85, 0.85, 0.8, False]
    table = _boxes([good] * 6 + [
        [0.55, 0.4, 0.85, 0.6, 0.8, False],        # area 0.06 of a median 0.49: too small, and low
        [0.2, 0.05, 0.5, 0.95, 0.8, False],        # flat: aspect 0.33
        [0.15, 0.15, 0.85, 0.85, 0.0, False],      # lung on one side only
        [0.0, 0.0, 1.0, 1.0, 0.0, True],           # a fallback is its own category
    ])
    flagged = flag_boxes(table)
    assert flagged["roi_flags"].tolist()[6:] == ["area,low", "aspect", "one_lung", ""]
    assert flagged["implausible"].tolist() == [False] * 6 + [True, True, True, False]
    assert PLAUSIBLE["centre_y"][1] < (0.55 + 0.85) / 2


def test_flag_boxes_compares_areas_with_the_reference_rows_only():
    table = _boxes([[0.1, 0.1, 0.9, 0.9, 0.8, False]] * 4 + [[0.3, 0.3, 0.7, 0.7, 0.8, False]] * 4)
    reference = [True] * 4 + [False] * 4
    assert flag_boxes(table, reference=reference)["implausible"].tolist() == [False] * 4 + [True] * 4
    with pytest.raises(ValueError, match="one bool per row"):
        flag_boxes(table, reference=[True])
    with pytest.raises(ValueError, match="lung_side_ratio"):
        flag_boxes(table.drop(columns="lung_side_ratio"))


def test_a_film_read_in_the_release_s_rarer_polarity_is_flagged():
    good = [0.15, 0.15, 0.85, 0.85, 0.8, False]
    table = _boxes([good] * 5).assign(inverted=[False, False, False, True, False])
    assert flag_boxes(table)["roi_flags"].tolist() == [""] * 3 + ["polarity", ""]
    # a release of inverted films: the one read as positive is the misreading; an evaluation set does not vote
    table = table.assign(inverted=[True, True, True, False, False])
    assert flag_boxes(table, reference=[True] * 4 + [False])["roi_flags"].tolist() == [""] * 3 + ["polarity"] * 2
    assert "polarity" not in ",".join(flag_boxes(table.drop(columns="inverted"))["roi_flags"])


def test_failure_rates_wilson_intervals_and_ratio():
    table = pd.DataFrame({"label": ["A"] * 100 + ["B"] * 200,
                          "fallback": [True] * 10 + [False] * 90 + [True] * 5 + [False] * 195})
    rates = failure_rates(table)
    assert rates["n"] == 300 and rates["count"] == 15 and rates["rate"] == pytest.approx(0.05)
    a = rates["by_label"]["A"]
    assert a["rate"] == pytest.approx(0.1) and a["ci"][0] < 0.1 < a["ci"][1]
    assert a["ci"] == pytest.approx([0.0552, 0.1744], abs=1e-3)     # Wilson 95 % for 10 / 100
    assert rates["ratio"] == pytest.approx(4.0) and rates["ratio_ci"][0] < 4 < rates["ratio_ci"][1]
    assert not rates["ratio_corrected"]
    assert "**the classes differ**" in rates_sentence(rates, "fell back")
    none = failure_rates(table.assign(fallback=[False] * 299 + [True]))
    assert none["by_label"]["A"]["ci"][0] == pytest.approx(0.0, abs=1e-12) and none["ratio_corrected"]
    assert np.isfinite(none["ratio"])
    nothing = failure_rates(table.assign(fallback=False))           # no failure: no ratio to speak of
    assert nothing["rate"] == 0 and nothing["ci"][1] > 0 and nothing["ratio"] is None and nothing["ratio_ci"] is None
    assert "0/300" in rates_sentence(nothing, "fell back")
    flagged = failure_rates(table.assign(implausible=["True"] * 3 + ["False"] * 297), "implausible")
    assert flagged["column"] == "implausible" and flagged["count"] == 3      # read back from a CSV as text


@pytest.mark.parametrize("kwargs, error", [({"confidence": 1.0}, ValueError), ({"label_column": "class"}, ValueError),
                                           ({"column": "flagged"}, ValueError)])
def test_failure_rates_refuses(kwargs, error):
    with pytest.raises(error):
        failure_rates(pd.DataFrame({"label": ["A"], "fallback": [False]}), **kwargs)
    with pytest.raises(TypeError):
        failure_rates([("A", False)])
