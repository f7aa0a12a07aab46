"""The lessons' conventions (coord LESSONS.md items 1, 4-7): a clean student view, the headings, one solution
notebook per lesson answering every exercise, a teacher's guide per lesson, slide metadata, and committed
notebooks either fully run or fully stripped.

Each check is a plain function returning the problems it finds, so the tests below can show that it fails on a
broken copy as well as passing on the committed notebooks.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import nbformat
import pytest

from mnistlib.paths import NOTEBOOKS_DIR, REPO_ROOT
from tools import lesson_table
from tools.lesson_metadata import CHECK_TAG, SLIDE_TYPES, slide_type, tidy_cell
from tools.lesson_table import number_of

TEACHERS_DIR = REPO_ROOT / "teachers"
SOLUTIONS_DIR = TEACHERS_DIR / "solutions"
LESSONS = lesson_table.lesson_paths()  # found by their prefix: NN_ or NNa_
SOLUTIONS = sorted(SOLUTIONS_DIR.glob("*.ipynb"))
GUIDE_SECTIONS = (
    "## Answers to the questions",
    "## Objectives",
    "## Timing",
    "## Key questions to ask the class",
    "## Common misconceptions",
    "## Answers to the exercises",
)
GOING_FURTHER = "## Going further:"
QUESTIONS = "## Questions"
MAX_WORDS, MAX_CODE_CELLS = 1300, 18  # a 45-minute core path, Summary and Exercises included
_QUESTION_ITEM = re.compile(r"^(\d+)\.\s", re.MULTILINE)
_EXERCISE_ITEM = re.compile(r"^(\d+)\.\s", re.MULTILINE)
_SECONDS = re.compile(r"\b\d+(\.\d+)?\s*(s|sec|secs|seconds)\b")


def _read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def _headings(nb) -> list[tuple[int, str]]:
    """The `#` and `##` headings that start markdown cells, with the cell's index."""
    found = []
    for i, cell in enumerate(nb.cells):
        first = cell.source.lstrip("\n").split("\n", 1)[0].strip()
        if cell.cell_type == "markdown" and re.match(r"^#{1,2} \S", first):
            found.append((i, first))
    return found


def _is_check(cell) -> bool:
    return CHECK_TAG in cell.metadata.get("tags", [])


def _has_assert(source: str) -> bool:
    """True if the code has an assert statement (IPython magics and shell lines are ignored)."""
    code = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.split("\n"))
    try:
        return any(isinstance(node, ast.Assert) for node in ast.walk(ast.parse(code)))
    except SyntaxError:
        return re.search(r"^\s*assert\b", source, re.MULTILINE) is not None


def student_view_problems(nb) -> list[str]:
    """Item 1: no assert or NBVAL in a visible cell; check cells hidden, skipped in slides and silent."""
    problems = []
    for i, cell in enumerate(nb.cells):
        if _is_check(cell):
            if cell.cell_type != "code":
                problems.append(f"cell {i}: a check cell must be a code cell")
                continue
            hidden = cell.metadata.get("jupyter", {})
            if not (hidden.get("source_hidden") and hidden.get("outputs_hidden")):
                problems.append(f"cell {i}: check cell not hidden (jupyter.source_hidden/outputs_hidden)")
            if cell.metadata.get("slideshow", {}).get("slide_type") != "skip":
                problems.append(f"cell {i}: check cell not skipped in slides")
            if cell.outputs:
                problems.append(f"cell {i}: check cell prints something; a check prints nothing")
            continue
        if "NBVAL" in cell.source:
            problems.append(
                f"cell {i}: NBVAL marker in a visible cell (make it a tag: tools.lesson_metadata)"
            )
        if cell.cell_type == "code" and _has_assert(cell.source):
            problems.append(f"cell {i}: assert in a visible cell (move it to a hidden cell tagged 'check')")
    return problems


