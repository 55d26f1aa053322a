"""Thorax ROI operations (Galindo-Ramirez et al. 2022, section 3.3), one public function per step.

The paper binarizes the equalized radiograph at its mean intensity (Eq. 1-2), evolves a morphological
active contour from that binary image, applies a 21x21 mean filter to the contour mask and takes the
bounding box of what remains as the rib cage. Read literally (bright pixels white, box around the white)
the box covers nearly the whole image: shoulders, arms, neck and the burned-in labels are as bright as
the thorax. This module keeps every operation but applies them to the lung fields, the *dark* regions
inside the body, whose bounding box is the rib cage the paper wants:

0. :func:`uniform_border` - flat padding or a frame along the edges is set aside.
1. :func:`mean_threshold` - Eq. 1-2; the lung candidates are the pixels below the mean (``~binary``),
   computed inside the :func:`field_of_view` (the body's box), so padding or air around the body does
   not pull the mean down.
2. :func:`chan_vese_contour` - morphological Chan-Vese (region-based active contour, Marquez-Neila et al.
   2014) started from the candidates; it turns the rib-striped dark pixels into regions.
3. :func:`mean_filter_mask` - the paper's 21x21 mean filter; a pixel stays when at least half of its
   window is candidate (majority vote), which drops small dark blobs and thin bridges.
4. :func:`select_lung_fields` - dark regions are split at narrow necks (watershed of the distance map);
   a piece that touches the top edge, or a side edge without reaching in towards the midline, is air
   outside the body (above the shoulders, beside the chest wall or the arms) and is dropped; a piece that
   touches only the lower edge is a lung base cut by the frame and is kept; regions much smaller than the
   largest are dropped too. :func:`outside_air` gives the air pieces by the same rule: they are painted
   bright before Eq. 2 and the contour, so that the two phases are lung and body, not air and body.
5. :func:`geodesic_contour` - morphological geodesic active contour (Caselles et al. 1997 in the
   morphological form) with a balloon force, grown from the lung fields until it meets strong edges,
   for lung bases and lateral parts too bright to pass the threshold. Off by default since algorithm
   version 4 (``grow_iterations`` 0): at the working resolution it leaked further than at full size.
6. :func:`trim_thin_parts` - thin appendages of the fields (a strip of air along the frame or the arm, joined to a
   lung) are cut back to ``split_radius`` beyond the lung's body, so that they do not stretch the box.
7. :func:`body_midline`, :func:`roi_box` - bounding box plus a margin; when one side holds much less
   lung than the other, the box is mirrored about the spine so that an opaque (consolidated) lung, which
   is not dark, stays inside; a box much flatter than lungs are is extended down to the bases.
8. :func:`crop_box` - crop and resize to the network input.

The snakes here are the scikit-image algorithms (``morphological_chan_vese``,
``morphological_geodesic_active_contour``) written with OpenCV morphology, about ten times faster on
small images; ``tests/test_preprocess.py`` checks they agree with scikit-image.
"""

from __future__ import annotations

import math
from numbers import Real

import cv2
import numpy as np
from skimage.segmentation import watershed

__all__ = [
    "uniform_border",
    "field_of_view",
    "mean_threshold",
    "chan_vese_contour",
    "geodesic_contour",
    "mean_filter_mask",
    "outside_air",
    "select_lung_fields",
    "trim_thin_parts",
    "body_midline",
    "roi_box",
    "crop_box",
]

# The four 3-pixel line segments of the SI / IS curvature operators (as in skimage.segmentation.morphsnakes).
_LINES = [
    np.eye(3, dtype=np.uint8),
    np.array([[0, 1, 0]] * 3, dtype=np.uint8),
    np.ascontiguousarray(np.flipud(np.eye(3, dtype=np.uint8))),
    np.ascontiguousarray(np.rot90(np.array([[0, 1, 0]] * 3, dtype=np.uint8))),
]
_SQUARE = np.ones((3, 3), dtype=np.uint8)


