"""Small valid files made on the spot: a PDF, a photo and a voice note, for `make run`'s demo and the tests
(no binary fixtures in the repository, and nothing downloaded)."""

from __future__ import annotations

import array
import math
from pathlib import Path


def pdf(title: str, lines: list[str], padding: int = 0) -> bytes:
    """A one-page PDF with a title and lines of text; `padding` adds an unused binary stream of that many
    bytes (a large but valid file, for upload tests)."""
    def escape(text: str) -> str:
        return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    text = [f"BT /F1 18 Tf 72 720 Td ({escape(title)}) Tj ET"]
    text += [f"BT /F1 12 Tf 72 {690 - 18 * i} Td ({escape(line)}) Tj ET" for i, line in enumerate(lines)]
    content = "\n".join(text).encode("latin-1", "replace")
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
               b"/Resources << /Font << /F1 5 0 R >> >> >>",
               b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    if padding:
        filler = bytes((i * 7919 + (i >> 8) * 104729) & 0xFF for i in range(min(padding, 1 << 16)))
        body = (filler * (padding // len(filler) + 1))[:padding]
        objects.append(b"<< /Length %d >>\nstream\n" % padding + body + b"\nendstream")
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, obj in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def photo(path: Path, width: int = 1600, height: int = 1200, gps: tuple[float, float] | None = None,
          sideways: bool = False) -> Path:
    """A JPEG that looks like a workshop's flipchart; with `gps`, its EXIF carries that position, and with
    `sideways` an orientation tag ("rotate 90° to show"), as a phone's camera would write them."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (width, height), (246, 244, 236))
    draw = ImageDraw.Draw(image)
    draw.rectangle((width * 0.08, height * 0.06, width * 0.92, height * 0.94), outline=(60, 60, 60), width=6)
    colours = [(11, 92, 173), (166, 27, 27), (29, 107, 53), (138, 90, 0)]
    for row in range(7):
        y = height * (0.15 + row * 0.11)
        draw.line((width * 0.15, y, width * (0.45 + 0.06 * (row % 5)), y), fill=colours[row % 4], width=14)
        draw.ellipse((width * 0.11 - 12, y - 12, width * 0.11 + 12, y + 12), fill=colours[row % 4])
    exif = Image.Exif()
    if sideways:
        exif[0x0112] = 6
    if gps is not None:
        exif[0x8825] = {1: "N" if gps[0] >= 0 else "S", 2: _dms(gps[0]), 3: "E" if gps[1] >= 0 else "W",
                        4: _dms(gps[1])}
        exif[0x010F] = "Convene test camera"
    image.save(path, "JPEG", quality=88, exif=exif.tobytes())
    return path


def _dms(degrees: float) -> tuple[float, float, float]:
    degrees = abs(degrees)
    minutes = (degrees % 1) * 60
    return (float(int(degrees)), float(int(minutes)), round((minutes % 1) * 60, 2))


def voice_note(path: Path, seconds: float = 3.0) -> Path:
    """An Ogg Opus file of a few soft rising tones (something a voice note player can play)."""
    import av

    rate, frame = 48_000, 960
    with av.open(str(path), "w", format="ogg") as container:
        stream = container.add_stream("libopus", rate=rate)
        stream.layout = "mono"
        stream.bit_rate = 24_000
        for index in range(int(seconds * rate / frame)):
            tone = 330.0 * (1 + (index * frame // rate) / 4)
            samples = array.array("h", (int(6000 * math.sin(2 * math.pi * tone * (index * frame + j) / rate))
                                        for j in range(frame)))
            chunk = av.AudioFrame(format="s16", layout="mono", samples=frame)
            chunk.planes[0].update(samples.tobytes())
            chunk.sample_rate, chunk.pts = rate, index * frame
            for packet in stream.encode(chunk):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path
