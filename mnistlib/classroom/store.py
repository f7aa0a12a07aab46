"""The class store: a class's own labelled drawings, in one SQLite file that a whole class can share.

    import mnistlib
    cs = mnistlib.ClassStore()                      # <class folder>/class.sqlite
    record_id = cs.add(strokes, 3, student=pad_id, prediction=pred, model_name="CNN (shipped)")
    data = cs.images()                            # numpy: images uint8 (N, 28, 28), labels, students, ids
    cs.counts(); cs.delete(record_id); cs.export("our_digits/"); cs.merge("other_class.sqlite")

The class folder is ``$MNISTLIB_CLASS_DIR``, by default ``data/class/`` under ``mnistlib.paths.DATA_DIR``.
Every kernel of the class may point at the same file on the class server: SQLite in WAL mode lets
readers and one writer at a time work at once, each save is one short transaction, and a kernel
that finds the store busy waits and retries. WAL needs every process on the same machine (shared
memory): do not share one store between machines over a network file system; give each machine
its own store and ``merge`` them instead.

A record holds the strokes as drawn (JSON, or NULL for a picture), the pad's raster (PNG; a picture's
at most MAX_PICTURE_SIDE px a side), the 28x28 model input (uint8, 784 bytes), the label, an
anonymous student id (nicknames only if the teacher allows them, never one that looks like an
anonymous id), the time (UTC), and the model's reading when it was saved. Each record has a local
integer id (what ``add`` returns, shown in galleries) and a UUID that stays the same across merges.
Records are capped (MAX_POINTS, MAX_RECORD_BYTES) and so is a store (``max_records``), so that a
page's junk cannot fill the class server's disk.

Every problem of the store itself (locked, damaged, read-only, full, unreachable) raises
``ClassStoreError``, whose message says what to do and whose ``kind`` names the problem. Nothing is
ever half-written, and the same ``ClassStore`` works again as soon as the problem is gone, because
each operation opens its own connection. Bad input (a label of 12, an empty drawing) raises
ValueError instead. The SQLite plumbing (connections, pragmas, transactions, retries, errors) lives
in ``mnistlib.classroom.store_file``, and writing an export's folder in ``mnistlib.classroom.store_export``; this module
is what a record holds and what a class store can do.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import secrets
import sqlite3
import unicodedata
import uuid as uuidlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from PIL import Image

from mnistlib.classroom.class_view import (
    EMPTY,
    EXAMPLES,
    NEWEST,
    NO_STORE,
    ClassState,
    ClassSummary,
    bump_version,
    change_token,
    read_class_state,
    read_hidden,
    summarise,
)
from mnistlib.classroom.store_export import EXPORT_COLUMNS, export_target, write_export

# KINDS and ClassStoreError are part of this module's API: users import them from here.
from mnistlib.classroom.store_file import COLUMNS, KINDS, TIMEOUT, ClassStoreError, StoreFile, utc_timestamp  # noqa: F401
from mnistlib.classroom.strokes import Strokes
from mnistlib.paths import DATA_DIR, REPO_ROOT

SAMPLE_CLASS = REPO_ROOT / "samples" / "sample_class.sqlite"  # drawn by tools/make_sample_class.py
STORE_NAME = "class.sqlite"
ANONYMOUS = re.compile(r"anon-[0-9a-f]{8}")
MAX_NICKNAME = 24
MAX_POINTS = 20_000  # a digit has a few hundred: refuse junk before it reaches the disk
MAX_RECORD_BYTES = 1024 * 1024  # a record's strokes and raster; a drawn digit takes 5-30 kB
MAX_PICTURE_SIDE = 1024  # px: a saved picture's raster is scaled down to this (its model input is read first)
MAX_RECORDS = 20_000  # drawings in one store: a class of 30 drawing 100 digits a lesson, for six lessons


class ClassImages(NamedTuple):
    """A class store's drawings as numpy arrays, in record order (torch.from_numpy turns them into tensors)."""

    images: np.ndarray  # (N, 28, 28) uint8, ink bright, as the model saw them (like load_mnist's images)
    labels: np.ndarray  # (N,) int64, 0-9
    students: np.ndarray  # (N,) str
    ids: np.ndarray  # (N,) int64 record ids
    predicted: np.ndarray  # (N,) int64 the model's reading when saved, -1 where none was stored


