"""The sections of the run's front page: data, method, results, Grad-CAM, shortcut audit, limitations."""

from __future__ import annotations

from pathlib import Path

from ..models.backbones import BACKBONES
from .html import arm_label, ci_text, esc, figure_html, frame_html, html_table, missing_step, pct, set_label
from .summary import blanking_test

__all__ = ["pipeline_diagram", "data_section", "method_section", "results_section", "gradcam_section", "audit_section", "limitations"]


def data_section(data: dict) -> str:
    if not data:
        return missing_step("01")
    counts = data.get("counts", {})
    rows = [[subset, c.get("NORMAL", 0), c.get("PNEUMONIA", 0), c.get("NORMAL", 0) + c.get("PNEUMONIA", 0)]
            for subset, c in counts.items()]
    leak = data.get("leakage", {})
    text = (f"<p><strong>{esc(data.get('description'))}</strong>. Folder: <code>{esc(Path(str(data.get('root'))).name)}</code>; "
            f"manifest hash <code>{esc(str(data.get('manifest_sha256'))[:16])}…</code>.</p>"
            "<p>The release's test split is the evaluation set and is read only by the evaluation steps. Validation "
            "(epoch and threshold choice) is carved from the training split by patient identifier, stratified by "
            "class.</p>")
    released = data.get("release_counts", {})
    if released:
        text += html_table([[split, c.get("NORMAL", 0), c.get("PNEUMONIA", 0), c.get("NORMAL", 0) + c.get("PNEUMONIA", 0)]
                        for split, c in released.items()], ["split as released", "NORMAL", "PNEUMONIA", "total"])
    text += html_table(rows, ["subset used here", "NORMAL", "PNEUMONIA", "total"])
    if leak:
        text += (f"<p>Byte-identical files: {leak.get('n_duplicate_groups', 0)} groups "
                 f"({leak.get('n_duplicate_files', 0)} files), {leak.get('n_groups_crossing_subsets', 0)} crossing "
                 f"subsets. {_patients_sentence(leak)}</p>")
    return text


def _patients_sentence(leak: dict) -> str:
    """Which patients occur in more than one subset, counted by number and by number and subtype (step 01)."""
    numbers, keyed = leak.get("n_cross_split_patients", 0), leak.get("n_cross_split_patients_by_subtype")
    if not numbers:
        return "No patient number occurs in more than one subset."
    text = (f"{numbers} patient numbers occur in both the release's train and test folders; the file names number "
            "bacterial and viral patients in separate sequences, ")
    if keyed is None:
        return text + "so the names cannot tell whether these are the same children."
    return text + ("and keyed by number and subtype no patient is in both." if keyed == 0 else
                   f"and keyed by number and subtype {keyed} patients are in both.")


def pipeline_diagram(run: dict, training: dict) -> str:
    """The study's pipeline as one row per arm: the paper's steps left to right, each applied or skipped."""
    p = run.get("parameters", {})
    arms = p.get("arms", {})
    if not arms:
        return ""
    size = p.get("preprocess_size", "?")
    settings = next((t.get("settings", {}) for by_seed in training.get("arms", {}).values()
                     for t in by_seed["seeds"].values()), {})
    steps = [("radiograph", None), (f"resize to {esc(size)}×{esc(size)}", None),  # HTML: numbers and arrows
             (f"CLAHE (clip {p.get('clahe_clip_limit', '?')}, {p.get('clahe_tile_grid', '?')}×"
              f"{p.get('clahe_tile_grid', '?')} tiles)", "clahe"),
             (f"thorax ROI: mean threshold → morphological snakes → {p.get('roi_mean_filter', '?')}×"
              f"{p.get('roi_mean_filter', '?')} mean filter → box → crop", "roi"),
             (f"resize to {settings.get('model_input_size', p.get('model_input_size', '?'))} px", None),
             (f"{esc(BACKBONES[p['backbone']].label if p.get('backbone') in BACKBONES else '?')} → P(pneumonia)",
              None),
             ("threshold chosen on validation", None)]
    rows = "".join(
        f"<tr><th>{esc(arm)}</th>" + "".join(
            f"<td class='{'on' if key is None or spec.get(key) else 'off'}'>"
            f"{step if key is None or spec.get(key) else 'skipped'}</td>" for step, key in steps) + "</tr>"
        for arm, spec in arms.items())
    return (f"<div class='wide'><table class='pipeline'><caption>The pipeline of each arm, left to right: every arm "
            "shares the steps in blue; CLAHE and the thorax crop are what the arms differ in.</caption>"
            f"<tbody>{rows}</tbody></table></div>")


