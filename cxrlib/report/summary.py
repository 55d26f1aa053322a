"""What the report says in sentences: the plain summary, the abstract and the README's headline table."""

from __future__ import annotations

import os
from pathlib import Path

from ..models.backbones import BACKBONES
from .html import arm_label, ci_text, esc, pct, read_record, set_label

__all__ = ["paper_printed", "lead_records", "blanking_test", "abstract", "plain_summary", "regime_sentence",
           "readme_headline"]


def paper_printed() -> dict:
    """The paper's own Table 2 row, as quoted once in :data:`cxrlib.evaluation.LITERATURE_TABLE2`."""
    from ..evaluation.literature import LITERATURE_TABLE2

    return LITERATURE_TABLE2["Galindo-Ramirez 2022"]


def _headline(m: dict) -> str:
    return (f"accuracy {ci_text(m, 'accuracy')}, sensitivity {pct(m.get('sensitivity'))}, specificity "
            f"{pct(m.get('specificity'))}, ROC AUC {ci_text(m, 'roc_auc', percent=False)}")


def _gradcam_sentences(metrics: dict) -> list[str]:
    """Where the heat falls in each network's own frame, next to that frame's chance level, and the paired test."""
    shares = []
    for arm, g in metrics.get("gradcam", {}).items():
        if g.get("lung_mass_over_chance_ci"):
            lo, hi = g["lung_mass_over_chance_ci"]
            shares.append(f"{esc(arm)} {pct(g['lung_mass_mean'])} against {pct(g['lung_chance_mean'])} of "
                          f"{esc(g.get('frame', 'its frame'))} (difference {g['lung_mass_over_chance_mean']:+.3f}, "
                          f"95% CI {lo:+.3f} to {hi:+.3f})")
    if not shares:
        return []
    sentences = ["Grad-CAM, in the frame each network saw (the whole image, or the ROI box for cropped arms): the "
                 "share of heatmap mass on the lung fields against their share of that frame, which is what a map "
                 "spread evenly would give: " + "; ".join(shares) + "."]
    tests = [f"{esc(pair)} {c['lung_mass_over_chance']['mean_difference']:+.3f} (95% CI "
             f"{c['lung_mass_over_chance']['mean_difference_ci'][0]:+.3f} to "
             f"{c['lung_mass_over_chance']['mean_difference_ci'][1]:+.3f})"
             for pair, c in metrics.get("gradcam_comparisons", {}).items() if "lung_mass_over_chance" in c]
    if tests:
        sentences.append("Paired differences in that mass over chance between arms, on the same images: "
                         + "; ".join(tests) + ".")
    return sentences


def lead_records(metrics: dict) -> tuple[dict, str]:
    """The records that lead the report and how to name them: a stable threshold rule's, or the Youden rule's
    with the warning that the headline is threshold-free."""
    from ..evaluation.operating_points import OPERATING_POINTS

    arms = metrics.get("arms", {})
    point = metrics.get("headline", {}).get("point")
    if point:
        return {a: m["operating_points"][point] for a, m in arms.items()}, OPERATING_POINTS[point]
    return arms, ("validation-chosen (Youden) threshold, which moves between seeds, so the ROC AUC is the figure to "
                  "read first")