# --------------------------------------------------------------------------- checks


def _check_image(name, image, *, dtypes=None):
    if not isinstance(image, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(image).__name__}")
    if image.ndim != 2 or min(image.shape) < 2:
        raise ValueError(f"{name} must be a 2-D (M, N) array with sides >= 2, got shape {image.shape}")
    if dtypes is not None and image.dtype not in dtypes:
        accepted = ", ".join(str(np.dtype(d)) for d in dtypes)
        raise TypeError(f"{name} has dtype {image.dtype}; accepted: {accepted}")
    if image.dtype != bool and not np.issubdtype(image.dtype, np.number):
        raise TypeError(f"{name} has dtype {image.dtype}; expected numbers or booleans")


def _check_mask(name, mask, shape=None):
    _check_image(name, mask)
    if shape is not None and mask.shape != shape:
        raise ValueError(f"{name} has shape {mask.shape}; it must match the image's shape {shape}")


def _check_int(name, value, low):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")


def _check_real(name, value, low, high, *, low_open=False):
    ok = isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value > low if low_open else value >= low) and value <= high
    if not ok:
        bracket = "(" if low_open else "["
        raise ValueError(f"{name} must be a number in {bracket}{low}, {high}], got {value!r}")


# --------------------------------------------------------------------------- curvature operators


def _sup_inf(u):
    return np.maximum.reduce([cv2.erode(u, k, borderType=cv2.BORDER_CONSTANT, borderValue=0) for k in _LINES])


def _inf_sup(u):
    return np.minimum.reduce([cv2.dilate(u, k, borderType=cv2.BORDER_CONSTANT, borderValue=0) for k in _LINES])


def _smooth(u, steps, phase):
    """Apply the curvature operator ``steps`` times, alternating SIoIS and ISoSI as scikit-image does."""
    for _ in range(steps):
        u = _sup_inf(_inf_sup(u)) if phase % 2 == 0 else _inf_sup(_sup_inf(u))
        phase += 1
    return u, phase


def _gradient(u):
    """``np.gradient`` of a small integer image (central differences inside, one-sided at the edges), float32."""
    u = u.astype(np.float32)
    gy, gx = np.empty_like(u), np.empty_like(u)
    gy[1:-1] = (u[2:] - u[:-2]) * 0.5
    gy[0], gy[-1] = u[1] - u[0], u[-1] - u[-2]
    gx[:, 1:-1] = (u[:, 2:] - u[:, :-2]) * 0.5
    gx[:, 0], gx[:, -1] = u[:, 1] - u[:, 0], u[:, -1] - u[:, -2]
    return gy, gx


def _edges(u):
    """Pixels where ``np.gradient(u)`` is nonzero (the contour's neighbourhood)."""
    gy, gx = _gradient(u)
    return (gy != 0) | (gx != 0)


# --------------------------------------------------------------------------- steps


def mean_threshold(image):
    """Binarize at the image's mean intensity (paper Eq. 1-2).

    Parameters
    ----------
    image : (M, N) uint8 or float ndarray
        Grayscale image.

    Returns
    -------
    binary : (M, N) bool ndarray
        True where ``image >= th`` (the bright part: bone, mediastinum, soft tissue). The lung
        candidates are ``~binary``.
    th : float
        The threshold, ``image.mean()``.
    """
    _check_image("image", image)
    if image.dtype == bool:
        raise TypeError("image must be grayscale intensities, got a boolean mask")
    th = float(image.mean())
    return image >= th, th