def lesson_heading_problems(nb) -> list[str]:
    """Item 4: title, 'What you will learn', one Setup, Going further before Summary, Summary, Exercises."""
    problems = []
    headings = _headings(nb)
    names = [h for _, h in headings]
    if not nb.cells or not nb.cells[0].source.startswith("# "):
        problems.append("the first cell must start with the '# Title'")
    if not any("What you will learn" in cell.source for cell in nb.cells[:3]):
        problems.append("no 'What you will learn' list in the first cells")
    if names.count("## Setup") != 1:
        problems.append(f"{names.count('## Setup')} '## Setup' headings; exactly one is needed")
    else:
        at = next(i for i, h in headings if h == "## Setup")
        if at + 1 >= len(nb.cells) or nb.cells[at + 1].cell_type != "code":
            problems.append("'## Setup' must be followed by its code cell")
    for required in ("## Summary", "## Exercises", QUESTIONS):
        if required not in names:
            problems.append(f"no '{required}' heading")
    if any(re.match(r"^#+\s*Solutions?\b", h) for h in names) or any(
        re.search(r"^#+\s*Solutions?\b", c.source, re.MULTILINE)
        for c in nb.cells
        if c.cell_type == "markdown"
    ):
        problems.append("a Solutions heading in a student notebook (answers go to teachers/solutions/)")
    if "## Summary" in names and "## Exercises" in names:
        if names.index("## Summary") > names.index("## Exercises"):
            problems.append("'## Summary' must come before '## Exercises'")
        if QUESTIONS in names and names[-1] != QUESTIONS:
            problems.append("'## Questions' must be the lesson's last section")
        further = [k for k, h in enumerate(names) if h.startswith(GOING_FURTHER)]
        if further:
            core_after = [
                h for h in names[further[0] : names.index("## Summary")] if not h.startswith(GOING_FURTHER)
            ]
            if core_after or further[-1] > names.index("## Summary"):
                problems.append(
                    "'## Going further:' parts must come after the core path and just before Summary"
                )
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.lstrip("\n").split("\n")[1:]:
                if re.match(r"^#{1,2} \S", line):
                    problems.append(f"heading {line!r} is inside a cell; a heading starts its cell (a slide)")
    return problems


def exercise_numbers(nb) -> list[int]:
    """The numbers of the exercises listed in the markdown cells of the '## Exercises' section."""
    headings = _headings(nb)
    starts = [i for i, h in headings if h == "## Exercises"]
    if not starts:
        return []
    later = [i for i, _ in headings if i > starts[0]]
    end = later[0] if later else len(nb.cells)
    cells = nb.cells[starts[0] : end]
    return [int(n) for c in cells if c.cell_type == "markdown" for n in _EXERCISE_ITEM.findall(c.source)]


def _section_cells(nb, heading: str) -> list:
    """The cells of the '## ' section that starts with ``heading``, up to the next '#'/'##' heading."""
    headings = _headings(nb)
    starts = [i for i, h in headings if h == heading]
    if not starts:
        return []
    later = [i for i, _ in headings if i > starts[0]]
    return nb.cells[starts[0] : later[0] if later else len(nb.cells)]


def question_numbers(nb) -> list[int]:
    """The numbers of the questions for students listed under '## Questions'."""
    cells = _section_cells(nb, QUESTIONS)
    return [int(n) for c in cells if c.cell_type == "markdown" for n in _QUESTION_ITEM.findall(c.source)]


def core_path_size(nb) -> tuple[int, int]:
    """Return the words of prose and the visible code cells outside 'Going further' and the Questions."""
    words = cells = 0
    section = ""
    for cell in nb.cells:
        first = cell.source.lstrip("\n").split("\n", 1)[0].strip()
        if cell.cell_type == "markdown" and re.match(r"^#{1,2} \S", first):
            section = first
        if section.startswith((GOING_FURTHER, QUESTIONS)):
            continue
        if cell.cell_type == "markdown":
            prose = re.sub(r"```.*?```", " ", cell.source, flags=re.DOTALL)
            words += len(re.findall(r"[A-Za-z0-9][\w'’.,%-]*", prose))
        elif cell.cell_type == "code" and not _is_check(cell):
            cells += 1
    return words, cells


def core_path_problems(nb) -> list[str]:
    """A 45-minute core path: at most MAX_WORDS of prose and MAX_CODE_CELLS visible code cells; 5-8 questions."""
    words, cells = core_path_size(nb)
    problems = []
    if words > MAX_WORDS:
        problems.append(f"{words} words of prose outside Going further (at most {MAX_WORDS})")
    if cells > MAX_CODE_CELLS:
        problems.append(f"{cells} visible code cells outside Going further (at most {MAX_CODE_CELLS})")
    numbers = question_numbers(nb)
    if numbers != list(range(1, len(numbers) + 1)) or not 5 <= len(numbers) <= 8:
        problems.append(f"the questions for students are numbered {numbers}: 5 to 8 of them, 1..n")
    return problems