@dataclass(frozen=True, eq=False)
class Record:
    """One saved drawing with everything stored about it."""

    id: int
    uuid: str
    label: int
    student: str
    created: str  # UTC, ISO 8601
    strokes: dict[str, Any] | None  # {"width", "height", "brush", "strokes"}, None for a picture
    raster: np.ndarray  # (H, W) uint8: the pad's raster, white ink on black, or the picture in grey
    model_input: np.ndarray  # (28, 28) uint8
    predicted: int | None
    probabilities: np.ndarray | None  # (10,) float64
    model: str | None


@dataclass(frozen=True)
class Counts:
    """How many drawings there are per digit and per student; ``print`` it for a table."""

    per_digit: list[int]  # [count of 0s, count of 1s, ..., count of 9s]
    per_student: dict[str, list[int]]  # student -> 10 counts, one per digit

    @property
    def total(self) -> int:
        """Return the number of drawings."""
        return sum(self.per_digit)

    def __str__(self) -> str:
        width = max([len("student"), *map(len, self.per_student)])
        lines = [f"{'student':<{width}} " + " ".join(f"{d:>4}" for d in range(10)) + "  total"]
        for student, row in self.per_student.items():
            lines.append(f"{student:<{width}} " + " ".join(f"{n:>4}" for n in row) + f"  {sum(row):>5}")
        lines.append(
            f"{'all':<{width}} " + " ".join(f"{n:>4}" for n in self.per_digit) + f"  {self.total:>5}"
        )
        return "\n".join(lines)


def class_dir() -> Path:
    """Return the class folder: $MNISTLIB_CLASS_DIR, or data/class/ under the data folder (read at each call)."""
    return Path(os.environ.get("MNISTLIB_CLASS_DIR") or DATA_DIR / "class").expanduser()


# Letters of other scripts drawn like the Latin letters of "anon" (Unicode's confusables for a, n and o,
# after casefold), and the digit 0: "аnon-1234abcd" with a Cyrillic а reads as an anonymous id.
LOOK_ALIKES = str.maketrans(
    {
        **dict.fromkeys("\u0430\u0251\u03b1\u237a\u1d43\u00aa", "a"),
        **dict.fromkeys("\u0578\u057c\u03bd\u0274\u1d70\u207f", "n"),
        **dict.fromkeys("\u043e\u03bf\u03c3\u0585\u0b66\u1d0f\u00ba\u00f8\u0030", "o"),
    }
)


def looks_anonymous(name: str) -> bool:
    """Return True if ``name`` could pass for a pad's anonymous id (``anon-...`` in any case, width or script).

    Widths and cases are folded (NFKC, casefold), accents and invisible characters dropped, and
    letters of other scripts that look like a, n or o read as those.
    """
    folded = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", name).casefold())
    kept = "".join(c for c in folded if unicodedata.category(c) not in ("Mn", "Me", "Cf"))
    return kept.translate(LOOK_ALIKES).strip().startswith("anon")


def new_student_id() -> str:
    """Return a fresh anonymous student id such as ``anon-3f9a2c7b`` (a pad makes one when it starts)."""
    return f"anon-{secrets.token_hex(4)}"


def _store_path(path: str | os.PathLike | None) -> Path:
    """Return the file ``ClassStore(path)`` opens: ``path``, or class.sqlite in it when it names a folder."""
    folder = path is not None and str(path).endswith(("/", os.sep))
    path = class_dir() if path is None else Path(path).expanduser()
    if folder or path.is_dir() or path == class_dir():
        path = path / STORE_NAME
    return path.absolute()


def sample_class() -> ClassStore:
    """Open the sample class store shipped with the project, read-only (300 drawings made by a script)."""
    return ClassStore(SAMPLE_CLASS, read_only=True)


# ----------------------------------------------------------------------------- record contents


