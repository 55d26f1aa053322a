"""The thorax ROI of one radiograph and the whole chain (Galindo-Ramirez et al. 2022, sections 3.2-3.3).

Per radiograph: resize to ``preprocess_size`` (paper: 400x400), CLAHE (OpenCV), then the thorax ROI on the
equalized image (the steps of :mod:`cxrlib.preprocess.contours` and :mod:`cxrlib.preprocess.lung_fields`: mean
threshold, morphological active contours, 21x21 mean filter, bounding box with a margin), then crop the equalized
image to the box and resize it to the network input. When no lung field is found, or the box is implausibly small,
the ROI falls back to the whole image and says so (``RoiResult.fallback``, a warning from :func:`preprocess_image`,
the ``fallback`` column of the batch table). When the lung fields cross the mediastinum or lie on one side only, the
image's negative is read too and taken when it shows two lungs apart (a film of inverted polarity;
``RoiResult.inverted``).

Speed: the contour steps run on a ``contour_size`` image (default 100x100) downsampled from the
equalized image after a Gaussian smoothing; every length is a fraction of the image side, so the same
steps also run at full size (``extract_roi(..., reference=True)``, with scikit-image's own snakes), and a
test checks that both agree on real radiographs (:mod:`cxrlib.preprocess.reference`).
"""

from __future__ import annotations

import warnings

import cv2
import numpy as np
from skimage.segmentation import (inverse_gaussian_gradient, morphological_chan_vese,
                                  morphological_geodesic_active_contour)

from . import contours, lung_fields
from .boxes import crop_box
from .checks import check_gray
from .clahe import resized_and_equalized
from .config import PreprocessResult, RoiResult, check_config
from .plausibility import PLAUSIBLE, lung_side_ratio

__all__ = ["extract_roi", "preprocess_image", "network_image"]

#: Wider cuts (factors of ``split_radius``) that free a lung joined to the outside air by a wide neck.
_WIDER_CUTS = (2, 3)