def uniform_border(image, *, tolerance=3, min_fraction=0.5):
    """Box of the image without flat rows and columns along its edges (padding, a scanner frame).

    A row (column) is flat when no two neighbouring pixels in it differ by more than ``tolerance``; CLAHE
    turns constant padding into smooth ramps, which stay flat by this test, while anatomy and noise do not.

    Parameters
    ----------
    image : (M, N) uint8 ndarray
    tolerance : int, optional
        Largest step between neighbours in a flat row.
    min_fraction : float, optional
        When less than this share of the height or width would remain, nothing is trimmed.

    Returns
    -------
    box : tuple of int
        ``(r0, c0, r1, c1)`` pixel bounds, end exclusive.
    """
    _check_image("image", image, dtypes=(np.uint8,))
    _check_real("tolerance", tolerance, 0, 255)
    _check_real("min_fraction", min_fraction, 0, 1)
    values = image.astype(np.int16)
    rough_rows = np.flatnonzero(np.abs(np.diff(values, axis=1)).max(axis=1) > tolerance)
    rough_cols = np.flatnonzero(np.abs(np.diff(values, axis=0)).max(axis=0) > tolerance)
    height, width = image.shape
    if rough_rows.size == 0 or rough_cols.size == 0:
        return 0, 0, height, width
    r0, r1, c0, c1 = rough_rows[0], rough_rows[-1] + 1, rough_cols[0], rough_cols[-1] + 1
    if r1 - r0 < min_fraction * height or c1 - c0 < min_fraction * width:
        return 0, 0, height, width
    return int(r0), int(c0), int(r1), int(c1)


def field_of_view(binary, *, min_fraction=0.25):
    """Box of the largest bright region (the body): where the radiograph's own statistics are taken.

    Dark padding, a collimator frame or wide air around the body would pull the mean of Eq. 2 down until
    the lungs count as bright; the threshold and the contour are therefore computed inside this box.

    Parameters
    ----------
    binary : (M, N) bool ndarray
        Bright pixels (:func:`mean_threshold` of the whole image).
    min_fraction : float, optional
        When the box covers less than this share of the image, the whole image is used.

    Returns
    -------
    box : tuple of int
        ``(r0, c0, r1, c1)`` pixel bounds, end exclusive.
    """
    _check_mask("binary", binary)
    _check_real("min_fraction", min_fraction, 0, 1)
    height, width = binary.shape
    count, _, stats, _ = cv2.connectedComponentsWithStats((np.asarray(binary) > 0).astype(np.uint8), connectivity=8)
    if count <= 1:
        return 0, 0, height, width
    largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    x, y, w, h = (int(v) for v in stats[largest, :4])
    if w * h < min_fraction * height * width:
        return 0, 0, height, width
    return y, x, y + h, x + w


def chan_vese_contour(image, init_mask, *, iterations, smoothing=1, lambda1=1.0, lambda2=1.0):
    """Morphological Chan-Vese active contour (morphological ACWE) started from a mask.

    The algorithm of ``skimage.segmentation.morphological_chan_vese`` (Marquez-Neila, Baumela and
    Alvarez 2014) with OpenCV morphology; the curvature operator alternates SIoIS / ISoSI starting with
    SIoIS at every call, so the result does not depend on earlier calls.

    Parameters
    ----------
    image : (M, N) uint8 or float ndarray
        Grayscale image.
    init_mask : (M, N) bool ndarray
        Initial region (here: the pixels below the mean).
    iterations : int
        Number of iterations (>= 0); each moves the contour by at most one pixel.
    smoothing : int, optional
        Curvature smoothing steps per iteration.
    lambda1, lambda2 : float, optional
        Weights of the inside and outside fit terms.

    Returns
    -------
    mask : (M, N) bool ndarray
    """
    _check_image("image", image)
    _check_mask("init_mask", init_mask, image.shape)
    _check_int("iterations", iterations, 0)
    _check_int("smoothing", smoothing, 0)
    _check_real("lambda1", lambda1, 0, 1e6, low_open=True)
    _check_real("lambda2", lambda2, 0, 1e6, low_open=True)
    values = image.astype(np.float64)
    u = (np.asarray(init_mask) > 0).astype(np.uint8)
    phase = 0
    for _ in range(iterations):
        inside = u.astype(bool)
        c1 = values[inside].sum() / (inside.sum() + 1e-8)
        c0 = values[~inside].sum() / ((~inside).sum() + 1e-8)
        force = lambda1 * (values - c1) ** 2 - lambda2 * (values - c0) ** 2
        edge = _edges(u)
        u[edge & (force < 0)] = 1
        u[edge & (force > 0)] = 0
        u, phase = _smooth(u, smoothing, phase)
    return u.astype(bool)