def _png(image: np.ndarray) -> bytes:
    """Encode a (H, W) uint8 image as PNG; pure black-and-white rasters as 1-bit (5-8x smaller, lossless)."""
    pil = Image.fromarray(image, "L")
    if np.isin(image, (0, 255)).all():
        pil = pil.convert("1")  # exact: 0 and 255 map to 0 and 1, and back with convert("L")
    buffer = io.BytesIO()
    pil.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def _unpng(blob: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(blob)).convert("L"))


def _drawing(
    image_or_strokes: Any, canvas_size: tuple[int, int] | None, brush: int | None
) -> tuple[str | None, np.ndarray, np.ndarray]:
    """Return (strokes JSON or None, raster uint8 (H, W), model input uint8 (28, 28)) of what was drawn."""
    from mnistlib.preprocess import to_grey, to_mnist, to_uint8  # PyTorch: only a kernel that saves loads it

    if hasattr(image_or_strokes, "strokes") and hasattr(image_or_strokes, "rasterize"):  # a pad's Strokes
        pad = image_or_strokes
        canvas_size = canvas_size or (pad.width, pad.height)
        brush = brush or pad.brush
        image_or_strokes = pad.strokes
    if not isinstance(image_or_strokes, (list, tuple)):  # a picture: whatever to_mnist reads
        grey = Image.fromarray(to_uint8(to_grey(image_or_strokes)))
        grey.thumbnail((MAX_PICTURE_SIDE, MAX_PICTURE_SIDE))  # only ever smaller
        return None, np.asarray(grey), to_uint8(to_mnist(image_or_strokes))
    width, height = canvas_size or (None, None)
    canvas = Strokes(**{k: v for k, v in (("width", width), ("height", height), ("brush", brush)) if v})
    canvas.strokes = _check_strokes(image_or_strokes)  # as drawn: no resampling
    raster = canvas.rasterize()
    strokes = {
        "width": canvas.width,
        "height": canvas.height,
        "brush": canvas.brush,
        "strokes": [[[_num(x), _num(y)] for x, y in s] for s in canvas.strokes],
    }
    return json.dumps(strokes, separators=(",", ":")), raster, to_uint8(to_mnist(raster))


def _num(value: float) -> float | int:
    """Return a coordinate rounded to 0.01 px, as an int when whole: the JSON stays short."""
    value = round(value, 2)
    return int(value) if value.is_integer() else value


def _check_strokes(strokes: Sequence[Sequence[Sequence[float]]]) -> list[list[tuple[float, float]]]:
    """Return strokes as lists of float (x, y) points, or raise ValueError saying what is wrong."""
    checked, total = [], 0
    for i, stroke in enumerate(strokes):
        try:
            points = [(float(x), float(y)) for x, y in stroke]
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"Stroke {i} is not a list of (x, y) points ({exc}). Pass strokes as "
                "[[(x, y), (x, y), ...], ...] in canvas pixels, or the pad's Strokes."
            ) from None
        if not points or not all(map(math.isfinite, (c for p in points for c in p))):
            raise ValueError(f"Stroke {i} is empty or has a NaN or infinite coordinate.")
        total += len(points)
        checked.append(points)
    if total > MAX_POINTS:
        raise ValueError(
            f"The drawing has {total:,} points, more than the {MAX_POINTS:,} a class store takes."
        )
    return checked


def _check_label(label: Any) -> int:
    if isinstance(label, bool) or not isinstance(label, (int, np.integer)) or not 0 <= int(label) <= 9:
        raise ValueError(f"The label must be a digit 0-9 (an int), not {label!r}.")
    return int(label)


def _reading(prediction: Any) -> tuple[int | None, str | None]:
    """Return (digit, probabilities JSON) of a Prediction or a (digit, probabilities) pair; None -> (None, None)."""
    if prediction is None:
        return None, None
    digit, probs = (
        (prediction.digit, prediction.probabilities) if hasattr(prediction, "digit") else prediction
    )
    probs = np.asarray(probs, dtype=np.float64).ravel()
    if probs.shape != (10,) or not np.isfinite(probs).all() or (probs < 0).any() or (probs > 1).any():
        raise ValueError("The prediction's probabilities must be 10 numbers in [0, 1], one per digit.")
    return _check_label(digit), json.dumps([round(float(p), 5) for p in probs])


