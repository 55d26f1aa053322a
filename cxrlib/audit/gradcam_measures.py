"""Where each Grad-CAM heatmap falls, measured in the frame its network saw: lung and thorax mass, pointing game.

Measurement frame. Each heatmap is measured in the frame its network saw: the whole radiograph
for a whole-image arm, the thorax ROI box for a cropped arm (:func:`frame_of`; the lung mask is cut to
the box). A cropped arm's map cannot fall outside its box, so measured in the whole image it would gain
the box's share for free; in its own frame it gains nothing. Every mass has the chance level of its frame,
the region's share of it (what a uniform map gives):

``lung_mass``, ``lung_chance``, ``lung_mass_over_chance``
    share of the heatmap mass on the lung-field mask of preprocessing (``mask_path``), the mask's share
    of the frame, and the difference; two arms are compared on the difference only.
``thorax_mass``, ``thorax_chance``, ``thorax_mass_over_chance``
    the same for the thorax box, whole-image arms only ("does it look at the thorax at all?"); a cropped
    arm sees nothing else, so these are nan for it (1 by construction).
``lung_pointing``, ``thorax_pointing``
    whether the heatmap maximum lies there (pointing game; its chance level is the region's share too).
``mass_in_<name>``
    share inside any other box given per image (e.g. the synthetic data's planted marker), in the
    whole-image frame.

The heatmaps are coarse (Xception's last block is 1/32 of the input side, 7x7 at 224
px) and bilinearly upsampled, which blurs mass across region edges.
"""

import warnings

import cv2
import numpy as np
import pandas as pd

from .gradcam_maps import gradcam, heatmaps_in_batches

__all__ = ["MEASURES", "CHANCE", "MEASURE_LABELS", "measure_label", "ROI_COLUMNS", "upsample", "box_pixels",
           "expand_box", "to_frame", "frame_of", "heatmap_measures", "measure_gradcam"]

#: Per-image measures :func:`heatmap_measures` returns, in the network's own frame: the share of heatmap mass on
#: the thorax box (whole-image arms only) and on the lung fields, and whether the heatmap's peak lies there.
MEASURES = ("thorax_mass", "thorax_pointing", "lung_mass", "lung_pointing")
#: Their chance levels, the region's share of the frame (what a uniform map gives, for the mass and for a
#: pointing hit alike), and each mass minus its chance level (above 0: the map concentrates there).
CHANCE = ("thorax_chance", "thorax_mass_over_chance", "lung_chance", "lung_mass_over_chance")
#: How each measure is named for a reader.
MEASURE_LABELS = {
    "thorax_mass": "heatmap mass in the thorax box", "thorax_chance": "thorax box's share of the frame (chance)",
    "thorax_mass_over_chance": "heatmap mass in the thorax box over chance",
    "thorax_pointing": "pointing game: peak in the thorax box",
    "lung_mass": "heatmap mass on the lung fields", "lung_chance": "lung fields' share of the frame (chance)",
    "lung_mass_over_chance": "heatmap mass on the lung fields over chance",
    "lung_pointing": "pointing game: peak on the lung fields",
    "mass_in_shortcut_spot": "heatmap mass on the planted tag's spot",
}


def measure_label(column):
    """A measure's name for a reader (:data:`MEASURE_LABELS`; ``mass_in_<name>``: the heatmap mass on it)."""
    if column in MEASURE_LABELS:
        return MEASURE_LABELS[column]
    if column.startswith("mass_in_"):
        return f"heatmap mass on the {column[len('mass_in_'):].replace('_', ' ')}"
    raise ValueError(f"{column!r} is not a Grad-CAM measure; known: {', '.join(MEASURE_LABELS)} and mass_in_<name>")


#: Columns of processed.csv holding the ROI box as fractions of the image height/width.
ROI_COLUMNS = ("roi_y0", "roi_x0", "roi_y1", "roi_x1")


