# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 02 · Preprocessing and thorax ROI
#
# The paper's sections 3.2-3.3: every radiograph is resized to a square, equalized with CLAHE, and cropped to
# the thorax, found with a mean threshold, morphological active contours, a 21x21 mean filter and a bounding
# box. This notebook shows each step (the paper's Fig. 4 and Fig. 5 and every intermediate stage), measures the
# ROI over the whole data set and, when a folder of manual lung masks is given, how much of the lungs the box
# keeps. It explains how the paper's under-specified description was read, and why.
#
# **Inputs:** `manifest.csv` and `data.json` from notebook 01 in the run folder; optionally `lungmask_dir`
# (`images/` and `masks/` with the same file stems). **Outputs:** `processed.csv` (the manifest plus the
# cached crop, the ROI box as fractions of the image, the lung-mask area and path and the fallback flag), which
# training reads; `roi.json` (the parameters and the numbers below, for the report); figures `02_*.png`. The cached
# crops live under `work_dir`, keyed by image content and parameters.

# %% tags=["parameters"]
run_dir = "reports/dev"
work_dir = "data/work"
preprocess_size = 400
clahe_clip_limit = 2.0
clahe_tile_grid = 8
roi_margin = 0.04
roi_mean_filter = 21
model_input_size = 224
lungmask_dir = None
seed = 0
arms = {"original": {"clahe": False, "roi": False}, "paper": {"clahe": True, "roi": True}}

# %%
from cxrlib import preprocess
from cxrlib.run import StudyRun

run = StudyRun(run_dir, step="02")
manifest, synthetic = run.read_csv("manifest.csv"), run.is_synthetic
config = preprocess.PreprocessConfig(preprocess_size=preprocess_size, clahe_clip_limit=clahe_clip_limit,
                                     clahe_tile_grid=clahe_tile_grid, roi_margin=roi_margin,
                                     roi_mean_filter=roi_mean_filter, output_size=model_input_size)
run.display(preprocess.parameters_note(run.data["description"], config))

