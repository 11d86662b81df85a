"""What a reaction may be: exactly one Unicode emoji (a flag, a skin tone or a family counts as one)."""

from __future__ import annotations

import emoji as emoji_data

from rooms.errors import BadRequest

MAX_EMOJI_CHARS = 16   # the longest sequences (families, flags of regions) are about 11 code points
_VARIATION = "\ufe0f"


def reaction_emoji(text: str) -> str:
    """The emoji in its usual form (❤ and ❤️ are one reaction), or a typed refusal."""
    if not (0 < len(text) <= MAX_EMOJI_CHARS) or not (
            emoji_data.is_emoji(text) or emoji_data.is_emoji(text.replace(_VARIATION, ""))):
        raise BadRequest("a reaction is one emoji", field="emoji")
    canonical = emoji_data.emojize(emoji_data.demojize(text.replace(_VARIATION, "")))
    return canonical if emoji_data.is_emoji(canonical) else text
