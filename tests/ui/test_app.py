"""The interactive page: the model behind it, its components, and the page driven in a real browser."""

import os
import shutil
import socket
import subprocess
import time
import urllib.request
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT
from sim.ui.cli import app_server

solara = pytest.importorskip("solara")
app = pytest.importorskip("sim.ui.app")

def page_text(rc) -> str:
    """All text in a rendered component tree (Markdown, alerts, buttons), walked from its root widget."""
    out, todo = [], [rc.container]
    while todo:
        w = todo.pop()
        for attr in ("children", "value", "template"):  # Markdown renders into a template's HTML
            v = getattr(w, attr, None)
            if isinstance(v, str):
                out.append(v)
            elif isinstance(v, (list, tuple)):
                out.extend(x for x in v if isinstance(x, str))
                todo.extend(x for x in v if not isinstance(x, str))
    return "\n".join(out)


BROWSER = shutil.which("chromium") or "/usr/bin/chromium"
REQUIRE_BROWSER = os.environ.get("ESCSIM_REQUIRE_BROWSER") == "1"  # CI sets it: a missing browser fails
# The day the key-numbers panel shows ("Day N of 365"), read in the page, and a wait condition on it.
DAY_SHOWN = "() => { const m = /Day (\\d+) of \\d+/.exec(document.body.innerText); return m ? +m[1] : -1; }"
DAY_AT_LEAST = "(n) => { const m = /Day (\\d+) of \\d+/.exec(document.body.innerText); return m && +m[1] >= n; }"


def test_levers_reach_the_scenario_for_any_actors():
    m = app.InteractiveModel(cohesion=1.5, drill_scale=2.0, transparency=0.9, hotline=True, backchannel=True,
                             noise=2.0, rng=1)
    sc = m.compiled
    nk, us = sc.actor_ids.index("north_korea"), sc.actor_ids.index("united_states")
    assert m.problem is None
    assert np.all(sc.noise == 0.4)  # 0.2 x 2
    sk = sc.actor_ids.index("south_korea")
    assert sc.threat_weight[us, nk] == pytest.approx(max(0.6, min(1.0, 0.8 * 1.5) * 1.0))  # cohesion capped at 1
    assert sc.hotline_eta[nk, us] == 0.5 and sc.hotline_eta[us, nk] == 0.5
    assert sc.backchannel[0].max() == 0.1
    fs = [p for p in sc.drill_periods if p[0] == "freedom_shield"][0]
    factor = m.resolved.run_values["drills.*.scale_factor"][0]  # the posterior draw run 0 takes
    assert sc.drill_scale[fs[1], sc.actor_ids.index("south_korea")] == pytest.approx(3.0 * factor)  # 1.5 x 2
    # transparency 0.3 plus 0.9 of the remaining 0.7: 0.93, so 0.07 of the ambiguity 1.0 is left
    assert sc.drill_ambiguity[fs[1], sk] == pytest.approx(1.0 * 0.07)
    strait = app.InteractiveModel(scenario_name="strait_example", hotline=True)  # no Korean actor anywhere
    assert strait.compiled.hotline_eta.max() == 0.5 and strait.problem is None


@pytest.mark.parametrize("name", app.SCENARIOS)
def test_the_untouched_page_runs_the_scenario_as_written(name):
    """Every lever at its default leaves every compiled array as escsim run resolves its run 0: the
    scenario as written, at the posterior draw run 0 takes where the scenario names a posterior."""
    from sim.engines.run_values import at_values
    from sim.engines.resolve import resolve

    page = app.InteractiveModel(scenario_name=name).compiled
    resolved = resolve(ROOT / "scenarios" / f"{name}.toml", runs=1)
    run = at_values(resolved.compiled, resolved.run_values_of(0) or {})
    assert (resolved.draws is None) == (name == "strait_example")
    for field in fields(run):
        a, b = getattr(page, field.name), getattr(run, field.name)
        # NaN is an unset value (regime_last_year): equal to NaN here
        assert (np.array_equal(a, b, equal_nan=a.dtype.kind == "f") if isinstance(a, np.ndarray) else a == b), \
            (name, field.name)


