"""What notifications say, in the member's language: push titles and bodies, and the e-mails' text and HTML.

Strings go through the same Babel catalogues as the pages (locale/, extracted with `_`), chosen by the
language in the member's profile (English when none is set).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from babel.support import NullTranslations, Translations
from markupsafe import Markup, escape

from rooms.notifications.models import Kind, Notification

LOCALE_DIR = Path(__file__).resolve().parents[2] / "locale"
LANGUAGES = ("en", "fr", "es", "ar")

Gettext = Callable[[str], str]


@functools.cache
def _translations(language: str) -> NullTranslations:
    if language not in LANGUAGES or language == "en":
        return NullTranslations()
    return Translations.load(str(LOCALE_DIR), [language], "messages")


def gettext_for(language: str) -> Gettext:
    return _translations(language or "en").gettext


def title(n: Notification, _: Gettext) -> str:
    who, where = n.actor_name or _("Someone"), n.room_name
    if n.kind is Kind.MENTION:
        return _("%(name)s mentioned you in %(room)s") % {"name": who, "room": where}
    if n.kind is Kind.REPLY:
        return _("%(name)s replied to you in %(room)s") % {"name": who, "room": where}
    if n.kind is Kind.MESSAGE:
        if n.room_kind == "dm":
            return _("%(name)s wrote to you") % {"name": who}
        return _("%(name)s in %(room)s") % {"name": who, "room": where}
    if n.kind is Kind.ALERT:
        return _("Emergency alert in %(room)s") % {"room": where}
    webinar = n.data.get("title") or where
    if n.kind is Kind.WEBINAR_STARTING:
        return _("%(webinar)s starts in 15 minutes") % {"webinar": webinar}
    if n.kind is Kind.WEBINAR_LIVE:
        return _("%(webinar)s is live now") % {"webinar": webinar}
    return _("The recording of %(webinar)s is ready") % {"webinar": webinar}


def push_text(n: Notification, language: str, show_text: bool) -> tuple[str, str]:
    _ = gettext_for(language)
    if n.kind in (Kind.WEBINAR_STARTING, Kind.WEBINAR_LIVE, Kind.RECORDING_READY):
        return title(n, _), _("Open Convene to join.") if n.kind is not Kind.RECORDING_READY else _("Open Convene to watch it.")
    return title(n, _), n.excerpt if show_text else _("Open Convene to read it.")


@dataclass(frozen=True)
class Email:
    subject: str
    text: str
    html: str


def batch_email(display_name: str, notifications: list[Notification], language: str, public_url: str,
                unsubscribe_url: str, settings_url: str, reply_to: str | None) -> Email:
    """One e-mail for a batch of missed notifications, with a link to each message."""
    _ = gettext_for(language)
    if len(notifications) == 1:
        subject = "[Convene] " + title(notifications[0], _)
    else:
        subject = "[Convene] " + _("%(n)s things you missed") % {"n": len(notifications)}
    lines = [_("Hello %(name)s,") % {"name": display_name}, ""]
    items = []
    for n in notifications:
        link = public_url + n.url
        lines += [title(n, _), f"  {n.excerpt}" if n.excerpt else "", f"  {link}", ""]
        items.append(Markup("<li><p><strong>{}</strong></p>{}<p><a href=\"{}\">{}</a></p></li>").format(
            title(n, _), Markup("<blockquote>{}</blockquote>").format(n.excerpt) if n.excerpt else "",
            link, _("Open in Convene")))
    if reply_to:
        lines += [_("Reply to this e-mail to answer in the conversation."), ""]
    lines += ["-- ", _("Change what Convene e-mails you: %(url)s") % {"url": settings_url},
              _("Stop these e-mails: %(url)s") % {"url": unsubscribe_url}]
    text = "\n".join(line for line in lines if line is not None) + "\n"
    html = Markup(
        "<!doctype html><html lang=\"{lang}\" dir=\"{dir}\"><body><p>{hello}</p><ul>{items}</ul>{reply}"
        "<hr><p><a href=\"{settings}\">{change}</a> · <a href=\"{unsubscribe}\">{stop}</a></p></body></html>").format(
        lang=language or "en", dir="rtl" if language == "ar" else "ltr",
        hello=_("Hello %(name)s,") % {"name": display_name}, items=Markup("").join(items),
        reply=Markup("<p>{}</p>").format(_("Reply to this e-mail to answer in the conversation.")) if reply_to else "",
        settings=settings_url, change=_("Change what Convene e-mails you"), unsubscribe=unsubscribe_url,
        stop=_("Stop these e-mails"))
    return Email(subject=subject, text=text, html=str(html))


def simple_email(subject: str, paragraphs: list[str], link: tuple[str, str] | None, language: str,
                 footer: list[tuple[str, str]] = ()) -> Email:
    """A short e-mail: paragraphs, one link, and footer links (text, url)."""
    text = "\n\n".join(paragraphs)
    if link:
        text += f"\n\n{link[0]}: {link[1]}"
    if footer:
        text += "\n\n-- \n" + "\n".join(f"{label}: {url}" for label, url in footer)
    html = Markup("<!doctype html><html lang=\"{}\" dir=\"{}\"><body>{}{}{}</body></html>").format(
        language or "en", "rtl" if language == "ar" else "ltr",
        Markup("").join(Markup("<p>{}</p>").format(p) for p in paragraphs),
        Markup("<p><a href=\"{}\">{}</a></p>").format(link[1], link[0]) if link else "",
        Markup("<hr><p>{}</p>").format(Markup(" · ").join(
            Markup("<a href=\"{}\">{}</a>").format(url, label) for label, url in footer)) if footer else "")
    return Email(subject=subject, text=text + "\n", html=str(html))


__all__ = ["Email", "batch_email", "simple_email", "push_text", "gettext_for", "title", "escape"]