def method_section(run: dict, roi: dict, training: dict) -> str:
    p = run.get("parameters", {})
    text = (pipeline_diagram(run, training) + "<h3>Preprocessing and ROI (paper §3.2–3.3)</h3>"
            f"<p>Each radiograph is resized to {p.get('preprocess_size', '?')}×{p.get('preprocess_size', '?')} and "
            f"enhanced with CLAHE (clip limit {p.get('clahe_clip_limit', '?')}, {p.get('clahe_tile_grid', '?')}×"
            f"{p.get('clahe_tile_grid', '?')} tiles). The thorax ROI follows the paper's operations (mean-intensity "
            "threshold, morphological active contours, "
            f"{p.get('roi_mean_filter', '?')}×{p.get('roi_mean_filter', '?')} mean filter on the mask, bounding box, "
            f"margin {p.get('roi_margin', '?')}); how each underspecified step was read is explained in the "
            "preprocessing section. The crop is resized to the network input.</p>")
    if roi.get("dataset"):
        d = roi["dataset"]
        text += html_table([["images", d.get("n")], ["median box area (share of image)", pct(d.get("area_median"))],
                        ["fallback to whole image", pct(d.get("fallback_rate"))]], ["ROI on this dataset", ""])
    if roi.get("lungmasks"):
        lm = roi["lungmasks"]
        text += html_table([["radiographs with masks", lm["n"]], ["median lung coverage", pct(lm["coverage_median"])],
                        ["5th percentile lung coverage", pct(lm["coverage_p05"])],
                        ["median box area", pct(lm["area_median"])], ["fallback rate", pct(lm["fallback_rate"])]],
                       [f"ROI against manual lung masks ({Path(lm.get('source', 'lungmask_dir')).name})", ""])
    text += "<h3>Classifier (paper §3.4, §4.2)</h3>"
    if not training:
        return text + missing_step("03")
    models = [(arm, seed, t) for arm, by_seed in training.get("arms", {}).items()
              for seed, t in by_seed["seeds"].items()]
    from ..models.settings import settings_table

    text += ("<p>A new head (global average pooling, dropout, one sigmoid unit) on the backbone in the table; Adam with the paper's exponential decay Lr = Lr<sub>i</sub>·D<sup>s/ds</sup>, class weights for "
             "the imbalance; every arm is trained once per seed with the same settings; the epoch is chosen by "
             "validation AUC and the three operating points on validation only. The paper's Table 1 (its "
             "hyperparameters) is lost from our copy, so the values below are this study's choice where the "
             "source column says so.</p>")
    text += frame_html(settings_table(models[0][2]["settings"]))
    rows = [[arm_label(run, arm), seed, t.get("best_epoch"), t.get("epochs_run"), f"{t.get('val_auc', float('nan')):.3f}",
             f"{t.get('threshold', float('nan')):.3f}", t.get("train_seconds")] for arm, seed, t in models]
    text += html_table(rows, ["arm", "seed", "best epoch", "epochs run", "validation AUC",
                          "threshold (Youden, on validation)", "training seconds"])
    return text


