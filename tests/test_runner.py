"""The notebook runner behind `make run`: executes in order, saves copies, fails loudly, dirties nothing."""

from __future__ import annotations

import json
import shutil
import subprocess

import nbformat
import pytest

from mnistlib.paths import REPO_ROOT
from tools import runner


def _notebook(path, *sources):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nbformat.write(nb, path)
    return path


def test_runs_in_order_saves_executed_copies_and_reports_failure(tmp_path, capsys):
    good = _notebook(tmp_path / "01_good.ipynb", "x = 6 * 7", "print(x)")
    bad = _notebook(tmp_path / "02_bad.ipynb", "raise ValueError('broken on purpose')")
    out, times = tmp_path / "build", tmp_path / "build" / "run_times.json"
    assert runner.lesson_paths(tmp_path) == [good, bad]
    assert runner.main(["--out", str(out), "--times", str(times), str(good), str(bad)]) == 1
    executed = nbformat.read(out / "01_good.ipynb", as_version=4)
    assert executed.cells[1].outputs[0]["text"] == "42\n"
    assert [c.execution_count for c in executed.cells] == [1, 2]
    assert (out / "02_bad.ipynb").exists()  # the failing copy is kept, to read its error
    printed = capsys.readouterr().out
    assert "01_good.ipynb: ok" in printed and "02_bad.ipynb: FAILED" in printed
    assert runner.main(["--out", str(out), "--times", str(times), str(good)]) == 0
    assert not times.exists()  # these notebooks are not in the lessons' folder


