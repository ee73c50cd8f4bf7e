"""`escsim plot` flag matrix: every kind x flag on small real results either draws what it asks or is refused.

A refusal is exit status 2, one `error:` line on stderr and no file written or touched; a drawing
writes exactly the files asked for, and the flag shows in the figure (the axis it names, the
probability on the label, the risk in the title).
"""

import csv
import os
import shutil

import pytest

import sim.ui.plots.common
from conftest import SCENARIOS
from sim.ui.cli import main
from sim.analysis.experiment import load_experiment
from sim.analysis.sweep import run_sweep

BASELINE = SCENARIOS / "korea_baseline.toml"


def experiment(path, name, parameters, sampler="grid", extra="", scenario=BASELINE):
    """Write a tiny experiment file (200 runs per point) and return its path."""
    body = f'[experiment]\nname = "{name}"\nscenario = "{scenario}"\nruns = 200\nsampler = "{sampler}"\n{extra}\n'
    for key, name_, values in parameters:
        body += f'[[parameters]]\nkey = "{key}"\nname = "{name_}"\n{values}\n'
    path.write_text(body)
    return path


COHESION = ("alliances.us_rok.cohesion", "cohesion", "values = [0.2, 0.9]")
SCALE = ("drills.freedom_shield.scale", "scale", "values = [1.0, 3.0]")


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """A run, and sweeps: 1- and 2-parameter grids, an OAT with a switch (not a number), a Saltelli
    design, and a copy of the 1-parameter grid to overlay. Folder names are the matrix's names.

    Sweeps are run through the API, not `escsim sweep`, to skip drawing their default figures (time).
    """
    root = tmp_path_factory.mktemp("plot_flags")
    assert main(["run", str(BASELINE), "--runs", "300", "--no-plot", "--out", str(root / "run"), "--workers", "1"]) == 0
    specs = {
        "grid1": ([COHESION], "grid", ""),
        "grid2": ([COHESION, SCALE], "grid", ""),
        "oat": ([("hotlines.inter_korean.enabled", "hotlines", "values = [false, true]\nbaseline = false"),
                 ("drills.freedom_shield.transparency", "transparency", "values = [0.3, 0.9]\nbaseline = 0.3")],
                "oat", 'outputs = ["p_miscalculation", "p_crisis"]'),
        "saltelli": ([(COHESION[0], "cohesion", "range = [0.0, 1.0]"), (SCALE[0], "scale", "range = [0.5, 3.0]")],
                     "saltelli", 'points = 2\noutputs = ["p_miscalculation", "p_crisis"]'),  # P(war) is 0: no variance
    }
    for name, (params, sampler, extra) in specs.items():
        scenario = SCENARIOS / ("levers_off.toml" if name == "oat" else "korea_baseline.toml")
        run_sweep(load_experiment(experiment(root / f"{name}.toml", name, params, sampler, extra, scenario)),
                  root / name, workers=1)
    shutil.copytree(root / "grid1", root / "grid1b")  # a second sweep over cohesion: the overlay is what counts
    return root


# What each results target can draw, and its default; the rules `escsim plot --help` states.
TARGETS = {
    "run": (["run"], ("curves", "paths"), {"curves", "paths"}),
    "grid1": (["grid1"], ("response",), {"response", "effects", "scatter"}),
    "grid2": (["grid2"], ("map",), {"response", "effects", "scatter", "map"}),
    "oat": (["oat"], ("effects",), {"effects"}),  # not response (OAT) nor scatter (hotlines is a switch)
    "saltelli": (["saltelli"], ("sensitivity",), {"scatter", "sensitivity"}),
    "pair": (["grid1", "grid1b"], ("response",), {"response"}),  # several directories: response only
}
READS = {"curves": set(), "paths": set(), "response": {"x", "output"}, "effects": {"output"},
         "scatter": {"output"}, "map": {"x", "y", "output", "risk"}, "sensitivity": {"output"}}
STEMS = {"curves": "escalation_curves", "paths": "level_paths"}
GOOD_X = {"grid2": "scale"}  # not the default, so the figure shows it was read; elsewhere cohesion
# flag variant -> (the flag it tests or None, its arguments, whether the value is allowed where read)
VARIANTS = {
    "none": (None, [], True),
    "out": ("out", [], True),
    "out_bad": ("out", ["--out", "figure.txt"], False),
    "x": ("x", ["--x", "X"], True),
    "x_bad": ("x", ["--x", "nope"], False),
    "y": ("y", ["--y", "cohesion"], True),
    "y_bad": ("y", ["--y", "nope"], False),
    "output": ("output", ["--output", "p_crisis"], True),
    "output_bad": ("output", ["--output", "p_nope"], False),
    "risk": ("risk", ["--risk", "RISK"], True),
    "risk_bad": ("risk", ["--risk", "2"], False),
}


