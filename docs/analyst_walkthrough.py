# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Which lever, by how much, how sure: an analyst's walkthrough
#
# The question: **does the "Asian NATO" arrangement raise the risk of miscalculation on the Korean
# peninsula, which lever lowers it, and would the answer survive the assumptions the data cannot pin
# down?** This notebook answers it end to end from Python: run the baseline, compare two scenarios on
# the same random numbers, try a what-if without writing a file, sweep the levers, check each lever
# over the plausible worlds, and find where the risk is high.
#
# It is a [jupytext](https://jupytext.readthedocs.io) notebook in the percent format: open it in
# Jupyter with jupytext installed (or in VS Code, which runs `# %%` cells), or run it as a script,
# `python docs/analyst_walkthrough.py`. The test suite runs it (`tests/ui/test_walkthrough.py`, with
# `ESCSIM_WALKTHROUGH_QUICK=1`: fewer runs and points, the same steps), so it never goes stale.
# The last step needs the discover extra: `pip install -e '.[discover]'`.

# %%
import os
import tempfile
from pathlib import Path

import pandas as pd

import sim
from sim.analysis.discover import available, discover
from sim.ui.plots import plot_discovery, save_figure


def project_root() -> Path:
    """The folder holding scenarios/ (the notebook may run from docs/ or from the project root)."""
    for folder in (Path.cwd(), *Path.cwd().parents, Path(globals().get("__file__", ".")).resolve().parent.parent):
        if (folder / "scenarios" / "korea_baseline.toml").exists():
            return folder
    raise FileNotFoundError("run this from inside the escalation-sim project")


ROOT = project_root()
QUICK = os.environ.get("ESCSIM_WALKTHROUGH_QUICK") == "1"  # the tests' setting: the same steps, smaller
RUNS = 2560 if QUICK else 40_960  # runs per setting: 10 or 160 posterior draws of 256 runs
OUT = Path(os.environ.get("ESCSIM_WALKTHROUGH_OUT") or tempfile.mkdtemp(prefix="walkthrough-"))
SCENARIOS = ROOT / "scenarios"
print(f"runs per setting: {RUNS:,}; results and figures in {OUT}")

# %% [markdown]
# ## 1. The baseline
#
# `sim.run` runs a scenario as `escsim run` does: each run draws its parameters from the calibrated
# posterior the scenario names (256 runs a draw), and every probability comes with a 95% interval
# over those draws, which holds the Monte Carlo error and the parameters' uncertainty together. The
# same seed gives the same numbers, run by run. `result.summary` holds the numbers as a dict, and `result.save()` writes what `escsim run` writes.

# %%
result = sim.run(SCENARIOS / "korea_baseline.toml", runs=RUNS, seed=0)
print(result)

# %% [markdown]
# ## 2. Does the Asian NATO raise the risk? Compare on the same random numbers
#
# Two separate ensembles each carry their own Monte Carlo noise, and their intervals overlap even when
# one setting is reliably riskier. `compare` runs both scenarios on the same random numbers, so run k
# of the one and run k of the other differ only by the scenario, and take the same posterior draw; the
# difference is carried by the few runs that end differently, and its paired interval (over the
# draws) is much narrower. The first scenario is the baseline. (On the command line: `escsim compare
# scenarios/korea_baseline.toml scenarios/asian_nato.toml`.)

# %%
nato = sim.compare([SCENARIOS / "korea_baseline.toml", SCENARIOS / "asian_nato.toml"], runs=RUNS, seed=0)
print(nato)

# %%
p = nato.paired[0]["p_miscalculation"]
print(f"P(miscalculation) moves from {100 * p['baseline']:.2f}% to {100 * p['here']:.2f}%: "
      f"{100 * p['difference']:+.2f} points [{100 * p['diff_low']:+.2f}, {100 * p['diff_high']:+.2f}], "
      f"carried by {p['only_here']} runs with a miscalculation only under the Asian NATO and "
      f"{p['only_baseline']} only in the baseline")

# %% [markdown]
# ## 3. A what-if without writing a file: `--set`
#
# Any value of a scenario can be changed by its dotted key path (the paths sweeps use), for every
# scenario compared (`KEY=VALUE`) or for the N-th only (`N:KEY=VALUE`). Here the same scenario twice,
# with the two alliances' cohesion at 0.6 in the first and 0.95 in the second. On the command line:
# `escsim compare scenarios/korea_baseline.toml scenarios/korea_baseline.toml --set
# 1:alliances.us_rok.cohesion=0.6 ...`.