def test_the_page_ensemble_is_escsim_runs(monkeypatch):
    from sim.ui.api import run

    monkeypatch.setattr(app, "ENSEMBLE_RUNS", 1024)
    m = app.InteractiveModel(scenario_name="lever_transparency")
    box, rc = solara.render(app.KeyNumbers(m), handle_error=False)
    import ipyvuetify

    rc.find(ipyvuetify.Btn, children=["Run an ensemble of 1,024 runs"]).widget.click()
    k = run(ROOT / "scenarios" / "lever_transparency.toml", runs=1024, seed=0, workers=1).ensemble.totals.miscalculation
    text = page_text(rc)
    assert f"{k / 1024:.4f}" in text and "lever_transparency_posterior.csv" not in text
    assert "drawn from calibration/korea_posterior.csv (16 draws x 64 runs)" in text.replace(str(ROOT) + "/", "")
    assert "95% interval" in text and "over 16 posterior draws" in text


def test_a_refused_combination_is_reported_not_raised():
    m = app.InteractiveModel(noise=-1.0)
    assert "noise" in m.problem and "greater than or equal to 0" in m.problem
    assert m.compiled.noise.min() >= 0  # the scenario as written runs instead
    box, rc = solara.render(app.KeyNumbers(m), handle_error=False)
    assert "cannot be used" in page_text(rc)


