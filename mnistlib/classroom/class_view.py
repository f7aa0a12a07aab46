"""The class as the teacher sees it: the teacher's class-wide settings and a summary of the class store.

    from mnistlib.classroom import class_summary   # (it lives in store.py: it opens the store)
    class_summary()                       # in a notebook: the live view's panels, for the class folder's store
    class_summary(ClassStore(path)).plot()  # the model's accuracy per digit, class vs MNIST's test set

One summary for the teacher's live view (app/config/teacher_view.py polls it for the projector while
the class draws) and for notebook 06 after class: how many drawings, per digit and per (anonymous)
student, the model's accuracy per digit on the class's drawings beside its accuracy on MNIST's test
set (``models/test_accuracy.json``, written by ``python -m tools.ship``), the class's hardest digit and
most frequent confusion with examples, and the newest drawings. ``ClassState`` is what the teacher
set for the whole class (collecting paused, a round of one digit); every kernel and the teacher's
page read it from the store's meta table, so there is one truth.

No PyTorch here, nor anything that imports it (``plot`` imports the lessons' plots when called): the
class server's process renders the live view without loading it.
"""

from __future__ import annotations

import base64
import html
import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mnistlib.paths import MODELS_DIR

if TYPE_CHECKING:
    from matplotlib.figure import Figure

TEST_ACCURACY = MODELS_DIR / "test_accuracy.json"  # per-digit MNIST test accuracy of the shipped models
NEWEST = 21  # drawings in the live view's gallery: three rows of seven on a 1920 px projector
EXAMPLES = 4  # drawings shown for the hardest digit and for the most frequent confusion
MIN_READINGS = 3  # a digit read fewer times than this cannot be the class's hardest


# ----------------------------------------------------------------------------- the teacher's settings


@dataclass(frozen=True)
class ClassState:
    """What the teacher set for the whole class; every pad and the teacher's page read it from the store."""

    paused: bool = False  # no pad saves
    round: int | None = None  # every pad asks for this digit ("everyone draw 3s")
    version: int = 0  # bumped by every teacher action (pause, round, hide, delete): the page notices


STATE_KEYS = ("paused", "round", "version")


def read_class_state(conn: sqlite3.Connection) -> ClassState:
    """Return the class's state from the meta table (inside the caller's transaction)."""
    marks = ", ".join("?" * len(STATE_KEYS))
    meta = dict(conn.execute(f"SELECT key, value FROM meta WHERE key IN ({marks})", STATE_KEYS))
    round_ = meta.get("round", "")
    return ClassState(
        paused=meta.get("paused") == "1",
        round=int(round_) if round_.isdigit() and len(round_) == 1 else None,
        version=int(meta.get("version", "0") or 0),
    )


def read_hidden(conn: sqlite3.Connection) -> list[str]:
    """Return the UUIDs of the drawings the teacher hid from the live view (kept in the store)."""
    row = conn.execute("SELECT value FROM meta WHERE key = 'hidden'").fetchone()
    return json.loads(row[0]) if row else []


def bump_version(conn: sqlite3.Connection) -> None:
    """Count one more teacher action (inside the caller's write transaction)."""
    conn.execute(
        "INSERT INTO meta VALUES ('version', '1') "
        "ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + 1"
    )


def change_token(conn: sqlite3.Connection) -> str:
    """Return a short string that changes whenever a drawing is saved, merged or deleted, or the teacher acts."""
    version = conn.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
    count, last = conn.execute("SELECT count(*), max(id) FROM drawings").fetchone()
    return f"{version[0] if version else 0}-{count}-{last or 0}"


# ----------------------------------------------------------------------------- the summary


@dataclass(frozen=True)
class Drawing:
    """One drawing as the live view shows it."""

    id: int
    uuid: str
    label: int  # the digit asked for (or picked)
    predicted: int | None  # the model's reading when saved
    confidence: float | None  # its probability for that reading
    student: str  # as shown: an anonymous id's first 4 hex digits, or the nickname
    model: str | None
    raster: bytes | None = None  # the pad's raster (PNG), when the summary was asked for images

    @property
    def misread(self) -> bool:
        """Return True if the model read another digit than the one asked for."""
        return self.predicted is not None and self.predicted != self.label