def geodesic_contour(gimage, init_mask, *, iterations, smoothing=1, balloon=1, threshold="auto"):
    """Morphological geodesic active contour (morphological GAC) started from a mask.

    The algorithm of ``skimage.segmentation.morphological_geodesic_active_contour`` with OpenCV
    morphology (see :func:`chan_vese_contour` for the smoothing order).

    Parameters
    ----------
    gimage : (M, N) float ndarray
        Edge-stopping image, small on edges (``skimage.segmentation.inverse_gaussian_gradient``).
    init_mask : (M, N) bool ndarray
        Initial region.
    iterations : int
        Number of iterations (>= 0).
    smoothing : int, optional
        Curvature smoothing steps per iteration.
    balloon : int, optional
        -1 shrinks, 1 grows the region where ``gimage`` is above ``threshold``; 0 lets only the edges act.
    threshold : float or 'auto', optional
        Pixels with ``gimage`` below it count as edges; 'auto' is the 40th percentile of ``gimage``.

    Returns
    -------
    mask : (M, N) bool ndarray
    """
    _check_image("gimage", gimage)
    _check_mask("init_mask", init_mask, gimage.shape)
    _check_int("iterations", iterations, 0)
    _check_int("smoothing", smoothing, 0)
    if balloon not in (-1, 0, 1):
        raise ValueError(f"balloon must be -1, 0 or 1, got {balloon!r}")
    if isinstance(threshold, str):
        if threshold != "auto":
            raise ValueError(f"threshold must be a number or 'auto', got {threshold!r}")
        threshold = float(np.percentile(gimage, 40))
    values = gimage.astype(np.float64)
    dy, dx = np.gradient(values)
    flat = values > threshold
    u = (np.asarray(init_mask) > 0).astype(np.uint8)
    phase = 0
    for _ in range(iterations):
        if balloon:
            moved = cv2.dilate(u, _SQUARE) if balloon > 0 else cv2.erode(
                u, _SQUARE, borderType=cv2.BORDER_CONSTANT, borderValue=0)
            u[flat] = moved[flat]
        gy, gx = _gradient(u)
        pull = dy * gy + dx * gx
        u[pull > 0] = 1
        u[pull < 0] = 0
        u, phase = _smooth(u, smoothing, phase)
    return u.astype(bool)


def mean_filter_mask(mask, size, *, level=0.5):
    """Mean-filter a mask and keep the pixels whose window is at least ``level`` inside (majority vote).

    Parameters
    ----------
    mask : (M, N) bool ndarray
    size : int
        Odd side of the square window (paper: 21 at 400x400).
    level : float, optional
        Share of the window that must be inside, in (0, 1].

    Returns
    -------
    filtered : (M, N) bool ndarray
    """
    _check_mask("mask", mask)
    _check_int("size", size, 1)
    if size % 2 == 0:
        raise ValueError(f"size must be odd so the window is centred, got {size}")
    _check_real("level", level, 0, 1, low_open=True)
    mean = cv2.blur((np.asarray(mask) > 0).astype(np.float32), (size, size), borderType=cv2.BORDER_REFLECT)
    return mean >= level - 1e-6