def solution_problems(lesson, solutions) -> list[str]:
    """Item 5: title, one Setup, then '## Exercise k' for k = 1..n, the lesson's exercises in order."""
    problems = []
    numbers = exercise_numbers(lesson)
    if not numbers or numbers != list(range(1, len(numbers) + 1)):
        problems.append(f"the lesson's exercises are numbered {numbers}, not 1..n")
    if not solutions.cells or not solutions.cells[0].source.startswith("# "):
        problems.append("the solutions' first cell must start with a '# Title'")
    names = [h for _, h in _headings(solutions)]
    if names.count("## Setup") != 1:
        problems.append(
            f"{names.count('## Setup')} '## Setup' headings in the solutions; exactly one is needed"
        )
    answered = [int(m.group(1)) for h in names if (m := re.match(r"^## Exercise (\d+)\b", h))]
    if answered != list(range(1, len(numbers) + 1)):
        problems.append(f"solutions answer exercises {answered}; the lesson has {len(numbers)}")
    other = [h for h in names[1:] if h != "## Setup" and not re.match(r"^## Exercise \d+\b", h)]
    if other:
        problems.append(f"headings other than Setup and '## Exercise k' in the solutions: {other}")
    return problems


def guide_problems(text: str, lesson_number: str, num_exercises: int, num_questions: int = 0) -> list[str]:
    """Item 6: the sections; Timing has a 45-minute table, points at run_times.json and types no seconds;
    a model answer per key question, per exercise and per question for students."""
    problems = [
        f"no '{s}' section"
        for s in GUIDE_SECTIONS
        if not re.search(f"^{re.escape(s)}\\s*$", text, re.MULTILINE)
    ]
    sections = re.split(r"^(?=## )", text, flags=re.MULTILINE)
    timing = next((s for s in sections if s.startswith("## Timing")), "")
    if lesson_table.timing_minutes(text) is None:
        problems.append("Timing has no table with a 'minutes' column (the lesson tables add it up)")
    if "run_times.json" not in timing:
        problems.append("Timing does not refer to notebooks/run_times.json for the computer time")
    if _SECONDS.search(timing):
        problems.append(
            f"Timing types a computer time ({_SECONDS.search(timing).group(0)!r}); cite run_times.json"
        )
    answers = next((s for s in sections if s.startswith("## Answers to the exercises")), "")
    for k in range(1, num_exercises + 1):
        if not re.search(rf"^(### Exercise {k}\b|{k}\.\s)", answers, re.MULTILINE):
            problems.append(f"no answer to exercise {k}")
    if f"solutions/{lesson_number}_solutions.ipynb" not in answers:
        problems.append(f"the answers do not link solutions/{lesson_number}_solutions.ipynb")
    questions = next((s for s in sections if s.startswith("## Answers to the questions")), "")
    for k in range(1, num_questions + 1):
        if not re.search(rf"^{k}\.\s+\S", questions, re.MULTILINE):
            problems.append(f"no model answer to question {k} for students")
    key = next((s for s in sections if s.startswith("## Key questions to ask the class")), "")
    for item in re.findall(r"^- (.+(?:\n  .+)*)", key, re.MULTILINE):
        asked, _, answer = item.rpartition("?")
        if not asked or len(answer.split()) < 6:
            problems.append(f"key question without a model answer: {item[:60]!r}")
    return problems


def slide_problems(nb) -> list[str]:
    """Item 7: every cell has a slide type; headings start slides, checks are skipped."""
    problems = []
    for i, cell in enumerate(nb.cells):
        kind = cell.metadata.get("slideshow", {}).get("slide_type")
        if kind not in SLIDE_TYPES:
            problems.append(f"cell {i}: slide_type {kind!r} (run python -m tools.lesson_metadata)")
        elif slide_type(cell) in ("slide", "skip") and kind != slide_type(cell):
            problems.append(f"cell {i}: slide_type {kind!r}, expected {slide_type(cell)!r}")
    return problems


def run_state_problems(nb, must_be_run: bool = False) -> list[str]:
    """A committed notebook is fully run (counts 1, 2, 3... in order, no errors) or fully stripped."""
    code = [c for c in nb.cells if c.cell_type == "code"]
    counts = [c.execution_count for c in code]
    if all(n is None for n in counts) and not any(c.outputs for c in code):
        return ["stripped, but it must be committed fully run"] if must_be_run else []
    problems = []
    if counts != list(range(1, len(code) + 1)):
        problems.append(f"execution counts {counts}: neither fully run in order nor stripped")
    if any(o.output_type == "error" for c in code for o in c.outputs):
        problems.append("an error in the committed outputs")
    return problems


def _lesson_of(solutions_path: Path) -> Path | None:
    return next((p for p in LESSONS if number_of(p) == number_of(solutions_path)), None)


