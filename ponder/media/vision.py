"""Seeing without a vision-language model: packaged perception turned into an observation to reason over.

For each image, after validation (`images.py`): the NSFW screen first (an explicit image is flagged
for the guard and not looked at further), then OCR (text with positions), simple shapes and named
colours from the pixels, ImageNet labels for what the picture shows, and a native vision model's
description when one is configured. The result
is a compact, structured observation the language model reads in place of the pixels — ponder's
visual chain of thought — plus grounded annotations (labelled boxes) and per-stage timings for the
API's `ponder.perception` field. Every stage runs off the event loop; the models load once.
"""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from ponder.media import Evidence, Flag
from ponder.media.images import LoadedImage, load, media_bytes
from ponder.media.labels import Label
from ponder.media.ocr import TextLine, rows
from ponder.media.pixels import Shape, dominant_colours, shapes
from ponder.types import Annotation, Media

if TYPE_CHECKING:
    from ponder.config import ImagesSettings, Settings

T = TypeVar("T")


def where(box: tuple[int, int, int, int], width: int, height: int) -> str:
    """A box's place in the picture in words (top left, centre, …), which small models follow better."""
    cx, cy = (box[0] + box[2]) / 2 / width, (box[1] + box[3]) / 2 / height
    row = "top" if cy < 1 / 3 else "bottom" if cy > 2 / 3 else "middle"
    col = "left" if cx < 1 / 3 else "right" if cx > 2 / 3 else "centre"
    return "centre" if (row, col) == ("middle", "centre") else f"{row} {col}"


def observation(
    im: LoadedImage,
    colours: list[str],
    found: list[Shape],
    labels: list[Label],
    lines: list[TextLine] | None,
    seen: str | None,
) -> str:
    """The compact text block the model reads: `640×480 PNG; colours: …; shapes: …; text (OCR…): …`."""
    frames = f" (first of {im.frames} frames)" if im.frames > 1 else ""
    parts = [f"{im.width}×{im.height} {im.format}{frames}"]
    if colours:
        parts.append("colours: " + ", ".join(colours))
    if labels:
        parts.append("looks like (ImageNet classifier): " + ", ".join(f"{x.name} {x.score:.0%}" for x in labels))
    if found:
        shown = [f"a {s.colour} {s.kind} at {where(s.box, im.width, im.height)} {list(s.box)}" for s in found]
        parts.append(f"shapes ({len(found)}): " + "; ".join(shown))
    if lines is not None:
        if lines:
            shown = [_row(row, im.width, im.height) for row in rows(lines)]
            parts.append("text (OCR, one row per line, top to bottom; boxes x0,y0,x1,y1): " + "; ".join(shown))
        else:
            parts.append("text: none found")
    if seen:
        parts.append(f"vision model's description: {seen}")
    return "; ".join(parts)


def _row(row: list[TextLine], width: int, height: int) -> str:
    """A row of text as `"TOTAL" … "18.87" at bottom [20, 250, 400, 280]` (one box around the row)."""
    box = (
        min(t.box[0] for t in row),
        min(t.box[1] for t in row),
        max(t.box[2] for t in row),
        max(t.box[3] for t in row),
    )
    text = " … ".join(f'"{t.text}"' for t in row)
    return f"{text} at {where(box, width, height)} {list(box)}"


class ImagePerceiver:
    kind = "image"

    async def perceive(self, media: Media, settings: Settings) -> Evidence:
        limits = settings.images
        data = await media_bytes(media, limits)
        timings: dict[str, float] = {}

        async def timed(stage: str, fn: Callable[[], T]) -> T:
            start = time.perf_counter()
            try:
                return await asyncio.to_thread(fn)
            finally:
                timings[stage] = round(time.perf_counter() - start, 4)

        im = await timed("validate", lambda: load(data, limits))
        stages = set(limits.stages)
        summary: dict[str, object] = {"width": im.width, "height": im.height, "format": im.format}
        if "nsfw" in stages:
            from ponder.media.nsfw import scorer

            score = await timed("nsfw", lambda: scorer().score(im.image))
            summary["nsfw"] = round(score, 4)
            if score >= limits.nsfw_threshold:
                note = f"a {im.width}×{im.height} {im.format} image"
                flag = Flag("sexual_content", score, "opennsfw", note)
                return Evidence(f"{im.width}×{im.height} {im.format}; withheld", summary, (), timings, (flag,))
        lines: list[TextLine] | None = None
        if "ocr" in stages:
            from ponder.media.ocr import reader

            lines = await timed("ocr", lambda: reader().read(im.image, limits.ocr_min_score))
            summary["text"] = [t.text for t in lines]
        found: list[Shape] = []
        if "shapes" in stages:
            boxes = [t.box for t in lines or []]
            found = await timed("shapes", lambda: shapes(im.image, boxes))
            summary["shapes"] = [f"{s.colour} {s.kind}" for s in found]
        labels: list[Label] = []
        if "labels" in stages:
            from ponder.media.labels import labeller

            cache = settings.cache_dir
            labels = await timed("labels", lambda: labeller(cache).labels(im.image, limits.labels_min_score))
            summary["labels"] = {x.name: round(x.score, 4) for x in labels}
        colours: list[str] = []
        if "properties" in stages:
            ranked = await timed("colours", lambda: dominant_colours(im.image))
            colours = [f"{c.name} {c.share:.0%}" for c in ranked]
            summary["colours"] = {c.name: round(c.share, 3) for c in ranked}
        seen = None
        if "vlm" in stages and limits.vlm_model is not None:
            seen = await timed("vlm", lambda: _describe(im, limits))
            summary["description"] = seen
        annotations = tuple(
            [Annotation(t.text, t.box, round(t.score, 4), "ocr") for t in lines or []]
            + [Annotation(f"{s.colour} {s.kind}", s.box, None, "shapes") for s in found]
        )
        quoted = "\n".join(t.text for t in lines or [])
        text = observation(im, colours, found, labels, lines, seen)
        return Evidence(text, summary, annotations, timings, quoted=quoted)


def _describe(im: LoadedImage, limits: ImagesSettings) -> str:
    from ponder.media.vlm import native

    buf = io.BytesIO()
    im.image.save(buf, format="PNG")
    return native(limits).describe(buf.getvalue())