def _created(created: datetime | str | None) -> str:
    if created is None:
        return utc_timestamp()
    if isinstance(created, str):
        created = datetime.fromisoformat(created)
    if created.tzinfo is None:
        raise ValueError("The time must say its time zone, e.g. datetime.now(timezone.utc).")
    return utc_timestamp(created)


def _record_row(
    image_or_strokes: Any,
    label: int,
    student: str,
    prediction: Any,
    model_name: str | None,
    canvas_size: tuple[int, int] | None,
    brush: int | None,
    created: datetime | str | None,
    uuid: str | None,
) -> tuple:
    """Return the values of a new record in COLUMNS order, or raise ValueError for bad input (see ``add``)."""
    predicted, probabilities = _reading(prediction)
    record_uuid = str(uuidlib.UUID(uuid)) if uuid else str(uuidlib.uuid4())
    when = _created(created)
    strokes, raster, model_input = _drawing(image_or_strokes, canvas_size, brush)
    png = _png(raster)
    size = len(png) + len(strokes or "")
    if size > MAX_RECORD_BYTES:
        raise ValueError(
            f"The drawing takes {size / 1024:,.0f} kB, more than the {MAX_RECORD_BYTES // 1024:,} kB a "
            "record of a class store holds."
        )
    values = {
        "uuid": record_uuid,
        "label": label,
        "student": student,
        "created": when,
        "predicted": predicted,
        "probabilities": probabilities,
        "model": model_name,
        "model_input": model_input.tobytes(),
        "raster": png,
        "strokes": strokes,
    }
    return tuple(values[name] for name in COLUMNS.split(", "))


def _record(row: tuple) -> Record:
    """Return the Record of a row of ``id, COLUMNS``."""
    r = dict(zip(["id", *COLUMNS.split(", ")], row, strict=True))
    return Record(
        id=r["id"],
        uuid=r["uuid"],
        label=r["label"],
        student=r["student"],
        created=r["created"],
        strokes=None if r["strokes"] is None else json.loads(r["strokes"]),
        raster=_unpng(r["raster"]),
        model_input=np.frombuffer(r["model_input"], dtype=np.uint8).reshape(28, 28).copy(),
        predicted=r["predicted"],
        probabilities=None if r["probabilities"] is None else np.array(json.loads(r["probabilities"])),
        model=r["model"],
    )


def _class_images(rows: list[tuple]) -> ClassImages:
    """Return the ClassImages of rows of (id, label, student, predicted, model_input)."""
    images = np.frombuffer(b"".join(r[4] for r in rows), dtype=np.uint8).reshape(-1, 28, 28).copy()
    return ClassImages(
        images=images,
        labels=np.array([r[1] for r in rows], dtype=np.int64),
        students=np.array([r[2] for r in rows], dtype=str),
        ids=np.array([r[0] for r in rows], dtype=np.int64),
        predicted=np.array([-1 if r[3] is None else r[3] for r in rows], dtype=np.int64),
    )


def _counts(rows: list[tuple]) -> Counts:
    """Return the Counts of rows of (student, label, count, first id), students in order of first save."""
    per_digit, per_student = [0] * 10, {}
    for student, label, n, _ in rows:
        per_digit[label] += n
        per_student.setdefault(student, [0] * 10)[label] += n
    return Counts(per_digit, per_student)


# ----------------------------------------------------------------------------- the store