def test_full_mode_writes_each_lessons_seconds_under_build_and_merges(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("MNISTLIB_SMOKE", raising=False)
    lessons = tmp_path / "notebooks"
    lessons.mkdir()
    first = _notebook(lessons / "01_first.ipynb", "x = 1")
    second = _notebook(lessons / "02_second.ipynb", "import time; time.sleep(0.5)")
    elsewhere = _notebook(tmp_path / "01_solutions.ipynb", "y = 2")  # not a lesson: not recorded
    times_file = tmp_path / "build" / "run_times.json"
    common = ["--times", str(times_file), "--lessons", str(lessons)]
    assert runner.main(["--out", str(tmp_path / "a"), *common]) == 0  # every lesson of the folder
    times = json.loads(times_file.read_text())
    assert set(times["seconds"]) == {"01_first.ipynb", "02_second.ipynb"}
    assert times["seconds"]["02_second.ipynb"] >= 0.5
    assert times["mode"] == "full" and times["cores"] >= 1 and times["torch_threads"] >= 1 and times["date"]
    assert not (lessons / "run_times.json").exists()  # a run never writes the committed record
    # Running one lesson again replaces its entry and keeps the other's.
    times["seconds"]["01_first.ipynb"] = 999.0
    times_file.write_text(json.dumps(times))
    assert runner.main(["--out", str(tmp_path / "b"), *common, str(first), str(elsewhere)]) == 0
    again = json.loads(times_file.read_text())
    assert again["seconds"]["01_first.ipynb"] < 999.0
    assert again["seconds"]["02_second.ipynb"] == times["seconds"]["02_second.ipynb"]
    assert set(again["seconds"]) == {"01_first.ipynb", "02_second.ipynb"}
    assert "written to" in capsys.readouterr().out
    assert second.exists()


def test_smoke_mode_and_failed_notebooks_record_nothing(tmp_path, monkeypatch):
    lessons = tmp_path / "notebooks"
    lessons.mkdir()
    good = _notebook(lessons / "01_good.ipynb", "x = 1")
    bad = _notebook(lessons / "02_bad.ipynb", "raise ValueError('broken on purpose')")
    times_file = tmp_path / "build" / "run_times.json"
    common = ["--times", str(times_file), "--lessons", str(lessons)]
    monkeypatch.setenv("MNISTLIB_SMOKE", "1")
    assert runner.main(["--out", str(tmp_path / "a"), *common, str(good)]) == 0
    assert not times_file.exists()
    monkeypatch.setenv("MNISTLIB_SMOKE", "0")
    assert runner.main(["--out", str(tmp_path / "b"), *common, str(good), str(bad)]) == 1
    assert list(json.loads(times_file.read_text())["seconds"]) == ["01_good.ipynb"]


def _times(seconds, mode="full"):
    return {"mode": mode, "date": "d", "cores": 2, "torch_threads": 2, "seconds": seconds}


def test_record_commits_only_a_full_run_of_every_lesson(tmp_path):
    lessons = tmp_path / "notebooks"
    lessons.mkdir()
    for name in ("00_a.ipynb", "01_b.ipynb"):
        _notebook(lessons / name, "x = 1")
    built, record = tmp_path / "build" / "run_times.json", lessons / "run_times.json"
    with pytest.raises(ValueError, match="no "):
        runner.record_times(built, record, lessons)
    built.parent.mkdir()
    built.write_text(json.dumps(_times({"00_a.ipynb": 1.0})))
    with pytest.raises(ValueError, match="01_b.ipynb"):
        runner.record_times(built, record, lessons)
    built.write_text(json.dumps(_times({"00_a.ipynb": 1.0, "01_b.ipynb": 2.0}, mode="smoke")))
    with pytest.raises(ValueError, match="full-mode"):
        runner.record_times(built, record, lessons)
    assert not record.exists()
    # A notebook renamed since is left out of the record.
    built.write_text(json.dumps(_times({"00_a.ipynb": 1.0, "01_b.ipynb": 2.0, "01_old.ipynb": 3.0})))
    runner.record_times(built, record, lessons)
    assert json.loads(record.read_text())["seconds"] == {"00_a.ipynb": 1.0, "01_b.ipynb": 2.0}


def test_record_option_writes_the_record_and_the_tables_and_runs_nothing(tmp_path, monkeypatch, capsys):
    lessons = tmp_path / "notebooks"
    lessons.mkdir()
    _notebook(lessons / "00_a.ipynb", "raise ValueError('must not run')")
    built, record = tmp_path / "run_times.json", tmp_path / "record.json"
    built.write_text(json.dumps(_times({"00_a.ipynb": 1.5})))
    monkeypatch.setattr(runner, "RECORD", record)
    rewritten = []
    monkeypatch.setattr(runner, "write_tables", lambda: rewritten.append(True) or [])
    with pytest.raises(SystemExit):
        runner.main(["--record", str(lessons / "00_a.ipynb")])
    assert runner.main(["--record", "--times", str(tmp_path / "none.json"), "--lessons", str(lessons)]) == 1
    assert not record.exists() and not rewritten
    assert runner.main(["--record", "--times", str(built), "--lessons", str(lessons)]) == 0
    assert json.loads(record.read_text())["seconds"] == {"00_a.ipynb": 1.5} and rewritten
    assert "running" not in capsys.readouterr().out


def test_make_run_writes_only_git_ignored_files():
    assert runner.RUN_TIMES.parent == runner.BUILD_DIR == REPO_ROOT / "build"
    if shutil.which("git") is None or not (REPO_ROOT / ".git").exists():
        pytest.skip("not a git clone")
    for path in ("build/run_times.json", "build/00_start_here.ipynb"):
        ignored = subprocess.run(["git", "check-ignore", "-q", path], cwd=REPO_ROOT, check=False)
        assert ignored.returncode == 0, f".gitignore must ignore {path}: make run writes it"
    tracked = subprocess.run(
        ["git", "ls-files", "--error-unmatch", "notebooks/run_times.json"],
        cwd=REPO_ROOT,
        capture_output=True,
        check=False,
    )
    assert tracked.returncode == 0, "notebooks/run_times.json is the committed record"


def test_a_lesson_in_two_parts_is_found_in_order(tmp_path):
    names = [
        "00_start.ipynb",
        "02b_second.ipynb",
        "01_data.ipynb",
        "02a_first.ipynb",
        "notes.ipynb",
        "2a_x.ipynb",
    ]
    for name in names:
        (tmp_path / name).write_text("{}")
    found = [p.name for p in runner.lesson_paths(tmp_path)]
    assert found == ["00_start.ipynb", "01_data.ipynb", "02a_first.ipynb", "02b_second.ipynb"]
