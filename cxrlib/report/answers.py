"""The four questions the index answers first, each in one sentence with its numbers and seed-aware interval.

Every number comes from ``metrics.json``; a question the run cannot answer (an arm or a
measurement the profile left out) says so instead of answering.
"""

from __future__ import annotations

from .html import esc, pct, set_label
from .summary import lead_records, paper_printed

__all__ = ["four_answers"]


def _steps(run: dict, arm: str) -> tuple[bool, bool]:
    spec = run.get("parameters", {}).get("arms", {}).get(arm, {})
    return bool(spec.get("clahe")), bool(spec.get("roi"))


def _effect_of(run: dict, metrics: dict, step: int) -> list[dict]:
    """The comparisons whose two arms differ in one step only (0: CLAHE, 1: the crop), oriented with it minus
    without it."""
    pairs = []
    for c in metrics.get("comparisons", []):
        a, b = _steps(run, c["a"]), _steps(run, c["b"])
        if a[1 - step] != b[1 - step] or a[step] == b[step]:
            continue
        if a[step]:
            pairs.append(c)
        else:
            lo, hi = c["auc_difference_ci"]
            pairs.append({**c, "a": c["b"], "b": c["a"], "auc_difference": -c["auc_difference"],
                          "auc_difference_ci": [-hi, -lo]})
    return pairs


def _signed(value: float) -> str:
    return f"{value:+.3f}".replace("-", "−")


def _difference(c: dict) -> str:
    lo, hi = c["auc_difference_ci"]
    return f"{_signed(c['auc_difference'])} ({esc(c['a'])} − {esc(c['b'])}; 95% CI {_signed(lo)} to {_signed(hi)})"


def _verdict(pairs: list[dict], step: str) -> str:
    better = [c for c in pairs if c["auc_difference_ci"][0] > 0]
    worse = [c for c in pairs if c["auc_difference_ci"][1] < 0]
    if better and not worse:
        if len(better) < len(pairs):
            return (f"In {len(better)} of {len(pairs)} pairs only: {step} raises the test ROC AUC where its interval "
                    "excludes zero; it changes it by")
        return f"Yes: {step} raises the test ROC AUC by"
    if worse and not better:
        if len(worse) < len(pairs):
            return (f"In {len(worse)} of {len(pairs)} pairs only: {step} lowers the test ROC AUC where its interval "
                    "excludes zero; it changes it by")
        return f"No, it hurts: {step} lowers the test ROC AUC by"
    if better and worse:
        return f"It depends on the other step: {step} changes the test ROC AUC by"
    if all(c.get("verdict") == "equivalent" for c in pairs):
        margin = max(c["equivalence_margin"] for c in pairs)
        return f"No measurable effect (equivalent within ±{margin:.2f} in AUC): {step} changes the test ROC AUC by"
    detectable = max(c["minimal_detectable_difference"] for c in pairs)
    return (f"Not shown either way (this study detects about ±{detectable:.3f} in AUC): {step} changes the test "
            "ROC AUC by")


def _step_answer(run: dict, metrics: dict, step: int, name: str) -> str:
    pairs = _effect_of(run, metrics, step)
    if not pairs:
        together = [c for c in metrics.get("comparisons", []) if {_steps(run, c["a"]), _steps(run, c["b"])}
                    == {(True, True), (False, False)}]
        return (f"Not measured alone here: no two arms of this run differ in {name} only (the profile's "
                "<code>arms</code> and <code>compare</code>)"
                + (f"; CLAHE and the crop together change the test ROC AUC by {_difference(together[0])}."
                   if together else "."))
    return f"{_verdict(pairs, name)} " + " and ".join(_difference(c) for c in pairs) + "."


def _false_alarms(run: dict, metrics: dict) -> str:
    """The crop's effect on false alarms in each further set of NORMAL images, cropped arms against uncropped."""
    sentences = []
    for name, by_arm in metrics.get("evaluation_sets", {}).items():
        rates = {a: r for a, r in by_arm.items() if r.get("false_positive_rate") is not None}
        pairs = [(c["a"], c["b"]) for c in _effect_of(run, metrics, 1) if c["a"] in rates and c["b"] in rates]
        if not pairs:
            continue

        def rate(arm):
            r = rates[arm]
            ci = f" ({pct(r['ci'][0])}–{pct(r['ci'][1])})" if r.get("ci") else ""
            return f"{esc(arm)} {pct(r['false_positive_rate'])}{ci}"

        n = next(iter(rates.values())).get("n")
        sentences.append(f"On {n} NORMAL radiographs of another population ({esc(set_label(name))}), the share called "
                         "pneumonia is " + "; ".join(f"{rate(a)} with the crop against {rate(b)} without"
                                                     for a, b in pairs) + ".")
    return " ".join(sentences)