class ClassStore:
    """A class's labelled drawings in one SQLite file (WAL mode) that many kernels may share.

    ``path``: the store file, or a folder holding ``class.sqlite``; by default the class folder
    (``$MNISTLIB_CLASS_DIR`` or data/class/). Nothing is touched until the first operation; the
    folder and the file are created at the first save. ``read_only=True`` never writes (for
    looking at a shipped or archived store). ``timeout``: seconds a busy store is waited for.
    ``max_bytes`` caps the file's size (a quota; beyond it a save fails as on a full disk).
    ``max_records`` caps the drawings ``add`` saves into it (None: no cap; merges are not capped).
    ``student``: the id used when ``add`` is given none (a fresh anonymous id per ClassStore).
    """

    def __init__(
        self,
        path: str | os.PathLike | None = None,
        *,
        read_only: bool = False,
        timeout: float = TIMEOUT,
        max_bytes: int | None = None,
        max_records: int | None = MAX_RECORDS,
        student: str | None = None,
    ) -> None:
        self._file = StoreFile(_store_path(path), read_only, timeout, max_bytes)
        self.max_records = max_records
        self.student = student or new_student_id()

    @property
    def path(self) -> Path:
        """Return the store's file."""
        return self._file.path

    @property
    def read_only(self) -> bool:
        """Return True if this store never writes."""
        return self._file.read_only

    def __bool__(self) -> bool:
        # A handle, not a container: `if pad.class_store:` asks "is there a store?" and must not read
        # the file (or be False while it is empty, as len() would make it).
        return True

    def __repr__(self) -> str:
        return f"ClassStore({str(self.path)!r}{', read_only=True' if self.read_only else ''})"

    # ---- saving

    def add(
        self,
        image_or_strokes: Any,
        label: int,
        student: str | None = None,
        *,
        prediction: Any = None,
        model_name: str | None = None,
        canvas_size: tuple[int, int] | None = None,
        brush: int | None = None,
        created: datetime | str | None = None,
        uuid: str | None = None,
    ) -> int:
        """Save one labelled drawing; return its record id.

        ``image_or_strokes``: the pad's Strokes, a list of strokes (each a list of (x, y) canvas
        points, rasterised as the pad does on a ``canvas_size`` canvas with a ``brush``-px pen), or
        any picture ``mnistlib.preprocess.to_mnist`` reads. ``student``: the pad's anonymous id
        (``new_student_id()``), or a nickname if the teacher allows them. ``prediction``: the
        model's reading when saved (a ``mnistlib.Prediction`` or a (digit, probabilities) pair),
        ``model_name`` which model read it. ``created`` and ``uuid`` are for importing records.
        Raises ValueError for bad input, ClassStoreError when the store cannot take it.
        """
        label = _check_label(label)
        student = self.student if student is None else str(student).strip()
        # Everything is computed before the transaction, so that it stays short.
        row = _record_row(
            image_or_strokes, label, student, prediction, model_name, canvas_size, brush, created, uuid
        )
        _check_nickname(student)
        try:
            return self._file.run(
                True, "save the drawing", lambda c: _insert(c, row, student, self.max_records), -1
            )
        except _NicknameRefused:
            raise _nickname_refused(student) from None
        except _StoreFull:
            raise ClassStoreError(
                f"Could not save the drawing: the class store {self.path} is full: it holds "
                f"{self.max_records:,} drawings, the most it takes. Tell the teacher: export the drawings "
                "and start a new store, or open it with a larger max_records.",
                "full",
                self.path,
            ) from None

    @property
    def allow_nicknames(self) -> bool:
        """Whether students may save under a nickname instead of an anonymous id (off unless the teacher allows)."""
        return self._file.run(False, "read the settings", _nicknames_allowed, False)

    @allow_nicknames.setter
    def allow_nicknames(self, allow: bool) -> None:
        self.set_metadata(allow_nicknames="1" if allow else "0")

    def metadata(self) -> dict[str, str]:
        """Return the store's metadata table (when it was created, settings, what a sample was made from)."""
        return dict(self._file.fetch_all("read the metadata", "SELECT key, value FROM meta"))

    def set_metadata(self, **items: str) -> None:
        """Set metadata entries (strings), e.g. ``description="Class 4B, spring term"``."""
        rows = [(k, str(v)) for k, v in items.items()]
        sql = "REPLACE INTO meta VALUES (?, ?)"
        self._file.run(True, "change the metadata", lambda c: c.executemany(sql, rows), None)

    # ---- the teacher's settings for the whole class (every pad reads them before it saves)

    def class_state(self) -> ClassState:
        """Return what the teacher set for the class: collecting paused, a round of one digit, and a version."""
        return self._file.run(False, "read the class's state", read_class_state, ClassState())

    def pause(self, paused: bool = True) -> ClassState:
        """Pause collecting for the whole class (no pad saves until ``resume``); return the new state."""
        return self._set_state(
            "pause collecting" if paused else "resume collecting", paused="1" if paused else "0"
        )

    def resume(self) -> ClassState:
        """Let the class save drawings again; return the new state."""
        return self.pause(False)

    def start_round(self, digit: int) -> ClassState:
        """Make every pad ask for ``digit`` ("everyone draw 3s") until ``end_round``; return the new state."""
        return self._set_state(f"start a round of {digit}s", round=str(_check_label(digit)))

    def end_round(self) -> ClassState:
        """Let every pad go back to asking for all ten digits; return the new state."""
        return self._set_state("end the round", round="")

    def _set_state(self, doing: str, **items: str) -> ClassState:
        def write(conn: sqlite3.Connection) -> ClassState:
            conn.executemany("REPLACE INTO meta VALUES (?, ?)", list(items.items()))
            bump_version(conn)
            return read_class_state(conn)

        return self._file.run(True, doing, write, ClassState())

    def hide(self, record_id: int | str, hidden: bool = True) -> None:
        """Hide one record (by id or UUID) from the teacher's live view, or show it again; KeyError if absent.

        A hidden drawing stays in the store, its counts and its exports: the teacher deletes it for that.
        """
        doing = f"{'hide' if hidden else 'show'} record {record_id}"
        if not self._file.run(True, doing, lambda c: _hide(c, record_id, hidden), False):
            raise KeyError(f"There is no record {record_id!r} in {self.path}.")

    def show_hidden(self) -> None:
        """Show every record hidden from the teacher's live view again."""

        def write(conn: sqlite3.Connection) -> None:
            _write_hidden(conn, [])
            bump_version(conn)

        self._file.run(True, "show the hidden drawings", write, None)

    def hidden(self) -> list[str]:
        """Return the UUIDs of the records hidden from the teacher's live view."""
        return self._file.run(False, "read the hidden drawings", read_hidden, [])

    def change_token(self) -> str:
        """Return a short string that changes with every save, merge, delete and teacher action (cheap to read)."""
        return self._file.run(False, "read the class store's version", change_token, NO_STORE)

    def summary(self, newest: int = NEWEST, examples: int = EXAMPLES, images: bool = False) -> ClassSummary:
        """Return the class's summary as the teacher's live view shows it (see mnistlib.classroom.class_view).

        ``images``: include the shown drawings' rasters (for a notebook); read in one transaction.
        """
        return self._file.run(
            False, "summarise the drawings", lambda c: summarise(c, newest, examples, images), EMPTY
        )

    # ---- reading

    def __len__(self) -> int:
        sql = "SELECT count(*) FROM drawings"
        return self._file.run(False, "count the drawings", lambda c: c.execute(sql).fetchone()[0], 0)

    def images(self, label: int | None = None, student: str | None = None) -> ClassImages:
        """Return the drawings' model inputs, labels, students, ids and readings as numpy arrays, by id.

        ``label`` or ``student`` keep only that digit's or that student's drawings.
        """
        where, params = _where(label, student)
        sql = f"SELECT id, label, student, predicted, model_input FROM drawings{where} ORDER BY id"
        return _class_images(self._file.fetch_all("read the drawings", sql, params))

    def get(self, record_id: int | str) -> Record:
        """Return one record (by id, or by UUID) with its strokes, raster and reading; KeyError if absent."""
        key = "uuid" if isinstance(record_id, str) else "id"
        sql = f"SELECT id, {COLUMNS} FROM drawings WHERE {key} = ?"
        row = self._file.run(
            False, f"read record {record_id}", lambda c: c.execute(sql, (record_id,)).fetchone(), None
        )
        if row is None:
            raise KeyError(f"There is no record {record_id!r} in {self.path}.")
        return _record(row)

    def raster_png(self, record_id: int | str) -> bytes:
        """Return one record's raster as stored (PNG bytes), by id or UUID, without decoding it; KeyError if absent."""
        key = "uuid" if isinstance(record_id, str) else "id"
        rows = self._file.fetch_all(
            f"read record {record_id}", f"SELECT raster FROM drawings WHERE {key} = ?", (record_id,)
        )
        if not rows:
            raise KeyError(f"There is no record {record_id!r} in {self.path}.")
        return rows[0][0]

    def counts(self) -> Counts:
        """Return how many drawings there are per digit and per student (students in order of first save)."""
        sql = "SELECT student, label, count(*), min(id) FROM drawings GROUP BY student, label ORDER BY 4"
        return _counts(self._file.fetch_all("count the drawings", sql))

    def check(self) -> None:
        """Check the whole file (SQLite's integrity check) and every record's contents; raise ClassStoreError if damaged."""
        problem = self._file.run(False, "check the class store", _first_problem, "")
        if problem:
            raise self._file.error("corrupt", "check the class store", problem)

    # ---- teacher tools

    def delete(self, record_id: int | str) -> None:
        """Delete one record (by id, or by UUID); KeyError if there is none. A later merge does not bring it back."""
        if not self._file.run(True, f"delete record {record_id}", lambda c: _delete(c, record_id), False):
            raise KeyError(f"There is no record {record_id!r} in {self.path}.")

    def merge(self, other: ClassStore | str | os.PathLike) -> int:
        """Add the records of another class store that this one lacks (by UUID); return how many were added.

        Merging the same store twice adds nothing the second time, and records deleted here stay
        deleted. The other store is only read.
        """
        other = other if isinstance(other, ClassStore) else ClassStore(other, read_only=True)
        if other.path.exists() and self.path.exists() and os.path.samefile(other.path, self.path):
            return 0
        sql = f"SELECT {COLUMNS} FROM drawings ORDER BY id"
        rows = other._file.fetch_all("read the other class store", sql)
        return (
            self._file.run(True, "merge the other class store", lambda c: _insert_new(c, rows), 0)
            if rows
            else 0
        )

    def export(self, path: str | os.PathLike, overwrite: bool = False) -> Path:
        """Write the drawings as a PNG folder per digit, as torchvision's ImageFolder reads it; return the folder.

        Layout: ``path/<digit>/<uuid>.png`` (the 28x28 model inputs, grey, ink bright), always all
        ten digit folders so that ImageFolder's class index is the digit (some may be empty: pass
        ``allow_empty=True``), and ``path/records.csv`` (file, id, uuid, label, student, created,
        predicted, model; a cell a spreadsheet would run as a formula starts with an apostrophe) for
        splitting by student. Written to a temporary folder beside ``path`` and renamed into place,
        so ``path`` is always a whole export or absent. ``overwrite=True`` replaces an earlier export
        (a folder holding records.csv), never another folder.
        """
        target = export_target(path, overwrite)  # checked before reading: a refused export reads nothing
        sql = f"SELECT {EXPORT_COLUMNS} FROM drawings ORDER BY id"
        return write_export(self._file.fetch_all("read the drawings", sql), target)