def _pieces(mask, split_radius, midline, reach):
    """Cut a dark mask at its necks; label the pieces and flag those that are air outside the body.

    Returns the label image (0: background), the flags (indexed by label) and the pieces' areas.
    """
    binary = (np.asarray(mask) > 0).astype(np.uint8)
    distance = cv2.distanceTransform(binary, cv2.DIST_L2, 3)
    count, markers = cv2.connectedComponents((distance > split_radius).astype(np.uint8), connectivity=8)
    if count <= 1:
        return np.zeros(binary.shape, dtype=np.int32), np.zeros(1, dtype=bool), np.zeros(1, dtype=np.int64)
    labels = watershed(-distance, markers, mask=binary.astype(bool))
    height, width = binary.shape
    outside = np.zeros(count, dtype=bool)
    outside[labels[0]] = True
    sides = np.unique(np.concatenate([labels[:, 0], labels[:, -1]]))
    sides = sides[sides > 0]
    if midline is None:
        outside[sides] = True
    elif sides.size:
        # Distance of each piece's nearest column to the midline, as a fraction of the width.
        gap = np.full(count, np.inf)
        cols = np.abs((np.arange(width) + 0.5) / width - midline)
        np.minimum.at(gap, labels.ravel(), np.tile(cols, height))
        outside[sides[gap[sides] > reach]] = True
    outside[0] = False
    areas = np.bincount(labels.ravel(), minlength=count)
    areas[0] = 0
    return labels, outside, areas


def _check_pieces_args(mask, split_radius, midline, reach):
    _check_mask("mask", mask)
    _check_real("split_radius", split_radius, 0, 1e6, low_open=True)
    _check_real("reach", reach, 0, 1)
    if midline is not None:
        _check_real("midline", midline, 0, 1)


def outside_air(mask, *, split_radius, midline=None, reach=0.2, wider_cuts=()):
    """The pieces of a dark mask that are air outside the body (see :func:`select_lung_fields` for the rule).

    A lung joined to the air by a wide neck lands in the air's piece at the finest cut; a wider cut frees
    it. With ``wider_cuts``, a pixel is air only when no wider cut puts it in a piece that is not air (a
    wider cut leaves thin regions without a piece; they keep the finest cut's verdict).

    Parameters
    ----------
    mask : (M, N) bool ndarray
        Dark-region mask.
    split_radius, midline, reach
        As for :func:`select_lung_fields` (``split_radius`` of the finest cut).
    wider_cuts : sequence of float, optional
        Factors (> 1) of ``split_radius`` for the wider cuts.

    Returns
    -------
    air : (M, N) bool ndarray
    """
    _check_pieces_args(mask, split_radius, midline, reach)
    for factor in wider_cuts:
        _check_real("wider_cuts factor", factor, 1, 1e6, low_open=True)
    labels, outside, _ = _pieces(mask, split_radius, midline, reach)
    air = outside[labels]
    for factor in wider_cuts if air.any() else ():
        labels, outside, _ = _pieces(mask, factor * split_radius, midline, reach)
        air &= (labels == 0) | outside[labels]
    return air


def select_lung_fields(mask, *, split_radius, min_fraction=0.1, midline=None, reach=0.2):
    """Keep the dark regions that are lung fields: not air outside the body, not small blobs.

    A lung and the air beside the body often touch through a narrow dark neck. The mask is cut at its
    necks by a watershed of the distance map from markers where the mask is wider than ``2 *
    split_radius``. A piece is air outside the body when it touches the top edge (air above the shoulders,
    beside the neck), or when it touches a side edge and does not come within ``reach`` of the midline (air
    beside the chest wall or the arms lies lateral to the body; a lung that reaches the side edge of a
    tight crop still reaches in to the mediastinum). A piece that touches only the lower edge is kept: below
    the lungs lies the abdomen, not air, so a dark field there is a lung base cut by the frame. Without
    ``midline`` every piece that touches the top or a side edge is air. Pieces smaller than
    ``min_fraction`` of the largest remaining one are dropped too.

    Parameters
    ----------
    mask : (M, N) bool ndarray
        Dark-region mask (after :func:`mean_filter_mask`).
    split_radius : float
        Half-width, in pixels, below which a neck is cut (> 0).
    min_fraction : float, optional
        Smallest kept piece, as a fraction of the largest, in [0, 1].
    midline : float, optional
        Column of the body's midline as a fraction of the width (:func:`body_midline`).
    reach : float, optional
        A piece touching a side edge is a lung field when its column nearest to the midline lies within
        ``reach`` of the width from it, in [0, 1].

    Returns
    -------
    fields : (M, N) bool ndarray
        The lung fields; all False when nothing qualifies.
    """
    _check_pieces_args(mask, split_radius, midline, reach)
    _check_real("min_fraction", min_fraction, 0, 1)
    labels, outside, areas = _pieces(mask, split_radius, midline, reach)
    areas = np.where(outside, 0, areas)
    if areas.max() == 0:
        return np.zeros(labels.shape, dtype=bool)
    keep = np.flatnonzero(areas >= max(min_fraction * areas.max(), 1))
    return np.isin(labels, keep)


