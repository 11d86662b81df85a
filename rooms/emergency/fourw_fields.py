"""Validating one 4W row, from JSON or from a CSV line: every problem named by its field."""

from __future__ import annotations

import re
from datetime import date
from typing import Mapping

from rooms.emergency.models import FourW, Layer, LAYER_LABELS

FIELDS = ("organisation", "activity", "layer", "country", "admin_area", "start_date", "end_date")
_LIMITS = {"organisation": 120, "activity": 200, "admin_area": 120}
_COUNTRY = re.compile(r"^[A-Z]{2}$")

Problems = list[tuple[str, str]]


def parse(raw: Mapping[str, object]) -> tuple[FourW | None, Problems]:
    """The row as a FourW, or None and every (field, message) wrong with it."""
    problems: Problems = []
    text = {name: _text(raw.get(name)) for name in FIELDS}
    for name, limit in _LIMITS.items():
        if not text[name]:
            problems.append((name, "required"))
        elif len(text[name]) > limit:
            problems.append((name, f"at most {limit} characters"))
    layer = None
    try:
        layer = Layer.parse(text["layer"])
    except ValueError:
        problems.append(("layer", "one of " + ", ".join(
            f"{layer.value} ({label})" for layer, label in LAYER_LABELS.items())))
    country = text["country"].upper()
    if not _COUNTRY.match(country):
        problems.append(("country", "a two-letter ISO 3166 country code, such as PH"))
    start = _date(text["start_date"], "start_date", problems, required=True)
    end = _date(text["end_date"], "end_date", problems, required=False)
    if start and end and end < start:
        problems.append(("end_date", "before start_date"))
    if problems:
        return None, problems
    assert layer is not None and start is not None
    return FourW(organisation=text["organisation"], activity=text["activity"], layer=layer, country=country,
                 admin_area=text["admin_area"], start_date=start, end_date=end), []


def _text(value: object) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        return str(value)
    return " ".join(value.split())


def _date(text: str, field: str, problems: Problems, *, required: bool) -> date | None:
    if not text:
        if required:
            problems.append((field, "required"))
        return None
    try:
        if len(text) != 10:   # fromisoformat would also take 20261201 and week dates
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        problems.append((field, "a date written YYYY-MM-DD"))
        return None