def _check_heatmap(heatmap, name="heatmap"):
    h = np.asarray(heatmap, dtype=np.float32)
    if h.ndim != 2 or h.size == 0 or not np.isfinite(h).all() or h.min() < 0:
        raise ValueError(f"{name} must be a finite, non-negative 2-D array, got shape {h.shape}")
    return h


def upsample(heatmap, shape):
    """Bilinear resize of a heatmap to ``shape`` (values stay in the input's range).

    Parameters
    ----------
    heatmap : (h, w) float ndarray
    shape : tuple of int
        ``(M, N)`` target size.

    Returns
    -------
    (M, N) float32 ndarray
    """
    h = _check_heatmap(heatmap)
    rows, cols = (int(v) for v in shape)
    if rows < 1 or cols < 1:
        raise ValueError(f"shape must be two positive sizes, got {shape}")
    return cv2.resize(h, (cols, rows), interpolation=cv2.INTER_LINEAR)


def box_pixels(box, shape):
    """ROI box as fractions ``(y0, x0, y1, x1)`` -> end-exclusive pixel indices in an image of ``shape``.

    Returns
    -------
    tuple of int
        ``(y0, x0, y1, x1)`` with at least one pixel in each direction.
    """
    y0, x0, y1, x1 = (float(v) for v in box)
    if not (0 <= y0 < y1 <= 1 and 0 <= x0 < x1 <= 1):
        raise ValueError(f"box must be fractions (y0, x0, y1, x1) with 0 <= y0 < y1 <= 1 and 0 <= x0 < x1 <= 1, "
                         f"got {box}")
    rows, cols = shape[:2]
    py0, px0 = min(int(round(y0 * rows)), rows - 1), min(int(round(x0 * cols)), cols - 1)
    py1, px1 = max(int(round(y1 * rows)), py0 + 1), max(int(round(x1 * cols)), px0 + 1)
    return py0, px0, py1, px1


def expand_box(box, margin):
    """Grow a box of fractions by ``margin`` (a fraction of the image side) on every side, clipped to [0, 1].

    Used to measure mass on a small object with a coarse heatmap: grow the object's box
    by half a heatmap cell so that mass landing on the cell holding it is counted.

    Returns
    -------
    tuple of float
        ``(y0, x0, y1, x1)``.
    """
    y0, x0, y1, x1 = (float(v) for v in box)
    if not margin >= 0:
        raise ValueError(f"margin must be a fraction >= 0, got {margin}")
    return (max(0.0, y0 - margin), max(0.0, x0 - margin), min(1.0, y1 + margin), min(1.0, x1 + margin))


def to_frame(heatmap, frame_shape, *, box=None):
    """Map a heatmap into the whole-image frame.

    Parameters
    ----------
    heatmap : (h, w) float ndarray
        Heatmap over the model's input.
    frame_shape : tuple of int
        ``(M, N)`` size of the whole-image frame.
    box : tuple of float, optional
        ROI box ``(y0, x0, y1, x1)`` as fractions when the model's input was the ROI
        crop: the heatmap is resized to the box and placed there, zero elsewhere.
        None: the input was the whole image; the heatmap is resized to the frame.

    Returns
    -------
    (M, N) float32 ndarray
    """
    if box is None:
        return upsample(heatmap, frame_shape)
    y0, x0, y1, x1 = box_pixels(box, frame_shape)
    canvas = np.zeros(tuple(int(v) for v in frame_shape[:2]), np.float32)
    canvas[y0:y1, x0:x1] = upsample(heatmap, (y1 - y0, x1 - x0))
    return canvas


