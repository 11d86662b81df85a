"""Re-encoding an uploaded image with Pillow: orientation applied, then every byte of metadata left behind
(EXIF and its GPS position above all, XMP, comments, ICC profiles), scaled to a sensible size, plus a
phone-sized preview. Runs in the child process of rooms/attachments/process.py, never in the server.

Nothing of the original file is copied: each frame's pixels are read into a new image, which has no
metadata to carry, so no encoder option can bring a tag back by default.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, ImageSequence

from rooms.attachments.sniffing import GIF, JPEG, PNG, WEBP, FileType

FORMATS = {JPEG.content_type: "JPEG", PNG.content_type: "PNG", GIF.content_type: "GIF", WEBP.content_type: "WEBP"}
MAX_FRAMES = 300


class ImageRefused(Exception):
    """Not a readable image of the sniffed format, or (too_large) too many pixels to decode safely."""

    def __init__(self, message: str, too_large: bool = False) -> None:
        super().__init__(message)
        self.too_large = too_large


@dataclass(frozen=True)
class Limits:
    max_pixels: int
    max_side: int
    preview_side: int


def reencode(source: Path, file_type: FileType, out: Path, preview: Path, limits: Limits) -> dict:
    """Writes the clean image to `out` and a WebP preview to `preview`; answers their dimensions."""
    expected = FORMATS[file_type.content_type]
    Image.MAX_IMAGE_PIXELS = None   # our own limit below, checked before any pixel is decoded
    try:
        with Image.open(source, formats=[expected]) as image:
            width, height = image.size
            frames = getattr(image, "n_frames", 1) if expected in ("GIF", "WEBP") else 1
            if width * height > limits.max_pixels or width * height * min(frames, MAX_FRAMES) > 4 * limits.max_pixels:
                raise ImageRefused(f"images are limited to {limits.max_pixels // 1_000_000} megapixels", True)
            if frames > MAX_FRAMES:
                raise ImageRefused(f"animations are limited to {MAX_FRAMES} frames", True)
            if frames > 1:
                clean = _animation(image, limits.max_side)
                first = clean[0][0]
                first.save(out, expected, save_all=True, append_images=[f for f, _ in clean[1:]],
                           duration=[d for _, d in clean], loop=0, optimize=False)
            else:
                first = _still(image, expected, limits.max_side)
                _save_still(first, out, expected)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError, EOFError) as error:
        raise ImageRefused(f"not a readable image: {error}") from None
    shown = first.copy()
    shown.thumbnail((limits.preview_side, limits.preview_side), Image.Resampling.LANCZOS)
    if shown.mode not in ("RGB", "RGBA"):
        shown = shown.convert("RGBA" if "A" in shown.mode else "RGB")
    shown.save(preview, "WEBP", quality=70, method=4)
    return {"width": first.width, "height": first.height,
            "preview": {"width": shown.width, "height": shown.height, "content_type": "image/webp"}}


def _pixels_only(image: Image.Image) -> Image.Image:
    """A new image holding only the pixels: no info dict, no EXIF, no profile, no palette tricks."""
    if image.mode not in ("1", "L", "LA", "RGB", "RGBA"):
        image = image.convert("RGBA" if image.mode in ("P", "PA") and "transparency" in image.info
                              or image.mode.endswith("A") else "RGB")
    return Image.frombytes(image.mode, image.size, image.tobytes())


def _still(image: Image.Image, expected: str, max_side: int) -> Image.Image:
    # Orientation first: a phone photo's pixels are stored sideways and EXIF says how to turn them.
    image = ImageOps.exif_transpose(image) or image
    clean = _pixels_only(image)
    if expected == "JPEG" and clean.mode not in ("L", "RGB"):
        clean = clean.convert("RGB")
    clean.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return clean


def _save_still(image: Image.Image, out: Path, expected: str) -> None:
    if expected == "JPEG":
        image.save(out, "JPEG", quality=85, optimize=True, progressive=True)
    elif expected == "PNG":
        image.save(out, "PNG", optimize=True)
    elif expected == "WEBP":
        image.save(out, "WEBP", quality=85, method=4)
    else:
        image.save(out, "GIF", optimize=True)


def _animation(image: Image.Image, max_side: int) -> list[tuple[Image.Image, int]]:
    frames = []
    for frame in ImageSequence.Iterator(image):
        duration = int(frame.info.get("duration", 100) or 100)
        clean = _pixels_only(frame.convert("RGBA"))
        clean.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
        frames.append((clean, duration))
    return frames