def _guide_of(lesson: Path) -> Path:
    return TEACHERS_DIR / f"{lesson.stem}.md"


def test_there_are_lessons_and_each_has_its_solutions_and_guide():
    numbers = [number_of(p) for p in LESSONS]
    whole = sorted({int(n[:2]) for n in numbers})
    assert numbers and whole == list(range(len(whole))), (
        f"lessons numbered {numbers}: 00, 01, ... with no gap"
    )
    parts = [n for n in numbers if len(n) == 3]  # a lesson in two parts: 02a, 02b
    assert all(f"{n[:2]}{chr(ord(n[2]) - 1)}" in numbers for n in parts if n[2] != "a"), f"parts {parts}"
    assert not [n for n in numbers if n[:2] + "a" in numbers and n == n[:2]], "lesson 02 and 02a both"
    missing = [p.name for p in LESSONS if not (SOLUTIONS_DIR / f"{number_of(p)}_solutions.ipynb").exists()]
    missing += [str(_guide_of(p).relative_to(REPO_ROOT)) for p in LESSONS if not _guide_of(p).exists()]
    assert not missing, f"missing: {missing}"
    assert all(_lesson_of(s) for s in SOLUTIONS), "a solution notebook without a lesson of the same number"


@pytest.mark.parametrize("path", LESSONS + SOLUTIONS, ids=lambda p: p.name)
def test_clean_student_view_slides_and_run_state(path):
    nb = _read(path)
    problems = student_view_problems(nb) + slide_problems(nb)
    problems += run_state_problems(nb, must_be_run=path.parent == SOLUTIONS_DIR)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_lesson_headings(path):
    problems = lesson_heading_problems(_read(path))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_the_core_path_fits_a_lesson(path):
    problems = core_path_problems(_read(path))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_solutions_answer_every_exercise(path):
    solutions = SOLUTIONS_DIR / f"{number_of(path)}_solutions.ipynb"
    if not solutions.exists():
        pytest.fail(f"no {solutions.relative_to(REPO_ROOT)}")
    problems = solution_problems(_read(path), _read(solutions))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_teachers_guide(path):
    guide = _guide_of(path)
    if not guide.exists():
        pytest.fail(f"no {guide.relative_to(REPO_ROOT)}")
    nb = _read(path)
    text = guide.read_text(encoding="utf-8")
    problems = guide_problems(text, number_of(path), len(exercise_numbers(nb)), len(question_numbers(nb)))
    if lesson_table.timing_minutes(text) not in (None, 45) and number_of(path) != "00":
        problems.append(f"the Timing plan adds up to {lesson_table.timing_minutes(text)} minutes, not 45")
    assert not problems, "\n".join(problems)


def test_the_guide_has_a_glossary_of_every_term_the_lessons_use():
    glossary = TEACHERS_DIR / "glossary.md"
    assert glossary.exists() and "(glossary.md)" in (TEACHERS_DIR / "README.md").read_text(encoding="utf-8")
    terms = re.findall(r"^- \*\*(.+?)\*\*", glossary.read_text(encoding="utf-8"), re.MULTILINE)
    assert len(terms) >= 30, f"the glossary defines {len(terms)} terms"
    assert terms == sorted(terms, key=str.lower), "the glossary's terms are not in alphabetical order"


def test_teachers_index_links_every_guide_and_solution_notebook():
    index = (TEACHERS_DIR / "README.md").read_text(encoding="utf-8")
    missing = [f"{p.stem}.md" for p in LESSONS if f"({p.stem}.md)" not in index]
    missing += [
        f"solutions/{number_of(p)}_solutions.ipynb"
        for p in LESSONS
        if f"(solutions/{number_of(p)}_solutions.ipynb)" not in index
    ]
    assert not missing, f"teachers/README.md does not link: {missing}"


# --- each check fails on a broken copy ------------------------------------------------------------------


def _good_lesson():
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    nb = nbformat.v4.new_notebook(
        cells=[
            md("# 99 Title\n\n**What you will learn**\n- one thing"),
            md("## Setup"),
            code("x = 1"),
            code("assert x == 1", metadata={"tags": [CHECK_TAG]}),
            md("## Core part"),
            md("## Going further: more"),
            md("## Summary\n\n- done"),
            md("## Exercises\n\n1. **One.** Do it.\n2. **Two.** Then this.\n   3 things to note"),
            code("answer = None"),
            md("3. **Three.** Last one."),
            md("## Questions\n\n1. Why?\n2. What?\n3. How?\n4. When?\n5. Where?"),
        ]
    )
    for cell in nb.cells:
        tidy_cell(cell)
    return nb