def heatmap_measures(heatmap, box=None, *, mask=None):
    """Where a heatmap puts its mass, in the frame the network saw (see the module docstring).

    Parameters
    ----------
    heatmap : (M, N) float ndarray
        Non-negative heatmap over the network's own frame: the whole image for a whole-image arm, the ROI
        box for a cropped arm (:func:`frame_of`).
    box : tuple of float, optional
        The thorax ROI box ``(y0, x0, y1, x1)`` as fractions of that frame; None for a cropped arm, whose frame
        is the box (its thorax measures would be 1 by construction and are nan).
    mask : (M, N) bool ndarray, optional
        Lung-field mask in the same frame.

    Returns
    -------
    dict
        The keys of :data:`MEASURES` and :data:`CHANCE`: ``thorax_*`` need a box, ``lung_*`` a mask (nan
        otherwise); the masses and pointing hits are nan when the heatmap is zero everywhere. The chance level
        of a mass (and of a pointing hit) is the region's share of the frame: what a uniform map would give.
    """
    h = _check_heatmap(heatmap)
    out = dict.fromkeys(MEASURES + CHANCE, np.nan)
    regions = {}
    if box is not None:
        y0, x0, y1, x1 = box_pixels(box, h.shape)
        regions["thorax"] = np.zeros(h.shape, bool)
        regions["thorax"][y0:y1, x0:x1] = True
    if mask is not None:
        m = np.asarray(mask)
        if m.shape != h.shape:
            raise ValueError(f"mask must have the heatmap's shape {h.shape}, got {m.shape}")
        regions["lung"] = m.astype(bool)
    total = float(h.sum(dtype=np.float64))
    peak = np.unravel_index(np.argmax(h), h.shape)
    for name, region in regions.items():
        out[f"{name}_chance"] = float(region.mean())
        if total > 0:
            out[f"{name}_mass"] = float(h[region].sum(dtype=np.float64)) / total
            out[f"{name}_mass_over_chance"] = out[f"{name}_mass"] - out[f"{name}_chance"]
            out[f"{name}_pointing"] = float(region[peak])
    return out


def frame_of(heatmap, frame_size, *, box=None, mask=None):
    """A heatmap, and the lung mask, in the frame the network saw, at ``frame_size`` x ``frame_size``.

    Parameters
    ----------
    heatmap : (h, w) float ndarray
        Low-resolution heatmap over the network's input.
    frame_size : int
    box : tuple of float, optional
        The ROI box (fractions of the whole image) when the network's input was the crop of it: the mask is
        cut to the box before resizing. None: the input was the whole image.
    mask : (M, N) bool ndarray, optional
        Lung-field mask over the whole image.

    Returns
    -------
    heatmap : (frame_size, frame_size) float32 ndarray
    mask : (frame_size, frame_size) bool ndarray or None
    """
    shape = (frame_size, frame_size)
    if mask is not None:
        m = np.asarray(mask).astype(np.uint8)
        if box is not None:
            y0, x0, y1, x1 = box_pixels(box, m.shape)
            m = m[y0:y1, x0:x1]
        mask = cv2.resize(m, shape, interpolation=cv2.INTER_NEAREST) > 0
    return upsample(heatmap, shape), mask


def _mass_in(heatmap, box):
    y0, x0, y1, x1 = box_pixels(box, heatmap.shape)
    total = float(heatmap.sum(dtype=np.float64))
    return float(heatmap[y0:y1, x0:x1].sum(dtype=np.float64)) / total if total > 0 else np.nan