# ----------------------------------------------------------------------------- inside one transaction


class _NicknameRefused(Exception):
    """Raised inside the transaction, turned into a ValueError outside it."""


class _StoreFull(Exception):
    """Raised inside the transaction, turned into a ClassStoreError ("full") outside it."""


def _insert(conn: sqlite3.Connection, row: tuple, student: str, max_records: int | None) -> int:
    """Insert a record's row (COLUMNS order); return its id. Refuses a nickname the store does not allow."""
    if not ANONYMOUS.fullmatch(student) and not _nicknames_allowed(conn):
        raise _NicknameRefused
    if max_records is not None and conn.execute("SELECT count(*) FROM drawings").fetchone()[0] >= max_records:
        raise _StoreFull
    return conn.execute(f"INSERT INTO drawings ({COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?)", row).lastrowid


def _delete(conn: sqlite3.Connection, record_id: int | str) -> bool:
    """Delete a record by id or UUID and remember its UUID as deleted; return False if there is none."""
    key = "uuid" if isinstance(record_id, str) else "id"
    row = conn.execute(f"SELECT uuid FROM drawings WHERE {key} = ?", (record_id,)).fetchone()
    if row is None:
        return False
    conn.execute("DELETE FROM drawings WHERE uuid = ?", row)
    conn.execute("INSERT OR IGNORE INTO deleted VALUES (?)", row)
    if row[0] in read_hidden(conn):
        _write_hidden(conn, [u for u in read_hidden(conn) if u != row[0]])
    bump_version(conn)  # the teacher's live view notices a deletion at once
    return True


