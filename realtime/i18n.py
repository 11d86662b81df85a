"""The member's language: chosen from a cookie or Accept-Language, translated by Babel catalogues in locale/."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_datetime
from babel.support import NullTranslations, Translations
from markupsafe import Markup

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
DOMAIN = "messages"
DEFAULT = "en"
# The interface languages, each named in itself (that is how a reader finds their own).
LANGUAGES = {"en": "English", "fr": "Français", "es": "Español", "ar": "العربية"}
RIGHT_TO_LEFT = frozenset({"ar"})
MAX_ACCEPT_LANGUAGE = 40   # entries read from the header; browsers send a handful


def N_(message: str) -> str:
    """Marks a string for extraction (pybabel -k N_) where it is translated later, at render time."""
    return message


# What chat.js says on its own; the page hands these over already translated (data-strings).
# "{name}" and "{n}" are filled in by chat.js.
SCRIPT_STRINGS = {
    "connecting": N_("Connecting…"),
    "online": N_("Online"),
    "offline": N_("Offline"),
    "reconnecting": N_("· reconnecting in {n} s"),
    "session_ended": N_("Your session has ended. Log in again to keep chatting."),
    "unavailable": N_("Live updates are unavailable. Reload the page."),
    "other_tab": N_("You are logged in as someone else in another tab. Reload the page."),
    "removed": N_("You are no longer a member of this room."),
    "banned": N_("You are banned from this room."),
    "report": N_("Report"),
    "room_unavailable": N_("This room is not available:"),
    "waiting": N_("Waiting to send"),
    "sending": N_("Sending…"),
    "not_sent": N_("Not sent:"),
    "deleted": N_("Message deleted"),
    "edited": N_("(edited)"),
    "typing_one": N_("{name} is typing…"),
    "typing_two": N_("{name} and {other} are typing…"),
    "typing_many": N_("Several people are typing…"),
    "here_now": N_("Here now:"),
    "away": N_("(away)"),
    "alone": N_("No one else is here right now."),
    "edit": N_("Edit"),
    "delete": N_("Delete"),
    "editing": N_("Editing your message. Press Escape to cancel."),
    "confirm_delete": N_("Delete this message for everyone?"),
    "new_message": N_("New message from {name}: {body}"),
    "mentioned": N_("{name} mentioned you"),
    "offline_copy": N_("You are offline. This is the copy saved on this device."),
    # Attachments (chat.js shows them; static/attachments.js uploads and records).
    "photo_hold": N_("Photo, {size}: show"),
    "voice_note": N_("Voice note"),
    "uploading": N_("Uploading {name}"),
    "file_gone": N_("the file is no longer on this device"),
    "no_microphone": N_("The microphone is not available."),
    "stop_send": N_("Stop and send"),
    "recording": N_("Recording… {n} s"),
    "reply": N_("Reply"),
    "react": N_("React"),
    "pin": N_("Pin"),
    "unpin": N_("Unpin"),
    "in_reply_to": N_("In reply to"),
    "former_member": N_("a former member"),
    "history_removed": N_("Older messages were removed: this room keeps messages for a limited time."),
    "view_replies": N_("View replies"),
    "reaction": N_("{emoji}: {n}. Press to add yours."),
    "reaction_mine": N_("{emoji}: {n}, including you. Press to remove yours."),
    "choose_reaction": N_("Choose a reaction"),
    "other_emoji": N_("Another emoji, then Enter"),
    "edit_waiting": N_("Change waiting to send"),
    "delete_waiting": N_("Deletion waiting to send"),
    "replying_to": N_("Replying to {name}: {excerpt}"),
    "replying_thread": N_("Your message replies in this thread."),
    "mention_room": N_("everyone in this room"),
    "suggestions": N_("{n} members to mention: up and down arrows to choose, Enter to pick."),
    "no_suggestions": N_("No member by that name in this room."),
    "unread": N_("unread"),
    "mentions": N_("mentions of you"),
    "new_messages": N_("New messages"),
    "retry": N_("Try again"),
    "discard": N_("Discard"),
    "close": N_("Close"),
    "no_unread": N_("No room has unread messages."),
}


@dataclass(frozen=True)
class Language:
    """One request's language: its code, writing direction and translation functions for templates."""

    code: str

    @property
    def direction(self) -> str:
        return "rtl" if self.code in RIGHT_TO_LEFT else "ltr"

    @property
    def translations(self) -> NullTranslations:
        return _translations(self.code)

    def gettext(self, message: str, **values: object) -> Markup:
        # Like jinja2's "newstyle" gettext: the translation is trusted markup, the values are escaped.
        text = Markup(self.translations.gettext(message))
        return text % values if values else text

    def ngettext(self, singular: str, plural: str, n: int, **values: object) -> Markup:
        text = Markup(self.translations.ngettext(singular, plural, n))
        return text % {"num": n, **values}

    def script_strings(self) -> dict[str, str]:
        return {key: self.translations.gettext(message) for key, message in SCRIPT_STRINGS.items()}

    def when(self, moment: datetime, zone: str = "") -> str:
        """A timestamp in this language, in the member's time zone when their profile names one, else in
        UTC (said so); chat.js rewrites it in that zone or the browser's own."""
        tz = _zone(zone)
        text = format_datetime(moment.astimezone(tz), "d MMM HH:mm", tzinfo=tz, locale=self.code)
        return text if zone and tz is not UTC else text + " UTC"

    def template_context(self) -> dict[str, object]:
        return {"lang": self.code, "dir": self.direction, "gettext": self.gettext, "ngettext": self.ngettext,
                "when": self.when, "languages": LANGUAGES}


@functools.cache
def _zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name) if name else UTC
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


@functools.cache
def _translations(code: str) -> NullTranslations:
    if code == DEFAULT:
        return NullTranslations()   # the templates are written in English
    return Translations.load(str(LOCALE_DIR), [code], DOMAIN)


def from_accept_language(header: str) -> str | None:
    """The first supported language in the header, by quality (RFC 9110 §12.5.4); "fr-CA" counts as "fr"."""
    ranked: list[tuple[float, int, str]] = []
    for position, item in enumerate(header.split(",")[:MAX_ACCEPT_LANGUAGE]):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        if quality > 0:
            ranked.append((-quality, position, tag.strip().split("-")[0].lower()))
    return next((code for _, _, code in sorted(ranked) if code in LANGUAGES), None)


def choose(chosen: str | None, accept_language: str) -> Language:
    """The member's own choice if they made one, else what their browser asks for, else English."""
    if chosen in LANGUAGES:
        return Language(chosen)
    return Language(from_accept_language(accept_language) or DEFAULT)