def measure_gradcam(table, model, *, image_column, crop, frame_size=256, regions=None, layer_name=None,
                    pred_index=None, threshold=0.5, batch_size=16, to_input=None, inputs=None, progress=True):
    """Grad-CAM of one model on every row of a processed table, measured in the frame the model saw.

    Parameters
    ----------
    table : pandas.DataFrame
        Rows of ``processed.csv``: the image column, ``roi_y0, roi_x0, roi_y1, roi_x1``
        (fractions) and optionally ``mask_path`` (lung-field mask; empty/NaN: none).
    model : keras.Model
        Classifier with one sigmoid output.
    image_column : str
        Column with the model's input images (one arm's, ``image_<arm>`` of processed.csv); read and
        resized to the model's input size by ``cxrlib.models.read_images``.
    crop : bool
        True when the images are ROI crops: their frame is the box, and the lung mask is cut to it.
    frame_size : int
        Side of the square frame the measures are taken in (:func:`frame_of`).
    regions : dict, optional
        ``{name: list of boxes}``, one box (fractions) or None per row: adds a column
        ``mass_in_<name>`` (e.g. the synthetic data's shortcut marker).
    layer_name, pred_index, threshold, batch_size, to_input
        As in :func:`gradcam`.
    inputs : ndarray, optional
        The rows' inputs to ``model`` when it is not the whole classifier (the trained part and the cached
        features of the frozen part, :func:`cxrlib.models.gradcam_inputs`); None: read the image column.
    progress : bool
        Show a progress bar.

    Returns
    -------
    measures : pandas.DataFrame
        Same index as `table`: ``probability``, ``explained_class``, the measures of
        :func:`heatmap_measures` and the ``mass_in_<name>`` columns (these in the whole-image frame, where
        a cropped arm's heatmap is zero outside its box).
    heatmaps : (N, h, w) float32 ndarray
        The low-resolution heatmaps (over the model's input).
    """
    missing = [c for c in (image_column, *ROI_COLUMNS) if c not in table.columns]
    if missing:
        raise ValueError(f"table lacks the columns {missing}; pass rows of processed.csv (02_preprocessing)")
    if isinstance(frame_size, bool) or not isinstance(frame_size, int) or frame_size < 8:
        raise ValueError(f"frame_size must be an int >= 8, got {frame_size!r}")
    regions = regions or {}
    for name, boxes in regions.items():
        if len(boxes) != len(table):
            raise ValueError(f"regions[{name!r}] must hold one box (or None) per row ({len(table)}), got {len(boxes)}")
    from ..data.images import read_radiograph
    from ..models.inputs import read_images

    if inputs is None:
        images = read_images(table[image_column], size=model.input_shape[1], progress=progress)
        heatmaps, probs = gradcam(images, model, layer_name=layer_name, pred_index=pred_index, threshold=threshold,
                                  batch_size=batch_size, to_input=to_input, progress=progress)
    elif len(inputs) != len(table):
        raise ValueError(f"inputs holds {len(inputs)} rows for a table of {len(table)}; give one per row")
    else:
        heatmaps, probs = heatmaps_in_batches(lambda rows: np.asarray(inputs[rows], dtype=np.float32), len(inputs), model,
                                      layer_name=layer_name, pred_index=pred_index, threshold=threshold,
                                      batch_size=batch_size, progress=progress)
    has_masks = "mask_path" in table.columns
    rows = []
    for i, record in enumerate(table.itertuples(index=False)):
        box = tuple(getattr(record, c) for c in ROI_COLUMNS)
        mask = None
        if has_masks and isinstance(record.mask_path, str) and record.mask_path:
            mask = read_radiograph(record.mask_path) > 0
        in_frame, frame_mask = frame_of(heatmaps[i], frame_size, box=box if crop else None, mask=mask)
        row = heatmap_measures(in_frame, None if crop else box, mask=frame_mask)
        if regions:
            full = to_frame(heatmaps[i], (frame_size, frame_size), box=box if crop else None)
            for name, boxes in regions.items():
                row[f"mass_in_{name}"] = np.nan if boxes[i] is None else _mass_in(full, boxes[i])
        rows.append(row)
    out = pd.DataFrame(rows, index=table.index)
    out.insert(0, "probability", probs)
    out.insert(1, "explained_class", (probs >= threshold).astype(int) if pred_index is None else pred_index)
    flat = int((heatmaps.reshape(len(heatmaps), -1).max(axis=1) <= 0).sum())
    if flat:
        warnings.warn(f"{flat} heatmaps are zero everywhere (no location supports the explained class); their "
                      "measures are nan", stacklevel=2)
    return out, heatmaps
