"""The observed record 2011-2021: counts recomputed from data/ match the hand-checked values; bad files are refused."""

import csv
import math
import shutil
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import ROOT
from sim.core.errors import InputError
from sim.data.record import CLASHES, EXERCISES, PROVOCATIONS, read_record

DATA = ROOT / "data"
YEARS = tuple(range(2011, 2022))


@pytest.fixture(scope="module")
def record():
    return read_record()


def test_the_defaults_are_the_project_copies(record):
    assert PROVOCATIONS == DATA / "nk_provocation_events_2011_2021.csv"
    assert record.years == YEARS
    assert record.files == {"provocations": str(PROVOCATIONS), "exercises": str(EXERCISES), "clashes": str(CLASHES)}


def test_provocation_days_reproduce_the_missile_event_days_file(record):
    with open(DATA / "nk_missile_event_days_2011_2021.csv", newline="") as f:
        expected = {int(r["year"]): int(r["missile_event_days"]) for r in csv.DictReader(f)}
    assert {y: record[y].provocation_days for y in YEARS} == expected


def test_core_clashes_per_year(record):
    clashes = {y: record[y].core_clashes for y in YEARS}
    assert clashes == {**dict.fromkeys(YEARS, 0), 2011: 1, 2014: 5, 2015: 1, 2020: 1}
    assert sum(clashes.values()) == 8
    assert [y for y in YEARS if record[y].had_clash] == [2011, 2014, 2015, 2020]


def test_window_days_and_provocations_inside_them_by_hand(record):
    # 2012 (a leap year): Key Resolve 27 Feb-9 Mar inside Foal Eagle's span from 1 Mar gives 27 Feb-30 Apr
    # (3 + 31 + 30 days), and Ulchi Freedom Guardian 20-31 Aug (12): 76 days. Launches on 29 Mar and 13 Apr
    # fall inside, 12 Dec outside.
    y = record[2012]
    assert (y.days, y.window_days, y.outside_days) == (366, 76, 290)
    assert (y.provocation_days_in_windows, y.provocation_days_outside_windows) == (2, 1)
    # 2019: Dong Maeng 4-12 Mar (9 days) and CCPT 11-20 Aug (10); of 12 launch days only 16 Aug is inside
    # (10 Aug is the day before the window opened).
    assert (record[2019].window_days, record[2019].provocation_days_in_windows) == (19, 1)
    # 2016: 7 Mar-30 Apr (25 + 30) and 22 Aug-2 Sep (12); launches inside: 10, 18, 21, 29 Mar, 1, 6, 15,
    # 23, 28 Apr and 24 Aug.
    assert (record[2016].window_days, record[2016].provocation_days_in_windows) == (67, 10)
    # 2018: no launches; Foal Eagle, Key Resolve and Max Thunder (1 Apr-3 May, 11-25 May); UFG suspended.
    assert (record[2018].window_days, record[2018].provocation_days) == (48, 0)
    assert record[2014].provocation_days_in_windows == 7
    assert [record[y].window_days for y in YEARS] == [73, 76, 73, 66, 66, 67, 72, 48, 19, 11, 22]
    assert [record[y].provocation_days_in_windows for y in YEARS] == [0, 2, 1, 7, 4, 10, 7, 0, 1, 0, 0]


def test_rate_ratios(record):
    # 32 of 95 provocation days fell in 593 window days; 63 in the other 3,425 days of 2011-2021.
    assert record.pooled_rate_ratio == pytest.approx(float(Fraction(32, 593) / Fraction(63, 3425)))
    assert record[2016].rate_ratio == pytest.approx((10 / 67) / (10 / 299))
    assert record[2011].rate_ratio == 0.0
    assert record[2018].rate_ratio != record[2018].rate_ratio  # 0/0: nan
    assert "pooled rate ratio in/out 2011-2021: 2.93" in record.table()


def test_windows_are_the_years_dated_rows_and_unverified_rows_count(record):
    assert [(str(a), str(b)) for a, b in record.windows(2018)] == [
        ("2018-04-01", "2018-04-28"), ("2018-04-23", "2018-05-03"), ("2018-05-11", "2018-05-25")]
    # 2020: the spring CCPT (kind none, postponed) has no window; the August one has.
    assert [(str(a), str(b)) for a, b in record.windows(2020)] == [("2020-08-18", "2020-08-28")]
    verified = read_record(verified_only=True)
    assert verified[2012].window_days == 0  # no 2012 row is verified = yes
    assert verified[2017].window_days == record[2017].window_days  # Key Resolve (unverified) lay inside Foal Eagle
    assert verified.pooled_rate_ratio > record.pooled_rate_ratio


# ---------------------------------------------------------------- bad files


def copy_data(tmp_path):
    for name in ("nk_provocation_events_2011_2021.csv", "exercise_windows_2011_2026.csv",
                 "inter_korean_clashes_2000_2025.csv"):
        shutil.copy(DATA / name, tmp_path / name)
    return (tmp_path / "nk_provocation_events_2011_2021.csv", tmp_path / "exercise_windows_2011_2026.csv",
            tmp_path / "inter_korean_clashes_2000_2025.csv")


def edit(path, old, new):
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def one_line(paths, *words):
    with pytest.raises(InputError) as info:
        read_record(*paths)
    assert len(info.value.problems) == 1, info.value.problems
    line = info.value.problems[0]
    assert "\n" not in line
    for word in words:
        assert word in line, (word, line)
    return line


