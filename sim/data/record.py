"""The observed record, 2011-2021: North Korean provocation days, their timing against exercises, and clashes.

Reads three CSV files in ``data/`` (sources and licences in ``data/README.md``) into plain per-year
counts a hindcast can be held against:

- ``nk_provocation_events_2011_2021.csv`` (date, type, ...): every dated North Korean provocation;
- ``exercise_windows_2011_2026.csv`` (year, exercise, start, end, kind, participants, verified, ...):
  the main US-ROK (and trilateral) exercises;
- ``inter_korean_clashes_2000_2025.csv`` (date, class, ...): inter-Korean military clashes.

Every row is checked: a missing column, a malformed or impossible date, a date outside the period the
file's name states (``..._2011_2021.csv``: 2011-01-01 to 2021-12-31), or a value outside its column's
allowed set raises :class:`sim.core.errors.InputError`, one line per problem, ``FILE: line N, COLUMN: what is
wrong; what is allowed``. Nothing is silently dropped.

Decisions:

- **Provocation day**: a distinct date with at least one row of type "Missile Provocation" (the source
  types satellite launches so; several launches on one day count once). Nuclear tests and "Other
  Provocation" rows (engine tests, exchanges of fire) are not provocation days. This reproduces
  ``data/nk_missile_event_days_2011_2021.csv`` year by year (``tests/data/test_record.py``), so the hindcast
  and the calibration (``calibration/korea.toml``) count the same thing: the model's provocation (rung 3).
- **Exercise window**: the days of any row of the windows file for the year, both dates inclusive,
  clipped to the year; a year's rows are joined, so a day inside two overlapping exercises (Key
  Resolve within Foal Eagle) counts once. Every kind counts (CPX, FTX, CPX+FTX, air, trilateral):
  North Korea answers command-post exercises (Key Resolve, Ulchi Freedom Guardian) as loudly as field
  training, and the file lists only major exercises. A row of kind ``none`` records an exercise that
  was suspended or postponed (Ulchi Freedom Guardian 2018, the spring exercise of 2020): it must have
  no dates, and adds no days.
- **Unverified dates** (``verified`` = partial or no) count like verified ones: the exercise took place
  and only its edges are uncertain; dropping it would move its days among the days outside windows.
  ``read_record(verified_only=True)`` keeps only rows with ``verified`` = yes, as a sensitivity check.
  The hindcast's year scenarios (``sim/data/hindcast.py``) build one drill per dated row, clipped the same
  way and marked ``approximate`` where the row is not verified, so their drill days are these windows.
- **Exposure and rate ratio**: a year's window days are its days inside some window; its outside days
  are the rest of the year. The rate inside is provocation days inside / window days, the rate outside
  likewise, and the rate ratio is their quotient. Pooled over years, numerators and exposures are
  summed before dividing (the crude pooled ratio: each day weighs the same whatever its year).
- **Clash**: a row of class ``core`` (fire exchanged, or a deliberate attack that killed), the data's
  counterpart of a crisis onset (rung 4, limited clash, on the default ladder). ``borderline`` rows
  (one-sided force, seizures) are read and checked but not counted. A year "had a clash" when it had
  at least one core clash.
- **Years**: the provocation file's stated period (2011-2021); the other two files must cover it.
"""

from __future__ import annotations

import calendar
import csv
import datetime as dt
import math

import numpy as np
import re
from dataclasses import dataclass
from pathlib import Path

from sim.core.errors import InputError, problem

DATA_DIR = Path(__file__).resolve().parents[2] / "data"  # the project's copies (a source checkout)
PROVOCATIONS = DATA_DIR / "nk_provocation_events_2011_2021.csv"
EXERCISES = DATA_DIR / "exercise_windows_2011_2026.csv"
CLASHES = DATA_DIR / "inter_korean_clashes_2000_2025.csv"

PROVOCATION_TYPES = ("Missile Provocation", "Nuclear Provocation", "Other Provocation")
PROVOCATION_DAY_TYPE = "Missile Provocation"
VERIFIED = ("yes", "partial", "no")
NOT_HELD = "none"  # the kind of a row recording an exercise that did not take place
CLASH_CLASSES = ("core", "borderline")
COUNTED_CLASS = "core"

