"""Processes and signals: pool workers die with their parent, and Ctrl-C or SIGTERM stops everything.

Each test starts the real command in its own session, waits for its pool workers, signals it, and
looks for survivors through /proc (each process is named by pid and start time, so a reused pid is
not mistaken for a survivor). Whatever happens, the session is killed at the end.
"""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import tqdm
import tqdm.auto

from conftest import ROOT, SCENARIOS
from sim.engines import parallel
from sim.analysis.experiment import load_experiment
from sim.analysis.sweep import run_sweep

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

SCENARIO = SCENARIOS / "korea_baseline.toml"
STARTUP = 90  # seconds to wait for a command's workers on a busy machine
GRACE = 5  # seconds within which every process must be gone


# ---------------------------------------------------------------- processes, through /proc

def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, parent pid, start time) of a process, or None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()  # the name, in parentheses, may hold spaces
    return fields[0], int(fields[1]), int(fields[19])


def children(pid: int) -> dict[int, int]:
    """Live children of ``pid``: {pid: start time}."""
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = _stat(int(entry))
            if st and st[1] == pid and st[0] not in "ZX":
                found[int(entry)] = st[2]
    return found


def alive(processes: dict[int, int]) -> dict[int, int]:
    """Those of ``processes`` still running (a zombie has exited: only its exit status is left)."""
    return {pid: start for pid, start in processes.items()
            if (st := _stat(pid)) and st[2] == start and st[0] not in "ZX"}