def _good_solutions():
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    cells = [md("# 99 Solutions"), md("## Setup"), code("x = 1")]
    for k in (1, 2, 3):
        cells += [md(f"## Exercise {k}\n\nThe answer."), code(f"print({k})")]
    return nbformat.v4.new_notebook(cells=cells)


GOOD_GUIDE = """# 99 Title: teacher's guide

## Objectives

- one

## Timing

| part | minutes |
|---|---|
| intro | 10 |

Computer time: notebooks/run_times.json.

## Key questions to ask the class

- Why does it work? Because the example says so, in a full sentence.

## Common misconceptions

- this

## Answers to the exercises

1. Yes.
2. No.
3. [Maybe](solutions/99_solutions.ipynb#Exercise-3).

## Answers to the questions

1. Because.
2. This.
3. Like so.
4. Now.
5. Here.
"""


def _broken(nb, change):
    copy = nbformat.reads(nbformat.writes(nb), as_version=4)
    change(copy)
    return copy


def test_the_checks_pass_on_a_good_example():
    nb, solutions = _good_lesson(), _good_solutions()
    assert exercise_numbers(nb) == [1, 2, 3]
    assert student_view_problems(nb) == []
    assert lesson_heading_problems(nb) == []
    assert slide_problems(nb) == []
    assert run_state_problems(nb) == []
    assert solution_problems(nb, solutions) == []
    assert guide_problems(GOOD_GUIDE, "99", 3, 5) == []
    assert core_path_problems(nb) == [] and question_numbers(nb) == [1, 2, 3, 4, 5]


@pytest.mark.parametrize(
    "change, expected",
    [
        (lambda nb: setattr(nb.cells[2], "source", "assert x == 1"), "assert in a visible cell"),
        (lambda nb: setattr(nb.cells[2], "source", "# NBVAL_CHECK_OUTPUT\nx = 1"), "NBVAL marker"),
        (lambda nb: nb.cells[3].metadata.pop("jupyter"), "not hidden"),
        (lambda nb: nb.cells[3].metadata["slideshow"].update(slide_type="-"), "not skipped"),
        (
            lambda nb: nb.cells[3].outputs.append(nbformat.v4.new_output("stream", text="hi")),
            "prints something",
        ),
    ],
)
def test_student_view_check_fails_on_a_broken_copy(change, expected):
    assert any(expected in p for p in student_view_problems(_broken(_good_lesson(), change)))


@pytest.mark.parametrize(
    "change, expected",
    [
        (lambda nb: setattr(nb.cells[0], "source", "Title"), "# Title"),
        (lambda nb: setattr(nb.cells[0], "source", "# Title"), "What you will learn"),
        (lambda nb: nb.cells.pop(1), "'## Setup' headings"),
        (lambda nb: nb.cells.insert(4, nbformat.v4.new_markdown_cell("## Setup")), "'## Setup' headings"),
        (lambda nb: nb.cells.pop(6), "no '## Summary'"),
        (lambda nb: nb.cells.pop(7), "no '## Exercises'"),
        (lambda nb: nb.cells.append(nbformat.v4.new_markdown_cell("## Solutions")), "Solutions heading"),
        (lambda nb: setattr(nb.cells[9], "source", "3. x\n\n### Solutions"), "Solutions heading"),
        (
            lambda nb: nb.cells.insert(4, nbformat.v4.new_markdown_cell("## Going further: early")),
            "Going further",
        ),
        (lambda nb: setattr(nb.cells[4], "source", "## Core part\n\n## Summary"), "inside a cell"),
    ],
)
def test_heading_check_fails_on_a_broken_copy(change, expected):
    assert any(expected in p for p in lesson_heading_problems(_broken(_good_lesson(), change)))


@pytest.mark.parametrize(
    "change_lesson, change_solutions, expected",
    [
        (lambda nb: setattr(nb.cells[9], "source", "4. **Four.**"), None, "not 1..n"),
        (lambda nb: nb.cells.pop(9), None, "the lesson has 2"),
        (None, lambda nb: nb.cells.pop(7), "solutions answer exercises [1, 2]"),
        (
            None,
            lambda nb: setattr(nb.cells[3], "source", "## Exercise 2"),
            "solutions answer exercises [2, 2, 3]",
        ),
        (None, lambda nb: setattr(nb.cells[1], "source", "Setup"), "'## Setup' headings in the solutions"),
        (None, lambda nb: setattr(nb.cells[0], "source", "Solutions"), "# Title"),
        (None, lambda nb: nb.cells.append(nbformat.v4.new_markdown_cell("## Extra")), "other than Setup"),
    ],
)
def test_solution_check_fails_on_a_broken_copy(change_lesson, change_solutions, expected):
    lesson = _broken(_good_lesson(), change_lesson or (lambda nb: None))
    solutions = _broken(_good_solutions(), change_solutions or (lambda nb: None))
    assert any(expected in p for p in solution_problems(lesson, solutions))


