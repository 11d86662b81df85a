"""What text the service stores: the same answer on SQLite and Postgres, and names that cannot spoof.

Both backends store any Unicode scalar value except one: Postgres refuses NUL (U+0000) in text, SQLite
keeps it. So NUL is refused before any store is asked, everywhere text comes in (JSON bodies and
frames, forms, query strings), with one typed error, `disallowed_characters`, whichever backend runs.
Lone surrogates never get this far: a JSON escape of one is invalid JSON to the parser (`bad_json`).

Names people are known by (usernames, display names, room names) refuse what makes one name look like
another or reorders what surrounds it: control characters, invisible and zero-width characters, the
bidirectional controls (U+202A–U+202E, U+2066–U+2069, U+200E/U+200F, U+061C), non-characters, private
use and unassigned code points, and runs of combining marks. Emoji stay usable: a zero-width joiner
between two symbols and a variation selector after a visible character are allowed (👩‍💻, ❤️).
Usernames are NFKC-normalised and lower-cased before they are checked, so "ＡＬＩＣＥ" is "alice".
"""

from __future__ import annotations

import unicodedata

from rooms.errors import DisallowedCharacters

NUL = "\x00"
ZWJ = "\u200d"
VARIATION_SELECTORS = frozenset("\ufe0e\ufe0f")
MAX_COMBINING_RUN = 4   # Vietnamese stacks two; more is "Zalgo" text that spills over its neighbours

# Default_Ignorable_Code_Point (Unicode DerivedCoreProperties) that are not format characters (Cf),
# plus blanks that render as nothing: each looks like no character at all.
_INVISIBLE_RANGES = (
    (0x034F, 0x034F),   # combining grapheme joiner
    (0x115F, 0x1160),   # Hangul choseong and jungseong fillers
    (0x17B4, 0x17B5),   # Khmer inherent vowels
    (0x180B, 0x180F),   # Mongolian free variation selectors and vowel separator
    (0x2800, 0x2800),   # braille pattern blank
    (0x3164, 0x3164),   # Hangul filler
    (0xFE00, 0xFE0F),   # variation selectors (allowed after a visible character, see _allowed_joiner)
    (0xFFA0, 0xFFA0),   # halfwidth Hangul filler
    (0xE0000, 0xE0FFF),  # tags and variation selectors supplement
)
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def _invisible(code: int) -> bool:
    return any(low <= code <= high for low, high in _INVISIBLE_RANGES)


def _noncharacter(code: int) -> bool:
    return 0xFDD0 <= code <= 0xFDEF or (code & 0xFFFE) == 0xFFFE


def _visible(char: str | None) -> bool:
    return char is not None and unicodedata.category(char)[0] in "LNPS"


def _allowed_joiner(text: str, index: int) -> bool:
    """A ZWJ between two symbols (an emoji sequence) or a variation selector after a visible character."""
    char = text[index]
    before = text[index - 1] if index else None
    if char in VARIATION_SELECTORS:
        return _visible(before)
    if char == ZWJ:
        after = text[index + 1] if index + 1 < len(text) else None
        before = text[index - 2] if before in VARIATION_SELECTORS and index > 1 else before
        return (before is not None and after is not None
                and unicodedata.category(before) == "So" and unicodedata.category(after) == "So")
    return False


def name_problem(text: str) -> str | None:
    """Why `text` may not be a name, or None when it may."""
    combining = 0
    for index, char in enumerate(text):
        code = ord(char)
        category = unicodedata.category(char)
        if char == ZWJ or char in VARIATION_SELECTORS:
            if not _allowed_joiner(text, index):
                return "invisible characters are not allowed in names"
            continue
        if category in _REFUSED_CATEGORIES or _invisible(code) or _noncharacter(code):
            if unicodedata.bidirectional(char) in ("LRE", "RLE", "LRO", "RLO", "PDF", "LRI", "RLI", "FSI", "PDI") \
                    or char in "\u200e\u200f\u061c":
                return "direction-changing characters are not allowed in names"
            return "invisible or control characters are not allowed in names"
        combining = combining + 1 if category in ("Mn", "Me") else 0
        if combining > MAX_COMBINING_RUN:
            return "too many combining marks in a row"
    return None


def check_name(text: str, field: str) -> str:
    """`text`, or DisallowedCharacters naming `field`."""
    problem = name_problem(text)
    if problem is not None:
        raise DisallowedCharacters(problem, field=field)
    return text


def normalise_username(text: str) -> str:
    """The form usernames are stored and compared in: NFKC, trimmed, lower case (unique as such)."""
    return unicodedata.normalize("NFKC", text).strip().lower()


def refuse_nul(text: str, field: str | None) -> None:
    if NUL in text:
        raise DisallowedCharacters("text may not contain NUL (U+0000) characters", field=field)


def refuse_nul_anywhere(value: object, path: str = "") -> None:
    """Every string in a parsed JSON value, keys included; the error names the first one's path."""
    if isinstance(value, str):
        refuse_nul(value, path or None)
    elif isinstance(value, dict):
        for key, item in value.items():
            refuse_nul(key, path or None)
            refuse_nul_anywhere(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            refuse_nul_anywhere(item, f"{path}.{index}" if path else str(index))


def may_hold_nul(raw: bytes | str) -> bool:
    """A cheap look at JSON text before it is walked: NUL can only be there as an escape."""
    return (b"\\u0000" in raw) if isinstance(raw, bytes) else ("\\u0000" in raw)