def gone_within(processes: dict[int, int], seconds: float) -> dict[int, int]:
    """Survivors of ``processes`` after up to ``seconds``."""
    deadline = time.monotonic() + seconds
    while (left := alive(processes)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def pool_workers(proc: subprocess.Popen, n: int = 2, settle: float = 0.5) -> dict[int, int]:
    """Wait until ``proc`` has ``n`` pool workers (forks of it, so with its command line), then ``settle``
    seconds (into their first tasks); all its children."""
    deadline = time.monotonic() + STARTUP
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the command ended early: {proc.communicate()}"
        kids = children(proc.pid)
        workers = [pid for pid in kids if _cmdline(pid) == _cmdline(proc.pid)]
        if len(workers) >= n:
            time.sleep(settle)
            return children(proc.pid)
        time.sleep(0.05)
    raise AssertionError(f"no {n} workers after {STARTUP} s")


def _cmdline(pid: int) -> bytes | None:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None


def _as_at_a_terminal() -> None:
    """In the child before it runs: SIGINT handled as at a terminal. A runner started in the background
    of a non-interactive shell (and so its test workers) ignores SIGINT, and a child inherits that."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@contextmanager
def started(*args: str, **popen):
    """``python -m sim ARGS`` in a session of its own, killed with all its processes at the end."""
    proc = subprocess.Popen([sys.executable, *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True, preexec_fn=_as_at_a_terminal, **popen)
    try:
        yield proc
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.communicate()


# ---------------------------------------------------------------- workloads, mid-flight in seconds

def run_workload(tmp_path):
    out = tmp_path / "run"
    return ["run", str(SCENARIO), "--runs", "200000", "--workers", "2", "--no-plot", "--out", str(out)], out


SWEEP_POINTS = 6


def sweep_workload(tmp_path, runs=2048):
    exp = tmp_path / "exp.toml"
    exp.write_text(textwrap.dedent(f"""\
        [experiment]
        name = "signals"
        scenario = "{SCENARIO}"
        runs = {runs}
        seed = 1

        [[parameters]]
        key = "drills.freedom_shield.scale"
        values = [0.5, 1.0, 1.5, 2.0, 2.5, 3.0]
        """))
    out = tmp_path / "sweep"
    return ["sweep", str(exp), "--workers", "2", "--out", str(out)], out


def calibrate_workload(tmp_path):
    text = (ROOT / "calibration/korea.toml").read_text()
    text = text.replace('hindcast = "hindcast.toml"', f'hindcast = "{ROOT}/calibration/hindcast.toml"')
    # several blocks a year, so the ensembles go to the pool (one block runs in the calling process)
    assert str(ROOT) in text and "batch_size = 4096" in text
    cal = tmp_path / "cal.toml"
    cal.write_text(text)
    out = tmp_path / "posterior"
    out.mkdir()
    return ["calibrate", str(cal), "--workers", "2", "--out", str(out)], out


WORKLOADS = {"run": run_workload, "sweep": sweep_workload, "calibrate": calibrate_workload}


# ---------------------------------------------------------------- the parent dies

def test_workers_die_within_seconds_when_a_sweep_is_killed(tmp_path):
    args, _ = sweep_workload(tmp_path, runs=200_000)
    with started("-m", "sim", *args) as proc:
        kids = pool_workers(proc)
        # checked before the kill: the kernel may end a worker the instant its parent dies
        assert len(alive(kids)) >= 2, "the workers were running when the sweep was killed"
        os.kill(proc.pid, signal.SIGKILL)  # the main process only: nobody is left to end the workers
        proc.wait()
        assert not gone_within(kids, GRACE), "processes outlived the sweep"


def test_workers_forked_off_the_main_thread_die_with_their_parent(tmp_path):
    """The fallback: workers forked from another thread watch their parent's pid instead."""
    script = tmp_path / "threaded.py"
    script.write_text(textwrap.dedent("""\
        import threading, time
        from sim.engines.parallel import map_as_completed

        def task(seconds):
            time.sleep(seconds)
            return seconds

        thread = threading.Thread(target=lambda: list(map_as_completed(task, [(0, (60,)), (1, (60,))], 2)))
        thread.start()
        thread.join()
        """))
    with started(str(script), env={**os.environ, "PYTHONPATH": str(ROOT)}) as proc:
        kids = pool_workers(proc)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert len(alive(kids)) >= 2
        assert not gone_within(kids, GRACE), "processes outlived their parent"


# ---------------------------------------------------------------- Ctrl-C and SIGTERM

# Ctrl-C at a terminal reaches the whole process group, workers included; SIGTERM usually comes from
# `kill PID`, to the main process alone, which must then end the workers itself.
SIGNALS = {"SIGINT": (signal.SIGINT, True, 130, "interrupted"), "SIGTERM": (signal.SIGTERM, False, 143, "terminated")}
# Ctrl-C in the fast set; SIGTERM, which main() turns into the same unwinding, with the slow tests (5-10 s each)
SIGNAL_CASES = [pytest.param("SIGINT"), pytest.param("SIGTERM", marks=pytest.mark.slow)]


def stop(proc, tmp_path, how, settle=0.5):
    """Signal ``proc`` as ``how`` says; check that it stopped everything and said so in one line."""
    signum, to_group, status, word = SIGNALS[how]
    kids = pool_workers(proc, settle=settle)
    if to_group:
        os.killpg(proc.pid, signum)
    else:
        os.kill(proc.pid, signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == status, err
    assert err == f"{word}; files already written are complete\n"
    assert not gone_within(kids, GRACE), "processes outlived the command"
    assert not list(tmp_path.rglob("*.tmp")), "a temporary file was left behind"


@pytest.mark.parametrize("how", SIGNAL_CASES)
def test_run_stops_and_writes_nothing(tmp_path, how):
    args, out = run_workload(tmp_path)
    with started("-m", "sim", *args) as proc:
        stop(proc, tmp_path, how)
    assert not out.exists(), "an interrupted run wrote results"


@pytest.mark.parametrize("how", SIGNAL_CASES)
def test_calibrate_stops_and_writes_no_report(tmp_path, how):
    args, out = calibrate_workload(tmp_path)
    with started("-m", "sim", *args) as proc:
        stop(proc, tmp_path, how)
    assert not any(out.iterdir()), "an interrupted calibration wrote a posterior"


@pytest.mark.slow  # end to end and 5-20 s of CPU: with the slow set, to keep the README command within 3 minutes
@pytest.mark.parametrize("how", SIGNAL_CASES)
def test_sweep_stops_keeps_finished_points_and_resumes(tmp_path, how):
    args, out = sweep_workload(tmp_path)
    with started("-m", "sim", *args) as proc:
        deadline = time.monotonic() + STARTUP
        while not list((out / "points").glob("*.json")) and time.monotonic() < deadline:
            time.sleep(0.02)
        stop(proc, tmp_path, how, settle=0)  # points are in flight: one has just finished
    done = len(list((out / "points").glob("*.json")))
    assert 1 <= done < SWEEP_POINTS, "the sweep was stopped part-way"
    assert len(list(csv.DictReader((out / "points.csv").read_text().splitlines()))) == done  # the table of the finished points
    report = run_sweep(load_experiment(args[1]), out, workers=2)  # the same sweep again (here: no figures)
    assert (report.computed, report.reused) == (SWEEP_POINTS - done, done)
    assert len(list(csv.DictReader((out / "points.csv").read_text().splitlines()))) == SWEEP_POINTS


# ---------------------------------------------------------------- in this process

def _pid(_):
    return os.getpid()


def test_a_progress_monitor_is_stopped_before_workers_are_forked(monkeypatch):
    """tqdm's monitor thread, started by a bar opened before the pool, would be running at the fork."""
    threads_at_pool = []

    class Pool(parallel.ProcessPoolExecutor):
        def __init__(self, *args, **kwargs):
            threads_at_pool.append([type(t).__name__ for t in threading.enumerate()])
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(parallel, "ProcessPoolExecutor", Pool)
    monkeypatch.setattr(tqdm.tqdm, "monitor_interval", 10)
    with tqdm.auto.tqdm(total=2, disable=True):  # the bar class the ensemble and the sweep use
        assert "TMonitor" in [type(t).__name__ for t in threading.enumerate()]
        assert list(parallel.map_in_order(_pid, [(0,), (1,)], workers=2)) != [os.getpid()] * 2
    assert len(threads_at_pool) == 1 and "TMonitor" not in threads_at_pool[0]


def _how_it_follows_its_parent(_):
    """In a worker: the signal Linux sends it when its parent dies (0: none), and its threads."""
    import ctypes

    sig = ctypes.c_int(-1)
    ctypes.CDLL(None, use_errno=True).prctl(2, ctypes.byref(sig), 0, 0, 0)  # PR_GET_PDEATHSIG
    return sig.value, sorted(t.name for t in threading.enumerate())


def test_workers_follow_their_parent_by_prctl_from_the_main_thread_else_by_a_watchdog():
    tasks = [(0,), (1,)]
    from_main = list(parallel.map_in_order(_how_it_follows_its_parent, tasks, workers=2))
    assert from_main == [(signal.SIGKILL, ["MainThread"])] * 2
    from_thread = []
    thread = threading.Thread(target=lambda: from_thread.extend(
        parallel.map_in_order(_how_it_follows_its_parent, tasks, workers=2)), name="server")
    thread.start()
    thread.join()
    assert from_thread == [(0, ["server", "watch-parent"])] * 2


def _fail_or_sleep(seconds):
    if seconds == 0:
        raise ValueError("a task failed")
    time.sleep(seconds)


def test_a_failed_task_ends_the_pool_without_waiting_for_the_others():
    start = time.monotonic()
    with pytest.raises(ValueError, match="a task failed"):
        list(parallel.map_in_order(_fail_or_sleep, [(0,), (30,), (30,)], workers=2))
    assert time.monotonic() - start < 10
    assert not [pid for pid in children(os.getpid()) if _cmdline(pid) == _cmdline(os.getpid())], "workers left"


def test_a_pool_left_behind_by_its_caller_is_ended_without_waiting_for_its_tasks():
    """What the command line does on its way out, when an exception left a loop between two results."""
    results = parallel.map_as_completed(_fail_or_sleep, [(0, (0.01,)), (1, (30,)), (2, (30,))], workers=2)
    assert next(results) == (0, None)  # the caller stops here, keeping the iterator
    workers = {pid: start for pid, start in children(os.getpid()).items() if _cmdline(pid) == _cmdline(os.getpid())}
    assert len(workers) == 2
    start = time.monotonic()
    parallel.end_pools()
    assert time.monotonic() - start < 10
    assert not alive(workers)
    results.close()
