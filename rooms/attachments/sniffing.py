"""What a file is, from its content alone: a small signature table, a careful look inside zip-based
office documents, and a strict test for plain text. The name and the declared type are never consulted.

Anything not on the allow-list is refused (UnsupportedMedia, 415): markup (HTML, SVG, XML) above all,
because a browser would run its scripts, but also archives, executables and macro-enabled documents.
"""

from __future__ import annotations

import codecs
import enum
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path

from rooms.errors import UnsupportedMedia

HEAD_BYTES = 4096
MAX_ZIP_ENTRIES = 10_000
TEXT_EXTENSIONS = frozenset({"txt", "text", "md", "csv", "tsv", "log"})
MAX_NAME_CHARS = 120


class Kind(str, enum.Enum):
    IMAGE = "image"    # re-encoded, shown inline with a preview
    AUDIO = "audio"    # remuxed without its metadata, played inline
    FILE = "file"      # offered for download


@dataclass(frozen=True)
class FileType:
    kind: Kind
    content_type: str
    extension: str                       # the canonical one, given to names that lack a fitting one
    extensions: frozenset[str] = frozenset()

    def fits(self, extension: str) -> bool:
        return extension == self.extension or extension in self.extensions


JPEG = FileType(Kind.IMAGE, "image/jpeg", "jpg", frozenset({"jpeg", "jpe"}))
PNG = FileType(Kind.IMAGE, "image/png", "png")
GIF = FileType(Kind.IMAGE, "image/gif", "gif")
WEBP = FileType(Kind.IMAGE, "image/webp", "webp")
OGG_OPUS = FileType(Kind.AUDIO, "audio/ogg", "ogg", frozenset({"opus", "oga"}))
WEBM_AUDIO = FileType(Kind.AUDIO, "audio/webm", "webm", frozenset({"weba"}))
MP3 = FileType(Kind.AUDIO, "audio/mpeg", "mp3")
M4A = FileType(Kind.AUDIO, "audio/mp4", "m4a", frozenset({"mp4", "aac"}))
PDF = FileType(Kind.FILE, "application/pdf", "pdf")
TEXT = FileType(Kind.FILE, "text/plain; charset=utf-8", "txt", TEXT_EXTENSIONS)
DOCX = FileType(Kind.FILE, "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx")
XLSX = FileType(Kind.FILE, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx")
PPTX = FileType(Kind.FILE, "application/vnd.openxmlformats-officedocument.presentationml.presentation", "pptx")
ODT = FileType(Kind.FILE, "application/vnd.oasis.opendocument.text", "odt")
ODS = FileType(Kind.FILE, "application/vnd.oasis.opendocument.spreadsheet", "ods")
ODP = FileType(Kind.FILE, "application/vnd.oasis.opendocument.presentation", "odp")

BY_CONTENT_TYPE = {t.content_type: t for t in (JPEG, PNG, GIF, WEBP, OGG_OPUS, WEBM_AUDIO, MP3, M4A, PDF, TEXT,
                                               DOCX, XLSX, PPTX, ODT, ODS, ODP)}
# OOXML: the part that makes a package a document of each kind.
_OOXML_MAIN = {"word/document.xml": DOCX, "xl/workbook.xml": XLSX, "ppt/presentation.xml": PPTX}
_ODF = {ODT.content_type: ODT, ODS.content_type: ODS, ODP.content_type: ODP}
_MARKUP = re.compile(rb"^\s*<", re.S)
_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0e-\x1f\x7f]")


def sniff(path: Path) -> FileType:
    """The file's type by its content, or UnsupportedMedia saying why it is refused."""
    with open(path, "rb") as data:
        head = data.read(HEAD_BYTES)
    if not head:
        raise UnsupportedMedia("the file is empty")
    found = _by_signature(head)
    if found is not None:
        return found
    if head.startswith(b"PK\x03\x04"):
        return _office_document(path)
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        raise UnsupportedMedia("old binary Office files (.doc, .xls, .ppt) are not accepted; save as .docx, "
                               ".xlsx or .pptx")
    if _is_plain_text(path, head):
        return TEXT
    raise UnsupportedMedia("this kind of file is not accepted: send images, voice notes or audio, PDFs, "
                           "office documents or plain text")


