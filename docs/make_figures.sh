#!/usr/bin/env bash
# Remake the README's figures from the shipped scenarios and experiments (about 5 million runs, half an hour
# on two cores). Run from the project root with escsim installed.
set -euo pipefail
# A sweep refuses a directory that holds another version of its experiment (resume must never mix
# results), so clear the directories this script writes before it writes them again.
rm -rf results/korea_baseline results/korea_baseline_rare results/cohesion results/cohesion_asian_nato results/drill_scale \
  results/sensitivity results/levers results/uncertainty results/drill_frequency results/posture
# the headline run: 640 posterior draws x 64 runs, as a fresh clone's `escsim run` gives it
escsim run scenarios/korea_baseline.toml --seed 0 --runs-table no --out results/korea_baseline
escsim plot results/korea_baseline --kind curves --out docs/figures/escalation_curves.png
escsim plot results/korea_baseline --kind paths --out docs/figures/level_paths.png
# the tail: crude and by splitting, for the README's rare-outcome section (2.5 minutes)
escsim run scenarios/korea_baseline.toml --seed 0 --runs-table no --rare crisis --rare war --rare nuclear \
  --out results/korea_baseline_rare
escsim plot results/korea_baseline_rare --kind tail --out docs/figures/tail.png
escsim sweep experiments/cohesion.toml --out results/cohesion
escsim sweep experiments/cohesion_asian_nato.toml --out results/cohesion_asian_nato
escsim plot results/cohesion results/cohesion_asian_nato --out docs/figures/response.png
escsim sweep experiments/drill_scale.toml --out results/drill_scale
escsim plot results/drill_scale --risk 0.15 --out docs/figures/risk_map.png
escsim sweep experiments/sensitivity.toml --out results/sensitivity
escsim plot results/sensitivity --out docs/figures/sensitivity.png
# The hindcast and coverage figures are escsim calibrate's (calibration/korea.toml, about 6-10 minutes).
cp calibration/korea_check.png docs/figures/hindcast_posterior.png
cp calibration/korea_coverage.png docs/figures/calibration_coverage.png
# The forecasts' rolling-origin evaluation (about 2 minutes)
escsim evaluate calibration/korea.toml --out results/evaluate_korea
cp results/evaluate_korea/evaluate.png docs/figures/evaluation.png
# The experiments page: the remaining sweeps, then the page generated from all of them.
escsim sweep experiments/levers.toml --out results/levers
escsim sweep experiments/uncertainty.toml --out results/uncertainty
escsim sweep experiments/drill_frequency.toml --out results/drill_frequency
escsim levers experiments/posture.toml --out results/posture
# The many-objective search, its robustness, value of information and failure boxes (needs the optimize
# and discover extras; about 4 minutes on an idle machine)
rm -rf results/optimize
escsim optimize experiments/optimize.toml --out results/optimize
cp results/optimize/pareto.png docs/figures/optimize_pareto.png
cp results/optimize/hypervolume.png docs/figures/optimize_hypervolume.png
cp results/optimize/evppi.png docs/figures/optimize_evppi.png
# The experiments page, generated from all of them.
escsim report experiments/cohesion.toml experiments/cohesion_asian_nato.toml experiments/drill_scale.toml \
  experiments/drill_frequency.toml \
  experiments/levers.toml experiments/posture.toml experiments/uncertainty.toml experiments/sensitivity.toml \
  experiments/optimize.toml
