"""What a file is comes from its content: the signature table, office documents looked into, plain text
checked, markup and everything else refused; and the names files are served under."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from rooms.attachments import samples
from rooms.attachments.sniffing import (
    DOCX, GIF, JPEG, M4A, MP3, ODT, OGG_OPUS, PDF, PNG, PPTX, TEXT, WEBM_AUDIO, WEBP, XLSX, safe_name, sniff,
)
from rooms.errors import UnsupportedMedia


def _file(tmp_path: Path, data: bytes, name: str = "upload") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _image(fmt: str) -> bytes:
    from PIL import Image
    out = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(out, fmt)
    return out.getvalue()


def _zip(entries: dict[str, bytes], first: tuple[str, bytes] | None = None) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        if first:
            archive.writestr(zipfile.ZipInfo(first[0]), first[1], compress_type=zipfile.ZIP_STORED)
        for name, data in entries.items():
            archive.writestr(name, data, compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


OOXML_TYPES = b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>'


@pytest.mark.parametrize("data, expected", [
    (_image("JPEG"), JPEG), (_image("PNG"), PNG), (_image("GIF"), GIF), (_image("WEBP"), WEBP),
    (samples.pdf("A title", ["a line"]), PDF),
    (b"OggS\x00\x02" + b"\x00" * 22 + b"OpusHead\x01\x01", OGG_OPUS),
    (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm", WEBM_AUDIO),
    (b"ID3\x04\x00\x00\x00\x00\x00\x00", MP3), (b"\xff\xfb\x90\x64" + b"\x00" * 100, MP3),
    (b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00", M4A),
    (_zip({"[Content_Types].xml": OOXML_TYPES, "word/document.xml": b"<w/>"}), DOCX),
    (_zip({"[Content_Types].xml": OOXML_TYPES, "xl/workbook.xml": b"<w/>"}), XLSX),
    (_zip({"[Content_Types].xml": OOXML_TYPES, "ppt/presentation.xml": b"<p/>"}), PPTX),
    (_zip({"content.xml": b"<x/>"}, first=("mimetype", b"application/vnd.oasis.opendocument.text")), ODT),
    ("Notes from the session\nnext: follow-up calls — café, مرحبا\n".encode(), TEXT),
    ("\ufeffa,b,c\n1,2,3\n".encode(), TEXT),
])
def test_accepted_types_are_recognised_by_content(tmp_path, data, expected):
    assert sniff(_file(tmp_path, data, "misleading.exe")) == expected


@pytest.mark.parametrize("data, reason", [
    (b"<!DOCTYPE html><html><script>alert(1)</script></html>", "markup"),
    (b"  \n<html><body onload=alert(1)>", "markup"),
    (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "markup"),
    (b'<?xml version="1.0"?><svg/>', "markup"),
    (b"\xef\xbb\xbf<script>alert(1)</script>", "markup"),
    (b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 64, "not accepted"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64, "old binary Office"),
    (_zip({"a.txt": b"hello"}), "zip archives"),
    (_zip({"[Content_Types].xml": OOXML_TYPES, "word/document.xml": b"<w/>", "word/vbaProject.bin": b"x"}),
     "macros"),
    (_zip({"[Content_Types].xml": OOXML_TYPES.replace(b"/>", b"><Default ContentType="
                                                          b'"application/vnd.ms-word.document.macroEnabled.main+xml"/>'
                                                          b"</Types>"),
           "word/document.xml": b"<w/>"}), "macros"),
    (b"PK\x03\x04 not really a zip", "could not be read"),
    (b"OggS\x00\x02" + b"\x00" * 22 + b"\x01vorbis", "only Opus"),
    (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x88matroska", "WebM"),
    (b"plain text\x00with a NUL", "not accepted"),
    (b"caf\xe9 in latin-1", "not accepted"),
    (b"", "empty"),
])
def test_refused_content_is_refused_with_a_reason(tmp_path, data, reason):
    with pytest.raises(UnsupportedMedia) as refused:
        sniff(_file(tmp_path, data, "photo.png"))
    assert reason in refused.value.message
    assert refused.value.http_status == 415 and refused.value.code == "unsupported_media_type"


@pytest.mark.parametrize("name, file_type, expected", [
    ("photo.png", JPEG, "photo.jpg"),
    ("Flipchart.JPEG", JPEG, "Flipchart.jpeg"),
    ("notes.html", TEXT, "notes.txt"),
    ("report.csv", TEXT, "report.csv"),
    ("../../etc/passwd", TEXT, "passwd.txt"),
    ("C:\\Users\\amina\\plan.docx", DOCX, "plan.docx"),
    ("voice\u202enote.ogg", OGG_OPUS, "voicenote.ogg"),   # a right-to-left override is a control character
    ("", OGG_OPUS, "voice-note.ogg"),
    ("...", PDF, "file.pdf"),
    ("version 2.final", PDF, "version 2.pdf"),
    ("x" * 300 + ".pdf", PDF, "x" * 116 + ".pdf"),
])
def test_names_are_safe_and_end_as_what_they_are(name, file_type, expected):
    assert safe_name(name, file_type) == expected