def test_a_missing_column(tmp_path):
    paths = copy_data(tmp_path)
    edit(paths[0], "date,type,event", "date,kind,event")
    one_line(paths, str(paths[0]), "header", "missing column 'type'", "needed: date, type")


def test_a_malformed_date(tmp_path):
    paths = copy_data(tmp_path)
    edit(paths[0], "2014-03-16,", "2014-03-32,")
    one_line(paths, str(paths[0]), "line 15, date", "'2014-03-32' is not a date", "2011-01-01 to 2021-12-31")


def test_a_date_outside_the_files_period(tmp_path):
    paths = copy_data(tmp_path)
    edit(paths[0], "2021-10-19,", "2022-10-19,")
    one_line(paths, str(paths[0]), "line 116, date", "2022-10-19 is outside the file's period", "2021-12-31")
    paths = copy_data(tmp_path)
    edit(paths[1], "2011,Key Resolve,2011-02-28", "2011,Key Resolve,2010-02-28")
    one_line(paths, str(paths[1]), "line 2, start", "outside the file's period", "2011-01-01 to 2026-12-31")
    paths = copy_data(tmp_path)
    edit(paths[2], "2020-05-03,", "2026-05-03,")
    one_line(paths, str(paths[2]), "line 18, date", "outside", "2000-01-01 to 2025-12-31")


@pytest.mark.parametrize("file, old, new, words", [
    (0, ",Nuclear Provocation,Nuclear Test,", ",Nuke,Nuclear Test,", ["line 6, type", "'Nuke'", "Missile Provocation"]),
    (1, "CPX,US;ROK,yes,https://www.globalsecurity.org/military/ops/key-resolve-foal-eagle-2011",
     "CPX,US;ROK,sure,https://www.globalsecurity.org/military/ops/key-resolve-foal-eagle-2011",
     ["line 2, verified", "'sure'", "yes, partial, no"]),
    (1, "2013,Key Resolve,2013-03-11,2013-03-21", "2013,Key Resolve,2013-03-21,2013-03-11",
     ["line 8, end", "before the start"]),
    (1, "2018,UFG suspended,,,none", "2018,UFG suspended,2018-08-20,,none", ["line 26, start", "no dates"]),
    (1, "2019,Dong Maeng 19-1,2019-03-04", "2018,Dong Maeng 19-1,2019-03-04", ["line 27, start", "its year 2018"]),
    (1, "CPX,US;ROK,yes,https://www.globalsecurity.org/military/ops/ccpt.htm",
     "CPX,US;;ROK,yes,https://www.globalsecurity.org/military/ops/ccpt.htm", ["line 31, participants", "US;ROK"]),
    (2, "2020-05-03,DMZ at Cheorwon", "2020-05-03,DMZ, at Cheorwon", ["line 18", "has 7 fields; the header has 6"]),
    (2, "yes,none,core,Yonhap (AEN20200503002400325)", "yes,none,main,Yonhap (AEN20200503002400325)",
     ["line 18, class", "'main'", "core, borderline"]),
])
def test_a_bad_value_names_file_line_and_column(tmp_path, file, old, new, words):
    paths = copy_data(tmp_path)
    edit(paths[file], old, new)
    one_line(paths, str(paths[file]), *words)


def test_the_period_comes_from_the_file_name(tmp_path):
    prov, windows, clashes = copy_data(tmp_path)
    unnamed = tmp_path / "provocations.csv"
    prov.rename(unnamed)
    one_line((unnamed, windows, clashes), str(unnamed), "_FIRST_LAST.csv")
    short = tmp_path / "inter_korean_clashes_2012_2025.csv"
    clashes.rename(short)
    one_line((tmp_path / "x_2011_2021.csv", windows, short), str(short), "covers 2012-2025", "needs 2011-2021")


def test_a_missing_file(tmp_path):
    prov, windows, clashes = copy_data(tmp_path)
    prov.unlink()
    one_line((prov, windows, clashes), str(prov), "file not found")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 50), st.integers(0, 200), st.integers(0, 50), st.integers(0, 200)),
                min_size=1, max_size=20), st.sampled_from([0.0, 0.5]))
def test_one_rate_ratio_for_scalars_and_arrays(rows, pseudo):
    """The record, the period check and the calibration share this formula: each row of an array gives
    what the row alone gives, with NaN where a period has no days or both rates are 0 and inf where only
    the outside rate is 0."""
    from sim.data.record import rate_ratio

    a = np.array(rows)
    whole = rate_ratio(a[:, 0], a[:, 1], a[:, 2], a[:, 3], pseudo=pseudo)
    for (e_in, d_in, e_out, d_out), got in zip(rows, whole):
        one = rate_ratio(e_in, d_in, e_out, d_out, pseudo=pseudo)
        assert isinstance(one, float) and (one == got or (math.isnan(one) and math.isnan(got)))
        if d_in == 0 or d_out == 0 or (e_in + pseudo == 0 and e_out + pseudo == 0):
            assert math.isnan(one)
        elif e_out + pseudo == 0:
            assert one == math.inf
        else:
            assert one == pytest.approx(((e_in + pseudo) / d_in) / ((e_out + pseudo) / d_out))