# %% [markdown]
# ## 1. How the paper's ROI step is read here
#
# The paper binarizes the equalized image at its mean (Eq. 1-2: bright pixels white), evolves a morphological
# active contour from that binary image, mean-filters the mask with a 21x21 window "to drop regions that are not
# lung", and takes the bounding box as the rib cage. Read literally (box around the white), the box covers
# almost the whole radiograph: shoulders, arms, neck and the burned-in labels are as bright as the thorax, and
# they are what the step exists to remove. Every operation is kept; they are applied to the **lung fields**,
# the dark regions inside the body, whose box is the rib cage.
#
# | step | choice | why |
# |---|---|---|
# | resize | a `preprocess_size` square, area interpolation; the aspect ratio is not kept | the paper resizes every radiograph to 400 x 400 |
# | CLAHE | OpenCV's, clip limit `clahe_clip_limit`, `clahe_tile_grid` tiles per side | the paper gives no values; these are OpenCV's usual ones. As in the paper, the ROI is found on the equalized image, where the lungs are darker than the mean across the whole field |
# | frame | flat rows and columns along the edges (padding, a scanner's frame) are set aside; flat regions that touch an edge (a rotated film's black corners) count as air outside the body | a frame is not part of the radiograph, and it would hide the air around the body from the edge rules below; a corner along the lower edge would pass for a lung base |
# | smoothing | Gaussian, sigma 0.5 % of the side, before the threshold | removes noise and fine vessels, so that the steps behave alike at any resolution |
# | mean threshold (Eq. 1-2) | the pixels darker than the mean are the lung candidates; the mean is taken over the body (the box of the largest bright region), after the air outside the body (row *outside air*) is painted over with the body's mean | lungs hold air and are dark on a radiograph; labels, bones and arms are bright and drop out. The air around the body is darker still: left in, it pulls the mean down and takes the lungs' place as the contour's dark region, and no lung field is found |
# | active contour | morphological Chan-Vese (Marquez-Neila et al. 2014), started from the binary image | a region-based contour turns the rib-striped dark pixels into whole lung regions |
# | 21 x 21 mean filter | on the contour's mask; a pixel stays when at least half its window is inside (a majority vote) | drops small dark blobs and thin bridges, as the paper intends |
# | outside air | the dark regions are cut at narrow necks; a piece is air outside the body when it touches a side edge without reaching within 0.2 of the image width of the body's midline, or when it touches the top edge, unless its wide part (cut again where it is wider than twice the neck) runs from the top edge down below half the height within that reach of the midline: a lung cut at its apex by a tight frame. A piece that touches only the lower edge is a lung base cut off by the frame and stays; pieces under 10 % of the largest are dropped. What a wider cut (two or three times the neck) puts in a piece that is not air stays | the box must hold the lungs, not the air around the body. Air beside the chest wall or the arms lies far out to the side, while a lung reaches in to the middle of the chest; air above the shoulders ends at the shoulders, while a lung runs down to the diaphragm. A lung joined to the air above the shoulders by a wide neck would otherwise be painted out with the air |
# | thin parts | before the box is taken, the lung fields keep only the pixels within 2 x `split_radius` of their cores (the pixels at least `split_radius` inside them) | a dark strip along the frame or beside an arm that touches a lung would otherwise stretch the box to wherever the strip ends; the lungs themselves keep every pixel |
# | polarity | when the lung fields cross the mediastinum (over the lower two thirds of their rows, no column of the middle half of their width is nearly free of them) or lie on one side only, the image's negative is read too, and taken when it shows two lungs apart (such a column, with the two sides within a factor 4 in area); the reading is recorded (`inverted`) | on a film of inverted polarity (white lungs, a photometric tag lost) the dark regions are the body around the lungs, across the mediastinum; the trachea may join the apices, hence the lower rows; the inverted stress set of `roi-eval --stress` is read as well as the films themselves |
# | box | the lung fields' bounding box, plus `roi_margin` of its height and width on each side; mirrored about the spine when one side holds less than half the lung area of the other; extended downwards when flatter than 0.8 (height / width) | an opaque lung (consolidation, effusion) is not dark and would otherwise be cut off, although it is the very finding the classifier needs; the lung bases are what the dark mask misses first, and lung fields are about as tall as wide |
# | no geodesic growth | the paper's contour is not grown further out to strong edges (`grow_iterations` is 0) | at the working resolution the growth leaked through gaps in the edges and made boxes too large; the lung fields' box keeps the lungs without it (section 8) |
# | working resolution | the contour steps run on a `contour_size` (100 x 100) copy; every length is a fraction of the side | fast enough for the whole data set on a CPU; section 7 compares the boxes with the same steps run at full size |
# | crop | the box cut out of the CLAHE image, stretched to a `model_input_size` square | the paper's processed image (its Fig. 5) |
# | fallback | the whole image, flagged, when no lung field is found, the lung mask is under 2 % of the image, or a box side is under 30 % of it | never a silent bad crop |
# | plausibility flags | a box that is not a fallback is flagged implausible when its area is under 0.45 or over 1.75 times the study's median box, its centre lies below 0.65 of the height, its height / width is under 0.55 or over 1.7, the lung fields on one side of its centre hold under 5 % of those on the other, or its film was read in the polarity that fewer of the study's films were read in | a box that was found can still be wrong (low over the abdomen, one lung lost, an opaque lung read on the negative). Section 6 counts the flagged images per class, and notebook 04 also gives its results without them. The bounds follow from what lung fields look like and were checked, not tuned, on adult films with lung masks |
#
# **How to check:** section 7 compares the fast path with the full-size reference on a few images of this run
# (`python benchmarks/preprocess.py --agreement 200` does so on 200); section 8 measures how much of the lungs the
# box keeps on manual lung masks (`python -m cxrlib roi-eval --images DIR/images --masks DIR/masks`).