def _odd(value):
    return max(1, int(round(value)) // 2 * 2 + 1) if value >= 1 else 1


def extract_roi(equalized, config=None, *, reference=False):
    """Thorax ROI of an equalized radiograph: lung-field mask and box (steps of :mod:`cxrlib.preprocess.contours`).

    Flat padding or a frame along the edges is set aside first (:func:`cxrlib.preprocess.uniform_border`);
    the steps run on the rest and the box is given in the frame of the whole image.

    Parameters
    ----------
    equalized : (H, W) uint8 ndarray
        The CLAHE image (:func:`apply_clahe`), normally ``preprocess_size`` square.
    config : PreprocessConfig, optional
    reference : bool, optional
        Run every step at full size with scikit-image's ``morphological_chan_vese`` and
        ``morphological_geodesic_active_contour`` (iterations scaled by the size ratio): the plain
        implementation the fast path is tested against; one to two seconds per image.

    Returns
    -------
    RoiResult
    """
    check_gray("equalized", equalized)
    config = check_config(config)
    height, width = equalized.shape
    R0, C0, R1, C1 = contours.uniform_border(equalized)
    core = equalized[R0:R1, C0:C1]
    result = _extract_core(core, config, reference=reference)
    inverted = False
    lungs = result["stages"]["lungs"]
    if (lung_fields.mediastinum_gap(lungs) >= lung_fields.MEDIASTINUM_GAP
            or lung_side_ratio(lungs, result["box"]) < PLAUSIBLE["lung_side_ratio"][0]):
        # Fields across the mediastinum, or on one side only: on a film of inverted polarity (white lungs) the dark
        # fields are the body around the lungs. Its negative is read, and taken when it shows two lungs apart.
        negative = _extract_core(255 - core, config, reference=reference)
        if not negative["reason"] and lung_fields.lungs_apart(negative["stages"]["lungs"]):
            result, inverted = negative, True
    core_height, core_width = core.shape
    y0, x0, y1, x1 = result["box"]
    box = ((R0 + y0 * core_height) / height, (C0 + x0 * core_width) / width,
           (R0 + y1 * core_height) / height, (C0 + x1 * core_width) / width)
    lung_mask = np.zeros((height, width), dtype=bool)
    lungs = result["stages"]["lungs"]
    if lungs.shape != core.shape:
        lungs = cv2.resize(lungs.astype(np.float32), (core_width, core_height), interpolation=cv2.INTER_LINEAR) >= 0.5
    lung_mask[R0:R1, C0:C1] = lungs
    return RoiResult(box=tuple(float(v) for v in box), lung_mask=lung_mask, mask_area=float(lung_mask.mean()),
                     fallback=bool(result["reason"]), reason=result["reason"], threshold=result["threshold"],
                     inverted=inverted, stages=result["stages"])


def _resize_mask(mask, shape):
    """A boolean mask resized to ``shape`` (rows, columns) by bilinear interpolation and a 0.5 threshold."""
    if mask.shape == tuple(shape):
        return mask
    return cv2.resize(mask.astype(np.float32), (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR) >= 0.5


def _extract_core(image, config, *, reference):
    """The ROI steps on an image without padding; box as fractions of this image.

    The decisions (the body's box, the outside air, which dark pieces are lung fields, the midline) are taken
    at the working resolution (``contour_size``) in both paths; the reference runs the snakes, the threshold
    and the mean filter at full size and takes its decisions on its own masks brought to that resolution.
    """
    height, width = image.shape
    side = max(height, width)
    smoothed = cv2.GaussianBlur(image, (0, 0), config.smoothing_sigma * side) if config.smoothing_sigma else image
    work_side = min(config.contour_size, side)
    work = smoothed
    if work_side != side:
        shape = (max(2, round(width * work_side / side)), max(2, round(height * work_side / side)))
        work = cv2.resize(smoothed, shape, interpolation=cv2.INTER_AREA)
    run_side = side if reference else work_side
    steps = run_side / work_side
    work_filter = _odd(config.roi_mean_filter * work_side / config.preprocess_size)
    run_filter = _odd(config.roi_mean_filter * run_side / config.preprocess_size)
    split_radius = config.split_radius * work_side

    # The body's box, from the threshold of the whole image; the later steps run inside it.
    r0, c0, r1, c1 = contours.field_of_view(contours.mean_threshold(work)[0])
    work_view = work[r0:r1, c0:c1]
    view_midline = lung_fields.body_midline(work_view, np.zeros(work_view.shape, dtype=bool))
    # Air outside the body (beside the neck, the chest wall, the arms) is a third, darkest class: left in, it
    # pulls Eq. 2's mean down and becomes the dark phase of the two-phase contour, and lungs of similar
    # brightness to soft tissue (after CLAHE) join the bright phase. The air is found on the first threshold
    # and painted with the mean of the bright body, so the threshold and the contour see the body only.
    # Padding that is not whole rows or columns (a rotated film's corners) is outside the body too.
    step = max(1, side // (2 * work_side))  # every pixel of a constant fill is flat: every step-th is enough
    padding = _resize_mask(contours.flat_edge_regions(image[::step, ::step]), work.shape)[r0:r1, c0:c1]
    dark = contours.mean_filter_mask(~contours.mean_threshold(work_view)[0], work_filter)
    air = lung_fields.outside_air(dark, split_radius=split_radius, midline=view_midline, wider_cuts=_WIDER_CUTS)
    air |= padding
    if reference:
        work_height, work_width = work.shape
        r0, r1 = round(r0 * height / work_height), round(r1 * height / work_height)
        c0, c1 = round(c0 * width / work_width), round(c1 * width / work_width)
    source = smoothed if reference else work
    view = source[r0:r1, c0:c1]
    air = _resize_mask(air, view.shape)
    if air.any() and not air.all():
        body = view[~air]
        threshold = float(body.mean())
        view = view.copy()
        view[air] = np.round(body[body >= threshold].mean()).astype(view.dtype)
    binary, threshold = contours.mean_threshold(view)
    cv_iterations = int(round(config.chan_vese_iterations * steps))
    # Curvature flow moves a contour by a distance that grows as the square root of the number of smoothing
    # steps, so at ``steps`` times the resolution the same smoothing takes ``steps ** 2`` steps: ``steps``
    # iterations of ``steps`` smoothing steps each.
    smoothing = max(1, int(round(steps)))
    if reference:
        contour = morphological_chan_vese(view.astype(np.float64), cv_iterations,
                                          init_level_set=~binary, smoothing=smoothing).astype(bool)
    else:
        contour = contours.chan_vese_contour(view, ~binary, iterations=cv_iterations)
    filtered = contours.mean_filter_mask(contour, run_filter)
    candidates = _resize_mask(filtered, work_view.shape)
    for factor in (1, *_WIDER_CUTS):
        # A lung that touches the outside air through a wide neck is dropped with it; wider cuts free it.
        fields = lung_fields.select_lung_fields(candidates, split_radius=factor * split_radius,
                                         min_fraction=config.min_field_fraction, midline=view_midline)
        if fields.sum() >= config.min_lung_area * work.size:
            break
    fields = filtered & _resize_mask(fields, view.shape)
    lungs = fields
    if fields.any() and config.grow_iterations:
        gimage = inverse_gaussian_gradient(view.astype(np.float64) / 255.0, sigma=config.gradient_sigma * run_side)
        grow = int(round(config.grow_iterations * steps))
        if reference:
            lungs = morphological_geodesic_active_contour(gimage, grow, init_level_set=fields, smoothing=smoothing,
                                                          balloon=1).astype(bool)
        else:
            lungs = contours.geodesic_contour(gimage, fields, iterations=grow, balloon=1)

    def frame(part, outside):
        full = np.full(source.shape, outside, dtype=part.dtype)
        full[r0:r1, c0:c1] = part
        return full

    stages = {"smoothed": source, "binary": frame(binary, True), "contour": frame(contour, False),
              "filtered": frame(filtered, False), "fields": frame(fields, False), "lungs": frame(lungs, False)}
    fields, lungs = stages["fields"], stages["lungs"]
    area = float(lungs.mean())
    reason, box = "", (0.0, 0.0, 1.0, 1.0)
    if not fields.any():
        reason = "no lung field found"
    elif area < config.min_lung_area:
        reason = f"lung mask covers {area:.3f} of the image (< min_lung_area {config.min_lung_area})"
    else:
        midline = (lung_fields.body_midline(work, _resize_mask(lungs, work.shape)) if config.mirror_balance > 0
                   else None)
        trimmed = lung_fields.trim_thin_parts(lungs, radius=max(1, round(config.split_radius * max(lungs.shape))))
        box = lung_fields.roi_box(trimmed, margin=config.roi_margin, midline=midline, balance=config.mirror_balance,
                           min_aspect=config.min_aspect)
        if min(box[2] - box[0], box[3] - box[1]) < config.min_box_side:
            reason = (f"box {box[2] - box[0]:.2f} x {box[3] - box[1]:.2f} of the image is smaller than "
                      f"min_box_side {config.min_box_side}")
            box = (0.0, 0.0, 1.0, 1.0)
    return {"box": box, "reason": reason, "threshold": threshold, "stages": stages}


def preprocess_image(image, config=None):
    """Whole chain for one radiograph: resize, CLAHE, thorax ROI, crop to the model input.

    Parameters
    ----------
    image : (H, W) uint8 ndarray
        A radiograph as read by :func:`cxrlib.data.read_radiograph`.
    config : PreprocessConfig, optional

    Returns
    -------
    PreprocessResult
        ``processed`` is the ``(output_size, output_size)`` uint8 crop of the equalized image.

    Warns
    -----
    UserWarning
        When the ROI falls back to the whole image.
    """
    config = check_config(config)
    check_gray("image", image)
    resized, equalized = resized_and_equalized(image, config)
    result = extract_roi(equalized, config)
    if result.fallback:
        warnings.warn(f"thorax ROI fell back to the whole image: {result.reason}", stacklevel=2)
    processed = crop_box(equalized, result.box, output_size=config.output_size)
    return PreprocessResult(resized=resized, equalized=equalized, roi=result, processed=processed)


def network_image(resized, equalized, box, *, clahe, roi, output_size):
    """The image one arm's network sees: resized or CLAHE, whole or cropped to the box.

    Parameters
    ----------
    resized, equalized : (S, S) uint8 ndarray
        The radiograph at ``preprocess_size`` before and after CLAHE.
    box : tuple of float
        ``(y0, x0, y1, x1)`` as fractions (:attr:`RoiResult.box`).
    clahe, roi : bool
        Which of the paper's steps apply.
    output_size : int

    Returns
    -------
    (output_size, output_size) uint8 ndarray
    """
    source = equalized if clahe else resized
    return crop_box(source, box if roi else (0.0, 0.0, 1.0, 1.0), output_size=output_size)