@dataclass(frozen=True)
class DigitFigures:
    """One digit's figures: drawings, and the compared model's readings of them, on the class and on MNIST."""

    digit: int
    drawn: int
    read: int  # drawings the compared model read
    right: int  # ... and read as the digit asked for
    mnist: float | None  # the compared model's accuracy on MNIST's test digits of this digit

    @property
    def accuracy(self) -> float | None:
        """Return the share of this digit's readings that were right, None if there were none."""
        return self.right / self.read if self.read else None


@dataclass(frozen=True)
class ClassSummary:
    """The class store at one moment: what the teacher's live view shows, and ``_repr_html_`` in a notebook."""

    count: int  # drawings in the store
    students: list[tuple[str, int]]  # (student as shown, drawings), in order of first save
    digits: list[DigitFigures]  # 0-9
    model: str | None  # the model whose readings the accuracies count: the one that read most drawings
    other_readings: int  # readings by other models, not counted
    hardest: int | None  # the digit read right least often (None: too few readings, or none wrong)
    confusion: tuple[int, int, int] | None  # (digit asked, digit read, times): the most frequent misreading
    confusion_examples: list[Drawing]
    hardest_examples: list[Drawing]  # the hardest digit's misreadings
    newest: list[Drawing]  # not hidden, newest first
    hidden: int  # drawings hidden from the live view
    state: ClassState = field(default_factory=ClassState)
    token: str = ""  # change_token() when it was read

    def sections(
        self, image_src: Callable[[Drawing], str] | None = None, teacher: bool = False
    ) -> dict[str, str]:
        """Return the view's parts as HTML by name (the teacher's page swaps each one that changed)."""
        return render_sections(self, image_src or inline_image, teacher)

    def html(self, image_src: Callable[[Drawing], str] | None = None, teacher: bool = False) -> str:
        """Return the whole view as HTML with its CSS (``.mnist-class-view`` with data-count and data-paused)."""
        return render_view(self, image_src or inline_image, teacher)

    def _repr_html_(self) -> str:
        return self.html()

    def plot(self) -> Figure:
        """Plot the compared model's accuracy per digit on the class's drawings beside MNIST's test set."""
        import numpy as np

        from mnistlib.viz import plot_per_class_accuracy  # imports PyTorch: only when plotting

        def values(xs: list[float | None]) -> np.ndarray:
            return np.array([np.nan if x is None else x for x in xs])

        series = {f"{self.model or 'the model'} on our class": values([d.accuracy for d in self.digits])}
        if any(d.mnist is not None for d in self.digits):
            series[f"{self.model} on MNIST's test set"] = values([d.mnist for d in self.digits])
        return plot_per_class_accuracy({k: np.nan_to_num(v, nan=0.0) for k, v in series.items()})


def shown_student(student: str) -> str:
    """Return how the view names a student: an anonymous id's first 4 hex digits, or the nickname as typed."""
    return student[5:9] if student.startswith("anon-") and len(student) == 13 else student


def _shipped(path: Path = TEST_ACCURACY) -> dict[str, dict]:
    """Return the shipped models' test figures by menu label ({} if the file is missing or unreadable)."""
    try:
        return _test_figures(path, path.stat().st_mtime_ns).get("models", {})
    except (OSError, ValueError):
        return {}


def model_label(model: str | None, path: Path = TEST_ACCURACY) -> str:
    """Return the pad's menu label of a record's model: pads record it, scripts may record the file's name."""
    for label, entry in _shipped(path).items():
        if model == entry.get("file"):
            return label
    return model or ""


def mnist_accuracy(model: str | None, path: Path = TEST_ACCURACY) -> list[float] | None:
    """Return a shipped model's accuracy per digit on MNIST's test set (by menu label or file), None if unknown."""
    entry = _shipped(path).get(model_label(model, path))
    return list(entry["per_digit"]) if entry else None


_figures_cache: dict[tuple[Path, int], dict] = {}


def _test_figures(path: Path, mtime: int) -> dict:
    """Return the test accuracy file's contents, read once per version of the file."""
    key = (path, mtime)
    if key not in _figures_cache:
        _figures_cache.clear()
        _figures_cache[key] = json.loads(path.read_text())
    return _figures_cache[key]


