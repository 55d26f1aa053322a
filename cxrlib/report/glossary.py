"""The report's glossary: one line per term, and a link from each term's first use on a page to its entry."""

from __future__ import annotations

import re

from .html import esc

__all__ = ["GLOSSARY", "glossary_html", "link_terms"]

#: term -> (the words that name it in running text, a regular expression; its one-line explanation).
GLOSSARY = {
    "arm": (r"\barms?\b", "One way of preparing the images (e.g. CLAHE, or CLAHE plus the thorax crop); every arm "
                          "trains the same network with the same settings, so arms differ only in their images."),
    "seed": (r"\bseeds?\b", "The random start of one training run; each arm is trained once per seed, and the spread "
                            "between seeds shows how much a result owes to chance in training."),
    "CLAHE": (r"\bCLAHE\b", "Contrast-limited adaptive histogram equalization: local contrast enhancement in tiles, "
                            "with a clip limit that keeps noise from being amplified (the paper's first step)."),
    "ROI": (r"\bROI\b|\bthorax crop\b|\bthorax box\b", "Region of interest: here the bounding box of the rib cage "
                                                       "found by the paper's steps; cropped arms see only this box."),
    "ROC AUC": (r"\bROC AUC\b|\bAUC\b", "Area under the ROC curve: the probability that a random pneumonia image "
                                       "scores higher than a random normal one (1 perfect, 0.5 chance); it does not "
                                       "depend on a threshold."),
    "average precision": (r"\baverage precision\b", "Area under the precision-recall curve: precision averaged over "
                                                    "every recall level; its chance level is the prevalence."),
    "sensitivity": (r"\bsensitivity\b", "Share of pneumonia images called pneumonia (recall, true-positive rate)."),
    "specificity": (r"\bspecificity\b", "Share of normal images called normal (1 − false-positive rate)."),
    "precision": (r"\bprecision\b(?!-recall)|\bPPV\b", "Share of images called pneumonia that are pneumonia "
                                                      "(positive predictive value, PPV); it depends on prevalence."),
    "NPV": (r"\bNPV\b", "Negative predictive value: share of images called normal that are normal; it depends on "
                        "prevalence."),
    "F1": (r"\bF1\b", "Harmonic mean of precision and sensitivity."),
    "operating point": (r"\boperating points?\b|\bthreshold rules?\b", "The threshold on P(pneumonia) above which an "
                                                                       "image is called pneumonia, chosen on "
                                                                       "validation images by a stated rule."),
    "Youden's J": (r"\bYouden(?:'s J)?\b", "Sensitivity + specificity − 1; the Youden threshold is the validation "
                                           "threshold that maximises it."),
    "validation": (r"\bvalidation\b", "Images held out of the train split by patient; they choose the epoch and the "
                                      "thresholds. The test split chooses nothing."),
    "bootstrap interval": (r"\b95% (?:CI|intervals?)\b|\bintervals?\b", "Resampling patients (all their images "
                                                                       "together) and seeds with replacement, 2000 "
                                                                       "times; the middle 95% of the recomputed "
                                                                       "values."),
    "equivalent": (r"\bequivalent\b", "Both ends of the interval of a difference lie inside a margin fixed "
                                      "beforehand (±0.02 in AUC): the difference is too small to matter."),
    "trivial floor": (r"\btrivial floor\b", "What a logistic regression on global image statistics (file size, "
                                            "brightness, contrast, border) reaches: signal that is not anatomy."),
    "Brier score": (r"\bBrier\b(?: score)?", "Mean squared difference between the predicted probability and the "
                                             "label (0 perfect); lower is better."),
    "calibration": (r"\bcalibration\b", "Whether a predicted probability of 0.8 comes true 8 times in 10."),
    "McNemar": (r"\bMcNemar(?:'s test)?\b", "A test of whether the images one model gets right and another gets "
                                            "wrong are split evenly between them (same images, paired)."),
    "Wilcoxon": (r"\bWilcoxon\b(?: signed-rank)?", "A paired test on ranks of per-image differences, without assuming "
                                                  "a distribution."),
    "Grad-CAM": (r"\bGrad-CAM\b", "A heatmap of where in the image the last convolutional features that raised the "
                                  "predicted class were (gradient-weighted class activation map)."),
    "chance level": (r"\bchance\b", "For heatmap mass: the region's share of the frame, what a map spread evenly "
                                    "would give; for AUC: 0.5."),
    "pointing game": (r"\bpointing(?: game)?\b", "Whether a heatmap's hottest point falls inside the region (here the "
                                                 "lung fields)."),
    "deletion and insertion": (r"\bdeletion\b|\binsertion\b", "Removing (or adding) image regions in the map's order "
                                                              "of importance and watching the score: a faithful map "
                                                              "moves it faster than a random order."),
    "cascading randomization": (r"\brandomi[sz](?:ation|ing)\b", "Re-drawing the weights from the top layer down: a "
                                                                 "map that does not change depends not on what the "
                                                                 "network learned (should fall towards 0)."),
    "blanking": (r"\bblanked\b|\bblanking\b", "Filling a region with one grey level (the mean of training images, "
                                              "the same for every image and class) and scoring again."),
}

_SKIP = {"a", "code", "h1", "h2", "h3", "h4", "title", "style", "script", "figcaption", "th", "dt", "nav", "summary"}
_TAG = re.compile(r"(<[^>]+>)")
_NAME = re.compile(r"</?\s*([a-zA-Z0-9]+)")


def term_id(term: str) -> str:
    return "g-" + re.sub(r"[^a-z0-9]+", "-", term.lower()).strip("-")


def glossary_html() -> str:
    """The glossary as a definition list, each entry with the anchor that :func:`link_terms` links to."""
    rows = "".join(f"<dt id='{term_id(term)}'>{esc(term)}</dt><dd>{esc(text)}</dd>"
                   for term, (_, text) in sorted(GLOSSARY.items(), key=lambda item: item[0].lower()))
    return f"<dl class='glossary'>{rows}</dl>"


def link_terms(page: str, *, target: str = "") -> str:
    """Link each glossary term's first use in ``page``'s running text to its entry (``target#g-term``).

    Text inside links, code, headings, captions, table headers and the glossary itself is left alone.
    """
    pending = {term: re.compile(pattern) for term, (pattern, _) in GLOSSARY.items()}
    open_tags: list[str] = []
    out = []
    for piece in _TAG.split(page):
        if piece.startswith("<"):
            match = _NAME.match(piece)
            name = match.group(1).lower() if match else ""
            if piece.startswith("</"):
                if name in open_tags:
                    del open_tags[len(open_tags) - 1 - open_tags[::-1].index(name):]
            elif name in _SKIP or "class='glossary'" in piece:
                open_tags.append(name)
            out.append(piece)
            continue
        if open_tags or not piece.strip() or not pending:
            out.append(piece)
            continue
        piece = _link_text(piece, pending, target)
        out.append(piece)
    return "".join(out)


def _link_text(text: str, pending: dict, target: str) -> str:
    """Link, left to right, the first use of each term still pending in one run of text."""
    out = []
    while pending:
        found = [(m.start(), term, m) for term, pattern in pending.items() if (m := pattern.search(text))]
        if not found:
            break
        _, term, match = min(found, key=lambda item: item[0])
        out.append(text[:match.start()] + f"<a class='term' href='{target}#{term_id(term)}'>{match.group(0)}</a>")
        text = text[match.end():]
        del pending[term]
    return "".join(out) + text