def _hide(conn: sqlite3.Connection, record_id: int | str, hidden: bool) -> bool:
    """Add a record's UUID to the hidden list, or take it out; return False if there is no such record."""
    key = "uuid" if isinstance(record_id, str) else "id"
    row = conn.execute(f"SELECT uuid FROM drawings WHERE {key} = ?", (record_id,)).fetchone()
    if row is None:
        return False
    others = [u for u in read_hidden(conn) if u != row[0]]
    _write_hidden(conn, [*others, row[0]] if hidden else others)
    bump_version(conn)
    return True


def _write_hidden(conn: sqlite3.Connection, uuids: list[str]) -> None:
    conn.execute("REPLACE INTO meta VALUES ('hidden', ?)", (json.dumps(uuids),))


def _insert_new(conn: sqlite3.Connection, rows: list[tuple]) -> int:
    """Insert the rows (COLUMNS order) whose UUID is neither here nor deleted here; return how many."""
    before = conn.total_changes
    conn.executemany(
        f"INSERT INTO drawings ({COLUMNS}) SELECT ?,?,?,?,?,?,?,?,?,? "
        "WHERE NOT EXISTS (SELECT 1 FROM deleted WHERE uuid = ?1) ON CONFLICT (uuid) DO NOTHING",
        rows,
    )
    return conn.total_changes - before