DRAWING_COLUMNS = "id, uuid, label, predicted, probabilities, student, model"


def _drawings(
    conn: sqlite3.Connection,
    where: str,
    params: tuple,
    hidden: set[str],
    n: int,
    images: bool,
    model: str | None = None,
) -> list[Drawing]:
    """Return the newest ``n`` drawings matching ``where`` (read by ``model``, if given) that are not hidden."""
    columns = DRAWING_COLUMNS + (", raster" if images else "")
    found: list[Drawing] = []
    if n <= 0:
        return found
    # Newest first by the primary key; rows are read one at a time until ``n`` are found.
    for row in conn.execute(f"SELECT {columns} FROM drawings {where} ORDER BY id DESC", params):
        rid, ruuid, label, predicted, probabilities, student, read_by = row[:7]
        if ruuid in hidden or (model is not None and model_label(read_by) != model):
            continue
        confidence = None
        if predicted is not None and probabilities:
            confidence = float(json.loads(probabilities)[predicted])
        raster = row[7] if images else None
        found.append(
            Drawing(rid, ruuid, label, predicted, confidence, shown_student(student), read_by, raster)
        )
        if len(found) == n:
            break
    return found


def summarise(
    conn: sqlite3.Connection, newest: int = NEWEST, examples: int = EXAMPLES, images: bool = False
) -> ClassSummary:
    """Return the summary of the store open in ``conn`` (inside the caller's read transaction: one snapshot).

    ``images``: include each shown drawing's raster (PNG), for a view that has no server to ask.
    """
    state, hidden = read_class_state(conn), set(read_hidden(conn))
    token = change_token(conn)
    tally = [
        (label, predicted, model_label(model), n)
        for label, predicted, model, n in conn.execute(
            "SELECT label, predicted, model, count(*) FROM drawings GROUP BY 1, 2, 3"
        )
    ]
    drawn = [0] * 10
    by_model: dict[str, int] = {}
    for label, predicted, model, n in tally:
        drawn[label] += n
        if predicted is not None:
            by_model[model or ""] = by_model.get(model or "", 0) + n
    compared = max(by_model, key=by_model.get) if by_model else None
    read, right, confused = [0] * 10, [0] * 10, {}
    for label, predicted, model, n in tally:
        if predicted is None or (model or "") != compared:
            continue
        read[label] += n
        if predicted == label:
            right[label] += n
        else:
            confused[label, predicted] = confused.get((label, predicted), 0) + n
    mnist = mnist_accuracy(compared)
    digits = [DigitFigures(d, drawn[d], read[d], right[d], mnist[d] if mnist else None) for d in range(10)]
    wrong = [(read[d] - right[d], d) for d in range(10) if read[d] >= MIN_READINGS and right[d] < read[d]]
    # Hardest: the lowest share read right; of equal shares, the one with more misreadings.
    hardest = min(wrong, key=lambda w: (right[w[1]] / read[w[1]], -w[0]))[1] if wrong else None
    confusion = max(confused.items(), key=lambda kv: (kv[1], -kv[0][0])) if confused else None
    confusion_examples = (
        _drawings(conn, "WHERE label = ? AND predicted = ?", confusion[0], hidden, examples, images, compared)
        if confusion
        else []
    )
    hardest_examples = (
        _drawings(
            conn,
            "WHERE label = ? AND predicted IS NOT NULL AND predicted != label",
            (hardest,),
            hidden,
            examples,
            images,
            compared,
        )
        if hardest is not None
        else []
    )
    students = [
        (shown_student(s), n)
        for s, n in conn.execute("SELECT student, count(*) FROM drawings GROUP BY student ORDER BY min(id)")
    ]
    return ClassSummary(
        count=sum(drawn),
        students=students,
        digits=digits,
        model=compared if compared != "" else "an unnamed model",
        other_readings=sum(by_model.values()) - (by_model.get(compared, 0) if compared is not None else 0),
        hardest=hardest,
        confusion=(*confusion[0], confusion[1]) if confusion else None,
        confusion_examples=confusion_examples,
        hardest_examples=hardest_examples,
        newest=_drawings(conn, "", (), hidden, newest, images),
        hidden=len(hidden),
        state=state,
        token=token,
    )