def abstract(run: dict, data: dict, roi: dict, training: dict, metrics: dict) -> str:
    parts = [f"This run reproduces Galindo-Ramirez et al. (2022) on {esc(data.get('description', 'unknown data'))}."]
    if roi.get("dataset"):
        d = roi["dataset"]
        parts.append(f"The thorax ROI crop kept a median {pct(d.get('area_median'))} of the image area and fell "
                     f"back to the whole image for {round(d.get('fallback_rate', 0) * d.get('n', 0))} of "
                     f"{d.get('n')} images.")
    if roi.get("lungmasks"):
        lm = roi["lungmasks"]
        parts.append(f"On {lm['n']} radiographs with manual lung masks, the ROI box kept a median "
                     f"{pct(lm['coverage_median'])} of lung pixels (5th percentile {pct(lm['coverage_p05'])}).")
    arms = metrics.get("arms", {})
    if arms:
        seeds = metrics.get("seeds", [])
        first = next(iter(arms.values()))
        lead, named = lead_records(metrics)
        parts.append(f"On the {first.get('n')} test images, as the mean over {len(seeds)} training "
                     f"{'seeds' if len(seeds) > 1 else 'seed'}, at the {esc(named)}: "
                     + "; ".join(f"{esc(arm_label(run, arm))} {_headline(m)}" for arm, m in lead.items())
                     + ". The paper reports {accuracy:.0%} accuracy, {sensitivity:.0%} sensitivity and "
                       "{specificity:.0%} specificity.".format(**paper_printed()))
        from ..evaluation.tables import comparison_sentence

        parts += [esc(comparison_sentence(c)) for c in metrics.get("comparisons", [])]
        parts += _gradcam_sentences(metrics)
        shortcut = metrics.get("gradcam_shortcut", {})
        for arm in arms:
            row = shortcut.get(f"{arm} | P(PNEUMONIA)")
            if row and row.get("p_value") is not None:
                parts.append(f"Planted shortcut: the {esc(arm)} model's mean P(PNEUMONIA) is {row['mean_in']:.2f} on "
                             f"test images carrying the marker and {row['mean_out']:.2f} on those without "
                             f"(Mann-Whitney p = {row['p_value']:.2g}).")
    elif training:
        parts.append("The models are trained; evaluation on the test split has not run yet.")
    return "<p class='abstract'>" + " ".join(parts) + "</p>"


def blanking_test(run: dict, arm: str, perturbations: dict) -> tuple[str, dict]:
    """The blanking test that asks whether an arm needs the thorax: the ROI box for whole-image arms, the lung
    fields for cropped arms (whose input is the box)."""
    cropped = run.get("parameters", {}).get("arms", {}).get(arm, {}).get("roi")
    key = "mask_blanked" if cropped else "thorax_blanked"
    return ("lung fields" if cropped else "thorax box"), perturbations.get(arm, {}).get(key, {})