def test_components_show_the_run_and_the_ensemble_button_gives_an_interval(monkeypatch):
    monkeypatch.setattr(app, "ENSEMBLE_RUNS", 1024)
    m = app.InteractiveModel(rng=3)
    for _ in range(90):
        m.step()
    fig = app.ladder_figure(m)
    lines = fig.axes[0].lines
    assert len(lines) == m.compiled.n_actors
    for i, line in enumerate(lines):
        assert np.array_equal(line.get_ydata(), m.history["realised"][:90, i])
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == list(m.compiled.rung_names)
    threat = app.threat_figure(m).axes[0].lines[0]
    assert np.array_equal(threat.get_ydata(), m.history["threat"][:91, 0])
    import ipyvuetify

    box, rc = solara.render(app.KeyNumbers(m), handle_error=False)
    assert "Day 90 of 365" in page_text(rc) and "P(miscalculation) =" not in page_text(rc)
    rc.find(ipyvuetify.Btn, children=["Run an ensemble of 1,024 runs"]).widget.click()
    text = page_text(rc)
    assert "P(miscalculation) =" in text and "95% interval" in text and "1,024 runs" in text
    box, rc = solara.render(app.EventLog(m), handle_error=False)
    text = page_text(rc)
    misread = int(m.history["misperceived"][:90].sum())
    adversaries = m.history["misperceived"][:90] & (m.compiled.threat_weight > 0)
    assert (f"Misperceptions so far: <strong>{misread}</strong>, of an adversary's action: "
            f"<strong>{adversaries.sum()}</strong>") in text.replace("&#x27;", "'")
    lines = app.replay_events(m, misperceptions=True)
    assert sum(line.count(" reads ") for line in lines) == adversaries.sum() > 0
    assert lines[-1].split(": ", 1)[1].split(";")[0].replace("'", "&#x27;") in text


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served_page(tmp_path):
    port = _free_port()
    command, env = app_server("127.0.0.1", port)
    # The server's output goes to a file: an unread pipe fills up and blocks the server mid-play.
    log = open(tmp_path / "server.log", "wb")
    proc = subprocess.Popen(command, cwd=ROOT, env={**env, "PYTHONUNBUFFERED": "1"},
                            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("the page did not start: " + (tmp_path / "server.log").read_text()[-2000:])
    yield url
    proc.terminate()
    proc.wait(timeout=20)
    log.close()


def click_until(page, button: str, shown, tries: int = 4, wait_ms: int = 15_000) -> None:
    """Click the button named ``button`` until the locator ``shown`` is visible; fail after ``tries``."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for _ in range(tries):
        try:
            page.get_by_role("button", name=button).click(timeout=wait_ms)
        except PlaywrightTimeout:  # the button is gone: the previous click may have been taken late
            pass
        try:
            shown.wait_for(timeout=wait_ms)
            return
        except PlaywrightTimeout:
            continue
    pytest.fail(f"clicking {button!r} {tries} times never showed {shown}")


def _save_artifact(path: Path) -> None:
    if os.environ.get("ESCSIM_ARTIFACTS"):
        Path(os.environ["ESCSIM_ARTIFACTS"]).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, Path(os.environ["ESCSIM_ARTIFACTS"]) / path.name)


@pytest.mark.browser
@pytest.mark.slow  # 40 s of a real browser: CI runs it with the slow set, on one Python
def test_page_in_a_real_browser(served_page, tmp_path):
    if REQUIRE_BROWSER:
        import playwright.sync_api as playwright
    else:
        playwright = pytest.importorskip("playwright.sync_api")
    if not Path(BROWSER).exists():
        if REQUIRE_BROWSER:
            pytest.fail(f"no browser at {BROWSER}")
        pytest.skip(f"no chromium at {BROWSER} (apt-get install chromium)")
    args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=BROWSER, args=args, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            drive_the_page(page, served_page, tmp_path / "app.png")
        except BaseException as exc:
            # say what the page showed: its text, a screenshot, and the server's last output
            shot = tmp_path / "app_failure.png"
            page.screenshot(path=str(shot), full_page=True)
            _save_artifact(shot)
            text = page.inner_text("body")[:1500]
            server = (tmp_path / "server.log").read_text(errors="replace")[-1500:]
            raise AssertionError(f"{exc}\n--- the page showed:\n{text}\n--- server output:\n{server}") from exc
        finally:
            browser.close()
    shot = tmp_path / "app.png"
    assert shot.read_bytes()[:4] == b"\x89PNG"
    _save_artifact(shot)


def drive_the_page(page, url: str, shot: Path) -> None:
    """Load the page, move the cohesion slider (x1.00 -> x0.80), Reset, play to day 60, pause; check the chart
    changed."""
    page.goto(url, wait_until="load", timeout=60_000)
    page.get_by_text("Model Parameters").wait_for(timeout=60_000)
    page.get_by_text("Day 0 of 365").wait_for(timeout=30_000)
    chart = page.locator("img").first
    before = chart.get_attribute("src")
    # move the cohesion slider (the third slider: play interval, render interval, then the levers)
    slider = page.get_by_role("slider").nth(2)
    value_before = slider.get_attribute("aria-valuenow")
    slider.focus()
    for _ in range(4):
        page.keyboard.press("ArrowLeft")
    deadline = time.time() + 20  # a loaded machine may take a while to apply the keys
    while slider.get_attribute("aria-valuenow") == value_before and time.time() < deadline:
        page.wait_for_timeout(200)
    assert (float(value_before), float(slider.get_attribute("aria-valuenow"))) == (1.0, 0.8)
    # Mesa's page builds a model with new settings on Reset; the key numbers then show them. The
    # slider's value reaches the server a moment after the browser shows it, so a Reset pressed in
    # between builds the old settings: press it again until the page shows the new ones.
    click_until(page, "Reset", page.get_by_text("cohesion x0.80"))
    # press play: the button turns into pause once the server has taken the click
    pause = page.get_by_role("button").filter(has_text="❚❚")
    click_until(page, "▶", pause)
    # Let it run to day 60 or later: wait on the day number, not on the exact text "Day 60", which a
    # poll between two renders could miss.
    page.wait_for_function(DAY_AT_LEAST, arg=60, timeout=240_000)
    pause.click()
    page.get_by_role("button", name="▶").wait_for(timeout=30_000)
    page.wait_for_timeout(1000)  # Mesa's play loop may finish the step it was sleeping through
    day = page.evaluate(DAY_SHOWN)
    page.wait_for_timeout(1500)
    assert page.evaluate(DAY_SHOWN) == day >= 60, "the model went on after pause"
    assert "cohesion x0.80" in page.inner_text("body")
    assert chart.get_attribute("src") != before, "the ladder chart did not change"
    page.screenshot(path=str(shot), full_page=True)