def trim_thin_parts(fields, *, radius):
    """The fields' pixels within ``2 * radius`` of their cores, the pixels at least ``radius`` inside them.

    A lung field is wide; a dark strip along the frame or beside the arm that joins it stays part of its
    piece, and the box around the piece reaches out to wherever the strip ends. Here such a strip is cut back
    to about ``radius`` beyond the lung's body, while the lungs themselves (their apices and costophrenic
    angles included, which lie within ``2 * radius`` of their cores) keep every pixel. Pixels beyond the image
    edge count as background, so a strip along the edge is thin whatever the padding convention.

    Parameters
    ----------
    fields : (M, N) bool ndarray
        Lung fields (may be empty).
    radius : int
        Half the width, in pixels, below which a part is thin (>= 1).

    Returns
    -------
    trimmed : (M, N) bool ndarray
        A subset of ``fields``; ``fields`` itself when no part of it is ``2 * radius`` wide.
    """
    _check_mask("fields", fields)
    _check_int("radius", radius, 1)
    fields = np.asarray(fields) > 0
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    cores = cv2.erode(fields.astype(np.uint8), disk, borderType=cv2.BORDER_CONSTANT, borderValue=0)
    if not cores.any():
        return fields
    near = cv2.dilate(cores, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (4 * radius + 1, 4 * radius + 1)))
    return fields & (near > 0)


def body_midline(image, fields):
    """Column of the spine, as a fraction of the width: the brightest column band in the middle half.

    The spine and mediastinum are the brightest vertical band between the lungs. The search runs over
    the rows the lung fields span (all rows when there are none) and over the middle half of the
    columns, on column means smoothed over 5 % of the width.

    Parameters
    ----------
    image : (M, N) uint8 or float ndarray
        Equalized image.
    fields : (M, N) bool ndarray
        Lung fields (may be empty).

    Returns
    -------
    midline : float
        In [0.25, 0.75].
    """
    _check_image("image", image)
    _check_mask("fields", fields, image.shape)
    height, width = image.shape
    rows = np.flatnonzero(np.asarray(fields).any(axis=1))
    top, bottom = (rows[0], rows[-1] + 1) if rows.size else (0, height)
    profile = image[top:bottom].astype(np.float64).mean(axis=0)
    window = max(1, int(round(0.05 * width)))
    profile = np.convolve(profile, np.ones(window) / window, mode="same")
    lo, hi = int(round(0.25 * width)), max(int(round(0.75 * width)), int(round(0.25 * width)) + 1)
    return (lo + int(np.argmax(profile[lo:hi])) + 0.5) / width


