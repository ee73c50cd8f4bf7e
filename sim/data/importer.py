"""Import a provocation event list (the CSIS Beyond Parallel database's format) and a clash list into the record's files.

The record (:mod:`sim.data.record`) reads ``nk_provocation_events_FIRST_LAST.csv`` (date, type, event,
source_url) and ``inter_korean_clashes_FIRST_LAST.csv`` (date, event, fire_exchanged, casualties,
class, source). :func:`import_record` reads files in those formats (the CSIS "Database of North
Korean Provocations" as scraped by stiles/north-korea-provocations has the columns date, type and
event, and more that are carried over where the output has them and dropped otherwise), keeps the
rows of the chosen years, and writes them under the names the record reads, so a hindcast file can
point at them and later years flow into forecasts.

Every row is checked before anything is written: a date that is not YYYY-MM-DD or not a real day, a
type or class outside the allowed set, an empty event, a row equal to an earlier one in date, kind
and event (a duplicate) each give one line ``FILE: line N, COLUMN: what is wrong; what is allowed``;
with any problem nothing is written (:class:`sim.core.errors.InputError`, exit 2). The files are
written atomically (:func:`sim.core.files.atomic_write`). The project's calibration and tests use
the shipped 2011-2021 files only; imported later years are for out-of-sample forecasts.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from pathlib import Path

from sim.core.errors import InputError, problem
from sim.core.files import atomic_write
from sim.data.record import CLASH_CLASSES, PROVOCATION_TYPES, _ISO_DATE, _rows


@dataclass(frozen=True)
class Layout:
    """One kind of input: the output file's stem, its columns, the column with the row's kind and the
    kinds allowed, and the columns a row must fill."""

    stem: str
    columns: tuple[str, ...]
    kind: str
    kinds: tuple[str, ...]
    required: tuple[str, ...]


EVENTS = Layout("nk_provocation_events", ("date", "type", "event", "source_url"), "type", PROVOCATION_TYPES,
                ("date", "type", "event"))
CLASHES = Layout("inter_korean_clashes", ("date", "event", "fire_exchanged", "casualties", "class", "source"),
                 "class", CLASH_CLASSES, ("date", "event", "class"))


def read_rows(path: str | Path, layout: Layout, years: tuple[int, int] | None = None
              ) -> tuple[list[dict[str, str]], list[str]]:
    """The checked rows of ``path`` inside ``years`` (first, last; all when None), in date order, with
    the output's columns; and the problems, one line each (none: the rows can be written)."""
    path = Path(path)
    file = str(path)
    problems: list[str] = []
    seen: dict[tuple[str, str, str], int] = {}
    kept: list[tuple[dt.date, int, dict[str, str]]] = []
    for line, row in _rows(path, layout.required):
        where = f"line {line}"
        date = _date(row["date"])
        if date is None:
            problems.append(problem(file, f"{where}, date", f"{row['date']!r} is not a date; allowed: a real "
                                    "day written YYYY-MM-DD"))
        kind = row[layout.kind].strip()
        if kind not in layout.kinds:
            problems.append(problem(file, f"{where}, {layout.kind}", f"{row[layout.kind]!r} is not allowed; "
                                    f"allowed: {', '.join(layout.kinds)}"))
        event = " ".join(row["event"].split())
        if not event:
            problems.append(problem(file, f"{where}, event", "is empty; name the event"))
        key = (row["date"].strip(), kind, event.lower())
        if key in seen:
            problems.append(problem(file, f"{where}, date", f"duplicates line {seen[key]} (the same date, "
                                    f"{layout.kind} and event); allowed: each event once"))
            continue
        seen[key] = line
        if date is not None and (years is None or years[0] <= date.year <= years[1]):
            out = {c: (row.get(c) or "").strip() for c in layout.columns}
            kept.append((date, line, out | {"date": date.isoformat(), layout.kind: kind, "event": event}))
    return [r for _, _, r in sorted(kept, key=lambda x: x[:2])], problems


def _date(text: str) -> dt.date | None:
    value = text.strip()
    if not _ISO_DATE.match(value):
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


def import_record(events: str | Path, out: str | Path, *, clashes: str | Path | None = None,
                  years: tuple[int, int] | None = None) -> list[Path]:
    """Check ``events`` (and ``clashes``) and write their rows in ``years`` (default: the years the
    events span) to ``out``/``nk_provocation_events_FIRST_LAST.csv`` (and
    ``inter_korean_clashes_FIRST_LAST.csv``). Every problem of every file is raised together before
    anything is written. Returns the files written."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(problem(str(out), "", "--out names a file; give a directory"))
    if years is not None and years[0] > years[1]:
        raise InputError(f"--years {years[0]} {years[1]}: the first year is after the last")
    rows, problems = read_rows(events, EVENTS, years)
    if years is None and rows:  # the events' own span; the clashes are kept to it
        years = (int(rows[0]["date"][:4]), int(rows[-1]["date"][:4]))
    elif not rows and not problems:
        problems.append(problem(str(events), "", f"has no rows{' in the years' if years else ''}; nothing to import"))
    tables = [(EVENTS, rows)]
    if clashes is not None:
        rows, bad = read_rows(clashes, CLASHES, years)
        problems += bad
        tables.append((CLASHES, rows))
    if problems:
        raise InputError(problems)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for layout, rows in tables:
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=layout.columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        path = out / f"{layout.stem}_{years[0]}_{years[1]}.csv"
        atomic_write(path, text.getvalue())
        written.append(path)
    return written