def _by_signature(head: bytes) -> FileType | None:
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return GIF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(b"OggS"):
        if b"OpusHead" in head[:128]:
            return OGG_OPUS
        raise UnsupportedMedia("only Opus audio is accepted in Ogg files")
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        if b"\x42\x82\x84webm" in head[:64]:   # EBML DocType "webm"; its codecs are checked on remuxing
            return WEBM_AUDIO
        raise UnsupportedMedia("only WebM audio is accepted among Matroska files")
    if head[4:8] == b"ftyp":
        return M4A   # audio-only AAC is checked on remuxing; video is refused there
    if head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE6 == 0xE2):
        return MP3   # an ID3 tag, or an MPEG audio layer III frame header
    return None


def _office_document(path: Path) -> FileType:
    """A zip is accepted only as an OOXML or ODF document of a known kind, without macros."""
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
            if len(entries) > MAX_ZIP_ENTRIES:
                raise UnsupportedMedia("this document has too many parts")
            names = {entry.filename for entry in entries}
            # OOXML keeps macros in vbaProject.bin, ODF in Basic/.
            if any("vbaproject" in name.lower() or name.startswith("Basic/") for name in names):
                raise UnsupportedMedia("documents with macros are not accepted")
            first = entries[0] if entries else None
            if first is not None and first.filename == "mimetype" and first.compress_type == zipfile.ZIP_STORED:
                kind = _ODF.get(archive.read(first)[:100].decode("ascii", "replace").strip())
                if kind is not None and "content.xml" in names:
                    return kind
            if "[Content_Types].xml" in names:
                types = archive.read("[Content_Types].xml")[:200_000].lower()
                if b"macroenabled" in types or b"vbaproject" in types:
                    raise UnsupportedMedia("documents with macros are not accepted")
                found = [kind for main, kind in _OOXML_MAIN.items() if main in names]
                if len(found) == 1:
                    return found[0]
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, KeyError, NotImplementedError, OSError):
        raise UnsupportedMedia("this zip file could not be read as a document") from None
    raise UnsupportedMedia("zip archives are not accepted; send office documents as .docx, .xlsx, .pptx or .odt")


def _is_plain_text(path: Path, head: bytes) -> bool:
    """UTF-8 throughout, no control characters but tabs and line ends, and not markup."""
    if _MARKUP.match(head.removeprefix(codecs.BOM_UTF8)):
        raise UnsupportedMedia("HTML, SVG and other markup are not accepted")
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    try:
        with open(path, "rb") as data:
            while chunk := data.read(1024 * 1024):
                if _CONTROL.search(chunk):
                    return False
                decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def safe_name(name: str, file_type: FileType) -> str:
    """The name shown and offered for download: no directories or control characters, at most
    MAX_NAME_CHARS, and an extension that fits the content (photo.png holding a JPEG becomes photo.jpg,
    notes.html holding text becomes notes.txt), so the member's own computer opens it for what it is."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in unicodedata.normalize("NFC", name) if unicodedata.category(ch)[0] != "C")
    name = " ".join(name.split()).strip(" .")
    stem, dot, extension = name.rpartition(".")
    if not dot:
        stem, extension = name, ""
    if not file_type.fits(extension.lower()):
        if not (1 <= len(extension) <= 5 and extension.isalnum()):
            stem = name   # not an extension (or none): keep it all
        extension = file_type.extension
    stem = (stem or {"image": "photo", "audio": "voice-note"}.get(file_type.kind.value, "file"))
    stem = stem[:MAX_NAME_CHARS - len(extension) - 1].rstrip(" .")
    return f"{stem}.{extension.lower()}"
