"""Images in: the bytes a client sent, checked before anything else reads them.

A client's MIME type is a claim; the file's magic bytes decide what it is. Size in bytes is checked
before decoding, and the pixel count is read from the header before a single pixel is decompressed,
so a 50 KB PNG that expands to gigabytes (a decompression bomb) is refused without being inflated.
Pillow's own bomb guard stays on too: it speaks first for headers past its fixed limit (~89 M
pixels). Every refusal is a `BadImage` (HTTP 400) that names the image and says what is wrong with
it. Only the first frame of an animated GIF or WebP is read.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import httpx
from PIL import Image, UnidentifiedImageError

from ponder.config import ImagesSettings
from ponder.errors import BadRequest
from ponder.types import Media

ACCEPTED = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp", "GIF": "image/gif"}

_OTHERS = (
    (b"%PDF", "a PDF document"),
    (b"BM", "a BMP image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"<svg", "an SVG drawing"),
    (b"<?xml", "an XML (SVG?) file"),
    (b"\x00\x00\x00\x0cjP", "a JPEG 2000 image"),
    (b"RIFF", "a RIFF file (WAV audio?)"),
    (b"ID3", "an MP3 file"),
    (b"PK\x03\x04", "a ZIP archive"),
)


class BadImage(BadRequest):
    code = "invalid_image"

    def __init__(self, message: str) -> None:
        super().__init__(message, param="messages")


@dataclass(frozen=True)
class LoadedImage:
    """A validated image: its first frame as RGB, and what the bytes said it was."""

    image: Image.Image
    format: str
    """PNG, JPEG, WEBP or GIF, from the magic bytes."""
    n_bytes: int
    frames: int = 1

    @property
    def width(self) -> int:
        return self.image.width

    @property
    def height(self) -> int:
        return self.image.height


def sniff(data: bytes) -> str | None:
    """The accepted format these bytes are (PNG, JPEG, WEBP, GIF), or None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "GIF"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def _what(data: bytes) -> str:
    head = data[:16].lstrip()
    if data[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftypavif"):
        return "a HEIC/AVIF image"
    for magic, name in _OTHERS:
        if head.startswith(magic):
            return name
    if not data:
        return "empty"
    return f"unrecognised (it starts with bytes {data[:8].hex(' ')})"


def _mb(n: int) -> str:
    return f"{n / 1_000_000:.1f} MB" if n >= 100_000 else f"{n / 1000:.1f} KB"


def load(data: bytes, limits: ImagesSettings, item: int = 1) -> LoadedImage:
    """Validate `data` and decode its first frame, or raise `BadImage` saying what is wrong."""
    name = f"image {item}"
    if len(data) > limits.max_bytes:
        raise BadImage(f"{name} is {_mb(len(data))}; the largest image accepted is {_mb(limits.max_bytes)}")
    fmt = sniff(data)
    if fmt is None:
        raise BadImage(f"{name} is not a PNG, JPEG, WebP or GIF image: the file is {_what(data)}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data), formats=[fmt])
            width, height = im.size
            pixels = width * height
            if pixels > limits.max_pixels or max(width, height) > limits.max_side:
                raise BadImage(
                    f"{name} is {width}×{height} pixels; the limit is {limits.max_pixels:,} pixels and "
                    f"{limits.max_side} on the longest side (scale it down and send it again)"
                )
            frames = int(getattr(im, "n_frames", 1))
            im.seek(0)
            im.load()
    except BadImage:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:  # Pillow's guard, behind ours
        raise BadImage(
            f"{name} is too large to decode safely ({str(exc).split(', could')[0]}); "
            f"the limit is {limits.max_pixels:,} pixels"
        ) from None
    except UnidentifiedImageError:
        raise BadImage(f"{name} starts like a {fmt} file but its header is damaged") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise BadImage(f"{name} is a damaged or truncated {fmt} file ({exc}); send the complete file") from None
    return LoadedImage(_rgb(im), fmt, len(data), frames)


def _rgb(im: Image.Image) -> Image.Image:
    """The frame as RGB; transparency is laid over white, as a viewer would show it."""
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return im.convert("RGB")


async def fetch(url: str, limits: ImagesSettings) -> bytes:
    """An http(s) image's bytes, where the operator allows fetching; size- and time-limited."""
    if not limits.fetch_urls:
        raise BadImage(
            "this server does not fetch image URLs; send the image inline as a data: URL "
            "(data:image/png;base64,…), or ask the operator to set images.fetch_urls = true"
        )
    try:
        async with (
            httpx.AsyncClient(timeout=limits.fetch_timeout, follow_redirects=True, max_redirects=3) as client,
            client.stream("GET", url) as response,
        ):
            if response.status_code != 200:
                raise BadImage(f"fetching the image {url} failed: HTTP {response.status_code}")
            declared = response.headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > limits.max_bytes:
                raise BadImage(f"the image at {url} is {_mb(int(declared))}; the limit is {_mb(limits.max_bytes)}")
            body = bytearray()
            async for block in response.aiter_bytes():
                body += block
                if len(body) > limits.max_bytes:
                    raise BadImage(f"the image at {url} is larger than the limit of {_mb(limits.max_bytes)}")
            return bytes(body)
    except httpx.TimeoutException:
        raise BadImage(f"fetching the image {url} took longer than {limits.fetch_timeout:g} s") from None
    except httpx.HTTPError as exc:
        raise BadImage(f"could not fetch the image {url}: {exc}") from None


async def media_bytes(media: Media, limits: ImagesSettings) -> bytes:
    """The image's bytes: inline as sent, or fetched when it came as an http(s) URL."""
    if media.format == "url":
        return await fetch(media.data.decode(), limits)
    return media.data


def from_path(path: str, limits: ImagesSettings) -> Media:
    """An image file named on the command line, as the API would receive it (checked when perceived)."""
    try:
        with open(path, "rb") as f:
            data = f.read(limits.max_bytes + 1)  # one byte over is enough for `load` to refuse it
    except OSError as exc:
        raise BadRequest(f"cannot read image {path}: {exc.strerror or exc}") from None
    fmt = sniff(data)
    return Media(kind="image", data=data, format=ACCEPTED.get(fmt or ""))