@pytest.mark.parametrize(
    "broken, expected",
    [
        (GOOD_GUIDE.replace("## Objectives", "## Aims"), "no '## Objectives'"),
        (
            GOOD_GUIDE.replace("## Common misconceptions", "Common misconceptions"),
            "no '## Common misconceptions'",
        ),
        (GOOD_GUIDE.replace("notebooks/run_times.json", "the runner"), "refer to notebooks/run_times.json"),
        (GOOD_GUIDE.replace("| part | minutes |", "| part | time |"), "no table with a 'minutes' column"),
        (GOOD_GUIDE.replace("| intro | 10 |", "| intro | 10 | (runs in 74 s)"), "types a computer time"),
        (GOOD_GUIDE.replace("2. No.", "No."), "no answer to exercise 2"),
        (GOOD_GUIDE.replace("solutions/99_solutions.ipynb", "elsewhere"), "do not link"),
    ],
)
def test_guide_check_fails_on_a_broken_copy(broken, expected):
    assert any(expected in p for p in guide_problems(broken, "99", 3))


def test_the_core_path_check_fails_on_a_long_lesson():
    long = _broken(
        _good_lesson(), lambda nb: setattr(nb.cells[4], "source", "## Core part\n\n" + "word " * 1400)
    )
    assert any("words of prose" in p for p in core_path_problems(long))
    further = _broken(
        _good_lesson(), lambda nb: setattr(nb.cells[5], "source", "## Going further: x\n" + "w " * 1400)
    )
    assert core_path_problems(further) == []  # Going further is not the core path

    def add_code_cells(nb):
        nb.cells[5:5] = [nbformat.v4.new_code_cell("x") for _ in range(20)]

    many = _broken(_good_lesson(), add_code_cells)
    assert any("visible code cells" in p for p in core_path_problems(many))
    few = _broken(_good_lesson(), lambda nb: setattr(nb.cells[-1], "source", "## Questions\n\n1. Why?"))
    assert any("questions for students" in p for p in core_path_problems(few))
    last = _broken(_good_lesson(), lambda nb: nb.cells.append(nbformat.v4.new_markdown_cell("## After")))
    assert any("last section" in p for p in lesson_heading_problems(last))


@pytest.mark.parametrize(
    "broken, expected",
    [
        (GOOD_GUIDE.replace("5. Here.", ""), "no model answer to question 5"),
        (GOOD_GUIDE.replace("says so, in a full sentence.", ""), "key question without a model answer"),
        (GOOD_GUIDE.replace("## Answers to the questions", "## Answers"), "no '## Answers to the questions'"),
    ],
)
def test_guide_check_wants_answers_to_every_question(broken, expected):
    assert any(expected in p for p in guide_problems(broken, "99", 3, 5))


def test_slide_check_fails_on_a_broken_copy():
    assert any(
        "slide_type None" in p
        for p in slide_problems(_broken(_good_lesson(), lambda nb: nb.cells[2].metadata.pop("slideshow")))
    )
    heading_not_slide = _broken(
        _good_lesson(), lambda nb: nb.cells[4].metadata["slideshow"].update(slide_type="-")
    )
    assert any("expected 'slide'" in p for p in slide_problems(heading_not_slide))


def test_run_state_check_fails_on_a_broken_copy():
    def run(nb, counts):
        for cell, n in zip([c for c in nb.cells if c.cell_type == "code"], counts):
            cell.execution_count = n
        return nb

    assert run_state_problems(run(_good_lesson(), [1, 2, 3])) == []
    assert run_state_problems(_good_lesson(), must_be_run=True) == [
        "stripped, but it must be committed fully run"
    ]
    assert "neither fully run" in run_state_problems(run(_good_lesson(), [1, None, 3]))[0]
    assert "neither fully run" in run_state_problems(run(_good_lesson(), [1, 3, 2]))[0]
    errored = run(_good_lesson(), [1, 2, 3])
    errored.cells[2].outputs.append(nbformat.v4.new_output("error", ename="E", evalue="", traceback=[]))
    assert run_state_problems(errored) == ["an error in the committed outputs"]


