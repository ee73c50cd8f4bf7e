"""The importer: event and clash lists in the source formats become the record's files; bad rows are refused, one line each, nothing written."""

import pytest

from sim.core.errors import InputError
from sim.data.importer import import_record
from sim.data.record import read_clashes, read_provocation_days
from sim.ui.cli import main

EVENTS = """date,type,event,source_url,notes
2023-03-16,Missile Provocation,ICBM Launch,http://example.org/a,
2022-01-05,Missile Provocation,Hypersonic Missile Launch,http://example.org/b,x
2022-01-05,Missile Provocation,Second launch,,
2022-11-02,Other Provocation,Artillery Fire,,
"""
CLASHES = """date,event,fire_exchanged,casualties,class,source
2022-11-02,NLL: shots exchanged,yes,none,core,report
2021-06-01,Outside the years,yes,none,core,report
2023-01-01,Warning shots only,no,none,borderline,report
"""


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_import_writes_files_the_record_reads(tmp_path):
    events, clashes = _write(tmp_path, "csis.csv", EVENTS), _write(tmp_path, "clashes.csv", CLASHES)
    written = import_record(events, tmp_path / "out", clashes=clashes)
    assert [p.name for p in written] == ["nk_provocation_events_2022_2023.csv", "inter_korean_clashes_2022_2023.csv"]
    lines = written[0].read_text().splitlines()
    assert lines[0] == "date,type,event,source_url"  # the record's columns; 'notes' is dropped
    assert [line[:10] for line in lines[1:]] == ["2022-01-05", "2022-01-05", "2022-11-02", "2023-03-16"]  # date order
    assert [d.isoformat() for d in read_provocation_days(written[0])] == ["2022-01-05", "2023-03-16"]
    assert [d.isoformat() for d in read_clashes(written[1])] == ["2022-11-02"]  # 2021 is outside the years


def test_years_keep_only_the_chosen_period(tmp_path):
    events = _write(tmp_path, "csis.csv", EVENTS)
    [written] = import_record(events, tmp_path / "out", years=(2022, 2022))
    assert written.name == "nk_provocation_events_2022_2022.csv"
    assert len(written.read_text().splitlines()) == 4


def test_bad_rows_give_one_line_each_and_nothing_is_written(tmp_path, capsys):
    events = _write(tmp_path, "csis.csv", EVENTS + "2022-02-30,Missile Provocation,No such day,,\n"
                    "2022-03-01,Missle Provocation,Misspelt type,,\n"
                    "2023-03-16,Missile Provocation,ICBM launch,,\n")
    clashes = _write(tmp_path, "clashes.csv", CLASHES + "03/04/2022,Bad date,yes,none,core,r\n"
                     "2022-05-05,Bad class,yes,none,major,r\n")
    out = tmp_path / "out"
    with pytest.raises(InputError) as err:
        import_record(events, out, clashes=clashes)
    assert err.value.problems == [
        f"{events}: line 6, date: '2022-02-30' is not a date; allowed: a real day written YYYY-MM-DD",
        f"{events}: line 7, type: 'Missle Provocation' is not allowed; allowed: Missile Provocation, "
        "Nuclear Provocation, Other Provocation",
        f"{events}: line 8, date: duplicates line 2 (the same date, type and event); allowed: each event once",
        f"{clashes}: line 5, date: '03/04/2022' is not a date; allowed: a real day written YYYY-MM-DD",
        f"{clashes}: line 6, class: 'major' is not allowed; allowed: core, borderline"]
    assert not out.exists()
    assert main(["import-record", str(events), "--clashes", str(clashes), "--out", str(out)]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 5
    assert not out.exists()


def test_the_command_prints_what_it_wrote(tmp_path, capsys):
    events = _write(tmp_path, "csis.csv", EVENTS)
    assert main(["import-record", str(events), "--out", str(tmp_path / "out"), "--years", "2022", "2023"]) == 0
    assert "nk_provocation_events_2022_2023.csv" in capsys.readouterr().out
