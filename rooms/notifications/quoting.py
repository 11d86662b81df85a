"""What a member wrote in a reply e-mail, without the quoted message, the attribution line or a signature."""

from __future__ import annotations

import re
from email.message import EmailMessage

import nh3

# "On Mon, 7 Dec 2026 at 10:02, Convene <…> wrote:" and its translations by common mail clients.
_ATTRIBUTION = re.compile(r"^\s*(On|Le|El|Am|Il|Em|في)\b.*(wrote|a écrit|escribió|schrieb|ha scritto|escreveu|كتب)\s*:?\s*$",
                          re.IGNORECASE)
_ORIGINAL = re.compile(r"^\s*(-{2,}\s*(Original Message|Message d'origine|Mensaje original)\s*-{2,}|_{10,})\s*$",
                       re.IGNORECASE)
_SIGNATURE = re.compile(r"^(-- ?|—)$")
_SENT_FROM = re.compile(r"^\s*(Sent from my|Envoyé de mon|Enviado desde mi)\b", re.IGNORECASE)


def body_text(message: EmailMessage) -> str:
    """The plain-text part, or the HTML part reduced to text when there is no plain one."""
    part = message.get_body(preferencelist=("plain",))
    if part is not None:
        return part.get_content()
    part = message.get_body(preferencelist=("html",))
    if part is None:
        return ""
    html = re.sub(r"(?i)<br\s*/?>|</p>|</div>", "\n", part.get_content())
    return nh3.clean(html, tags=set())


def reply_text(text: str) -> str:
    """The new text at the top of a reply: everything before the first quote, attribution or signature."""
    kept: list[str] = []
    for line in text.replace("\r\n", "\n").split("\n"):
        stripped = line.rstrip()
        if (stripped.startswith(">") or _ATTRIBUTION.match(stripped) or _ORIGINAL.match(stripped)
                or _SIGNATURE.match(stripped) or _SENT_FROM.match(stripped)):
            break
        kept.append(stripped)
    return "\n".join(kept).strip()