# --- tables of lessons: generated from the lessons, never kept by hand --------------------------------------

RUN_TIMES = lesson_table.RECORD  # the committed record (python -m tools.runner --record)
_TIME = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|min)$")


def test_lesson_tables_are_generated_from_the_lessons():
    stale = [str(p.relative_to(REPO_ROOT)) for p in lesson_table.stale_files()]
    assert not stale, f"{stale}: the lesson table is out of date; run python -m tools.lesson_table --write"


def _tiny_project(tmp_path, lessons=("00_first", "01_second")):
    notebooks, teachers = tmp_path / "notebooks", tmp_path / "teachers"
    notebooks.mkdir()
    teachers.mkdir()
    for stem in lessons:
        nb = _good_lesson()
        nb.cells[0].source = "# Title\n\n**What you will learn**\n- one thing"
        nbformat.write(nb, notebooks / f"{stem}.ipynb")
        (teachers / f"{stem}.md").write_text(GOOD_GUIDE, encoding="utf-8")
    return notebooks, teachers


def test_a_new_lesson_gets_its_row_from_its_own_files(tmp_path):
    notebooks, teachers = _tiny_project(tmp_path)
    times = {"date": "then", "cores": 2, "seconds": {"00_first.ipynb": 9.4, "01_second.ipynb": 161.0}}
    table = lesson_table.readme_table(lesson_table.read_lessons(notebooks, teachers, times), times)
    assert "| [00 Title](notebooks/00_first.ipynb) | one thing | 10 min | 9 s |" in table
    assert "| [01 Title](notebooks/01_second.ipynb) | one thing | 10 min | 2.7 min |" in table
    assert "measured then on 2 CPU cores" in table
    # A third lesson: its notebook and its guide are all it takes; it is not timed until a full run.
    nb = _good_lesson()
    nb.cells[0].source = "# 02 Later | more\n\n**What you will learn**\n- this\n- and that,\n  on two lines"
    nbformat.write(nb, notebooks / "02_later.ipynb")
    (teachers / "02_later.md").write_text(
        GOOD_GUIDE.replace("| intro | 10 |", "| intro | 10 |\n| more | 35 |")
    )
    lessons = lesson_table.read_lessons(notebooks, teachers, times)
    assert [lesson.name for lesson in lessons] == ["00_first.ipynb", "01_second.ipynb", "02_later.ipynb"]
    assert lessons[2].learn == ("this", "and that, on two lines") and lessons[2].minutes == 45
    assert (
        "| [02 Later \\| more](notebooks/02_later.ipynb) | this; and that, on two lines | 45 min "
        "| not measured yet |" in lesson_table.readme_table(lessons, times)
    )
    assert "[02_later.md](02_later.md)" in lesson_table.teachers_table(lessons)
    assert (
        lesson_table.title_of(
            nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Start")]), "00"
        )
        == "00 Start"
    )
    with pytest.raises(ValueError, match="Title"):
        lesson_table.title_of(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("Start")]), "00")


def test_a_hand_edited_or_missing_table_is_found_and_rewritten(tmp_path):
    page = tmp_path / "page.md"
    table = "| lesson |\n| --- |\n| 00 |"
    page.write_text(f"# Page\n\n{lesson_table.START}\n{lesson_table.END}\n\nmore\n", encoding="utf-8")
    assert lesson_table.stale_files({page: table}) == [page]
    assert lesson_table.write_tables({page: table}) == [page]
    assert lesson_table.committed_table(page.read_text()) == table
    assert page.read_text().endswith(f"{lesson_table.END}\n\nmore\n")
    assert lesson_table.stale_files({page: table}) == [] and lesson_table.write_tables({page: table}) == []
    page.write_text(page.read_text().replace("| 00 |", "| 00 | by hand |"))
    assert lesson_table.stale_files({page: table}) == [page]
    page.write_text("# Page without markers\n")
    assert lesson_table.stale_files({page: table}) == [page]
    with pytest.raises(ValueError, match="markers"):
        lesson_table.write_tables({page: table})


def test_run_times_are_from_one_full_run_of_every_lesson():
    times = json.loads(RUN_TIMES.read_text(encoding="utf-8"))
    assert times["mode"] == "full" and times["cores"] >= 1 and times["torch_threads"] >= 1
    assert sorted(times["seconds"]) == [p.name for p in LESSONS], (
        "run every lesson in full mode (python -m tools.runner), then python -m tools.runner --record"
    )


