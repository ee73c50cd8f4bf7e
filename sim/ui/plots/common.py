"""What every figure shares: the palette, a pyplot-free Figure, atomic saving, the drill shading and the date axis."""

from __future__ import annotations

import datetime as dt
import io
import re
from pathlib import Path

import matplotlib.dates as mdates
from matplotlib.figure import Figure

from sim.core.errors import InputError
from sim.core.files import atomic_write
from sim.model.compile import CompiledScenario


OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")


LINESTYLES = ("-", "--", ":", "-.", (0, (5, 1, 1, 1, 1, 1)), (0, (1, 3)))
"""Line styles in order: curves that coincide (rungs that are always reached together, two scenarios that
agree) stay distinguishable whatever their colours (tests/ui/test_figures_fit.py)."""


MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


FIGURE_KINDS = ("curves", "paths", "tail", "response", "effects", "scatter", "map", "sensitivity")


FIGURE_FORMATS = (".png", ".svg", ".pdf")


def save_figure(fig, path: str | Path, dpi: int = 120) -> None:
    """Save atomically, in the format the suffix names (.png, .svg, .pdf); missing folders are made."""
    path = Path(path)
    buf = io.BytesIO()
    fig.savefig(buf, format=path.suffix.lstrip(".").lower() or "png", dpi=dpi)
    path.parent.mkdir(parents=True, exist_ok=True)  # after drawing: a failed draw leaves no empty folder
    atomic_write(path, buf.getvalue())


def new_figure(figsize: tuple[float, float]) -> Figure:
    # a bare Figure renders through its own canvas when saved; pyplot would pick (or change) a backend
    return Figure(figsize=figsize, layout="constrained")


def finish(fig, path):
    if path is not None:
        save_figure(fig, path)
    return fig


def save_all(fig, out: Path | None, stem: Path, formats) -> list[Path]:
    """Save ``fig`` to ``out``, or to ``stem`` with each of ``formats`` as its suffix; the paths written."""
    paths = [Path(out)] if out is not None else [stem.with_suffix(f".{f}") for f in formats]
    for p in paths:
        save_figure(fig, p)
    return paths


def check_out(out: Path | None) -> None:
    """Refuse an --out that cannot be one figure file; a missing folder is fine (made when saving)."""
    if out is None:
        return
    out = Path(out)
    if out.suffix.lower() not in FIGURE_FORMATS:
        raise InputError(f"--out {out}: name a .png, .svg or .pdf file")
    if out.is_dir():
        raise InputError(f"--out {out}: is a folder; name a .png, .svg or .pdf file")
    if any(p.exists() and not p.is_dir() for p in out.parents):
        raise InputError(f"--out {out}: a folder on its path is a file")


def results_kind(results: Path) -> str:
    """'run' for an `escsim run` directory, 'sweep' for an `escsim sweep` one."""
    if (results / "totals.npz").exists():
        return "run"
    if (results / "points.csv").exists():
        return "sweep"
    raise InputError(f"{results}: not a results directory (no totals.npz or points.csv)")


def days_of(scenario: CompiledScenario) -> list[dt.date]:
    return [scenario.start + dt.timedelta(days=t) for t in range(scenario.horizon)]


def shade_drills(ax, scenario: CompiledScenario, days, label: bool = True) -> None:
    """Grey spans for drill periods (hatched where the dates are approximate), named at the top."""
    for name, t0, t1, approximate in scenario.drill_periods:
        ax.axvspan(days[t0], days[min(t1, scenario.horizon) - 1], color="0.85", alpha=0.6, lw=0,
                   hatch="//" if approximate else None, zorder=0)
        if label:
            ax.annotate(name.replace("_", " "), (days[t0], 1.0), xycoords=("data", "axes fraction"),
                        xytext=(2, -4), textcoords="offset points", fontsize=7, rotation=90, va="top",
                        color="0.3")


def date_axis(ax) -> None:
    ax.xaxis.set_major_locator(mdates.MonthLocator())
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%b"))
    ax.set_xlabel("date (one step = one day)")


def wrap_name(name: str, width: int = 26) -> str:
    """A long parameter name broken into lines at its dots and underscores (kept at the ends of lines), so
    an axis label never runs off a narrow panel."""
    if len(name) <= width:
        return name
    lines, line = [], ""
    for piece in re.findall(r"[^._]+[._]?|[._]", name):
        if line and len(line) + len(piece) > width:
            lines.append(line)
            line = ""
        line += piece
    return "\n".join([*lines, line])


def interval_note(rows: list[dict], what: str = "bars") -> str:
    """What a sweep's interval columns are, from its rows' ``interval`` field (points.csv): Wilson's for
    independent runs, or intervals over posterior draws; rows without it are Wilson's (older sweeps)."""
    kinds = sorted({str(r.get("interval") or "Wilson") for r in rows})
    if kinds == ["Wilson"]:
        return f"{what}: Wilson 95% intervals"
    if all(k.startswith("none") for k in kinds):
        return f"no {what}: {kinds[0].removeprefix('none: ')}"
    return f"{what}: 95% intervals " + "; ".join(kinds)