def expected(target: str, kind: str | None, variant: str):
    """The kinds drawn for this request, or None when it must be refused."""
    _, default, drawable = TARGETS[target]
    flag, _, allowed = VARIANTS[variant]
    kinds = default if kind is None else (kind,)
    if any(k not in drawable for k in kinds) or not allowed:
        return None
    if target == "run" and (flag not in (None, "out") or (len(kinds) > 1 and variant != "none")):
        return None  # sweep flags refused; --out names one file, so it needs --kind on a run
    if flag not in (None, "out") and flag not in READS[kinds[0]]:
        return None
    return kinds


def snapshot(root):
    """Every file under root with what changes when it is rewritten (atomic writes make a new inode)."""
    out = {}
    for folder, _, files in os.walk(root):
        for f in files:
            st = os.stat(os.path.join(folder, f))
            out[os.path.join(folder, f)] = (st.st_ino, st.st_mtime_ns, st.st_size)
    return out


def texts(fig) -> str:
    """All labels and titles of a figure, one string."""
    parts = [fig._suptitle.get_text() if fig._suptitle else ""]
    for ax in fig.axes:
        parts += [ax.get_title(), ax.get_title(loc="left"), ax.get_xlabel(), ax.get_ylabel()]
    return " | ".join(parts)


def drawn_kind(fig) -> str:
    """Which figure this is, from its title."""
    title = texts(fig)
    for kind, mark in (("curves", "Escalation curves"), ("paths", "Realised rung"), ("response", "response to"),
                       ("effects", "each change against"), ("scatter", "sampled points"),
                       ("sensitivity", "Sobol indices of"), ("map", " runs per cell")):
        if mark in title:
            return kind
    return "?"


def risk_level(root) -> float:
    """A level inside grid2's range of P(miscalculation), so that its map has a contour to draw."""
    rows = csv.DictReader((root / "grid2" / "points.csv").read_text().splitlines())
    values = sorted(float(r["p_miscalculation"]) for r in rows)
    return round((values[0] + values[-1]) / 2, 6) if values[0] < values[-1] else 0.5


@pytest.fixture
def saved(monkeypatch):
    """The figures saved during a call, by path."""
    figures = {}
    original = sim.ui.plots.common.save_figure

    def spy(fig, path, dpi=120):
        figures[str(path)] = fig
        original(fig, path, dpi)

    monkeypatch.setattr(sim.ui.plots.common, "save_figure", spy)
    return figures


def argv(root, target, kind, variant, n):
    dirs, _, _ = TARGETS[target]
    args = ["plot", *(str(root / d) for d in dirs)] + (["--kind", kind] if kind else [])
    extra = [{"X": GOOD_X.get(target, "cohesion"), "RISK": str(risk_level(root))}.get(a, a)
             for a in VARIANTS[variant][1]]
    out = root / "figs" / f"new_{n}" / "figure.png"  # a missing folder: made when writing
    if variant not in ("none", "out_bad"):
        extra += ["--out", str(out)]
    return args + extra, out


def default_files(root, target, kinds):
    dirs = TARGETS[target][0]
    stems = [STEMS.get(k, k) for k in kinds]
    return {str(root / dirs[0] / f"{s}.{ext}") for s in stems for ext in ("png", "svg")}


def check_flag_shows(fig, target, kind, variant, root) -> str | None:
    """What is wrong with the figure for this flag, or None."""
    ax, words = fig.axes[0], texts(fig)
    if variant == "output" and ("P(crisis)" not in words or "P(miscalculation)" in words):
        return f"--output p_crisis not on the figure: {words}"
    if variant == "x" and ax.get_xlabel() != GOOD_X.get(target, "cohesion"):
        return f"--x not on the x axis: {ax.get_xlabel()!r}"
    if variant == "y" and (ax.get_ylabel(), ax.get_xlabel()) != ("cohesion", "scale"):
        return f"--y cohesion: axes are {ax.get_xlabel()!r}, {ax.get_ylabel()!r}"
    if variant == "risk":
        contours = [c for c in ax.collections if hasattr(c, "levels")]
        if f"risk {risk_level(root):g}" not in words or (risk_level(root) < 0.5) != bool(contours):
            return f"--risk not drawn: {words}, {len(contours)} contours"
    other = ({"cohesion", "scale"} - {ax.get_xlabel()}).pop() if target == "grid2" else None
    if kind == "response" and other and ax.get_legend().get_title().get_text() != other:
        return f"a two-parameter response has no legend naming {other}, the other parameter"
    return None