def roi_box(fields, *, margin, midline=None, balance=0.5, min_aspect=0.0):
    """Bounding box of a mask as fractions of the image, mirrored about the midline when one side is missing.

    Parameters
    ----------
    fields : (M, N) bool ndarray
        Non-empty mask.
    margin : float
        Added on each side as a fraction of the box's own height (top, bottom) and width (left, right).
    midline : float, optional
        Column (fraction of the width) of the body's midline (:func:`body_midline`).
    balance : float, optional
        When ``midline`` is given and the mask area on one side of it is below ``balance`` times the
        area on the other side, the box's sides become the union of the box and its mirror image
        about the midline: a lung that is opaque (consolidation, effusion), hence not dark, stays in
        the box. 0 never mirrors, 1 always does.
    min_aspect : float, optional
        Smallest height / width (in pixels) of the box before the margin; a flatter box is extended
        downwards. The dark mask misses the lung bases first (opaque lower lobes, the diaphragm
        domes), and the lungs are never much wider than tall.

    Returns
    -------
    box : tuple of float
        ``(y0, x0, y1, x1)`` in [0, 1], ``y0 < y1`` and ``x0 < x1``; ``y1``/``x1`` are exclusive ends.
    """
    _check_mask("fields", fields)
    _check_real("margin", margin, 0, 10)
    _check_real("balance", balance, 0, 1)
    _check_real("min_aspect", min_aspect, 0, 10)
    fields = np.asarray(fields) > 0
    rows = np.flatnonzero(fields.any(axis=1))
    cols = np.flatnonzero(fields.any(axis=0))
    if rows.size == 0:
        raise ValueError("fields is empty; a box needs at least one pixel (use the whole image as fallback)")
    height, width = fields.shape
    y0, y1 = rows[0] / height, (rows[-1] + 1) / height
    x0, x1 = cols[0] / width, (cols[-1] + 1) / width
    if midline is not None:
        _check_real("midline", midline, 0, 1)
        split = int(round(midline * width))
        left, right = int(fields[:, :split].sum()), int(fields[:, split:].sum())
        if min(left, right) < balance * max(left, right):
            x0, x1 = max(0.0, min(x0, 2 * midline - x1)), min(1.0, max(x1, 2 * midline - x0))
    y1 = min(1.0, max(y1, y0 + min_aspect * (x1 - x0) * width / height))
    dy, dx = margin * (y1 - y0), margin * (x1 - x0)
    return (max(0.0, y0 - dy), max(0.0, x0 - dx), min(1.0, y1 + dy), min(1.0, x1 + dx))


def _box_pixels(box, shape):
    """Integer pixel bounds ``(r0, c0, r1, c1)`` of a fractional box (outward rounding, at least 1 pixel)."""
    height, width = shape
    y0, x0, y1, x1 = box
    r0, c0 = int(math.floor(y0 * height + 1e-9)), int(math.floor(x0 * width + 1e-9))
    r1, c1 = int(math.ceil(y1 * height - 1e-9)), int(math.ceil(x1 * width - 1e-9))
    r0, c0 = min(max(r0, 0), height - 1), min(max(c0, 0), width - 1)
    return r0, c0, max(r1, r0 + 1), max(c1, c0 + 1)


def _check_box(box):
    if not (isinstance(box, (tuple, list, np.ndarray)) and len(box) == 4):
        raise ValueError(f"box must be (y0, x0, y1, x1) fractions, got {box!r}")
    y0, x0, y1, x1 = (float(v) for v in box)
    if not (0 <= y0 < y1 <= 1 and 0 <= x0 < x1 <= 1):
        raise ValueError(f"box must satisfy 0 <= y0 < y1 <= 1 and 0 <= x0 < x1 <= 1, got {box!r}")
    return y0, x0, y1, x1


def crop_box(image, box, *, output_size):
    """Crop a fractional box out of an image and resize the crop to a square.

    Parameters
    ----------
    image : (M, N) uint8 ndarray
    box : tuple of float
        ``(y0, x0, y1, x1)`` as fractions of the height and width (see :func:`roi_box`).
    output_size : int
        Side of the output; the crop is stretched to a square, as the network input is square.

    Returns
    -------
    crop : (output_size, output_size) uint8 ndarray
    """
    _check_image("image", image, dtypes=(np.uint8,))
    box = _check_box(box)
    _check_int("output_size", output_size, 1)
    r0, c0, r1, c1 = _box_pixels(box, image.shape)
    crop = image[r0:r1, c0:c1]
    shrink = crop.shape[0] >= output_size and crop.shape[1] >= output_size
    return cv2.resize(crop, (output_size, output_size), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