# %% [markdown]
# ## 2. Resize and CLAHE (paper Fig. 4)

# %%
samples = preprocess.figure_samples(manifest, seed=seed)
titles = preprocess.sample_titles(samples, synthetic=synthetic)
run.show(preprocess.plot_clahe_examples(samples["path"].tolist(), titles, config), "clahe",
         "The paper's Fig. 4: each radiograph resized (left) and after CLAHE (right); local contrast rises in the "
         "lung fields and behind the heart.")

# %% [markdown]
# ## 3. The thorax ROI step by step
#
# One radiograph per row: the CLAHE image; the binary image of Eq. 1 (white: at or above the mean); the
# Chan-Vese contour of its dark part; after the 21x21 mean filter; the lung fields (outside air and small pieces
# dropped); the lung fields the box is taken around (green) with the box (red; orange on fallback); the crop.

# %%
run.show(preprocess.plot_roi_stages(preprocess.figure_samples(manifest, seed=seed + 1)["path"].tolist(), config),
         "stages", "Every stage of the ROI on a few radiographs, one per row: a box that misses part of a lung "
                   "shows here first, at the stage where the lung field was lost.")

# %% [markdown]
# ## 4. Preprocess the whole data set
#
# Every image goes through the chain once, over all cores; results are cached under `work_dir`, keyed by the
# file's sha256 and the parameters, so a rerun with the same parameters computes nothing. One image set is written
# per distinct preprocessing among the study's arms (the resized radiograph, CLAHE, the thorax crop, or both), all
# through the same resampling chain; the ROI box is found on the CLAHE image for every arm.

# %%
processed = preprocess.preprocess_study(manifest, work_dir, config, arms=run.arms(arms))
run.write_csv(processed, "processed.csv")
processed = preprocess.with_box_area(processed)
run.display(*preprocess.preprocess_notes(processed, run.arms(arms)))

# %% [markdown]
# ## 5. Original and processed images (paper Fig. 5)

# %%
run.show(preprocess.plot_processed_examples(samples["path"].tolist(), titles, config), "processed",
         "The paper's Fig. 5: each radiograph with its ROI box and lung outline (left) and the crop the cropped arms "
         "see (right): the crop drops burned-in labels, arms and neck.")

# %% [markdown]
# ## 6. ROI statistics and the worst cases
#
# Box area, height and width as fractions of the image, and the lung-mask area, per class (fallbacks left out of
# the histograms; their rate is in the legend). A fallback image is the whole radiograph: if fallbacks are much
# more frequent in one class, a model trained on the crops could tell the classes apart by the framing alone.

# %%
run.show(preprocess.plot_roi_statistics(processed), "roi_statistics",
         "The ROI box's area, centre and shape per class: where the classes' distributions differ, the crop frames "
         "them differently, a cue a network could learn instead of the disease.")
failures = preprocess.study_failures(processed)
run.display(preprocess.failures_sentence(**failures))

# %% [markdown]
# The worst cases without ground truth, per class of the study's own images (train, validation, test; the evaluation
# sets are another population): the three smallest boxes (most likely to have cut lung off),
# the three largest boxes that are not fallbacks (most likely to keep labels), the boxes flagged implausible and the
# fallbacks (the first 6 and 12 per class; `processed.csv` marks every one).

# %%
worst = preprocess.worst_cases(processed)
run.display(preprocess.unshown_sentence(processed, worst))
run.show(preprocess.plot_worst_cases(worst, config), "worst_cases",
         "The boxes least like the others (flagged implausible, fallbacks, extreme areas), each titled by why: "
         "where the crop is most likely to cut lung or keep too much.")