def plain_summary(run: dict, data: dict, metrics: dict) -> str:
    """Five sentences a clinician reads in a minute, every number from the run's records."""
    arms = metrics.get("arms")
    if not arms:
        return ""
    synthetic = data.get("source") == "synthetic"
    seeds = metrics.get("seeds", [])
    n = next(iter(arms.values())).get("n")
    names = ", ".join(esc(arm_label(run, arm)) for arm in arms)
    what = ("synthetic radiographs generated for teaching" if synthetic else
            "chest X-rays of children (Kermany 2018" + (", as third-party 224×224 copies)" if "224x224" in
                                                         data.get("description", "") else ")"))
    times = {1: "once", 2: "twice"}.get(len(seeds), f"{len(seeds)} times")
    sentences = [(f"We trained {len(arms)} versions of the paper's pneumonia classifier that differ only in how "
                  f"their images were prepared ({names}), each {times}" if len(arms) > 1 else
                  f"We trained the paper's pneumonia classifier on {names} images {times}")
                 + (" with different random starts" if len(seeds) > 1 else "")
                 + f", and tested {'them' if len(arms) > 1 or len(seeds) > 1 else 'it'} on {n} {what} that "
                   "were never seen during training."]
    best = max(arms, key=lambda arm: arms[arm]["roc_auc"])
    lead, named = lead_records(metrics)
    m = lead[best]
    sentences.append(f"The best at ranking, {esc(best)}, separated pneumonia from normal with an area under the ROC "
                     f"curve of {m['roc_auc']:.2f} (1 is perfect, 0.5 is chance); at the {esc(named)} (chosen "
                     f"beforehand on validation images) it found {pct(m['sensitivity'])} of pneumonias and cleared "
                     f"{pct(m['specificity'])} of normal images"
                     + ("." if synthetic else f" (the paper reports {paper_printed()['sensitivity']:.0%} and "
                                              f"{paper_printed()['specificity']:.0%})."))
    comparisons = metrics.get("comparisons", [])
    if comparisons:
        better = [c for c in comparisons if c["auc_difference_ci"][0] > 0]
        worse = [c for c in comparisons if c["auc_difference_ci"][1] < 0]
        lows = [c["auc_difference_ci"][0] for c in comparisons]
        highs = [c["auc_difference_ci"][1] for c in comparisons]
        equivalent = [c for c in comparisons if c.get("verdict") == "equivalent"]
        if not better and not worse and len(equivalent) == len(comparisons):
            margin = max(c["equivalence_margin"] for c in comparisons)
            sentences.append("No preparation step changed how well the images are ranked: every pair compared is "
                             f"equivalent within ±{margin:.2f} in AUC (the 95% intervals of the differences run from "
                             f"{min(lows):+.3f} to {max(highs):+.3f}).")
        elif not better and not worse:
            detectable = max(c["minimal_detectable_difference"] for c in comparisons)
            sentences.append("No preparation step was shown to rank the images better or worse than its comparison "
                             f"(the 95% intervals of the AUC differences, from {min(lows):+.3f} to {max(highs):+.3f}, "
                             "all include zero); that is not equality: this study could only have detected "
                             f"differences of about ±{detectable:.3f} or more.")
        else:
            parts = [f"{esc(c['a'])} ranked {'better' if c in better else 'worse'} than {esc(c['b'])} "
                     f"(AUC {c['auc_difference']:+.3f}, 95% CI {c['auc_difference_ci'][0]:+.3f} to "
                     f"{c['auc_difference_ci'][1]:+.3f})" for c in better + worse]
            others = len(comparisons) - len(parts)
            sentences.append("Compared on the same images, " + "; ".join(parts)
                             + ("; every other difference in ranking is within chance." if others else "."))
    floor = metrics.get("baselines", {}).get("trivial", {}).get("roc_auc")
    perturbations = metrics.get("perturbations", {})
    if floor is not None:
        gains = [g["auc_difference"] for g in metrics.get("gain_over_trivial", {}).values()]
        outside = [arm for arm in arms if (blanking_test(run, arm, perturbations)[1].get("ci") or [0])[0] > 0.5]
        text = (f"A simple model that sees only global image statistics (file size, brightness, contrast) already "
                f"reaches an AUC of {floor:.2f}; the networks add {min(gains):+.3f} to {max(gains):+.3f}.")
        if perturbations:
            text += (" With the thorax (or, for cropped versions, the lung fields) blanked out, "
                     + (f"{', '.join(esc(a) for a in outside)} still rank{'s' if len(outside) == 1 else ''} the "
                        "images better than chance, so part of what "
                        f"{'it uses' if len(outside) == 1 else 'they use'} lies outside the lungs." if outside else
                        "no version ranks the test images better than chance without the chest."))
        sentences.append(text)
    closing = []
    for name, by_arm in metrics.get("evaluation_sets", {}).items():
        rates = {a: r["false_positive_rate"] for a, r in by_arm.items() if r.get("false_positive_rate") is not None}
        if rates:
            low, high = min(rates, key=rates.get), max(rates, key=rates.get)
            closing.append(f"On {next(iter(by_arm.values())).get('n')} normal X-rays of another population "
                           f"({esc(set_label(name))}), the versions called pneumonia in {pct(rates[low])} "
                           f"({esc(low)}) to {pct(rates[high])} ({esc(high)}) of them.")
    closing.append("These are synthetic images: the run shows the method at work and nothing about patients."
                   if synthetic else "This is a research reproduction on one hospital's data, not a tool for "
                                     "diagnosing patients.")
    sentences.append(" ".join(closing))
    return "<div class='summary'><p>" + " ".join(sentences) + "</p></div>"