def _paper_answer(run: dict, metrics: dict) -> str:
    both = [arm for arm in metrics.get("arms", {}) if _steps(run, arm) == (True, True)]
    if not both:
        return "Not measured here: no arm of this run applies both of the paper's steps (CLAHE and the crop)."
    arm = both[0]
    lead, named = lead_records(metrics)
    m, printed = lead[arm], paper_printed()
    point = metrics.get("headline", {}).get("point")

    def value(key):
        ci = m.get("ci", {}).get(key)
        return pct(m.get(key)) + (f" (95% CI {pct(ci[0])}–{pct(ci[1])})" if ci else "")

    auc = metrics["arms"][arm]
    lo, hi = auc["ci"]["roc_auc"]
    return (f"The {esc(arm)} arm (CLAHE + crop, as the paper) reaches accuracy {value('accuracy')}, sensitivity "
            f"{value('sensitivity')} and specificity {value('specificity')} at "
            + (f"the {esc(named)}" if point else "the threshold that maximises Youden's J on validation")
            + f", against the paper's printed {printed['accuracy']:.0%}, {printed['sensitivity']:.0%} and "
            f"{printed['specificity']:.0%}. Its ROC AUC, which the paper does not print, is {auc['roc_auc']:.3f} "
            f"(95% CI {lo:.3f}–{hi:.3f})"
            + ("." if point or len(metrics.get("seeds", [])) < 2 else
               "; it is the firmer figure, as every threshold rule moves between seeds."))


def _lungs_answer(run: dict, metrics: dict) -> str:
    grad = {a: g for a, g in metrics.get("gradcam", {}).items() if g.get("lung_mass_over_chance_ci")}
    if not grad:
        return "Not measured here: the Grad-CAM step has not run, or no lung masks were available."
    above = [a for a, g in grad.items() if g["lung_mass_over_chance_ci"][0] > 0]
    shares = "; ".join(f"{esc(a)} {pct(g['lung_mass_mean'])} against {pct(g['lung_chance_mean'])} "
                       f"({_signed(g['lung_mass_over_chance_mean'])}, 95% CI {_signed(g['lung_mass_over_chance_ci'][0])} to "
                       f"{_signed(g['lung_mass_over_chance_ci'][1])})" for a, g in grad.items())
    text = (f"{len(above)} of {len(grad)} arms put more Grad-CAM heat on the lung fields than their share of the "
            f"frame the network saw would give: {shares}.")
    blanked = {a: p["mask_blanked"] for a, p in metrics.get("perturbations", {}).items()
               if p.get("mask_blanked", {}).get("ci")}
    if blanked:
        aucs = [b["roc_auc"] for b in blanked.values()]
        outside = [a for a, b in blanked.items() if b["ci"][0] > 0.5]
        text += (f" With the lung fields blanked, the arms still rank the test images at ROC AUC {min(aucs):.2f} to "
                 f"{max(aucs):.2f}"
                 + (f", so {'all' if len(outside) == len(blanked) else len(outside)} of them use signal outside "
                    "the lung fields." if outside else ", no better than chance: their decisions need the lungs."))
    return text


def four_answers(run: dict, metrics: dict) -> str:
    """The index's opening: does CLAHE help, does the crop help, how the paper's arm compares with the paper's
    printed row, and whether the models use the lungs; empty before step 04 has run."""
    if not metrics.get("arms"):
        return ""
    seeds = len(metrics.get("seeds", [])) or 1
    crop = _step_answer(run, metrics, 1, "the crop")
    alarms = _false_alarms(run, metrics)
    items = [("Does CLAHE help?", _step_answer(run, metrics, 0, "CLAHE")),
             ("Does the thorax crop help?", crop + (" " + alarms if alarms else "")),
             ("How does it compare with the paper's printed row?", _paper_answer(run, metrics)),
             ("Do the models use the lungs?", _lungs_answer(run, metrics))]
    rows = "".join(f"<li><strong>{q}</strong> {a}</li>" for q, a in items)
    resampled = f"patients and the {seeds} training seeds together" if seeds > 1 else "patients (one training seed)"
    return (f"<ol class='answers'>{rows}</ol><p class='muted'>Intervals are 95% bootstrap intervals that resample "
            f"{resampled}; an AUC difference is paired on the same test images.</p>")