# %%
keys = ["alliances.us_rok.cohesion", "alliances.us_japan.cohesion"]
what_if = sim.compare([SCENARIOS / "korea_baseline.toml"] * 2,
                      [f"1:{k}=0.6" for k in keys] + [f"2:{k}=0.95" for k in keys], runs=RUNS, seed=0)
rows = []
for out in what_if.outputs:
    q = what_if.paired[0][out]
    rows.append({"probability": out, "cohesion 0.6": q["baseline"], "cohesion 0.95": q["here"],
                 "difference": q["difference"], "paired 95%": f"[{q['diff_low']:+.4f}, {q['diff_high']:+.4f}]",
                 "runs that differ": q["only_here"] + q["only_baseline"]})
pd.DataFrame(rows)

# %% [markdown]
# ## 4. Which lever lowers the risk? A lever sweep with paired differences
#
# `experiments/levers.toml` switches each lever of the article on alone, from a baseline with all
# off, on common random numbers. Such a sweep stores, for every point, the runs that differ from the
# baseline point and the difference with its paired interval (`p_miscalculation_diff`,
# `_diff_low`, `_diff_high`, `_only_here`, `_only_baseline` in `points.csv`); the effects figure draws
# them with zero marked.

# %%
levers = sim.sweep(ROOT / "experiments" / "levers.toml", runs=RUNS, out=OUT / "levers")  # escsim sweep
table = pd.read_csv(levers.out / "points.csv")
table[["hotlines", "transparency", "backchannels", "summits", "p_miscalculation", "p_miscalculation_diff",
       "p_miscalculation_diff_low", "p_miscalculation_diff_high"]]

# %%
fig = levers.plot("effects")  # the figure escsim plot draws, in percent and percentage points
save_figure(fig, OUT / "levers_effects.png")
fig

# %% [markdown]
# ## 5. Would the answer survive the assumptions? Each lever over the plausible worlds
#
# `experiments/uncertainty.toml` draws the values the data cannot identify (exercise scale and
# ambiguity, deterrence, cohesion, North Korea's perception noise, the spiral's strength) from a Latin
# hypercube. `sim.compare(..., over=...)` runs every scenario at every draw, all on the draw's random numbers, and
# tells for each lever in how many of these plausible worlds it lowers P(miscalculation), and by how
# much (`escsim compare A B C --over experiments/uncertainty.toml` on the command line). At every
# point, the runs also take the calibrated posterior's draws for what the record does pin down.

# %%
robust = sim.compare([SCENARIOS / "korea_baseline.toml", SCENARIOS / "lever_transparency.toml",
                      SCENARIOS / "lever_hotline.toml"], over=ROOT / "experiments" / "uncertainty.toml",
                     runs=RUNS, max_draws=3 if QUICK else None)
print(robust)

# %%
draws = pd.DataFrame(robust.rows())
draws[["setting", "draw", "ambiguity", "nk_noise", "p_miscalculation_baseline", "p_miscalculation",
       "p_miscalculation_diff", "p_miscalculation_diff_low", "p_miscalculation_diff_high"]]

# %% [markdown]
# ## 6. When is the risk high? Scenario discovery
#
# Over the same draws, which combinations of assumptions make P(miscalculation) exceed 5%? We sweep
# the uncertainty experiment (each point's probability with its interval, in `points.csv`), then PRIM
# finds boxes of parameter ranges: *coverage* is the share of the high points inside a box, *density*
# the share of the box's points that are high (`escsim discover results/uncertainty --above 0.05` on
# the command line). A few dozen points give a rough box; hundreds give a sharp one.

# %%
text = (ROOT / "experiments" / "uncertainty.toml").read_text()
text = text.replace('"../scenarios/', f'"{SCENARIOS.as_posix()}/')  # the copy lives elsewhere
if QUICK:
    text = text.replace("points = 32", "points = 12")
(OUT / "uncertainty.toml").write_text(text)
sim.sweep(OUT / "uncertainty.toml", runs=RUNS, out=OUT / "uncertainty")
if available():
    found = discover(OUT / "uncertainty", above=0.05)
    print(found.text())
else:
    found = None
    print("scenario discovery needs the discover extra: pip install -e '.[discover]'")

# %%
fig = plot_discovery(found, path=OUT / "discovery.png") if found is not None else None
fig

# %% [markdown]
# ## What to take away
#
# - A difference between two settings is judged by its **paired** interval: an interval that excludes
#   zero is an effect even when the two settings' own intervals overlap.
# - A lever is robust when it lowers the risk in most plausible worlds, not just in the baseline.
# - The boxes say which assumptions to pin down first: the ones that decide whether the risk is high.