NO_STORE = "0-0-0"  # the change token of a store not created yet
EMPTY = ClassSummary(
    0,
    [],
    [DigitFigures(d, 0, 0, 0, None) for d in range(10)],
    None,
    0,
    None,
    None,
    [],
    [],
    [],
    0,
    token=NO_STORE,
)


# ----------------------------------------------------------------------------- the view as HTML


def esc(text: object) -> str:
    """Return ``text`` escaped for HTML text and attribute values: a typed nickname is never markup."""
    return html.escape(str(text), quote=True)


def inline_image(drawing: Drawing) -> str:
    """Return a drawing's raster as a data: URL (a notebook has no server to fetch it from)."""
    return "data:image/png;base64," + base64.b64encode(drawing.raster or b"").decode()


def percent(value: float | None, decimals: int = 0) -> str:
    """Return "93 %" (or "99.7 %" with one decimal), or "-" for no value."""
    return "-" if value is None else f"{value:.{decimals}%}".replace("%", " %")


def _mark(drawing: Drawing, small: bool = False) -> str:
    """Return the tile's reading: a shape and words, never colour alone; then the confidence (not on a small tile)."""
    if drawing.predicted is None:
        return '<span class="cv-mark cv-unread">? not read</span>'
    sure = "" if small else f'<span class="cv-sure">{percent(drawing.confidence)}</span>'
    if drawing.misread:
        return f'<span class="cv-mark cv-wrong"><b aria-hidden="true">\u2717</b> read {drawing.predicted}</span>{sure}'
    return f'<span class="cv-mark cv-right"><b aria-hidden="true">\u2713</b> right</span>{sure}'


def _describe(drawing: Drawing) -> str:
    """Return a drawing's text alternative: what it is, whether it was read right."""
    if drawing.predicted is None:
        return f"Drawing {drawing.id}: asked for {drawing.label}, no reading"
    verdict = "read right" if not drawing.misread else f"misread as {drawing.predicted}"
    return f"Drawing {drawing.id}: asked for {drawing.label}, {verdict}, {percent(drawing.confidence)} sure"


def tile_html(
    drawing: Drawing, image_src: Callable[[Drawing], str], teacher: bool, small: bool = False
) -> str:
    """Render one drawing as a tile: the drawing, the digit asked for, the reading; a button on the teacher's page."""
    kind = "cv-tile" + (" cv-misread" if drawing.misread else "") + (" cv-small" if small else "")
    inner = (
        f'<img src="{esc(image_src(drawing))}" alt="" loading="lazy">'
        f'<span class="cv-asked"><span class="cv-asked-word">asked</span> {drawing.label}</span>'
        f"{_mark(drawing, small)}"
    )
    data = f'data-uuid="{esc(drawing.uuid)}" data-id="{drawing.id}" data-label="{drawing.label}"'
    data += f' data-read="{"" if drawing.predicted is None else drawing.predicted}"'
    if teacher:  # the button's name is its visible words, with what it does for a screen reader
        head = f'<span class="cv-sr">Drawing {drawing.id}: </span>'
        tail = '<span class="cv-sr">. Show how the model sees it.</span>'
        return f'<li class="{kind}" {data}><button type="button" class="cv-open">{head}{inner}{tail}</button></li>'
    return f'<li class="{kind}" {data} role="img" aria-label="{esc(_describe(drawing))}">{inner}</li>'


def _status(s: ClassSummary, teacher: bool) -> str:
    students = len(s.students)
    count = f'<span class="cv-count"><b>{s.count}</b> drawing{"s" * (s.count != 1)}</span>'
    who = f'<span class="cv-count"><b>{students}</b> student{"s" * (students != 1)}</span>'
    if s.state.paused:
        state = (
            '<span class="cv-state cv-paused"><b class="cv-pause-mark" aria-hidden="true"></b> '
            "Collecting is paused</span>"
        )
    else:
        state = '<span class="cv-state cv-on"><b aria-hidden="true">\u25cf</b> Collecting</span>'
    if s.state.round is not None:
        state += f'<span class="cv-state cv-round">Round: everyone draws {s.state.round}s</span>'
    hidden = ""
    if s.hidden:
        again = ' <button type="button" data-action="show-hidden">Show them again</button>' if teacher else ""
        hidden = f'<span class="cv-hidden-count">{s.hidden} hidden from this view{again}</span>'

    return f"{count}{who}{state}{hidden}"


