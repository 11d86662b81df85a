"""The 4W table as CSV: export, and parsing an import in full before anything is stored.

Cells that a spreadsheet would run as a formula (=, +, -, @) are written with a leading
apostrophe and read back without it, so an export imports as the same table.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from rooms.emergency import fourw_fields
from rooms.emergency.models import FourW, FourWEntry

_FORMULA = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class RowProblem:
    row: int            # as a spreadsheet numbers it: the header is row 1
    field: str | None
    message: str

    def public(self) -> dict:
        return {"row": self.row, "field": self.field, "message": self.message}


def export(entries: list[FourWEntry]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(fourw_fields.FIELDS)
    for entry in entries:
        fields = entry.what.fields()
        writer.writerow([defuse(fields[name] or "") for name in fourw_fields.FIELDS])
    return out.getvalue()


def parse(text: str, max_rows: int) -> tuple[list[FourW], list[RowProblem]]:
    """Every row, or the problems of every bad row (and no rows)."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    try:
        header = [name.strip().lower() for name in next(reader)]
    except StopIteration:
        return [], [RowProblem(1, None, "the file is empty; the first row names the columns")]
    except csv.Error as error:
        return [], [RowProblem(1, None, f"not CSV: {error}")]
    missing = [name for name in fourw_fields.FIELDS if name not in header]
    unknown = [name for name in header if name not in fourw_fields.FIELDS]
    if missing or unknown or len(set(header)) != len(header):
        detail = "; ".join(filter(None, [missing and "missing " + ", ".join(missing),
                                         unknown and "unknown " + ", ".join(unknown)])) or "a column is repeated"
        return [], [RowProblem(1, None, f"the columns must be {', '.join(fourw_fields.FIELDS)}: {detail}")]
    rows: list[FourW] = []
    problems: list[RowProblem] = []
    try:
        for number, cells in enumerate(reader, start=2):
            if not any(cell.strip() for cell in cells):
                continue
            if len(rows) + len(problems) >= max_rows:
                problems.append(RowProblem(number, None, f"at most {max_rows} rows per import"))
                break
            if len(cells) != len(header):
                problems.append(RowProblem(number, None, f"{len(cells)} cells; expected {len(header)}"))
                continue
            what, wrong = fourw_fields.parse({name: _restore(cell) for name, cell in zip(header, cells)})
            if what is None:
                problems.extend(RowProblem(number, field, message) for field, message in wrong)
            else:
                rows.append(what)
    except csv.Error as error:
        problems.append(RowProblem(reader.line_num, None, f"not CSV: {error}"))
    return ([] if problems else rows), problems


def defuse(value: str) -> str:
    """A cell a spreadsheet would run as a formula, written so it reads as text (other CSV exports use it too)."""
    return "'" + value if value.startswith(_FORMULA) else value


def _restore(value: str) -> str:
    return value[1:] if value.startswith("'") and value[1:].startswith(_FORMULA) else value