def _first_problem(conn: sqlite3.Connection) -> str:
    """Return the file's first problems (integrity check, then each record's raster and input), or ""."""
    problems = [r[0] for r in conn.execute("PRAGMA integrity_check")]
    if problems != ["ok"]:
        return "; ".join(problems[:3])
    for rid, raster, model_input in conn.execute("SELECT id, raster, model_input FROM drawings"):
        try:
            Image.open(io.BytesIO(raster)).verify()
        except Exception as exc:  # noqa: BLE001  Pillow reports a bad PNG in many ways
            return f"record {rid} has an unreadable raster ({exc})"
        if len(model_input) != 784:
            return f"record {rid} has a model input of {len(model_input)} bytes, not 784"
    return ""


def _nicknames_allowed(conn: sqlite3.Connection) -> bool:
    row = conn.execute("SELECT value FROM meta WHERE key = 'allow_nicknames'").fetchone()
    return row is not None and row[0] == "1"


def _nickname_refused(student: str) -> ValueError:
    """Return the error of saving under a nickname in a store that takes none."""
    return ValueError(
        f"{student!r} is not an anonymous student id, and this class store takes no nicknames. "
        "Use the pad's id (mnistlib.classroom.store.new_student_id()), or the teacher can allow "
        "nicknames: cs.allow_nicknames = True."
    )


def _check_nickname(student: str) -> None:
    if not student or len(student) > MAX_NICKNAME or not student.isprintable():
        raise ValueError(
            f"A student id must be 1-{MAX_NICKNAME} printable characters, not {student!r}: "
            "use the pad's id (mnistlib.classroom.store.new_student_id())."
        )


def _where(label: int | None, student: str | None) -> tuple[str, tuple]:
    clauses, params = [], []
    if label is not None:
        clauses.append("label = ?")
        params.append(_check_label(label))
    if student is not None:
        clauses.append("student = ?")
        params.append(student)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), tuple(params)


def class_summary(
    store: ClassStore | str | None = None, newest: int = NEWEST, examples: int = EXAMPLES
) -> ClassSummary:
    """Return the summary of a class store (by default the class folder's), with its drawings' images.

    Displayed in a notebook it shows the teacher's live view's panels; ``.plot()`` draws the model's
    accuracy per digit on the class beside MNIST's test set with the lessons' plot.
    """
    store = store if isinstance(store, ClassStore) else ClassStore(store, read_only=True)
    return store.summary(newest=newest, examples=examples, images=True)