def regime_sentence(run: dict, training: dict) -> str:
    """How the run's models were trained, set against the paper's regime, in one sentence."""
    models = [(arm, t) for arm, by_seed in training.get("arms", {}).items() for t in by_seed["seeds"].values()]
    if not models:
        return ""
    settings, device = models[0][1].get("settings", {}), str(models[0][1].get("device", "CPU"))
    epochs, size, seeds = settings.get("epochs"), settings.get("model_input_size"), len(models) // len(training["arms"])
    backbone = BACKBONES.get(settings.get("backbone"))
    name = backbone.label if backbone else esc(settings.get("backbone", "the network"))
    if backbone is not None and not backbone.pretrained or settings.get("weights") in (None, "none"):
        trained = f"The {name} is trained from scratch (no pretrained weights)"
    elif settings.get("train_mode") == "frozen":
        trained = f"Only a new head is trained on the frozen ImageNet {name} features"
    elif settings.get("finetune_from_block"):
        trained = f"{name} is fine-tuned from <code>{esc(settings['finetune_from_block'])}</code> on"
    else:
        trained = f"All of {name}'s layers are trained from the ImageNet weights"
    text = (f"{trained}, for {epochs} epoch{'' if epochs == 1 else 's'} at {size} px on a {esc(device)}, "
            f"{seeds} seed{'' if seeds == 1 else 's'} per arm")
    if (settings.get("train_mode"), settings.get("finetune_from_block"), size, epochs) != ("finetune", None, 400, 100):
        text += ("; the paper trained all layers for 100 epochs at 400 px on a GPU (<code>params/paper.yaml</code>, "
                 + ("not run here" if "GPU" in device else "which needs a GPU and was not run here")
                 + "), so what this run says about the preprocessing holds for its own, shorter regime")
    return text + "."


def readme_headline(run_dir: str | os.PathLike) -> str:
    """The README's headline of a run in Markdown, built from its records (never typed by hand): a sentence that
    says which operating point the table is at and how the models were trained, then the table."""
    import re

    from ..evaluation.classification import METRIC_LABELS
    from ..evaluation.tables import arms_table

    run_dir = Path(run_dir)
    run, metrics = read_record(run_dir / "run.json"), read_record(run_dir / "metrics.json")
    _, named = lead_records(metrics)
    seeds = len(metrics.get("seeds", []))
    n = next(iter(metrics["arms"].values())).get("n")
    regime = re.sub(r"</?code>", "`", regime_sentence(run, read_record(run_dir / "training.json")))
    lines = [f"On the {n} test images, at the {named}; each cell is the mean over {seeds} seeds ± the SD between "
             "seeds (95% interval resampling patients and seeds). " + regime, ""]
    table = arms_table(metrics["arms"], point=metrics.get("headline", {}).get("point"))
    columns = ["accuracy", "sensitivity", "specificity", "precision", "f1", "roc_auc"]
    header = ["arm", "accuracy", "sensitivity", "specificity", "precision", "F1", "ROC AUC"]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join([arm_label(run, arm), *(str(row[METRIC_LABELS[c]]) for c in columns)]) + " |"
              for arm, row in table.iterrows()]
    trivial = metrics.get("baselines", {}).get("trivial")
    if trivial:
        lo, hi = trivial["ci"]["roc_auc"]
        lines.append("| trivial floor (global image statistics) | " + " | ".join(["–"] * 5)
                     + f" | {trivial['roc_auc']:.3f} ({lo:.3f}–{hi:.3f}) |")
    paper = paper_printed()
    lines.append("| paper (as printed) | " + " | ".join("–" if paper[c] is None else f"{paper[c]:.0%}" for c in columns)
                 + " |")
    return "\n".join(lines) + "\n"