def _newest(s: ClassSummary, image_src: Callable[[Drawing], str], teacher: bool) -> str:
    if not s.newest:
        return (
            '<p class="cv-empty">No drawings yet. Students save them with the pad\'s collect mode '
            "(<code>make app COLLECT=1</code>); they appear here as they arrive.</p>"
        )
    return '<ul class="cv-tiles">' + "".join(tile_html(d, image_src, teacher) for d in s.newest) + "</ul>"


def _bar(value: float | None, kind: str, decimals: int = 0) -> str:
    width = 0 if value is None else round(100 * value, 1)
    return (
        f'<span class="cv-bar {kind}"><span class="cv-bar-fill" style="width:{width}%"></span></span>'
        f'<span class="cv-pct">{percent(value, decimals)}</span>'
    )


def _digits(s: ClassSummary) -> str:
    who = esc(s.model) if s.model else "the model"
    rows = []
    for d in s.digits:
        hard = ' class="cv-hardest-row"' if d.digit == s.hardest else ""
        right = f"{d.right} of {d.read}" if d.read else "no readings"
        rows.append(
            f'<tr{hard} data-digit="{d.digit}"><th scope="row">{d.digit}</th><td class="cv-num">{d.drawn}</td>'
            f'<td class="cv-acc" title="{right}">{_bar(d.accuracy, "cv-class")}</td>'
            f'<td class="cv-acc">{_bar(d.mnist, "cv-mnist", 1)}</td></tr>'
        )
    note = f"Readings of {who}"
    if s.other_readings:
        note += f"; {s.other_readings} by other models are not counted"
    if s.model and all(d.mnist is None for d in s.digits):
        note += "; its MNIST figures are unknown (not a shipped model)"
    return (
        '<table class="cv-digit-table"><thead><tr><th scope="col">digit</th><th scope="col">drawn</th>'
        '<th scope="col">read right: our class</th><th scope="col">MNIST test</th></tr></thead>'
        f'<tbody>{"".join(rows)}</tbody></table><p class="cv-note">{note}.</p>'
    )


def _strip(drawings: list[Drawing], image_src: Callable[[Drawing], str], teacher: bool) -> str:
    if not drawings:
        return ""
    tiles = "".join(tile_html(d, image_src, teacher, small=True) for d in drawings)
    return f'<ul class="cv-tiles cv-examples">{tiles}</ul>'


def _hardest(s: ClassSummary, image_src: Callable[[Drawing], str], teacher: bool) -> str:
    if s.hardest is None:
        if any(d.read for d in s.digits):
            return f'<p class="cv-empty">No digit misread {MIN_READINGS} times or more yet: keep drawing.</p>'
        return '<p class="cv-empty">Nothing read yet.</p>'
    d = s.digits[s.hardest]
    parts = [
        f'<p class="cv-headline">Hardest digit: <b class="cv-big">{d.digit}</b> '
        f"read right {d.right} of {d.read} ({percent(d.accuracy)})"
        + (f", MNIST test {percent(d.mnist, 1)}" if d.mnist is not None else "")
        + "</p>"
    ]
    if s.confusion is not None:
        asked, read, times = s.confusion
        parts.append(
            f'<p class="cv-headline">Most frequent mix-up: <b class="cv-big">{asked}</b> read as '
            f'<b class="cv-big">{read}</b>, {times} time{"s" * (times != 1)}</p>'
        )
        parts.append(_strip(s.confusion_examples, image_src, teacher))
    if s.confusion is None or s.confusion[0] != s.hardest:
        parts.append(
            f'<p class="cv-sub">Misread {s.hardest}s:</p>' + _strip(s.hardest_examples, image_src, teacher)
        )
    return "".join(parts)


def _students(s: ClassSummary) -> str:
    if not s.students:
        return '<p class="cv-empty">Nobody has saved a drawing yet.</p>'
    chips = "".join(f'<li><span class="cv-who">{esc(name)}</span> <b>{n}</b></li>' for name, n in s.students)
    return f'<ul class="cv-chips">{chips}</ul>'


