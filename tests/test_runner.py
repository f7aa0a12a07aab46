"""The notebook runner behind `make run`: executes in order, saves copies, fails loudly."""

from __future__ import annotations

import json

import nbformat

from tools import runner


def _notebook(path, *sources):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nbformat.write(nb, path)
    return path


def test_runs_in_order_saves_executed_copies_and_reports_failure(tmp_path, capsys):
    good = _notebook(tmp_path / "01_good.ipynb", "x = 6 * 7", "print(x)")
    bad = _notebook(tmp_path / "02_bad.ipynb", "raise ValueError('broken on purpose')")
    out = tmp_path / "build"
    assert runner.numbered_notebooks(tmp_path) == [good, bad]
    assert runner.main(["--out", str(out), str(good), str(bad)]) == 1
    executed = nbformat.read(out / "01_good.ipynb", as_version=4)
    assert executed.cells[1].outputs[0]["text"] == "42\n"
    assert [c.execution_count for c in executed.cells] == [1, 2]
    assert (out / "02_bad.ipynb").exists()  # the failing copy is kept, to read its error
    printed = capsys.readouterr().out
    assert "01_good.ipynb: ok" in printed and "02_bad.ipynb: FAILED" in printed
    assert runner.main(["--out", str(out), str(good)]) == 0


def test_full_mode_records_each_lessons_seconds_and_merges(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("MNISTLIB_SMOKE", raising=False)
    lessons = tmp_path / "notebooks"
    lessons.mkdir()
    first = _notebook(lessons / "01_first.ipynb", "x = 1")
    second = _notebook(lessons / "02_second.ipynb", "import time; time.sleep(0.5)")
    elsewhere = _notebook(tmp_path / "01_solutions.ipynb", "y = 2")  # not a lesson: not recorded
    times_file = lessons / "run_times.json"
    assert (
        runner.main(["--out", str(tmp_path / "a"), "--times", str(times_file), str(first), str(second)]) == 0
    )
    times = json.loads(times_file.read_text())
    assert set(times["seconds"]) == {"01_first.ipynb", "02_second.ipynb"}
    assert times["seconds"]["02_second.ipynb"] >= 0.5
    assert times["mode"] == "full" and times["cores"] >= 1 and times["torch_threads"] >= 1 and times["date"]
    # Running one lesson again replaces its entry and keeps the other's.
    times["seconds"]["01_first.ipynb"] = 999.0
    times_file.write_text(json.dumps(times))
    assert (
        runner.main(["--out", str(tmp_path / "b"), "--times", str(times_file), str(first), str(elsewhere)])
        == 0
    )
    again = json.loads(times_file.read_text())
    assert again["seconds"]["01_first.ipynb"] < 999.0
    assert again["seconds"]["02_second.ipynb"] == times["seconds"]["02_second.ipynb"]
    assert set(again["seconds"]) == {"01_first.ipynb", "02_second.ipynb"}
    assert "recorded in" in capsys.readouterr().out


def test_smoke_mode_and_failed_notebooks_record_nothing(tmp_path, monkeypatch):
    lessons = tmp_path / "notebooks"
    lessons.mkdir()
    good = _notebook(lessons / "01_good.ipynb", "x = 1")
    bad = _notebook(lessons / "02_bad.ipynb", "raise ValueError('broken on purpose')")
    times_file = lessons / "run_times.json"
    monkeypatch.setenv("MNISTLIB_SMOKE", "1")
    assert runner.main(["--out", str(tmp_path / "a"), "--times", str(times_file), str(good)]) == 0
    assert not times_file.exists()
    monkeypatch.setenv("MNISTLIB_SMOKE", "0")
    assert runner.main(["--out", str(tmp_path / "b"), "--times", str(times_file), str(good), str(bad)]) == 1
    assert list(json.loads(times_file.read_text())["seconds"]) == ["01_good.ipynb"]
