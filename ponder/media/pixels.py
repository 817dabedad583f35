"""What the pixels alone say: dominant colours by name, and the simple shapes drawn on a plain ground.

No model is needed for this, only geometry: colours are named by the nearest of a list of everyday
colour names in CIE Lab (so "the red one" means what a person would call red), and shapes are found
as the outlines (OpenCV contours) of regions that differ from the background, then told apart by
how many corners their simplified outline has and how round they are. Diagrams, charts, flags and
puzzles are made of such shapes; photographs are not, so when the picture breaks into many ragged
regions this stage reports nothing rather than guess.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image

RGB = tuple[int, int, int]

PALETTE: tuple[tuple[str, RGB], ...] = (
    ("black", (0, 0, 0)),
    ("dark gray", (64, 64, 64)),
    ("gray", (128, 128, 128)),
    ("light gray", (200, 200, 200)),
    ("white", (255, 255, 255)),
    ("red", (255, 0, 0)),
    ("red", (200, 16, 32)),
    ("dark red", (128, 0, 0)),
    ("brown", (165, 42, 42)),
    ("brown", (139, 90, 43)),
    ("orange", (255, 140, 0)),
    ("orange", (255, 165, 0)),
    ("yellow", (255, 255, 0)),
    ("yellow", (240, 220, 60)),
    ("beige", (245, 235, 200)),
    ("olive", (128, 128, 0)),
    ("green", (0, 255, 0)),
    ("green", (0, 160, 0)),
    ("dark green", (0, 90, 0)),
    ("teal", (0, 128, 128)),
    ("cyan", (0, 255, 255)),
    ("light blue", (135, 200, 250)),
    ("blue", (0, 0, 255)),
    ("blue", (30, 90, 220)),
    ("navy", (0, 0, 128)),
    ("purple", (128, 0, 128)),
    ("purple", (140, 60, 200)),
    ("magenta", (255, 0, 255)),
    ("pink", (255, 182, 193)),
)


def _lab(rgb: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """sRGB (0–255, last axis) to CIE Lab (D65)."""
    c = rgb / 255.0
    c = np.where(c > 0.04045, ((c + 0.055) / 1.055) ** 2.4, c / 12.92)
    m = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
    xyz = c @ m.T / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], axis=-1)


_PALETTE_LAB = _lab(np.array([rgb for _, rgb in PALETTE], dtype=np.float64))


def colour_name(rgb: RGB) -> str:
    """The everyday name of a colour: the nearest palette entry in Lab."""
    d = np.linalg.norm(_PALETTE_LAB - _lab(np.array(rgb, dtype=np.float64)), axis=1)
    return PALETTE[int(np.argmin(d))][0]


@dataclass(frozen=True)
class Colour:
    name: str
    share: float
    rgb: RGB


def dominant_colours(im: Image.Image, top: int = 4, min_share: float = 0.03) -> list[Colour]:
    """The main colours by area, merged by name, largest first."""
    small = im.copy()
    small.thumbnail((128, 128))
    quantised = small.quantize(colors=8, method=Image.Quantize.MEDIANCUT)
    palette = quantised.getpalette() or []
    total = small.width * small.height
    merged: dict[str, Colour] = {}
    counts = [(n, int(i)) for n, i in quantised.getcolors() or [] if isinstance(i, int)]  # palette indices
    for count, idx in sorted(counts, reverse=True):
        r, g, b = (int(v) for v in palette[3 * idx : 3 * idx + 3])
        name = colour_name((r, g, b))
        prior = merged.get(name)
        share = count / total + (prior.share if prior else 0.0)
        merged[name] = Colour(name, share, prior.rgb if prior else (r, g, b))
    ranked = sorted(merged.values(), key=lambda c: -c.share)
    return [c for c in ranked if c.share >= min_share][:top]


@dataclass(frozen=True)
class Shape:
    kind: str
    colour: str
    box: tuple[int, int, int, int]
    """x0, y0, x1, y1 in the image's pixels."""
    share: float
    """Fraction of the image it covers."""


