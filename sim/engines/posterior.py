"""Posterior files: the weighted sample ``escsim calibrate`` writes, read back, checked, and fitted to a scenario.

A posterior is two files side by side: ``NAME_posterior.csv`` (one column per parameter key, then
``weight``; one row per sample) and ``NAME_posterior.json`` (the keys, the scenario it was calibrated
on, diagnostics). Which runs draw which sample is not decided here: :mod:`sim.engines.resolve` does that, in
one place, for every command.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sim.core.numbers import json_ready
from sim.engines.draws import Stream, child
from sim.core.errors import InputError
from sim.engines.run_values import check_keys


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
    """A posterior sample: keys, samples (S, d), normalised weights (S,), its metadata, and where it
    came from (``path`` and the SHA-256 ``digest`` of the CSV's bytes: its identity in manifests and
    pairings; empty for one made in memory)."""

    keys: list[str]
    samples: np.ndarray
    weights: np.ndarray
    meta: dict
    path: str = ""
    digest: str = ""

    def sample_indices(self, draws: int, seed) -> np.ndarray:
        """``draws`` sample rows drawn by weight, with replacement, from the stream ``seed + (POSTERIOR,)``."""
        rng = np.random.default_rng(child(seed, Stream.POSTERIOR))
        return rng.choice(len(self.weights), size=draws, p=self.weights)


def read_posterior(path: str | Path) -> Posterior:
    """Read a posterior written by ``escsim calibrate`` (the CSV and the JSON beside it), checked.

    Refused, with one line naming the file, the line and the key: a missing file, a JSON without the
    CSV's keys (its ``keys`` must equal the CSV's columns but the last, ``weight``), a row with the
    wrong number of values, a value that is not a finite number, a negative weight, or weights that
    are all zero. Values are checked against a scenario's schema by :func:`posterior_for`.
    """
    import hashlib

    path = Path(path)
    meta_path = path.with_suffix(".json")
    try:
        raw = path.read_bytes()
        meta = json.loads(meta_path.read_text())
    except FileNotFoundError as exc:
        raise InputError(f"{exc.filename}: not found (a posterior is a CSV with its JSON beside it)") from None
    except IsADirectoryError as exc:
        raise InputError(f"{exc.filename}: a directory, not a posterior file") from None
    except (OSError, ValueError) as exc:
        raise InputError(f"{meta_path if isinstance(exc, ValueError) else path}: not a posterior file ({exc})") from None
    try:
        rows = list(csv.reader(io.StringIO(raw.decode())))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"{path}: not a CSV text file ({exc})") from None
    if not rows or rows[0][-1:] != ["weight"] or len(rows[0]) < 2:
        raise InputError(f"{path}: line 1: not a posterior file (one column per parameter key, then 'weight')")
    keys = rows[0][:-1]
    if not isinstance(meta, dict) or meta.get("keys") != keys:
        theirs = meta.get("keys") if isinstance(meta, dict) else None
        if not isinstance(theirs, list):
            raise InputError(f"{meta_path}: keys: missing; a posterior's JSON lists its parameter keys, the CSV's "
                             "columns")
        missing, extra = [k for k in theirs if k not in keys], [k for k in keys if k not in theirs]
        differ = "; ".join([*([f"columns missing: {', '.join(missing)}"] if missing else []),
                            *([f"columns not in the JSON: {', '.join(extra)}"] if extra else [])]) or "another order"
        raise InputError(f"{path}: line 1: the columns are not the keys of {meta_path.name} ({differ}); the CSV and "
                         "its JSON must come from the same calibration")
    if len(rows) < 2:
        raise InputError(f"{path}: has no samples (one row per sample after the header)")
    data = np.empty((len(rows) - 1, len(keys) + 1))
    for r, row in enumerate(rows[1:]):
        if len(row) != len(keys) + 1:
            raise InputError(f"{path}: line {r + 2}: {len(row)} values; each row has {len(keys)} parameter values "
                             "and a weight")
        for j, (name, text) in enumerate(zip([*keys, "weight"], row)):
            try:
                data[r, j] = float(text)
            except ValueError:
                data[r, j] = np.nan
            if not np.isfinite(data[r, j]):
                raise InputError(f"{path}: line {r + 2}, {name}: {text!r} is not a finite number")
    weights = data[:, -1]
    if np.any(weights < 0):
        r = int(np.argmax(weights < 0))
        raise InputError(f"{path}: line {r + 2}, weight: {weights[r]!r}; weights must be >= 0")
    if weights.sum() <= 0:
        raise InputError(f"{path}: weight: every weight is 0; at least one sample needs a weight > 0")
    return Posterior(keys, data[:, :-1], weights / weights.sum(), meta, str(path), hashlib.sha256(raw).hexdigest())


def write_posterior(report: dict, directory: Path, command: list[str] | None = None) -> tuple[Path, Path]:
    """Write ``NAME_posterior.csv`` and ``NAME_posterior.json`` into ``directory``, atomically."""
    from sim.core.files import atomic_write, versions

    name = report["calibration"]
    csv_path, json_path = directory / f"{name}_posterior.csv", directory / f"{name}_posterior.json"
    doc = {k: v for k, v in report.items() if k not in ("samples", "weights")}
    # relative to the posterior's own folder, so the file reads the same from any working directory
    doc["template"] = os.path.relpath(Path(report["template"]).resolve(), directory.resolve())
    doc["posterior"] = posterior_summary(report["samples"], report["weights"], report["keys"])
    doc["command"] = command if command is not None else sys.argv
    doc["versions"] = versions()
    atomic_write(csv_path, posterior_csv(report))
    atomic_write(json_path, json.dumps(json_ready(doc), indent=2) + "\n")
    return csv_path, json_path




def posterior_for(scenario, path: str | Path) -> Posterior:
    """The posterior at ``path`` checked against ``scenario`` (a validated Scenario): the scenario must be
    the posterior's template or extend it, its keys must be per-run parameters of the scenario, and its
    values must be ones the scenario's schema accepts for those keys (each column's smallest and largest
    value are set in the scenario and validated; ``drills.*`` factors must be >= 0). Refused with one
    line otherwise, naming the file, the line and the key."""
    from sim.model.compile import compile_scenario
    from sim.model.scenario import read_with_extends

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
    check_values(scenario, post)
    return post


def check_values(scenario, post: Posterior) -> None:
    """Refuse a posterior whose values the scenario's schema does not accept (see :func:`posterior_for`)."""
    from sim.engines.run_values import DRILL_KEYS
    from sim.model.scenario import set_key_path, validate_scenario

    raw = scenario.model_dump(mode="python", exclude_none=True)
    for j, key in enumerate(post.keys):
        column = post.samples[:, j]
        for r in dict.fromkeys((int(np.argmin(column)), int(np.argmax(column)))):
            value = float(column[r])
            where = f"{post.path or '<posterior>'}: line {r + 2}, {key}"
            if key in DRILL_KEYS:
                if value < 0:
                    raise InputError(f"{where}: {value!r}; a factor on every drill's "
                                     f"{key.split('.')[-1].removesuffix('_factor')} must be >= 0")
                continue
            ids = list(scenario.actors) if key.split(".")[1] == "*" else [key.split(".")[1]]
            trial = copy.deepcopy(raw)
            for actor in ids:
                set_key_path(trial, ".".join(["actors", actor, *key.split(".")[2:]]), value, where)
            try:
                validate_scenario(trial, where)
            except InputError as exc:
                reason = exc.problems[0].split(": ")[-1]
                raise InputError(f"{where}: {value!r} is not allowed there ({reason})") from None