SECTION_TITLES = {
    "newest": "Newest drawings",
    "digits": "Read right, per digit",
    "hardest": "Where the model struggles",
    "students": "Drawings per student (anonymous)",
}


def render_sections(s: ClassSummary, image_src: Callable[[Drawing], str], teacher: bool) -> dict[str, str]:
    """Return the view's parts as HTML by name: status, newest, digits, hardest, students."""
    return {
        "status": _status(s, teacher),
        "newest": _newest(s, image_src, teacher),
        "digits": _digits(s),
        "hardest": _hardest(s, image_src, teacher),
        "students": _students(s),
    }


def view_attributes(s: ClassSummary) -> dict[str, str]:
    """Return the root's data attributes, which tests and accessibility tools read."""
    return {
        "data-count": str(s.count),
        "data-paused": str(s.state.paused).lower(),
        "data-round": "" if s.state.round is None else str(s.state.round),
        "data-hidden": str(s.hidden),
        "data-token": s.token,
    }


def render_view(
    s: ClassSummary, image_src: Callable[[Drawing], str], teacher: bool, extra_class: str = ""
) -> str:
    """Return the whole view: ``.mnist-class-view`` and its sections, with the CSS."""
    parts = render_sections(s, image_src, teacher)
    attributes = " ".join(f'{k}="{esc(v)}"' for k, v in view_attributes(s).items())

    def section(name: str) -> str:
        title = SECTION_TITLES[name]
        return (
            f'<section class="cv-section cv-{name}" aria-label="{title}"><h2>{title}</h2>'
            f'<div class="cv-body" data-section="{name}">{parts[name]}</div></section>'
        )

    return (
        f'{CLASS_VIEW_CSS}<div class="mnist-class-view {extra_class}" {attributes}>'
        f'<div class="cv-status" data-section="status" role="status">{parts["status"]}</div>'
        f'<div class="cv-main"><div class="cv-left">{section("newest")}{section("students")}</div>'
        f'<div class="cv-side">{section("digits")}{section("hardest")}</div></div></div>'
    )