def results_section(run_dir: Path, run: dict, training: dict, metrics: dict) -> str:
    arms = metrics.get("arms")
    if not arms:
        return missing_step("04")
    from ..evaluation.operating_points import OPERATING_POINTS, POINT_LABELS
    from ..evaluation.tables import arms_table
    from ..evaluation.literature import paper_table2, trained_as

    seeds = metrics.get("seeds", [])
    headline = metrics.get("headline", {})
    lead = headline.get("point")
    text = (f"<h3>Test metrics per arm: mean over {len(seeds)} {'seeds' if len(seeds) > 1 else 'seed'} ± SD between "
            "seeds (95% interval resampling patients and seeds)</h3>")
    spreads = {p: v for p, v in headline.get("max_specificity_sd", {}).items() if v is not None}
    spread = ("between-seed SD of specificity, in points: "
              + ", ".join(f"{esc(POINT_LABELS[p])} up to {100 * v:.1f}" for p, v in spreads.items()) if spreads else
              "one seed, so no between-seed spread is measured")
    text += (f"<p>Headline: {esc(OPERATING_POINTS[lead])}. " if lead else
             "<p>Headline: threshold-free (ROC AUC, average precision). ") + (
        f"{spread[0].upper() + spread[1:]}; the rule: {esc(headline.get('rule', ''))}.</p>")
    if metrics.get("operating_point_stability"):
        from ..evaluation.tables import stability_table

        text += ("<details><summary>How far each threshold rule moves between seeds</summary>"
                 + frame_html(stability_table(metrics["operating_point_stability"])) + "</details>")
    shown = lead or "youden"  # threshold-free headline: the figures are drawn at Youden's threshold
    for point, meaning in OPERATING_POINTS.items():
        text += (f"<details{' open' if point == shown else ''}><summary><strong>At the {esc(POINT_LABELS[point])} "
                 f"threshold</strong> ({esc(meaning)})</summary>{frame_html(arms_table(arms, point=point))}</details>")
    if any(m.get("fallback_images") for m in arms.values()):
        n = next(iter(arms.values()))["fallback_images"]
        text += (f"<h4>Without the {n} test images whose ROI fell back to the whole image or gave an implausible box "
                 "(same images left out for every arm)</h4>" + frame_html(arms_table(arms, point="without_fallback")))
    text += _subtypes_and_prevalence(run, metrics)
    if metrics.get("comparisons"):
        from ..evaluation.tables import comparisons_table

        text += ("<h3>Arms compared on the same images</h3><p>Equivalent: the interval lies inside the stated margin; "
                 "no difference detected: neither, with the smallest difference the study could detect.</p>"
                 + frame_html(comparisons_table(metrics["comparisons"])))
    text += "<h3>The paper's Table 2, rebuilt</h3>"
    text += ("<p class='muted'>Published columns are quoted from the papers ('-': not reported); the Kermany 2018 "
             "column is our addition; ours are measured in this run (means over seeds).</p>"
             + frame_html(paper_table2({arm: {**m, **trained_as(training.get("arms", {}), arm)}
                                    for arm, m in arms.items()})))
    for name in ("04_roc", "04_precision_recall", "04_confusion_matrices", "04_errors_by_subtype", "04_calibration"):
        text += figure_html(run_dir, name)
    return text


def _auc_text(r: dict) -> str:
    """``0.983 ± 0.003 (0.971–0.992)``; the SD and the interval only where they were measured (more than one seed,
    enough resamples)."""
    sd = f" ± {r['sd']:.3f}" if r.get("sd") is not None and r["sd"] == r["sd"] else ""
    ci = r.get("ci") or [None, None]
    return f"{r['roc_auc']:.3f}{sd}" + (f" ({ci[0]:.3f}–{ci[1]:.3f})" if None not in ci else "")


def _subtypes_and_prevalence(run: dict, metrics: dict) -> str:
    """Each arm's ROC AUC per pneumonia subtype, and its PPV and NPV at the test split's and stated prevalences."""
    from ..evaluation.operating_points import POINT_LABELS

    text = ""
    subtypes = metrics.get("subtype_auc", {})
    if subtypes:
        from ..evaluation.over_seeds import SUBTYPE_LABELS

        columns = list(next(iter(subtypes.values())))
        rows = [[arm_label(run, arm)] + [_auc_text(r[c]) for c in columns] for arm, r in subtypes.items()]
        text += ("<h3>Pneumonia subtypes</h3><p>ROC AUC of each subtype's test images against every NORMAL test "
                 "image: mean ± SD between seeds (95% interval over patients and seeds).</p>"
                 + html_table(rows, ["arm"] + [f"{SUBTYPE_LABELS.get(c, c)} vs NORMAL" for c in columns]))
    values = metrics.get("predictive_values", {})
    if values.get("arms"):
        prevalences = [v["prevalence"] for v in next(iter(values["arms"].values()))]
        rows = [[arm_label(run, arm)] + [f"{pct(v['ppv'])} / {pct(v['npv'])}" for v in by_prevalence]
                for arm, by_prevalence in values["arms"].items()]
        header = ["arm"] + [f"prevalence {pct(p)}" + (" (the test split)" if p == values.get("test_prevalence")
                                                      else " (stated)") for p in prevalences]
        text += ("<h3>What a call means at another prevalence</h3><p>Positive and negative predictive value (PPV / "
                 f"NPV) at the {esc(POINT_LABELS.get(values.get('operating_point'), ''))} threshold, mean over "
                 "seeds: measured at the test split's prevalence, and computed from sensitivity and specificity "
                 f"by Bayes' rule at stated prevalences ({esc(values.get('formula', ''))}); the stated prevalences "
                 "are illustrations, not measured populations.</p>" + html_table(rows, header))
    return text