MAX_SIDE = 512
MIN_SHARE = 0.002
MIN_PIXELS = 12
MAX_SHAPES = 8


def _kind(contour: npt.NDArray[np.int32]) -> str | None:
    area = cv2.contourArea(contour)
    perimeter = cv2.arcLength(contour, True)
    hull = cv2.contourArea(cv2.convexHull(contour))
    if perimeter == 0 or hull == 0 or area / hull < 0.85:
        return None  # ragged or hollow: not a simple shape
    corners = len(cv2.approxPolyDP(contour, 0.04 * perimeter, True))
    roundness = 4 * math.pi * area / perimeter**2
    (_, _), (rw, rh), _ = cv2.minAreaRect(contour)
    if max(rw, rh) > 8 * max(min(rw, rh), 1.0):
        return "line"
    fill = area / max(rw * rh, 1e-6)
    """How much of its tightest rotated box it fills: triangle ½, circle π/4, rectangle 1."""
    if area < 400 and corners in (3, 4):  # few pixels blur corners: trust the fill instead
        corners = 3 if fill < 0.65 else 4 if fill > 0.88 else corners
    if corners == 3:
        return "triangle"
    if corners == 4:
        return "rectangle"
    if roundness > 0.8:
        _, (w, h), _ = cv2.fitEllipse(contour) if len(contour) >= 5 else (None, (1.0, 1.0), None)
        return "circle" if min(w, h) / max(w, h, 1e-6) > 0.8 else "ellipse"
    return {5: "pentagon", 6: "hexagon"}.get(corners, "polygon")


def shapes(im: Image.Image, exclude: list[tuple[int, int, int, int]] | None = None) -> list[Shape]:
    """Simple filled shapes on a plain background, largest first; [] when the image is not like that.

    `exclude` holds boxes already explained (lines of text read by OCR): regions inside them are glyphs.
    """
    scale = min(1.0, MAX_SIDE / max(im.size))
    work = im if scale == 1.0 else im.resize((round(im.width * scale), round(im.height * scale)))
    arr = np.asarray(work, dtype=np.int16)
    border = np.concatenate([arr[0], arr[-1], arr[:, 0], arr[:, -1]])
    background = np.median(border, axis=0)
    if np.mean(np.linalg.norm(border - background, axis=1) < 40) < 0.6:
        return []  # no plain ground around the picture
    mask = (np.linalg.norm(arr - background, axis=2) > 60).astype(np.uint8)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    total = arr.shape[0] * arr.shape[1]
    big = [c for c in contours if cv2.contourArea(c) >= max(MIN_SHARE * total, MIN_PIXELS)]
    if len(big) > MAX_SHAPES:
        return []
    found: list[Shape] = []
    for c in sorted(big, key=cv2.contourArea, reverse=True):
        x, y, w, h = cv2.boundingRect(c)
        box = (round(x / scale), round(y / scale), round((x + w) / scale), round((y + h) / scale))
        if exclude and any(_inside(box, e) for e in exclude):
            continue
        kind = _kind(c)
        if kind is None:
            continue
        inner = np.zeros(mask.shape, np.uint8)
        cv2.drawContours(inner, [c], -1, 1, thickness=-1)
        eroded = cv2.erode(inner, np.ones((3, 3), np.uint8))
        region = arr[(eroded if eroded.any() else inner).astype(bool)]
        r, g, b = (int(v) for v in np.median(region, axis=0))
        found.append(Shape(kind, colour_name((r, g, b)), box, cv2.contourArea(c) / total))
    return found


def _inside(box: tuple[int, int, int, int], outer: tuple[int, int, int, int], slack: int = 4) -> bool:
    return (
        box[0] >= outer[0] - slack
        and box[1] >= outer[1] - slack
        and box[2] <= outer[2] + slack
        and box[3] <= outer[3] + slack
    )
