"""Posterior files: the weighted sample ``escsim calibrate`` writes, read back, checked, and fitted to a scenario.

A posterior is two files side by side: ``NAME_posterior.csv`` (one column per parameter key, then
``weight``; one row per sample) and ``NAME_posterior.json`` (the keys, the scenario it was calibrated
on, diagnostics). Which runs draw which sample is not decided here: :mod:`sim.resolve` does that, in
one place, for every command.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .draws import Stream, child
from .errors import InputError
from .parameters import check_keys


def posterior_summary(samples: np.ndarray, weights: np.ndarray, keys: list[str]) -> dict:
    """Weighted mean and 5%, 50%, 95% quantiles of each parameter."""
    out = {}
    for j, key in enumerate(keys):
        order = np.argsort(samples[:, j])
        cdf = np.cumsum(weights[order])
        q = [float(samples[order, j][min(np.searchsorted(cdf, p), len(cdf) - 1)]) for p in (0.05, 0.5, 0.95)]
        out[key] = {"mean": float(np.sum(weights * samples[:, j])), "q05": q[0], "median": q[1], "q95": q[2]}
    return out


def posterior_csv(report: dict) -> str:
    """The posterior sample as CSV: one column per key, then the weight."""
    text = io.StringIO()
    w = csv.writer(text, lineterminator="\n")
    w.writerow([*report["keys"], "weight"])
    for row, weight in zip(report["samples"], report["weights"]):
        w.writerow([*(repr(float(v)) for v in row), repr(float(weight))])
    return text.getvalue()


@dataclass(frozen=True)
class Posterior:
    """A posterior sample read back: keys, samples (S, d), normalised weights (S,), and its metadata."""

    keys: list[str]
    samples: np.ndarray
    weights: np.ndarray
    meta: dict

    def draw(self, runs: int, seed, runs_per_draw: int = 1) -> dict[str, np.ndarray]:
        """Per-run parameters: samples drawn by weight from the stream (seed, POSTERIOR), each held
        by ``runs_per_draw`` consecutive runs (the last draw by fewer when ``runs`` is not a multiple)."""
        rng = np.random.default_rng(child(seed, Stream.POSTERIOR))
        draws = -(-runs // runs_per_draw)
        idx = np.repeat(rng.choice(len(self.weights), size=draws, p=self.weights), runs_per_draw)[:runs]
        return {k: self.samples[idx, j] for j, k in enumerate(self.keys)}


def read_posterior(path: str | Path) -> Posterior:
    """Read a posterior written by ``escsim calibrate`` (the CSV and the JSON beside it)."""
    path = Path(path)
    meta_path = path.with_suffix(".json")
    try:
        with path.open(newline="") as file:
            rows = list(csv.reader(file))
        meta = json.loads(meta_path.read_text())
    except FileNotFoundError as exc:
        raise InputError(f"{exc.filename}: not found (a posterior is a CSV with its JSON beside it)") from None
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: not a posterior file ({exc})") from None
    if not rows or rows[0][-1:] != ["weight"]:
        raise InputError(f"{path}: not a posterior file (its last column must be 'weight')")
    keys = rows[0][:-1]
    try:
        data = np.array([[float(v) for v in r] for r in rows[1:]])
    except ValueError as exc:
        raise InputError(f"{path}: a value is not a number ({exc})") from None
    if data.ndim != 2 or data.shape[1] != len(keys) + 1 or len(data) == 0 or np.any(data[:, -1] < 0):
        raise InputError(f"{path}: needs one row per sample with {len(keys)} values and a weight >= 0")
    weights = data[:, -1] / data[:, -1].sum()
    return Posterior(keys, data[:, :-1], weights, meta)


def write_posterior(report: dict, directory: Path, command: list[str] | None = None) -> tuple[Path, Path]:
    """Write ``NAME_posterior.csv`` and ``NAME_posterior.json`` into ``directory``, atomically."""
    from .results import atomic_write, versions

    name = report["calibration"]
    csv_path, json_path = directory / f"{name}_posterior.csv", directory / f"{name}_posterior.json"
    doc = {k: v for k, v in report.items() if k not in ("samples", "weights")}
    # relative to the posterior's own folder, so the file reads the same from any working directory
    doc["template"] = os.path.relpath(Path(report["template"]).resolve(), directory.resolve())
    doc["posterior"] = posterior_summary(report["samples"], report["weights"], report["keys"])
    doc["command"] = command if command is not None else sys.argv
    doc["versions"] = versions()
    atomic_write(csv_path, posterior_csv(report))
    atomic_write(json_path, json.dumps(doc, indent=2, default=_json) + "\n")
    return csv_path, json_path


def _json(x):
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, float) and math.isnan(x):
        return None
    raise TypeError(f"not JSON: {type(x)}")


def posterior_for(scenario, path: str | Path):
    """The posterior at ``path`` checked against ``scenario`` (a validated Scenario): its keys must be
    per-run parameters of the scenario, and the scenario must be the posterior's template or extend
    it. Refused with one line otherwise."""
    from .compile import compile_scenario
    from .scenario import read_with_extends

    post = read_posterior(path)
    template = post.meta.get("template")  # relative to the posterior's folder
    files = {str(Path(f).resolve()) for f in read_with_extends(Path(scenario.source), ())[1].values()
             if str(f).endswith(".toml")} if Path(scenario.source).exists() else set()
    if template and files and str((Path(path).parent / template).resolve()) not in files:
        raise InputError(f"{path}: a posterior of {template}, which {scenario.source} does not extend; "
                         "give a posterior calibrated on this scenario or one it extends")
    try:
        check_keys(compile_scenario(scenario), post.keys, str(path))
    except InputError as exc:
        raise InputError(f"{exc.problems[0]} (the posterior does not fit scenario {scenario.scenario.name!r})") from None
    return post