# %% [markdown]
# ## 7. Fast path against the full-size reference
#
# The same steps at full size, with scikit-image's `morphological_chan_vese` and
# `morphological_geodesic_active_contour` (iterations scaled by the size ratio), on a few images of this data
# set: IoU (overlap over union) of the lung masks and of the boxes, and the largest difference of a box edge
# (fraction of the side). The project's tests hold the boxes' IoU to a median of at least 0.95 and a 5th
# percentile of at least 0.90 on 200 real radiographs (the sample `benchmarks/preprocess.py --agreement 200` draws).

# %%
agreement = preprocess.compare_to_reference(samples["path"], config, progress=False)
run.display(preprocess.agreement_table(agreement))

# %% [markdown]
# ## 8. Lung coverage on manual lung masks
#
# On radiographs with manual lung masks (`lungmask_dir`): coverage is the share of the mask's lung pixels inside
# the box, area the box's share of the image. Goals: median coverage >= 0.995, 5th percentile >= 0.97, median
# area <= 0.60, fallback rate <= 1 %. The same numbers come from
# `python -m cxrlib roi-eval --images DIR/images --masks DIR/masks --json`.

# %%
lung_eval, per_image = preprocess.evaluate_lungmasks(lungmask_dir, config)
run.display(*preprocess.lungmask_notes(lung_eval, lungmask_dir))
if lung_eval is not None:
    run.show(preprocess.plot_roi_evaluation(per_image), "lungmask_distributions",
             "The ROI box against manual lung masks: the share of lung pixels each box keeps, and its share of the "
             "image, with the goals marked; the text above gives the medians and 5th percentiles.")
    run.show(preprocess.plot_lowest_coverage(per_image, config), "lungmask_worst",
             "The radiographs whose box keeps the least of the manual lung mask (drawn): what the crop loses "
             "when it fails.")

# %% [markdown]
# ### Children's radiographs: manually drawn lung-field boxes
#
# There are no lung masks for the paediatric Kermany images. 40 test radiographs (20 per class, drawn with a
# seed before any ROI box of them was looked at) carry a manually drawn box around both lung fields
# (`cxrlib/annotations/`, which says how it was made). Coverage is the share of the drawn box inside the ROI box;
# area the ROI box's share of the image.

# %%
paediatric, _ = preprocess.evaluate_roi_on_boxes(manifest, config=config)
run.display(preprocess.paediatric_table(paediatric))

# %% [markdown]
# ## 9. Where the ROI fails: worst cases
#
# On the manual lung masks (when `lungmask_dir` is given): per class, the radiographs whose box keeps the least
# of one lung (the two largest components of the mask, image left / right, cyan). On this data set: per class,
# the smallest and the largest boxes that are not fallbacks, and every fallback. Green: the lung fields found;
# red: the box (orange on fallback).

# %%
if lung_eval is not None:
    run.show(preprocess.plot_lungmask_worst_cases(per_image, config, groups=preprocess.mask_groups(per_image)),
             "lungmask_worst_per_class", "Per group of the mask set, the radiographs whose box keeps the least "
                                         "of one lung (manual mask in cyan).")
run.show(preprocess.plot_roi_extremes(processed, config), "roi_extremes",
         "Per class, the smallest and the largest boxes on this data set, then every fallback: the range of "
         "framings the cropped arms were trained and tested on.")

# %% [markdown]
# ## 10. Outputs and conclusion
#
# Known limits, visible in the worst cases above: the method finds lungs by their darkness, so lungs that are
# hardly darker than the soft tissue (infants, diffuse or bilateral lower-lobe pneumonia) give a box that can
# miss the lung bases, or no lung field at all (fallback to the whole image). Mirroring about the spine covers
# an opaque lung on one side only.

# %%
run.write_json(preprocess.roi_record(processed, config, agreement=agreement, lung_eval=lung_eval,
                                     lungmask_dir=lungmask_dir, paediatric=paediatric, **failures), "roi.json")
run.display(preprocess.roi_conclusion(processed, lung_eval, synthetic=synthetic))
