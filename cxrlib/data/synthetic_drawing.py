"""Drawing one synthetic chest radiograph: cartoon anatomy, pneumonia opacities, film, burned-in markers.

:func:`cxrlib.data.synthetic_radiograph` calls these in order; lengths are fractions of the image side and
intensities lie in [0, 1] until :func:`film` turns the drawing into an 8-bit radiograph.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["render_anatomy", "pneumonia_opacity", "film", "side_letter", "date_strip", "shortcut_tag"]


def render_anatomy(a, rng, size):
    """Body, lungs, ribs, spine, heart; returns float image, (right, left) lung masks and the rib-cage mask."""
    s = float(size)
    dx, dy = rng.uniform(-0.01, 0.01, 2)
    cx, inspiration = a.center_x + dx, rng.uniform(-0.01, 0.01)
    apex, base = a.apex_y + dy, a.base_y + dy + inspiration
    y = (np.arange(size, dtype=np.float32) / s)[:, None]
    x = (np.arange(size, dtype=np.float32) / s)[None, :]

    body = np.zeros((size, size), np.uint8)
    cv2.fillPoly(body, [_px(_torso_outline(cx, a.shoulder_y + dy, a.half_width), s)], 255, cv2.LINE_AA, 4)
    for side in (-1, 1):  # arms, with a gap of air beside the chest wall
        cv2.ellipse(body, _pt(cx + side * (a.half_width + 0.2), 0.6 + dy, s), _pt(0.07, 0.42, s), side * -4, 0, 360,
                    255, -1, cv2.LINE_AA, 4)
    tissue = _blur_coarse(body, 0.025 * s).astype(np.float32) / 255
    abdomen = 1 + 0.18 / (1 + np.exp(-(y - base + 0.03) / 0.03))  # denser below the diaphragm
    img = rng.uniform(0.02, 0.07) + tissue * (0.75 + 0.25 * tissue) * (a.soft_tissue * abdomen)

    outlines, lungs = [], []
    for side in (-1, 1):
        width = a.half_width * (a.right_lung_scale if side < 0 else 1.0)
        outlines.append(_px(_lung_outline(cx, apex, base - 0.02 * (side < 0), width, a, side), s))
        lungs.append(cv2.fillPoly(np.zeros((size, size), np.uint8), [outlines[-1]], 1, cv2.LINE_8, 4))
    heart = np.zeros((size, size), np.uint8)
    hx, hy, hrx, hry = a.heart
    cv2.ellipse(heart, _pt(cx + hx, hy + dy + inspiration, s), _pt(hrx, hry, s), -25, 0, 360, 1, -1, cv2.LINE_8, 4)
    lungs = [lung.astype(bool) & ~heart.astype(bool) for lung in lungs]
    cage = _cage(np.concatenate(outlines) >> 4, size)

    medial = (y > apex - 0.05) * np.exp(-((x - cx) / (a.mediastinum + 0.02)) ** 8)
    img += 0.06 * cv2.GaussianBlur(medial.astype(np.float32), (0, 0), 0.01 * s)
    img += 0.04 * cv2.GaussianBlur(heart.astype(np.float32), (0, 0), 0.012 * s)
    air = cv2.GaussianBlur((lungs[0] | lungs[1]).astype(np.float32), (0, 0), 0.006 * s)
    img += _bones(a, cx, apex, base, dy, size) + _ribs(a, cx, apex, base, cage, size, rng) * (0.4 + 0.6 * air)
    hilum = np.exp(-((y - apex - 0.2) / 0.12) ** 2) * np.exp(-((np.abs(x - cx) - a.mediastinum - 0.05) / 0.09) ** 2)
    img -= a.lung_air * air * (1 - 0.35 * hilum) * (1 + 0.12 * _smooth_noise(rng, size, cells=24))
    img += _vessels(lungs, cx, apex, a, size, rng)

    rot = cv2.getRotationMatrix2D((size / 2, size / 2), rng.normal(0, 0.8), 1.0)
    img = cv2.warpAffine(img, rot, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    warp = lambda m: cv2.warpAffine(m.astype(np.uint8), rot, (size, size), flags=cv2.INTER_NEAREST).astype(bool)
    img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.5, 1.0) * s / 256)
    return img, [warp(m) for m in lungs], warp(cage)


def _torso_outline(cx, shoulder, half_width):
    """Body outline as (x, y) fractions: up the left chest wall, over the shoulders and neck, down the right."""
    w = half_width + 0.08
    right = [(0.07, -0.02), (0.075, shoulder - 0.06), (0.14, shoulder - 0.02), (w - 0.06, shoulder),
             (w, shoulder + 0.05), (w + 0.01, shoulder + 0.15), (w, 0.6), (w - 0.03, 1.05)]
    left = [(-x, y) for x, y in reversed(right)]
    return [(cx + x, y) for x, y in left + right]


def _lung_outline(cx, apex, base, width, a, side):
    """Teardrop lung outline as (x, y) fractions: apex, lateral wall, diaphragm dome, medial border."""
    medial = cx + side * a.mediastinum
    lateral = cx + side * width
    top = cx + side * (a.mediastinum + 0.35 * (width - a.mediastinum))
    t = np.linspace(0, 1, 24)
    wall = np.c_[top + (lateral - top) * np.sin(np.pi / 2 * t) ** 0.5, apex + (base - apex) * t]
    u = np.linspace(0, 1, 16)[1:]
    dome = np.c_[lateral + (medial - lateral) * u, base - a.dome * np.sin(np.pi * np.minimum(u / 0.6, 1) / 2)]
    t = np.linspace(1, 0, 20)[1:-1]
    inner = np.c_[top + (medial - top) * np.sin(np.pi / 2 * t) ** 0.3, apex + (base - a.dome - apex) * t]
    return np.r_[wall, dome, inner]


def _cage(points, size):
    """Rib-cage mask: convex hull of the lung outlines (pixel points) grown by a rib width."""
    cage = np.zeros((size, size), np.uint8)
    cv2.fillPoly(cage, [cv2.convexHull(points)], 1)
    grow = max(3, round(0.02 * size)) * 2 + 1
    return cv2.dilate(cage, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (grow, grow))).astype(bool)


def _ribs(a, cx, apex, base, cage, size, rng):
    """Posterior (arched) and anterior (oblique, fainter) ribs clipped to the rib cage, as an additive layer."""
    s = float(size)
    layer = np.zeros((size, size), np.uint8)
    thick = max(2, round(0.014 * s))
    u = np.linspace(0, 1, 20)
    reach = a.half_width + 0.03
    for i in range(a.rib_count):
        y = apex - 0.03 + i * _rib_spacing(a, apex, base) + rng.normal(0, 0.003)
        for side in (-1, 1):
            posterior = np.c_[cx + side * (0.03 + reach * u), y - 0.04 * u + (a.rib_drop + 0.04) * u ** 2.2]
            anterior = np.c_[cx + side * (reach - (reach - 0.1) * u ** 0.8), y + a.rib_drop + 0.01 + 0.14 * u ** 1.2]
            cv2.polylines(layer, [_px(posterior, s)], False, 150, thick, cv2.LINE_AA, 4)
            cv2.polylines(layer, [_px(anterior, s)], False, 55, thick, cv2.LINE_AA, 4)
    return layer.astype(np.float32) / 255 * 0.2 * cv2.GaussianBlur(cage.astype(np.float32), (0, 0), 0.01 * s)


def _rib_spacing(a, apex, base):
    return (base - apex + 0.03) / (a.rib_count - 0.5)


def _bones(a, cx, apex, base, dy, size):
    """Clavicles, humeral heads and spine (bright), trachea (dark), as an additive layer."""
    s = float(size)
    layer = np.zeros((size, size), np.uint8)
    for side in (-1, 1):
        clavicle = np.c_[cx + side * np.linspace(0.04, 0.3, 12), apex - 0.01 - 0.06 * np.linspace(0, 1, 12) ** 1.5]
        cv2.polylines(layer, [_px(clavicle, s)], False, 160, max(2, round(0.022 * s)), cv2.LINE_AA, 4)
        cv2.circle(layer, _pt(cx + side * (a.half_width + 0.1), a.shoulder_y + dy + 0.05, s), round(0.045 * s * 16),
                   120, -1, cv2.LINE_AA, 4)
    y = (np.arange(size, dtype=np.float32) / s)[:, None]
    x = (np.arange(size, dtype=np.float32) / s)[None, :]
    vertebrae = 0.75 + 0.25 * np.cos(np.pi * (y - apex) / (_rib_spacing(a, apex, base) / 1.6)) ** 2
    spine = vertebrae * np.exp(-((x - cx) / 0.03) ** 6) * 0.08
    trachea = np.exp(-((x - cx) / 0.018) ** 4) * 0.09 / (1 + np.exp((y - apex - 0.14) / 0.02))
    return layer.astype(np.float32) / 255 * 0.2 + spine - trachea


def _vessels(lungs, cx, apex, a, size, rng):
    """Faint branching lung markings radiating from the hila, clipped to the lungs."""
    s = float(size)
    layer = np.zeros((size, size), np.uint8)
    for side in (-1, 1):
        hx, hy = cx + side * (a.mediastinum + 0.03), apex + 0.2
        for angle in rng.uniform(-1.2, 1.3, 7):
            length = rng.uniform(0.12, 0.25)
            t = np.linspace(0, 1, 8)[:, None]
            direction = np.array([side * np.cos(angle), np.sin(angle)])
            points = np.array([hx, hy]) + length * t * direction + 0.015 * np.sin(4 * t) * direction[::-1]
            cv2.polylines(layer, [_px(points, s)], False, 255, 1, cv2.LINE_AA, 4)
    return layer.astype(np.float32) / 255 * 0.05 * (lungs[0] | lungs[1])


def pneumonia_opacity(lungs, rng, *, pattern, subtype, air):
    """Additive pneumonia opacity, zero outside the lungs: soft blobs (patchy) or one lobe-like region (lobar)."""
    size = lungs[0].shape[0]
    s = float(size)
    yy = np.arange(size, dtype=np.float32)[:, None]
    xx = np.arange(size, dtype=np.float32)[None, :]
    strength = air * rng.uniform(0.2, 0.6) * (1 if pattern == "lobar" else 1.4)
    if pattern == "lobar":
        side = int(rng.integers(2))
        rows = np.flatnonzero(lungs[side].any(axis=1))
        split = rows[0] + rng.uniform(0.4, 0.6) * (rows[-1] - rows[0])
        lower = rng.random() < 0.7
        edge = 1 / (1 + np.exp((-1 if lower else 1) * (yy - split) / (0.02 * s)))
        region = np.broadcast_to(edge, (size, size)) * lungs[side]
        opacity = region * (0.75 + 0.25 * _smooth_noise(rng, size, cells=12))
    else:
        sides = [0, 1] if subtype == "virus" else [int(rng.integers(2))]
        candidates = [np.argwhere(lungs[side]) for side in sides]
        opacity = np.zeros((size, size), np.float32)
        for _ in range(int(rng.integers(3, 8))):
            points = candidates[int(rng.integers(len(sides)))]
            y, x = points[rng.integers(len(points))]
            sigma = rng.uniform(0.025, 0.06) * s
            opacity += rng.uniform(0.5, 1.0) * np.exp(-((yy - y) / sigma) ** 2 / 2) * np.exp(-((xx - x) / sigma) ** 2 / 2)
        opacity = np.minimum(opacity, 1.2) * (0.6 + 0.4 * _smooth_noise(rng, size, cells=20))
    inside = (lungs[0] | lungs[1]).astype(np.uint8)
    soft = max(1, round(0.006 * s))
    inner = cv2.erode(inside, np.ones((4 * soft + 1,) * 2, np.uint8))
    weight = cv2.GaussianBlur(inner.astype(np.float32), (0, 0), soft) * inside
    return (strength * opacity * weight).astype(np.float32)


def film(img, rng):
    """Exposure curve, film grain and mottle; returns uint8."""
    size = img.shape[0]
    img = np.clip(img, 0, 1) ** rng.uniform(0.85, 1.2)
    img += rng.uniform(0.008, 0.02) * rng.standard_normal(img.shape, dtype=np.float32)
    img += 0.02 * _smooth_noise(rng, size, cells=6)
    return np.clip(img * 255 + 0.5, 0, 255).astype(np.uint8)


def _blur_coarse(image, sigma):
    """Wide Gaussian blur computed at a quarter of the resolution (the result is smooth anyway)."""
    size = image.shape[::-1]
    small = cv2.resize(image, (size[0] // 4, size[1] // 4), interpolation=cv2.INTER_AREA)
    return cv2.resize(cv2.GaussianBlur(small, (0, 0), sigma / 4), size, interpolation=cv2.INTER_LINEAR)


def _smooth_noise(rng, size, *, cells):
    """Smooth noise in about [-1, 1]: a cells x cells grid upsampled bicubically."""
    grid = rng.uniform(-1, 1, (cells, cells)).astype(np.float32)
    return cv2.resize(grid, (size, size), interpolation=cv2.INTER_CUBIC)


# --------------------------------------------------------------------------- burned-in markers

_FONT = cv2.FONT_HERSHEY_SIMPLEX


def _stamp(image, text, org, scale, thickness, color):
    """Burn `text` (baseline-left corner at `org`) into `image` in place; return its ink box (y0, x0, y1, x1)."""
    ink = np.zeros_like(image)
    cv2.putText(ink, text, org, _FONT, scale, 255, thickness, cv2.LINE_AA)
    x, y, w, h = cv2.boundingRect(ink)
    alpha = ink[y:y + h, x:x + w] / 255.0
    image[y:y + h, x:x + w] = np.round(image[y:y + h, x:x + w] * (1 - alpha) + color * alpha)
    return (y, x, y + h, x + w)


def _fill_box(image, x, y, w, h, fill):
    """Filled rectangle with top-left (x, y), clipped to the image; return its box (y0, x0, y1, x1)."""
    y0, x0, y1, x1 = max(0, y), max(0, x), min(image.shape[0], y + h), min(image.shape[1], x + w)
    image[y0:y1, x0:x1] = fill
    return (y0, x0, y1, x1)


def side_letter(image, thorax_box, rng):
    """'R' above or beside the patient's right chest wall (image left), sometimes 'L' beside the left one."""
    size = image.shape[0]
    scale, thick = 0.5 * size / 256, max(1, round(1.5 * size / 256))
    (w, h), _ = cv2.getTextSize("R", _FONT, scale, thick)
    ty0, tx0, ty1, tx1 = thorax_box
    gap = max(2, size // 64)
    beside = (ty0 + h + gap, ty0 + size // 3)  # baseline rows beside the thorax
    spots = {  # text, x range and baseline y range of the letter's origin, weight
        "R above": ((gap, size // 6), (h + gap, max(h + gap, ty0 - gap)), 0.5),
        "R beside": ((gap, tx0 - w - gap), beside, 0.35),
        "L beside": ((tx1 + gap, size - w - gap), beside, 0.15),
    }
    fits = [key for key, ((xa, xb), (ya, yb), _) in spots.items() if xa <= xb and ya <= yb]
    weights = np.array([spots[key][2] for key in fits])
    key = fits[rng.choice(len(fits), p=weights / weights.sum())]
    (xa, xb), (ya, yb), _ = spots[key]
    return _stamp(image, key[0], (int(rng.integers(xa, xb + 1)), int(rng.integers(ya, yb + 1))), scale, thick, 240)


def date_strip(image, rng):
    """Dark strip with a light exam date at the bottom edge, left or right."""
    size = image.shape[0]
    text = f"{rng.integers(1, 13):02d}/{rng.integers(1, 29):02d}/{rng.integers(2009, 2017)}"
    scale, thick = 0.32 * size / 256, max(1, round(size / 256))
    (w, h), _ = cv2.getTextSize(text, _FONT, scale, thick)
    pad = max(2, size // 128)
    x = int(rng.integers(pad, size // 10)) if rng.random() < 0.5 else size - w - int(rng.integers(2 * pad, size // 10))
    y = size - 2 * pad - int(rng.integers(0, size // 64 + 1))  # baseline
    box = _fill_box(image, x - pad, y - h - pad, w + 2 * pad, h + 2 * pad, 15)
    _stamp(image, text, (x, y), scale, thick, 210)
    return box


def shortcut_tag(image):
    """The planted shortcut: a bright 'PORTABLE' tag at a fixed spot in the top-right corner."""
    size = image.shape[0]
    scale, thick = 0.3 * size / 256, max(1, round(size / 256))
    (w, h), _ = cv2.getTextSize("PORTABLE", _FONT, scale, thick)
    pad = max(2, size // 100)
    x, y = size - w - 3 * pad, 2 * pad + h  # baseline-left corner of the text
    box = _fill_box(image, x - pad, y - h - pad, w + 2 * pad, h + 2 * pad, 250)
    _stamp(image, "PORTABLE", (x, y), scale, thick, 30)
    return box


def _pt(x, y, s):
    """One (x, y) fraction pair -> fixed-point pixel tuple (for cv2 `shift=4`)."""
    return (round(x * s * 16), round(y * s * 16))


def _px(points, s):
    """(x, y) fractions -> int32 fixed-point pixel coordinates (4 fractional bits, for cv2 `shift=4`)."""
    return np.round(np.asarray(points, np.float64) * s * 16).astype(np.int32)