_PERIOD_IN_NAME = re.compile(r"_(\d{4})_(\d{4})\.csv$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class Exercise:
    """One row of the exercise windows file.

    ``start`` and ``end`` (both inclusive) are None for a row of kind ``none`` (not held);
    ``participants`` are the codes as written (``US``, ``ROK``, ``JPN``); ``line`` is the row's line in
    the file (the header is line 1), for messages.
    """

    line: int
    year: int
    name: str
    start: dt.date | None
    end: dt.date | None
    kind: str
    participants: tuple[str, ...]
    verified: str

    @property
    def held(self) -> bool:
        return self.start is not None

    def window_in(self, year: int) -> tuple[dt.date, dt.date] | None:
        """The row's window clipped to ``year`` (both days inclusive), or None if it has no day in it."""
        if not self.held:
            return None
        first, last = max(self.start, dt.date(year, 1, 1)), min(self.end, dt.date(year, 12, 31))
        return (first, last) if first <= last else None


@dataclass(frozen=True)
class YearRecord:
    """The observed counts of one calendar year (all counts are days or events in that year)."""

    year: int
    days: int                          # days in the year (365 or 366)
    window_days: int                   # days inside some exercise window
    provocation_days: int              # distinct dates of a missile provocation
    provocation_days_in_windows: int   # of those, dates inside some exercise window
    core_clashes: int                  # clashes of class core
    provocation_dates: tuple[dt.date, ...] = ()  # the distinct dates themselves, in order

    @property
    def outside_days(self) -> int:
        return self.days - self.window_days

    @property
    def provocation_days_outside_windows(self) -> int:
        return self.provocation_days - self.provocation_days_in_windows

    @property
    def had_clash(self) -> bool:
        return self.core_clashes > 0

    @property
    def rate_ratio(self) -> float:
        """Provocation days per window day over provocation days per outside day (nan if 0/0, inf if x/0)."""
        return rate_ratio(self.provocation_days_in_windows, self.window_days,
                           self.provocation_days_outside_windows, self.outside_days)


@dataclass(frozen=True)
class Record:
    """The observed record: one :class:`YearRecord` per year, the exercise rows, and where they came from."""

    per_year: tuple[YearRecord, ...]
    exercises: tuple[Exercise, ...]    # every row of the windows file, all its years
    verified_only: bool                # True: only rows with verified = yes made windows
    files: dict[str, str]              # role (provocations, exercises, clashes) -> path read

    @property
    def years(self) -> tuple[int, ...]:
        return tuple(y.year for y in self.per_year)

    def __getitem__(self, year: int) -> YearRecord:
        for y in self.per_year:
            if y.year == year:
                return y
        raise KeyError(f"no year {year} in the record; years {self.years[0]}-{self.years[-1]}")

    def windows(self, year: int) -> list[tuple[dt.date, dt.date]]:
        """The year's exercise windows, one per dated row in file order, clipped to the year."""
        return [w for e in self.exercises if e.year == year and _counts(e, self.verified_only)
                for w in [e.window_in(year)] if w is not None]

    @property
    def pooled_rate_ratio(self) -> float:
        """The rate ratio in/out over all years: summed provocation days over summed exposure days."""
        return rate_ratio(sum(y.provocation_days_in_windows for y in self.per_year),
                           sum(y.window_days for y in self.per_year),
                           sum(y.provocation_days_outside_windows for y in self.per_year),
                           sum(y.outside_days for y in self.per_year))

    def table(self) -> str:
        """The per-year counts as a fixed-width text table, with the pooled rate ratio last."""
        head = f"{'year':>4} {'prov':>4} {'in':>3} {'out':>3} {'win d':>5} {'out d':>5} {'RR':>5} {'core':>4} clash"
        lines = [head]
        for y in self.per_year:
            lines.append(f"{y.year:>4} {y.provocation_days:>4} {y.provocation_days_in_windows:>3} "
                         f"{y.provocation_days_outside_windows:>3} {y.window_days:>5} {y.outside_days:>5} "
                         f"{y.rate_ratio:>5.2f} {y.core_clashes:>4} {'yes' if y.had_clash else 'no'}")
        lines.append(f"pooled rate ratio in/out {self.years[0]}-{self.years[-1]}: {self.pooled_rate_ratio:.2f}")
        return "\n".join(lines)


def read_record(provocations: str | Path = PROVOCATIONS, exercises: str | Path = EXERCISES,
                clashes: str | Path = CLASHES, *, verified_only: bool = False) -> Record:
    """Read and check the three files; return the per-year record over the provocation file's period.

    ``verified_only``: make windows only from rows with ``verified`` = yes (a sensitivity check; by
    default every dated row counts, see the module's decisions).
    """
    prov_path, ex_path, clash_path = Path(provocations), Path(exercises), Path(clashes)
    first, last = stated_period(prov_path)
    years = range(first.year, last.year + 1)
    for path in (ex_path, clash_path):
        p0, p1 = stated_period(path)
        if p0 > first or p1 < last:
            raise InputError(problem(str(path), "", f"covers {p0.year}-{p1.year} (its name says); the record "
                                     f"needs {first.year}-{last.year}, the period of {prov_path}"))
    provocation_dates = read_provocation_days(prov_path)
    rows = read_exercises(ex_path)
    clash_dates = read_clashes(clash_path)

    per_year = []
    for year in years:
        days = 366 if calendar.isleap(year) else 365
        in_window = set()
        for e in rows:
            w = e.window_in(year) if e.year == year and _counts(e, verified_only) else None
            if w is not None:
                in_window.update(w[0] + dt.timedelta(days=k) for k in range((w[1] - w[0]).days + 1))
        prov = [d for d in provocation_dates if d.year == year]
        per_year.append(YearRecord(
            year=year, days=days, window_days=len(in_window), provocation_days=len(prov),
            provocation_days_in_windows=sum(d in in_window for d in prov),
            core_clashes=sum(d.year == year for d in clash_dates), provocation_dates=tuple(sorted(set(prov)))))
    return Record(per_year=tuple(per_year), exercises=tuple(rows), verified_only=verified_only,
                  files={"provocations": str(prov_path), "exercises": str(ex_path), "clashes": str(clash_path)})


def stated_period(path: str | Path) -> tuple[dt.date, dt.date]:
    """First and last day of the period a data file's name states: ``name_2011_2021.csv`` -> 2011-01-01, 2021-12-31."""
    m = _PERIOD_IN_NAME.search(Path(path).name)
    if not m or int(m.group(1)) > int(m.group(2)):
        raise InputError(problem(str(path), "", "the file name must state its period as _FIRST_LAST.csv "
                                 "(e.g. nk_provocation_events_2011_2021.csv)"))
    return dt.date(int(m.group(1)), 1, 1), dt.date(int(m.group(2)), 12, 31)


def read_provocation_days(path: str | Path) -> list[dt.date]:
    """The sorted distinct dates with a provocation of type "Missile Provocation" (all rows checked)."""
    return sorted(set(_dates_of_kind(path, "type", PROVOCATION_TYPES, PROVOCATION_DAY_TYPE)))


def read_clashes(path: str | Path) -> list[dt.date]:
    """The dates of clashes of class core, in date order, one per row (all rows checked)."""
    return sorted(_dates_of_kind(path, "class", CLASH_CLASSES, COUNTED_CLASS))


def _dates_of_kind(path: str | Path, column: str, allowed: tuple[str, ...], counted: str) -> list[dt.date]:
    """The ``date`` of every row whose ``column`` is ``counted``; every row's date and kind are checked
    (inside the file's period; one of ``allowed``) and all problems raised together."""
    path = Path(path)
    period = stated_period(path)
    problems: list[str] = []
    dates = []
    for line, row in _rows(path, ("date", column)):
        date = _date(path, line, "date", row["date"], period, problems)
        kind = _one_of(path, line, column, row[column], allowed, problems)
        if date is not None and kind == counted:
            dates.append(date)
    _raise(problems)
    return dates


def read_exercises(path: str | Path) -> list[Exercise]:
    """Every row of the exercise windows file, checked, in file order."""
    path = Path(path)
    file = str(path)
    period = stated_period(path)
    problems: list[str] = []
    out = []
    for line, row in _rows(path, ("year", "exercise", "start", "end", "kind", "participants", "verified")):
        n_before = len(problems)
        where = f"line {line}"
        year = None
        if not re.fullmatch(r"\d{4}", row["year"].strip()):
            problems.append(problem(file, f"{where}, year", f"{row['year']!r} is not a year; allowed: "
                                    f"{period[0].year} to {period[1].year}"))
        elif not period[0].year <= int(row["year"]) <= period[1].year:
            problems.append(problem(file, f"{where}, year", f"{row['year']} is outside the file's period; "
                                    f"allowed: {period[0].year} to {period[1].year}"))
        else:
            year = int(row["year"])
        name, kind = row["exercise"].strip(), row["kind"].strip()
        if not name:
            problems.append(problem(file, f"{where}, exercise", "is empty; name the exercise"))
        if not kind:
            problems.append(problem(file, f"{where}, kind", f"is empty; write the exercise's kind (CPX, FTX, ...) "
                                    f"or {NOT_HELD!r} for one not held"))
        verified = _one_of(path, line, "verified", row["verified"], VERIFIED, problems)
        participants = tuple(p.strip() for p in row["participants"].split(";"))
        if not all(participants):
            problems.append(problem(file, f"{where}, participants", f"{row['participants']!r}: write codes "
                                    "separated by ';' (e.g. US;ROK)"))
        start = end = None
        if kind == NOT_HELD:
            for col in ("start", "end"):
                if row[col].strip():
                    problems.append(problem(file, f"{where}, {col}", f"a row of kind {NOT_HELD!r} (not held) has "
                                            f"no dates; got {row[col]!r}"))
        else:
            start = _date(path, line, "start", row["start"], period, problems)
            end = _date(path, line, "end", row["end"], period, problems)
            if start is not None and end is not None:
                if end < start:
                    problems.append(problem(file, f"{where}, end", f"{end} is before the start {start}"))
                elif year is not None and not (start.year <= year <= end.year):
                    problems.append(problem(file, f"{where}, start", f"the window {start}..{end} has no day in "
                                            f"its year {year}"))
        if len(problems) == n_before:
            out.append(Exercise(line=line, year=year, name=name, start=start, end=end, kind=kind,
                                participants=participants, verified=verified))
    _raise(problems)
    return out


# ---------------------------------------------------------------- helpers


def _counts(e: Exercise, verified_only: bool) -> bool:
    return e.verified == "yes" or not verified_only


def rate_ratio(events_in, days_in, events_out, days_out, pseudo: float = 0.0):
    """The event rate inside exercise windows over the rate outside, elementwise over arrays (or one
    float): ((events_in + pseudo) / days_in) / ((events_out + pseudo) / days_out). ``pseudo`` is a
    continuity correction (the calibration's 0.5 keeps its log finite). NaN where a period has no days
    or both rates are 0; inf where only the outside rate is 0. The one formula the record, the
    hindcast's period check and the calibration's statistic share."""
    with np.errstate(divide="ignore", invalid="ignore"):
        rate_in = (np.asarray(events_in, dtype=float) + pseudo) / days_in
        rate_out = (np.asarray(events_out, dtype=float) + pseudo) / days_out
        ratio = np.where((np.asarray(days_in) > 0) & (np.asarray(days_out) > 0), rate_in / rate_out, np.nan)
    return float(ratio) if ratio.ndim == 0 else ratio


def _rows(path: Path, columns: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    """(line number, row) for each data row; the needed columns must be in the header, every row complete."""
    file = str(path)
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            header = reader.fieldnames or []
            missing = [c for c in columns if c not in header]
            if missing:
                raise InputError(problem(file, "header", f"missing column {', '.join(map(repr, missing))}; needed: "
                                         f"{', '.join(columns)}; the file has: {', '.join(header) or 'nothing'}"))
            rows = []
            for row in reader:
                if None in row or any(v is None for v in row.values()):
                    n = len(header) + len(row.get(None) or []) - sum(v is None for v in row.values())
                    raise InputError(problem(file, f"line {reader.line_num}", f"has {n} fields; the header has "
                                             f"{len(header)} (quote a value that holds a comma)"))
                rows.append((reader.line_num, row))
            return rows
    except FileNotFoundError:
        raise InputError(problem(file, "", "file not found")) from None
    except IsADirectoryError:
        raise InputError(problem(file, "", "is a directory, not a CSV file")) from None
    except UnicodeDecodeError:
        raise InputError(problem(file, "", "not a UTF-8 text file")) from None
    except csv.Error as exc:
        raise InputError(problem(file, "", f"not a readable CSV file: {exc}")) from None


def _date(path: Path, line: int, column: str, text: str, period: tuple[dt.date, dt.date],
          problems: list[str]) -> dt.date | None:
    """The cell as a date inside ``period``, or None with a problem appended."""
    allowed = f"allowed: dates YYYY-MM-DD from {period[0]} to {period[1]} (the file's period)"
    value = text.strip()
    try:
        date = dt.date.fromisoformat(value) if _ISO_DATE.match(value) else None
    except ValueError:
        date = None
    if date is None:
        problems.append(problem(str(path), f"line {line}, {column}", f"{text!r} is not a date; {allowed}"))
    elif not period[0] <= date <= period[1]:
        problems.append(problem(str(path), f"line {line}, {column}", f"{date} is outside the file's period; {allowed}"))
        date = None
    return date


def _one_of(path: Path, line: int, column: str, text: str, allowed: tuple[str, ...], problems: list[str]) -> str | None:
    value = text.strip()
    if value in allowed:
        return value
    problems.append(problem(str(path), f"line {line}, {column}", f"{text!r} is not allowed; allowed: "
                            f"{', '.join(allowed)}"))
    return None


def _raise(problems: list[str]) -> None:
    if problems:
        raise InputError(problems)