def gradcam_section(run_dir: Path, run: dict, metrics: dict) -> str:
    summaries = metrics.get("gradcam")
    if not summaries:
        return missing_step("05")
    from ..audit.gradcam_summaries import summary_table

    text = ("<p>Heatmap mass is measured in the frame each network saw: the whole image for arms without the crop, "
            "the ROI box for cropped arms (which see nothing else), each against that frame's chance level (the "
            "region's share of it). Means over every seed's model and the test images.</p>")
    text += frame_html(summary_table({arm_label(run, arm): m for arm, m in summaries.items()}))
    for name in ("05_fig8_examples", "05_failures", "05_mass_distributions"):
        text += figure_html(run_dir, name)
    return text


def audit_section(run: dict, metrics: dict) -> str:
    if "perturbations" not in metrics:
        return missing_step("04")
    arms = metrics.get("arms", {})
    trivial = metrics.get("baselines", {}).get("trivial", {})
    text = ("<p>Does each arm's network add to what a trivial model on global image statistics (file size, grey-level "
            "statistics, border band, central half) already gets, and do its decisions need the thorax?</p>")
    rows = []
    for arm, m in arms.items():
        gain = metrics.get("gain_over_trivial", {}).get(arm, {})
        p = metrics["perturbations"].get(arm, {})
        blanked = p.get("thorax_blanked", {})
        mask = p.get("mask_blanked", {})
        swap = p.get("swap", {})

        def auc(entry):
            return (f"{entry['roc_auc']:.3f} ({entry['ci'][0]:.3f}–{entry['ci'][1]:.3f})"
                    if entry.get("roc_auc") is not None else "n/a")

        rows.append([arm_label(run, arm), ci_text(m, "roc_auc", percent=False),
                     (f"{gain['auc_difference']:+.3f} ({gain['auc_difference_ci'][0]:+.3f} to "
                      f"{gain['auc_difference_ci'][1]:+.3f})") if gain else "n/a",
                     auc(p.get("none", {})), auc(blanked), auc(mask), auc(p.get("thorax_only", {})),
                     pct(swap.get("follows_thorax_rate"))])
    text += (f"<p>Trivial floor: ROC AUC {ci_text(trivial, 'roc_auc', percent=False)} on the test split; file size alone "
             f"{trivial.get('file_size_roc_auc', float('nan')):.3f}.</p>")
    text += html_table(rows, ["arm", "ROC AUC", "gain over the trivial floor (95% CI)", "AUC, audit sample",
                          "thorax box blanked", "lung fields blanked", "thorax only", "swap: follows the thorax"])
    notes = []
    for arm in arms:
        region, entry = blanking_test(run, arm, metrics["perturbations"])
        if entry.get("ci") and entry["ci"][0] is not None and entry["ci"][0] > 0.5:
            notes.append(f"<strong>{esc(arm)}</strong> keeps an AUC of {entry['roc_auc']:.3f} with the {region} "
                         f"blanked: it uses signal outside {'them' if region.endswith('s') else 'it'}.")
    if notes:
        text += "<p>" + " ".join(notes) + "</p>"
    for name, by_arm in metrics.get("evaluation_sets", {}).items():
        rows = [[arm_label(run, arm), pct(r.get("false_positive_rate")),
                 ", ".join(pct(v) for v in r.get("per_seed", [])),
                 f"{pct(r['ci'][0])}–{pct(r['ci'][1])}" if r.get("ci") else "", r.get("n")]
                for arm, r in by_arm.items() if "false_positive_rate" in r]
        about = metrics.get("evaluation_set_descriptions", {}).get(name, {})
        if rows:
            text += (f"<h4>{esc(set_label(name))}</h4>"
                     + "".join(f"<p><em>{esc(k)}:</em> {esc(v)}</p>" for k, v in about.items() if v)
                     + html_table(rows, ["arm", "false-positive rate (mean over seeds)", "per seed",
                                     "95% CI (images and seeds)", "images"]))
    grad = metrics.get("gradcam", {})
    rows = []
    for arm, g in grad.items():
        f = g.get("faithfulness")
        if not f:
            continue
        rows.append([arm_label(run, arm),
                     ", ".join(f"{k} {v:.2f}" for k, v in g.get("randomization_spearman", {}).items() if v is not None)]
                    + [f"{f[c]['gain']:+.2f} ({f[c]['gain_ci'][0]:+.2f} to {f[c]['gain_ci'][1]:+.2f}): {f[c]['verdict']}"
                       for c in ("deletion", "insertion")])
    if rows:
        n = next(g["faithfulness"]["n"] for g in grad.values() if g.get("faithfulness"))
        text += ("<h4>Grad-CAM maps checked</h4><p>Spearman correlation of the maps after randomizing the head and then "
                 "deeper blocks (should fall towards 0); deletion and insertion on the logit of the explained class, on "
                 f"{n} test images of both classes and every seed: how much the map beats a random pixel order "
                 "(95% CI over patients and seeds), and the verdict as measured (faithful only where the interval "
                 "lies above 0).</p>"
                 + html_table(rows, ["arm", "randomization (cascading)", "deletion: map beats random by",
                                 "insertion: map beats random by"]))
    return text