def _seconds_of(text: str) -> tuple[float, float] | None:
    """'74 s' -> (74, 0.5), '2.7 min' -> (162, 3): a quoted time and how far its rounding may be off."""
    m = _TIME.match(text.strip())
    if not m:
        return None
    value = float(m.group(1))
    return (value, 0.5) if m.group(2) == "s" else (value * 60, 3.0)


def time_table_problems(
    table: str, seconds: dict[str, float], column: str, skip: tuple[str, ...] = ()
) -> list[str]:
    """Compare a markdown table's `column` (e.g. '74 s', '2.7 min') with the measured seconds per notebook."""
    quoted = table_column(table, column)
    if not quoted:
        return [f"no table with a '{column}' column"]
    problems = []
    for name, measured in seconds.items():
        if name in skip:
            continue
        if name not in quoted:
            problems.append(f"{name}: not in the table")
            continue
        parsed = _seconds_of(quoted[name])
        if parsed is None:
            problems.append(f"{name}: {quoted[name]!r} is not a time like '74 s' or '2.7 min'")
        elif abs(parsed[0] - measured) > parsed[1]:
            problems.append(f"{name}: the table says {quoted[name]}, run_times.json {measured:.1f} s")
    return problems


def _markdown_outputs(nb) -> str:
    return "\n".join(
        o.get("data", {}).get("text/markdown", "")
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
    )


def test_notebook_00_prints_the_measured_times():
    seconds = json.loads(RUN_TIMES.read_text(encoding="utf-8"))["seconds"]
    table = _markdown_outputs(_read(NOTEBOOKS_DIR / "00_start_here.ipynb"))
    # 00 cannot print its own time of the run it is part of; after a full run of all, rerun 00 alone.
    problems = time_table_problems(table, seconds, "computer time", skip=("00_start_here.ipynb",))
    assert not problems, (
        "\n".join(problems) + "\n(rerun notebook 00 after the others: it prints run_times.json)"
    )


def test_time_table_check_fails_on_a_wrong_table():
    seconds = {"00_start_here.ipynb": 9.4, "02_train_models.ipynb": 161.0}
    good = "| notebook | computer time (full run) |\n|---|---|\n| `00_start_here` | 9 s |\n| `02_train_models` | 2.7 min |"
    assert time_table_problems(good, seconds, "computer time") == []
    assert (
        "says 3.0 min" in time_table_problems(good.replace("2.7 min", "3.0 min"), seconds, "computer time")[0]
    )
    assert "not a time" in time_table_problems(good.replace("9 s", "soon"), seconds, "computer time")[0]
    assert (
        "not in the table"
        in time_table_problems(good.replace("`00_start_here`", "start"), seconds, "computer time")[0]
    )
    assert (
        "no table" in time_table_problems(good.replace("computer time", "time"), seconds, "computer time")[0]
    )
    assert (
        time_table_problems(
            good.replace("9 s", "12 s"), seconds, "computer time", skip=("00_start_here.ipynb",)
        )
        == []
    )


def table_column(table: str, column: str) -> dict[str, str]:
    """{notebook name: cell} of the markdown table column whose header contains ``column``."""
    rows = [
        [c.strip() for c in line.strip().strip("|").split("|")]
        for line in table.splitlines()
        if line.startswith("|")
    ]
    header = next((r for r in rows if any(column in c for c in r)), None)
    if header is None:
        return {}
    at = next(i for i, c in enumerate(header) if column in c)
    found = {}
    for row in rows:
        m = re.search(r"\b(\d\d[a-z]?_[a-z0-9_]+)", row[0])
        if m and len(row) > at:
            found[f"{m.group(1)}.ipynb"] = row[at]
    return found


def test_notebook_00_lists_every_lesson_with_its_guides_minutes():
    lesson_00 = "\n".join(
        c.source for c in _read(NOTEBOOKS_DIR / "00_start_here.ipynb").cells if c.cell_type == "markdown"
    )
    in_00 = table_column(lesson_00, "in class")
    assert list(in_00) == [p.name for p in LESSONS], f"00's lesson table lists {list(in_00)}"
    minutes = {lesson.name: lesson.minutes for lesson in lesson_table.read_lessons()}
    differ = {
        name: (t, minutes[name]) for name, t in in_00.items() if not t.startswith(f"{minutes[name]} min")
    }
    assert not differ, f"notebook 00's time in class vs the guides' Timing tables: {differ}"