# Scoped to .mnist-class-view; its sizes are custom properties, set larger by the teacher's page for a
# projector. Marks are shapes and words (✓, ✗, dashed frames), colours only repeat them.
CLASS_VIEW_CSS = """<style>
.mnist-class-view {--cv-font:16px; --cv-small:16px; --cv-big:1.8em; --cv-tile:96px; --cv-small-tile:76px;
  --cv-gap:10px; --cv-bar-h:0.7em; font:var(--cv-font)/1.35 system-ui, sans-serif; color:#111;
  background:#fff; display:flex; flex-direction:column; gap:var(--cv-gap);}
.mnist-class-view h2 {font-size:1.15em; margin:0 0 0.4em; font-weight:700;}
.mnist-class-view .cv-status {display:flex; flex-wrap:wrap; align-items:center; gap:0.4em 1.2em;}
.mnist-class-view .cv-count b {font-size:var(--cv-big);}
.mnist-class-view .cv-state {font-weight:700; padding:0.1em 0.6em; border-radius:0.4em; border:2px solid;}
.mnist-class-view .cv-on {color:#1a5c1a;}
.mnist-class-view .cv-paused {color:#8a3b00; background:#fff3e0; border-style:dashed;}
.mnist-class-view .cv-pause-mark {display:inline-block; width:0.25em; height:0.8em; margin:0 0.1em;
  border:solid currentColor; border-width:0 0.2em;} /* two bars: no font needed */
.mnist-class-view .cv-round {color:#12406e; background:#e8f1fb;}
.mnist-class-view .cv-main {display:flex; flex-wrap:wrap; gap:var(--cv-gap) calc(2 * var(--cv-gap));
  align-items:flex-start;}
.mnist-class-view .cv-left {flex:3 1 calc(6 * var(--cv-tile)); display:flex; flex-direction:column;
  gap:var(--cv-gap);}
.mnist-class-view .cv-side {flex:2 1 22em; display:flex; flex-direction:column; gap:var(--cv-gap);}
.mnist-class-view .cv-tiles {list-style:none; margin:0; padding:0; display:grid;
  grid-template-columns:repeat(auto-fill, minmax(calc(var(--cv-tile) + 16px), 1fr)); gap:var(--cv-gap);}
.mnist-class-view .cv-tile {position:relative; border:3px solid #777; border-radius:8px; background:#f4f4f4;
  padding:6px; display:flex; flex-direction:column; align-items:center; min-width:0;}
.mnist-class-view .cv-tile > .cv-open {all:unset; cursor:pointer; display:flex; flex-direction:column;
  align-items:center; width:100%; border-radius:6px;}
.mnist-class-view .cv-tile > .cv-open:focus-visible {outline:4px solid #1a5fb4; outline-offset:3px;}
.mnist-class-view .cv-tile img {width:var(--cv-tile); height:var(--cv-tile); background:#000;
  border-radius:4px; display:block;}
.mnist-class-view .cv-misread {border:5px dashed #b34700; background:#fff3e0;}
.mnist-class-view .cv-asked {font-weight:700; font-size:1.2em;}
.mnist-class-view .cv-asked-word {font-weight:400; font-size:0.75em;}
.mnist-class-view .cv-mark {white-space:nowrap;}
.mnist-class-view .cv-sure {font-size:var(--cv-small); white-space:nowrap;}
.mnist-class-view .cv-wrong {font-weight:700; color:#8a3b00;}
.mnist-class-view .cv-right {color:#1a4d80;}
.mnist-class-view .cv-small img {width:var(--cv-small-tile); height:var(--cv-small-tile);}
.mnist-class-view .cv-examples {grid-template-columns:repeat(auto-fill, minmax(calc(var(--cv-small-tile) + 16px), 1fr));}
.mnist-class-view .cv-digit-table {border-collapse:collapse; width:100%; font-variant-numeric:tabular-nums;}
.mnist-class-view .cv-digit-table th, .mnist-class-view .cv-digit-table td {padding:0.08em 0.4em; text-align:left;}
.mnist-class-view .cv-digit-table thead th {font-size:var(--cv-small); font-weight:600; color:#333;}
.mnist-class-view .cv-digit-table tbody th {font-size:1.15em;}
.mnist-class-view .cv-num {text-align:right !important;}
.mnist-class-view .cv-hardest-row {background:#fff3e0; outline:3px dashed #b34700; outline-offset:-3px;}
.mnist-class-view .cv-acc {white-space:nowrap; width:40%;}
.mnist-class-view .cv-bar {display:inline-block; vertical-align:middle; width:calc(100% - 4.4em);
  height:var(--cv-bar-h); background:#e4e4e4; border-radius:3px; overflow:hidden;}
.mnist-class-view .cv-bar-fill {display:block; height:100%;}
.mnist-class-view .cv-class .cv-bar-fill {background:#5e3c99;} /* no model's colour: the lessons' MLP is blue */
.mnist-class-view .cv-mnist .cv-bar-fill {background:repeating-linear-gradient(45deg, #555 0 4px, #999 4px 8px);}
.mnist-class-view .cv-pct {display:inline-block; width:4.2em; text-align:right;}
.mnist-class-view .cv-note, .mnist-class-view .cv-sub {font-size:var(--cv-small); color:#333; margin:0.3em 0;}
.mnist-class-view .cv-headline {margin:0.2em 0;}
.mnist-class-view .cv-big {font-size:var(--cv-big); line-height:1;}
.mnist-class-view .cv-chips {list-style:none; margin:0; padding:0; display:flex; flex-wrap:wrap; gap:0.3em;}
.mnist-class-view .cv-chips li {border:2px solid #999; border-radius:1em; padding:0 0.5em;
  font-variant-numeric:tabular-nums;}
.mnist-class-view .cv-who {color:#333;}
.mnist-class-view .cv-empty {color:#333; font-style:italic;}
.mnist-class-view .cv-hidden-count {color:#333;}
.mnist-class-view code {font-size:0.9em;}
.mnist-class-view .cv-sr {position:absolute; width:1px; height:1px; margin:-1px; overflow:hidden;
  clip-path:inset(50%); white-space:nowrap;}
</style>"""
