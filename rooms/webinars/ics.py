"""A webinar as an iCalendar file (RFC 5545): one VEVENT, times in UTC, text escaped and lines folded."""

from __future__ import annotations

from datetime import datetime, timezone

from rooms.webinars.models import Webinar

_LINE_OCTETS = 75


def escape_text(value: str) -> str:
    """TEXT values (RFC 5545 3.3.11): backslash, semicolon and comma escaped, line breaks as \\n."""
    value = value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    return value.replace("\r\n", "\\n").replace("\r", "\\n").replace("\n", "\\n")


def fold(line: str) -> str:
    """Content lines longer than 75 octets continue on lines that start with a space (3.1),
    never splitting a UTF-8 character."""
    parts: list[str] = []
    current, size, limit = "", 0, _LINE_OCTETS
    for char in line:
        octets = len(char.encode())
        if size + octets > limit:
            parts.append(current)
            current, size, limit = "", 0, _LINE_OCTETS - 1   # the leading space counts
        current += char
        size += octets
    parts.append(current)
    return "\r\n ".join(parts)


def _utc(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def calendar(webinar: Webinar, *, domain: str, url: str, now: datetime) -> str:
    language = f";LANGUAGE={webinar.language}" if webinar.language else ""
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Convene//Webinars//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "BEGIN:VEVENT",
        f"UID:webinar-{webinar.id}@{domain}",
        f"DTSTAMP:{_utc(now)}",
        f"DTSTART:{_utc(webinar.starts_at)}",
        f"DTEND:{_utc(webinar.ends_at)}",
        f"SUMMARY{language}:{escape_text(webinar.title)}",
        f"DESCRIPTION{language}:{escape_text(webinar.description)}",
        f"URL:{url}",
        "STATUS:CONFIRMED",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return "".join(fold(line) + "\r\n" for line in lines)
