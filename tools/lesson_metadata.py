"""Set the lessons' cell metadata: slide types, nbval tags from `# NBVAL_*` markers, hidden check cells.

python -m tools.lesson_metadata notebooks/01_explore_data.ipynb teachers/solutions/01_solutions.ipynb

For every cell:
- a comment line `# NBVAL_CHECK_OUTPUT` (or IGNORE_OUTPUT, SKIP, RAISES_EXCEPTION) in a code cell becomes
  the nbval tag (`nbval-check-output`, ...) and the line is removed, so the student never reads it;
- a comment line `# LESSON_CHECK` becomes the tag `check` and is removed;
- a cell tagged `check` is hidden (`jupyter.source_hidden` and `outputs_hidden`) and skipped in slides;
- a cell that starts with a `#` or `##` heading starts a slide; every other cell is shown on the same slide ("-").

Only metadata changes (and the marker lines go): sources otherwise and outputs are left exactly as they are, so
a run notebook stays run. Running it twice changes nothing.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

# nbval 0.11 reads these tags in cell metadata the same way as the comment markers.
MARKER_TAGS = {
    "NBVAL_CHECK_OUTPUT": "nbval-check-output",
    "NBVAL_IGNORE_OUTPUT": "nbval-ignore-output",
    "NBVAL_SKIP": "nbval-skip",
    "NBVAL_RAISES_EXCEPTION": "raises-exception",
    "LESSON_CHECK": "check",
}
CHECK_TAG = "check"
SLIDE_TYPES = ("slide", "subslide", "fragment", "-", "skip", "notes")
_MARKER_LINE = re.compile(r"^\s*#\s*(" + "|".join(MARKER_TAGS) + r")\s*$")
_SLIDE_HEADING = re.compile(r"^#{1,2} \S")


def starts_slide(cell: dict) -> bool:
    """Return True if a markdown cell opens with a `#` title or a `##` heading."""
    return cell["cell_type"] == "markdown" and bool(_SLIDE_HEADING.match(cell["source"].lstrip("\n")))


def slide_type(cell: dict) -> str:
    """Return the slide type a cell should have: skip for checks, slide for headings, '-' otherwise."""
    if CHECK_TAG in cell["metadata"].get("tags", []):
        return "skip"
    return "slide" if starts_slide(cell) else "-"


def buried_headings(cell: dict) -> list[str]:
    """Return the `#`/`##` headings of a markdown cell that are not its first line (each should start a cell)."""
    if cell["cell_type"] != "markdown":
        return []
    lines = cell["source"].lstrip("\n").split("\n")
    return [line for line in lines[1:] if _SLIDE_HEADING.match(line)]


def _take_markers(cell: dict) -> list[str]:
    """Remove the marker comment lines from a code cell's source; return the tags they stand for."""
    lines = cell["source"].split("\n")
    tags = [MARKER_TAGS[m.group(1)] for line in lines if (m := _MARKER_LINE.match(line))]
    if tags:
        cell["source"] = "\n".join(line for line in lines if not _MARKER_LINE.match(line)).strip("\n")
    return tags


def tidy_cell(cell: dict) -> None:
    """Apply the conventions to one cell, in place."""
    meta = cell["metadata"]
    if cell["cell_type"] == "code":
        new_tags = _take_markers(cell)
        tags = list(meta.get("tags", []))
        tags += [t for t in new_tags if t not in tags]
        if tags:
            meta["tags"] = tags
    if CHECK_TAG in meta.get("tags", []):
        meta.setdefault("jupyter", {}).update({"source_hidden": True, "outputs_hidden": True})
    meta.setdefault("slideshow", {})["slide_type"] = slide_type(cell)


def tidy_notebook(path: Path) -> bool:
    """Apply the conventions to every cell of a notebook file; return True if the file changed."""
    before = path.read_text(encoding="utf-8")
    nb = nbformat.reads(before, as_version=4)
    for i, cell in enumerate(nb.cells):
        tidy_cell(cell)
        for heading in buried_headings(cell):
            # A heading inside a cell cannot start a slide: split the cell there.
            print(f"{path}: cell {i}: heading {heading!r} is not at the start of its cell", file=sys.stderr)
    after = nbformat.writes(nb) + "\n"
    if after == before:
        return False
    path.write_text(after, encoding="utf-8")
    return True


def main(argv: list[str] | None = None) -> int:
    """Tidy the notebooks named on the command line; print which ones changed."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("notebooks", nargs="+", type=Path)
    args = parser.parse_args(argv)
    for path in args.notebooks:
        if not path.is_file():
            print(f"{path}: no such notebook; give the path of an .ipynb file", file=sys.stderr)
            return 2
        print(f"{path}: {'updated' if tidy_notebook(path) else 'already tidy'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