@pytest.mark.slow  # end to end and 5-20 s of CPU: with the slow set, to keep the README command within 3 minutes
@pytest.mark.parametrize("target", list(TARGETS))
def test_every_kind_and_flag_draws_what_it_asks_or_is_refused(results, target, saved, capsys):
    root, problems = results, []
    for kind in [None, *sim.ui.plots.common.FIGURE_KINDS]:
        for n, variant in enumerate(VARIANTS):
            if (kind,) == TARGETS[target][1] and variant != "none":
                continue  # the default kind named takes the path of no --kind, walked already (saves time)
            if variant == "out" and kind in READS and READS[kind]:
                continue  # --out alone: its write is the same as under --output, which every sweep kind reads
            args, out = argv(root, target, kind, variant, f"{target}_{kind}_{n}")
            want = expected(target, kind, variant)
            before = snapshot(root)
            saved.clear()
            capsys.readouterr()
            status = main(args)
            err = capsys.readouterr().err.strip().splitlines()
            changed = {p for p, s in snapshot(root).items() if before.get(p) != s}
            label = f"{' '.join(args[1:])}:"
            if want is None:
                if status != 2 or len(err) != 1 or not err[0].startswith("error: ") or changed:
                    problems.append(f"{label} should be refused; status {status}, stderr {err}, wrote {changed}")
                continue
            files = default_files(root, target, want) if variant == "none" else {str(out)}
            if status != 0 or changed != files:
                problems.append(f"{label} status {status}, {err}; wrote {sorted(changed)}, expected {sorted(files)}")
                continue
            kinds = sorted({drawn_kind(fig) for fig in saved.values()})
            if kinds != sorted(want):
                problems.append(f"{label} drew {kinds}, expected {sorted(want)}")
            wrong = check_flag_shows(next(iter(saved.values())), target, want[0], variant, root)
            if wrong:
                problems.append(f"{label} {wrong}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("args, says", [
    (["run", "--out", "F.png"], "add --kind curves or --kind paths"),
    (["run", "--kind", "curves", "--risk", "0.1"], "--risk is for sweep figures"),
    (["grid2", "--x", "nope"], "choose from cohesion, scale"),
    (["grid2", "--output", "p_crisis_after_misreading"], "choose from p_miscalculation, p_crisis, p_war"),
    (["oat", "--output", "p_war"], "choose from p_miscalculation, p_crisis"),
    (["oat", "--kind", "response"], "use --kind effects"),
    (["oat", "--kind", "scatter"], "hotlines takes False, True"),
    (["grid1", "--kind", "map"], "a map needs a grid of two numeric parameters"),
    (["grid2", "--kind", "sensitivity"], "need a saltelli sweep"),
    (["saltelli", "--kind", "map"], "is a saltelli sweep"),
    (["grid1", "--risk", "0.1"], "--risk is not read by the response figure; it is for --kind map"),
    (["grid2", "--risk", "0"], "strictly between 0 and 1"),
    (["grid2", "--x", "scale", "--y", "scale"], "both scale"),
    (["grid1", "grid2"], "several sweep directories"),
    (["grid1", "grid1b", "--kind", "effects"], "several are only for --kind response"),
    (["grid1", "grid1b", "--x", "scale"], "choose from cohesion"),
    (["run", "grid1"], "give one run directory, or one or more sweep directories"),
    (["grid1", "--out", "figure"], "name a .png, .svg or .pdf file"),
])
def test_refusals_name_the_flag_and_what_is_allowed(results, args, says, capsys):
    """One line each, naming what is wrong and what would be accepted."""
    before = snapshot(results)
    capsys.readouterr()
    # results folders by name, and any figure file inside the results, never in the working directory
    named = [str(results / a) if (results / a).is_dir() or a.endswith(".png") else a for a in args]
    assert main(["plot", *named]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and says in err[0], err
    assert snapshot(results) == before


def test_a_two_parameter_response_draws_one_line_per_level_of_the_other(results, tmp_path, saved):
    out = tmp_path / "r.png"
    assert main(["plot", str(results / "grid2"), "--kind", "response", "--x", "scale", "--output", "p_crisis",
                 "--out", str(out)]) == 0
    ax = saved[str(out)].axes[0]
    assert len(saved[str(out)].axes) == 1 and ax.get_xlabel() == "scale"
    assert ax.get_legend().get_title().get_text() == "cohesion"
    assert [line.get_label() for line in ax.lines] == ["0.2", "0.9"]
    rows = list(csv.DictReader((results / "grid2" / "points.csv").read_text().splitlines()))
    for line in ax.lines:
        level = sorted((float(r["scale"]), float(r["p_crisis"])) for r in rows if r["cohesion"] == line.get_label())
        assert list(line.get_xdata()) == [x for x, _ in level] and list(line.get_ydata()) == [y for _, y in level]
