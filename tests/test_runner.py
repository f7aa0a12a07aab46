"""The notebook runner behind `make run`: executes in order, saves copies, fails loudly."""

from __future__ import annotations

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
