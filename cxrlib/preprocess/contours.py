"""The thorax ROI's image steps (Galindo-Ramirez et al. 2022, §3.3): padding, body box, mean threshold, snakes, mean filter.

The paper binarizes the equalized radiograph at its mean intensity (Eq. 1-2), evolves a morphological
active contour from that binary image, applies a 21x21 mean filter to the contour mask and takes the
bounding box of what remains as the rib cage. Read literally (bright pixels white, box around the white)
the box covers nearly the whole image: shoulders, arms, neck and the burned-in labels are as bright as
the thorax. The ROI keeps every operation but applies them to the lung fields, the *dark* regions
inside the body, whose bounding box is the rib cage the paper wants:

0. :func:`uniform_border` - flat padding or a frame along the edges is set aside; :func:`flat_edge_regions`
   finds padding that is not whole rows or columns (a rotated film's corners), which counts as air.
1. :func:`mean_threshold` - Eq. 1-2; the lung candidates are the pixels below the mean (``~binary``),
   computed inside the :func:`field_of_view` (the body's box), so padding or air around the body does
   not pull the mean down.
2. :func:`chan_vese_contour` - morphological Chan-Vese (region-based active contour, Marquez-Neila et al.
   2014) started from the candidates; it turns the rib-striped dark pixels into regions.
3. :func:`mean_filter_mask` - the paper's 21x21 mean filter; a pixel stays when at least half of its
   window is candidate (majority vote), which drops small dark blobs and thin bridges.
5. :func:`geodesic_contour` - morphological geodesic active contour (Caselles et al. 1997 in the
   morphological form) with a balloon force, grown from the lung fields until it meets strong edges,
   for lung bases and lateral parts too bright to pass the threshold. Off by default since algorithm
   version 4 (``grow_iterations`` 0): at the working resolution it leaked further than at full size.

Steps 4, 6 and 7 (which dark pieces are lung fields, the box around them) are in
:mod:`cxrlib.preprocess.lung_fields`; :func:`cxrlib.preprocess.extract_roi` chains them all.

The snakes here are the scikit-image algorithms (``morphological_chan_vese``,
``morphological_geodesic_active_contour``) written with OpenCV morphology, about ten times faster on
small images; ``tests/test_preprocess.py`` checks they agree with scikit-image.
"""

from __future__ import annotations

import cv2
import numpy as np

from .checks import check_image, check_int, check_mask, check_real

__all__ = [
    "uniform_border",
    "flat_edge_regions",
    "field_of_view",
    "mean_threshold",
    "chan_vese_contour",
    "geodesic_contour",
    "mean_filter_mask",
]

# The four 3-pixel line segments of the SI / IS curvature operators (as in skimage.segmentation.morphsnakes).
_LINES = [
    np.eye(3, dtype=np.uint8),
    np.array([[0, 1, 0]] * 3, dtype=np.uint8),
    np.ascontiguousarray(np.flipud(np.eye(3, dtype=np.uint8))),
    np.ascontiguousarray(np.rot90(np.array([[0, 1, 0]] * 3, dtype=np.uint8))),
]
_SQUARE = np.ones((3, 3), dtype=np.uint8)
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
    check_image("image", image)
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
    check_image("image", image, dtypes=(np.uint8,))
    check_real("tolerance", tolerance, 0, 255)
    check_real("min_fraction", min_fraction, 0, 1)
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


def flat_edge_regions(image, *, tolerance=3, min_fraction=0.002):
    """Flat regions that touch the image's edge: padding that is not a whole row or column (rotated-in corners).

    A pixel is flat when its 3x3 neighbourhood spans at most ``tolerance`` grey levels; the flat pixels
    connected to an edge, in pieces of at least ``min_fraction`` of the image, are padding (or air so smooth
    that it carries no anatomy). A film turned on the scanner or a rotated scan leaves such corners; left in,
    they are dark pieces along the lower edge that pass for lung bases.

    Parameters
    ----------
    image : (M, N) uint8 ndarray
    tolerance : int, optional
        Largest grey-level range in a flat pixel's 3x3 neighbourhood.
    min_fraction : float, optional
        Smallest piece kept, as a share of the image.

    Returns
    -------
    flat : (M, N) bool ndarray
    """
    check_image("image", image, dtypes=(np.uint8,))
    check_real("tolerance", tolerance, 0, 255)
    check_real("min_fraction", min_fraction, 0, 1)
    spread = cv2.dilate(image, _SQUARE) - cv2.erode(image, _SQUARE)
    count, labels, stats, _ = cv2.connectedComponentsWithStats((spread <= tolerance).astype(np.uint8), connectivity=4)
    padding = np.zeros(count, dtype=bool)
    padding[labels[0]] = padding[labels[-1]] = padding[labels[:, 0]] = padding[labels[:, -1]] = True
    padding &= stats[:, cv2.CC_STAT_AREA] >= min_fraction * image.size
    padding[0] = False
    return padding[labels]


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
    check_mask("binary", binary)
    check_real("min_fraction", min_fraction, 0, 1)
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
    check_image("image", image)
    check_mask("init_mask", init_mask, image.shape)
    check_int("iterations", iterations, 0)
    check_int("smoothing", smoothing, 0)
    check_real("lambda1", lambda1, 0, 1e6, low_open=True)
    check_real("lambda2", lambda2, 0, 1e6, low_open=True)
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
    check_image("gimage", gimage)
    check_mask("init_mask", init_mask, gimage.shape)
    check_int("iterations", iterations, 0)
    check_int("smoothing", smoothing, 0)
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
    check_mask("mask", mask)
    check_int("size", size, 1)
    if size % 2 == 0:
        raise ValueError(f"size must be odd so the window is centred, got {size}")
    check_real("level", level, 0, 1, low_open=True)
    mean = cv2.blur((np.asarray(mask) > 0).astype(np.float32), (size, size), borderType=cv2.BORDER_REFLECT)
    return mean >= level - 1e-6