def limitations(run: dict, data: dict, roi: dict, training: dict, metrics: dict) -> str:
    items = []
    if data.get("source") == "synthetic":
        items.append("The data is synthetic: generated radiographs with a planted shortcut. The run shows the "
                     "method at work, not how it performs on patients.")
    elif "224x224" in data.get("description", ""):
        items.append("The images are third-party 224×224 copies of the Kermany release (aspect ratio not kept), "
                     "not the full-resolution originals the paper used; the 400×400 preprocessing upsamples them.")
    if data.get("source") != "synthetic":
        items.append("Single-centre paediatric data (Guangzhou Women and Children's Medical Center, children aged "
                     "one to five): results need not transfer to adults or to other hospitals and devices.")
        leak = data.get("leakage", {})
        items.append(f"The release holds {leak.get('n_duplicate_groups', '?')} groups of byte-identical files. "
                     f"{_patients_sentence(leak)} Validation is split from train by patient number (conservative: it "
                     "may merge two children, never split one).")
    models = [(arm, t) for arm, by_seed in training.get("arms", {}).items() for t in by_seed["seeds"].values()]
    arms = metrics.get("arms", {})
    if models and arms:
        val_aucs = {}
        for arm, t in models:
            val_aucs.setdefault(arm, []).append(t["val_auc"])
        gaps = {arm: sum(aucs) / len(aucs) - arms[arm]["roc_auc"] for arm, aucs in val_aucs.items() if arm in arms}
        widest = max(gaps, key=gaps.get)
        items.append("Epochs and thresholds are chosen on validation images, which are easier than the test split: "
                     f"the largest gap is {esc(widest)}'s, validation ROC AUC {arms[widest]['roc_auc'] + gaps[widest]:.3f} "
                     f"against test {arms[widest]['roc_auc']:.3f}. A threshold that suits validation need not suit "
                     "test; the three operating points show how much that matters.")
        last = sum(t.get("best_epoch") == t.get("epochs_run") for _, t in models)
        if last:
            items.append(f"For {last} of {len(models)} models the best validation epoch was the last one trained: "
                         "longer training might have helped them.")
    failures = [(roi[key], what) for key, what in (("fallback", "fell back to the whole image"),
                                                    ("implausible", "gave a box flagged implausible"))
                if roi.get(key, {}).get("count")]
    if failures:
        said = "; ".join(f"{what} for {f['count']} of {f['n']} of the study's images ("
                         + ", ".join(f"{label} {pct(v['rate'])}" for label, v in f["by_label"].items()) + ")"
                         for f, what in failures)
        shown = any(m.get("fallback_images") for m in metrics.get("arms", {}).values())
        items.append(f"The thorax crop {said}. A failure more common in one class frames that class differently, a cue "
                     "the network could learn" + ("; the results section repeats the metrics without those images."
                                                  if shown else "."))
    agreement = roi.get("fast_vs_reference", {})
    if agreement:
        items.append(f"The ROI is computed on a reduced-size fast path; on {agreement['images']} images checked in this "
                     f"run its box agrees with the full-size reference with median IoU "
                     f"{agreement['box_iou_median']:.2f} (the preprocessing section shows the worst cases).")
    items.append("The paper's Table 1 (hyperparameters) and its figures are lost from our copy of the paper; the "
                 "settings in the method section are this study's choices, and the paper's own Table 2 row is not internally "
                 "consistent (see the evaluation section).")
    return "<ul>" + "".join(f"<li>{item}</li>" for item in items) + "</ul>"
