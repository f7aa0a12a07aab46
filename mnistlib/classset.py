"""The class set: a class's own labelled drawings, in one SQLite file that a whole class can share.

    import mnistlib
    cs = mnistlib.ClassSet()                      # <class folder>/class.sqlite
    record_id = cs.add(strokes, 3, student=pad_id, prediction=pred, model_name="CNN (shipped)")
    data = cs.images()                            # numpy: images uint8 (N, 28, 28), labels, students, ids
    cs.counts(); cs.delete(record_id); cs.export("our_digits/"); cs.merge("other_class.sqlite")

The class folder is ``$MNISTLIB_CLASS_DIR``, by default ``data/class/`` under ``mnistlib.paths.DATA_DIR``.
Every kernel of the class may point at the same file on the class server: SQLite in WAL mode lets
readers and one writer at a time work at once, each save is one short transaction, and a kernel
that finds the store busy waits and retries. WAL needs every process on the same machine (shared
memory): do not share one store between machines over a network file system; give each machine
its own store and ``merge`` them instead.

A record holds the strokes as drawn (JSON, or NULL for a picture), the pad's raster (PNG), the 28x28
model input (uint8, 784 bytes), the label, an anonymous student id (nicknames only if the teacher
allows them), the time (UTC), and the model's reading when it was saved. Each record has a local
integer id (what ``add`` returns, shown in galleries) and a UUID that stays the same across merges.

Every problem of the store itself (locked, damaged, read-only, full, unreachable) raises
``ClassSetError``, whose message says what to do and whose ``kind`` names the problem. Nothing is
ever half-written, and the same ``ClassSet`` works again as soon as the problem is gone, because
each operation opens its own connection. Bad input (a label of 12, an empty drawing) raises
ValueError instead.
"""

from __future__ import annotations

import csv
import errno
import io
import json
import math
import os
import random
import re
import secrets
import shutil
import sqlite3
import tempfile
import time
import uuid as uuidlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NamedTuple, TypeVar
from urllib.parse import quote

import numpy as np
from PIL import Image

from mnistlib.paths import DATA_DIR, REPO_ROOT
from mnistlib.preprocess import to_grey, to_mnist

T = TypeVar("T")

SAMPLE_CLASS = REPO_ROOT / "samples" / "sample_class.sqlite"  # drawn by tools/make_sample_class.py
STORE_NAME = "class.sqlite"
APPLICATION_ID = 0x4D4E4353  # "MNCS" in the file header: this file is a class store
SCHEMA_VERSION = 1
TIMEOUT = 10.0  # s a save waits for a busy store: 30 kernels' saves take well under a second in all
ANONYMOUS = re.compile(r"anon-[0-9a-f]{8}")
MAX_NICKNAME = 24
MAX_POINTS = 100_000  # more points than any hand draws: refuse junk before it reaches the disk
KINDS = ("locked", "read-only", "corrupt", "full", "unavailable")

SCHEMA = """
CREATE TABLE drawings (
    id INTEGER PRIMARY KEY,        -- local to this file: what add() returns, shown in galleries
    uuid TEXT NOT NULL UNIQUE,     -- the same in every store the record is merged into
    label INTEGER NOT NULL CHECK (label BETWEEN 0 AND 9),
    student TEXT NOT NULL,         -- anon-xxxxxxxx, one per pad, or a nickname if allowed
    created TEXT NOT NULL,         -- UTC, ISO 8601
    predicted INTEGER CHECK (predicted BETWEEN 0 AND 9),           -- the model's reading when saved
    probabilities TEXT,            -- JSON list of 10 floats
    model TEXT,                    -- which model read it
    model_input BLOB NOT NULL CHECK (length(model_input) = 784),  -- uint8 28x28, ink bright
    -- The big columns last: reading the ones above never follows a row's overflow pages.
    raster BLOB NOT NULL,          -- PNG: the pad's raster, or the picture in grey
    strokes TEXT                   -- JSON {"width", "height", "brush", "strokes": [[[x, y], ...], ...]}
);
CREATE INDEX drawings_student ON drawings (student);
CREATE TABLE deleted (uuid TEXT PRIMARY KEY);  -- so that a merge does not bring deleted junk back
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
COLUMNS = "uuid, label, student, created, predicted, probabilities, model, model_input, raster, strokes"


class ClassSetError(Exception):
    """The class store cannot be used right now; ``kind`` is one of KINDS and the message says what to do."""

    def __init__(self, message: str, kind: str, path: Path) -> None:
        super().__init__(message)
        self.kind, self.path = kind, path


class ClassImages(NamedTuple):
    """A class set's drawings as numpy arrays, in record order (torch.from_numpy turns them into tensors)."""

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


def new_student_id() -> str:
    """Return a fresh anonymous student id such as ``anon-3f9a2c7b`` (a pad makes one when it starts)."""
    return f"anon-{secrets.token_hex(4)}"


def sample_class() -> ClassSet:
    """Open the sample class set shipped with the project, read-only (300 drawings made by a script)."""
    return ClassSet(SAMPLE_CLASS, read_only=True)


# ----------------------------------------------------------------------------- errors


def _kind(exc: sqlite3.Error, path: Path) -> str:
    """Name the store problem an sqlite3 error means (one of KINDS)."""
    name = getattr(exc, "sqlite_errorname", None)  # SQLite's own result code, when it raised the error
    if name is None:
        return "unavailable"  # raised by this module: not a class store, or made by a newer mnistlib
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return "locked"
    if name.startswith("SQLITE_READONLY") or (name.startswith("SQLITE_CANTOPEN") and _not_writable(path)):
        return "read-only"
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
        return "corrupt"
    if name == "SQLITE_FULL":
        return "full"
    return "unavailable"


def _not_writable(path: Path) -> bool:
    """Return True if the store file, or the folder it must be created in, may not be written."""
    target = path if path.exists() else path.parent
    return target.exists() and not os.access(target, os.W_OK)


def _message(kind: str, path: Path, doing: str, detail: str, timeout: float, max_bytes: int | None) -> str:
    """Return the message of a ClassSetError: what happened, then what the student and the teacher can do."""
    what = {
        "locked": f"busy: another program has kept it locked for more than {timeout:g} s",
        "read-only": "read-only: this kernel may not write to it",
        "corrupt": f"damaged ({detail})",
        "full": "full: its disk has no space left"
        + (f", or it reached its size limit of {max_bytes:,} bytes" if max_bytes else ""),
        "unavailable": f"not usable ({detail})",
    }[kind]
    todo = {
        "locked": "Try again in a moment: nothing was saved half-way. Teacher: close the program that "
        "holds the file open (a database browser, a notebook stopped in the middle of a save).",
        "read-only": "Tell the teacher: make the class folder and the file writable for the user the "
        "kernels run as, or set MNISTLIB_CLASS_DIR to a writable folder.",
        "corrupt": "Tell the teacher: rename the file aside and keep it (`sqlite3 FILE .recover` often "
        "rescues its records; exports and merged stores hold copies); a new, empty store starts at the "
        "next save.",
        "full": "Tell the teacher: free space on the disk that holds the class folder"
        + (" (or raise max_bytes)" if max_bytes else "")
        + ", then try again: nothing was saved half-way.",
        "unavailable": "Tell the teacher: check that MNISTLIB_CLASS_DIR (or the path given to ClassSet) "
        "names a folder this kernel can reach, holding a class store or nothing.",
    }[kind]
    return f"Could not {doing}: the class store {path} is {what}. {todo}"


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


def _as_uint8(image: np.ndarray) -> np.ndarray:
    """Return a float image in [0, 1] as uint8 0-255."""
    return (np.clip(image, 0.0, 1.0) * 255).round().astype(np.uint8)


def _stroke_canvas() -> type:
    # The pad's Strokes class: in mnistlib.drawing once the pad code is split, in widgets before.
    try:
        from mnistlib.drawing import Strokes
    except ImportError:
        from mnistlib.widgets import Strokes
    return Strokes


def _drawing(
    image_or_strokes: Any, canvas_size: tuple[int, int] | None, brush: int | None
) -> tuple[str | None, np.ndarray, np.ndarray]:
    """Return (strokes JSON or None, raster uint8 (H, W), model input uint8 (28, 28)) of what was drawn."""
    if hasattr(image_or_strokes, "strokes") and hasattr(image_or_strokes, "rasterize"):  # a pad's Strokes
        pad = image_or_strokes
        canvas_size = canvas_size or (pad.width, pad.height)
        brush = brush or pad.brush
        image_or_strokes = pad.strokes
    if not isinstance(image_or_strokes, (list, tuple)):  # a picture: whatever to_mnist reads
        grey = to_grey(image_or_strokes)
        return None, _as_uint8(grey), _as_uint8(to_mnist(image_or_strokes))
    Strokes = _stroke_canvas()
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
    return json.dumps(strokes, separators=(",", ":")), raster, _as_uint8(to_mnist(raster))


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
        created = datetime.now(timezone.utc)
    elif isinstance(created, str):
        created = datetime.fromisoformat(created)
    if created.tzinfo is None:
        raise ValueError("The time must say its time zone, e.g. datetime.now(timezone.utc).")
    return created.astimezone(timezone.utc).isoformat(timespec="milliseconds")


# ----------------------------------------------------------------------------- the store


class ClassSet:
    """A class's labelled drawings in one SQLite file (WAL mode) that many kernels may share.

    ``path``: the store file, or a folder holding ``class.sqlite``; by default the class folder
    (``$MNISTLIB_CLASS_DIR`` or data/class/). Nothing is touched until the first operation; the
    folder and the file are created at the first save. ``read_only=True`` never writes (for
    looking at a shipped or archived store). ``timeout``: seconds a busy store is waited for.
    ``max_bytes`` caps the file's size (a quota; beyond it a save fails as on a full disk).
    ``student``: the id used when ``add`` is given none (a fresh anonymous id per ClassSet).
    """

    def __init__(
        self,
        path: str | os.PathLike | None = None,
        *,
        read_only: bool = False,
        timeout: float = TIMEOUT,
        max_bytes: int | None = None,
        student: str | None = None,
    ) -> None:
        folder = path is not None and str(path).endswith(("/", os.sep))
        path = class_dir() if path is None else Path(path).expanduser()
        if folder or path.is_dir() or path == class_dir():
            path = path / STORE_NAME
        self.path = path.absolute()
        self.read_only, self.timeout, self.max_bytes = read_only, timeout, max_bytes
        self.student = student or new_student_id()

    def __bool__(self) -> bool:
        # A handle, not a container: `if pad.class_set:` asks "is there a store?" and must not read
        # the file (or be False while it is empty, as len() would make it).
        return True

    def __repr__(self) -> str:
        return f"ClassSet({str(self.path)!r}{', read_only=True' if self.read_only else ''})"

    # ---- connections: one per operation, so a replaced or repaired file is seen at once

    def _connect(self, write: bool, remaining: float, immutable: bool = False) -> sqlite3.Connection:
        mode = "rwc" if write else "ro"
        uri = f"file:{quote(str(self.path))}?mode={mode}" + ("&immutable=1" if immutable else "")
        conn = sqlite3.connect(uri, uri=True, timeout=max(remaining, 0.001), isolation_level=None)
        try:
            if write:
                # WAL: readers never block the writer, and a writer killed mid-save leaves only an
                # uncommitted tail in the -wal file that every reader ignores. synchronous=FULL
                # syncs the WAL at each commit, so a saved drawing also survives a power cut of the
                # class server (NORMAL would keep it through any crash of a kernel, not the
                # machine's); a save costs one fsync, negligible at a save every few seconds.
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=FULL")
                if self.max_bytes:
                    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
                    conn.execute(f"PRAGMA max_page_count={max(1, self.max_bytes // page_size)}")
            conn.execute("PRAGMA cell_size_check=ON")  # notice damaged pages when reading them
        except BaseException:
            conn.close()
            raise
        return conn

    def _run(self, write: bool, doing: str, fn: Callable[[sqlite3.Connection], T], empty: T) -> T:
        """Run ``fn`` in one transaction on a fresh connection; retry while busy; map errors to ClassSetError.

        A write transaction is BEGIN IMMEDIATE: it takes the write lock first, so it never has to
        upgrade a read lock, the one case in which SQLite reports "busy" without waiting. Reads of
        a store that does not exist yet return ``empty`` and create nothing.
        """
        if write and self.read_only:
            raise ClassSetError(
                f"Could not {doing}: this ClassSet of {self.path} was opened with read_only=True, for "
                "looking only. Open it with ClassSet(path) to change it (or copy a shipped sample first).",
                "read-only",
                self.path,
            )
        deadline = time.monotonic() + self.timeout
        delay, immutable = 0.002, False
        while True:
            try:
                if not write and not self.path.exists():
                    return empty
                if write:
                    self.path.parent.mkdir(parents=True, exist_ok=True)
                conn = self._connect(write, deadline - time.monotonic(), immutable)
                try:
                    conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                    if not self._schema_ok(conn, create=write):
                        return empty  # an empty file: no drawings yet
                    result = fn(conn)
                    conn.execute("COMMIT")
                    return result
                finally:
                    conn.close()  # a transaction not committed is rolled back: never half-written
            except sqlite3.Error as exc:
                kind = _kind(exc, self.path)
                if kind == "locked" and time.monotonic() < deadline:
                    time.sleep(delay * (0.5 + random.random()))  # jitter: waiting kernels do not collide
                    delay = min(2 * delay, 0.05)
                    continue
                if kind == "read-only" and not write and not immutable:
                    # A WAL store in a folder this user may not write: SQLite cannot make the shared
                    # memory file a reader needs. Read the file as it is on disk instead (saves of
                    # another user still in its -wal file show once they are checkpointed).
                    immutable = True
                    continue
                raise ClassSetError(
                    _message(kind, self.path, doing, str(exc), self.timeout, self.max_bytes), kind, self.path
                ) from exc
            except OSError as exc:  # creating the folder, or checking the file
                kind = {
                    "EROFS": "read-only",
                    "EACCES": "read-only",
                    "EPERM": "read-only",
                    "ENOSPC": "full",
                    "EDQUOT": "full",
                }.get(_errno_name(exc), "unavailable")
                raise ClassSetError(
                    _message(kind, self.path, doing, str(exc), self.timeout, self.max_bytes), kind, self.path
                ) from exc

    def _schema_ok(self, conn: sqlite3.Connection, create: bool) -> bool:
        """Check the file is a class store this mnistlib can read; create the tables in a new file."""
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if app_id == APPLICATION_ID:
            if version > SCHEMA_VERSION:
                raise sqlite3.DatabaseError(
                    f"it was written by a newer mnistlib (format {version}; this one reads {SCHEMA_VERSION}): "
                    "update mnistlib"
                )
            return True
        tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if app_id != 0 or tables:
            raise sqlite3.DatabaseError("it is an SQLite file of another program, not a class store")
        if not create:
            return False
        for statement in SCHEMA.split(";"):  # not executescript(): it would COMMIT the open transaction
            if statement.strip():
                conn.execute(statement)
        conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        conn.execute("INSERT INTO meta VALUES ('created', ?)", (_created(None),))
        return True

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
        Raises ValueError for bad input, ClassSetError when the store cannot take it.
        """
        label = _check_label(label)
        student = self.student if student is None else str(student).strip()
        predicted, probabilities = _reading(prediction)
        record_uuid = str(uuidlib.UUID(uuid)) if uuid else str(uuidlib.uuid4())
        when = _created(created)
        strokes, raster, model_input = _drawing(image_or_strokes, canvas_size, brush)
        # Everything is computed before the transaction, so that it stays short.
        values = {
            "uuid": record_uuid,
            "label": label,
            "student": student,
            "created": when,
            "predicted": predicted,
            "probabilities": probabilities,
            "model": model_name,
            "model_input": model_input.tobytes(),
            "raster": _png(raster),
            "strokes": strokes,
        }
        row = tuple(values[name] for name in COLUMNS.split(", "))

        def insert(conn: sqlite3.Connection) -> int:
            if not ANONYMOUS.fullmatch(student) and not _nicknames_allowed(conn):
                raise _NicknameRefused
            return conn.execute(
                f"INSERT INTO drawings ({COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?)", row
            ).lastrowid

        _check_nickname(student)
        try:
            return self._run(True, "save the drawing", insert, -1)
        except _NicknameRefused:
            raise ValueError(
                f"{student!r} is not an anonymous student id, and this class store takes no nicknames. "
                "Use the pad's id (mnistlib.classset.new_student_id()), or the teacher can allow "
                "nicknames: cs.allow_nicknames = True."
            ) from None

    @property
    def allow_nicknames(self) -> bool:
        """Whether students may save under a nickname instead of an anonymous id (off unless the teacher allows)."""
        return self._run(False, "read the settings", _nicknames_allowed, False)

    @allow_nicknames.setter
    def allow_nicknames(self, allow: bool) -> None:
        self.set_metadata(allow_nicknames="1" if allow else "0")

    def metadata(self) -> dict[str, str]:
        """Return the store's metadata table (when it was created, settings, what a sample was made from)."""
        return self._run(
            False, "read the metadata", lambda c: dict(c.execute("SELECT key, value FROM meta")), {}
        )

    def set_metadata(self, **items: str) -> None:
        """Set metadata entries (strings), e.g. ``description="Class 4B, spring term"``."""
        rows = [(k, str(v)) for k, v in items.items()]
        self._run(
            True,
            "change the metadata",
            lambda c: c.executemany("REPLACE INTO meta VALUES (?, ?)", rows),
            None,
        )

    # ---- reading

    def __len__(self) -> int:
        return self._run(
            False, "count the drawings", lambda c: c.execute("SELECT count(*) FROM drawings").fetchone()[0], 0
        )

    def images(self, label: int | None = None, student: str | None = None) -> ClassImages:
        """Return the drawings' model inputs, labels, students, ids and readings as numpy arrays, by id.

        ``label`` or ``student`` keep only that digit's or that student's drawings.
        """
        where, params = _where(label, student)

        def read(conn: sqlite3.Connection) -> list[tuple]:
            sql = f"SELECT id, label, student, predicted, model_input FROM drawings{where} ORDER BY id"
            return conn.execute(sql, params).fetchall()

        rows = self._run(False, "read the drawings", read, [])
        images = np.frombuffer(b"".join(r[4] for r in rows), dtype=np.uint8).reshape(-1, 28, 28).copy()
        return ClassImages(
            images=images,
            labels=np.array([r[1] for r in rows], dtype=np.int64),
            students=np.array([r[2] for r in rows], dtype=str),
            ids=np.array([r[0] for r in rows], dtype=np.int64),
            predicted=np.array([-1 if r[3] is None else r[3] for r in rows], dtype=np.int64),
        )

    def get(self, record_id: int | str) -> Record:
        """Return one record (by id, or by UUID) with its strokes, raster and reading; KeyError if absent."""
        key = "uuid" if isinstance(record_id, str) else "id"
        sql = f"SELECT id, {COLUMNS} FROM drawings WHERE {key} = ?"
        row = self._run(
            False, f"read record {record_id}", lambda c: c.execute(sql, (record_id,)).fetchone(), None
        )
        if row is None:
            raise KeyError(f"There is no record {record_id!r} in {self.path}.")
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

    def counts(self) -> Counts:
        """Return how many drawings there are per digit and per student (students in order of first save)."""
        sql = "SELECT student, label, count(*), min(id) FROM drawings GROUP BY student, label ORDER BY 4"
        rows = self._run(False, "count the drawings", lambda c: c.execute(sql).fetchall(), [])
        per_digit, per_student = [0] * 10, {}
        for student, label, n, _ in rows:
            per_digit[label] += n
            per_student.setdefault(student, [0] * 10)[label] += n
        return Counts(per_digit, per_student)

    def check(self) -> None:
        """Check the whole file (SQLite's integrity check) and every record's contents; raise ClassSetError if damaged."""

        def run(conn: sqlite3.Connection) -> str:
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

        problem = self._run(False, "check the class store", run, "")
        if problem:
            raise ClassSetError(
                _message("corrupt", self.path, "check the class store", problem, self.timeout, None),
                "corrupt",
                self.path,
            )

    # ---- teacher tools

    def delete(self, record_id: int | str) -> None:
        """Delete one record (by id, or by UUID); KeyError if there is none. A later merge does not bring it back."""
        key = "uuid" if isinstance(record_id, str) else "id"

        def remove(conn: sqlite3.Connection) -> bool:
            row = conn.execute(f"SELECT uuid FROM drawings WHERE {key} = ?", (record_id,)).fetchone()
            if row is None:
                return False
            conn.execute("DELETE FROM drawings WHERE uuid = ?", row)
            conn.execute("INSERT OR IGNORE INTO deleted VALUES (?)", row)
            return True

        if not self._run(True, f"delete record {record_id}", remove, False):
            raise KeyError(f"There is no record {record_id!r} in {self.path}.")

    def merge(self, other: ClassSet | str | os.PathLike) -> int:
        """Add the records of another class store that this one lacks (by UUID); return how many were added.

        Merging the same store twice adds nothing the second time, and records deleted here stay
        deleted. The other store is only read.
        """
        other = other if isinstance(other, ClassSet) else ClassSet(other, read_only=True)
        if other.path.exists() and self.path.exists() and os.path.samefile(other.path, self.path):
            return 0
        sql = f"SELECT {COLUMNS} FROM drawings ORDER BY id"
        rows = other._run(False, "read the other class store", lambda c: c.execute(sql).fetchall(), [])

        def insert(conn: sqlite3.Connection) -> int:
            before = conn.total_changes
            conn.executemany(
                f"INSERT INTO drawings ({COLUMNS}) SELECT ?,?,?,?,?,?,?,?,?,? "
                "WHERE NOT EXISTS (SELECT 1 FROM deleted WHERE uuid = ?1) ON CONFLICT (uuid) DO NOTHING",
                rows,
            )
            return conn.total_changes - before

        return self._run(True, "merge the other class store", insert, 0) if rows else 0

    def export(self, path: str | os.PathLike, overwrite: bool = False) -> Path:
        """Write the drawings as a PNG folder per digit, as torchvision's ImageFolder reads it; return the folder.

        Layout: ``path/<digit>/<uuid>.png`` (the 28x28 model inputs, grey, ink bright), always all
        ten digit folders so that ImageFolder's class index is the digit (some may be empty: pass
        ``allow_empty=True``), and ``path/records.csv`` (file, id, uuid, label, student, created,
        predicted, model) for splitting by student. Written to a temporary folder beside ``path``
        and renamed into place, so ``path`` is always a whole export or absent. ``overwrite=True``
        replaces an earlier export (a folder holding records.csv), never another folder.
        """
        target = Path(path).expanduser().absolute()
        if target.exists() and not overwrite:
            raise FileExistsError(f"{target} already exists. Choose a new folder, or pass overwrite=True.")
        if target.exists() and not (target / "records.csv").is_file():
            raise FileExistsError(
                f"{target} exists and is not an earlier export (no records.csv): not replacing it."
            )
        sql = "SELECT id, uuid, label, student, created, model_input, predicted, model FROM drawings ORDER BY id"
        rows = self._run(False, "read the drawings", lambda c: c.execute(sql).fetchall(), [])
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
        try:
            for digit in range(10):
                (tmp / str(digit)).mkdir()
            with open(tmp / "records.csv", "w", newline="", encoding="utf-8") as f:
                writer = csv.writer(f)
                writer.writerow(["file", "id", "uuid", "label", "student", "created", "predicted", "model"])
                for rid, ruuid, label, student, created, model_input, predicted, model in rows:
                    name = f"{label}/{ruuid}.png"
                    image = np.frombuffer(model_input, dtype=np.uint8).reshape(28, 28)
                    Image.fromarray(image, "L").save(tmp / name, format="PNG")
                    writer.writerow(
                        [
                            name,
                            rid,
                            ruuid,
                            label,
                            student,
                            created,
                            "" if predicted is None else predicted,
                            model or "",
                        ]
                    )
            tmp.chmod(0o755)  # mkdtemp makes it private; an export is for sharing
            if target.exists():  # replace an earlier export: the old one is moved away, then removed
                old = target.with_name(f".{target.name}.{secrets.token_hex(4)}.old")
                target.rename(old)
                tmp.rename(target)
                shutil.rmtree(old, ignore_errors=True)
            else:
                tmp.rename(target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return target


class _NicknameRefused(Exception):
    """Raised inside the transaction, turned into a ValueError outside it."""


def _nicknames_allowed(conn: sqlite3.Connection) -> bool:
    row = conn.execute("SELECT value FROM meta WHERE key = 'allow_nicknames'").fetchone()
    return row is not None and row[0] == "1"


def _check_nickname(student: str) -> None:
    if not student or len(student) > MAX_NICKNAME or not student.isprintable():
        raise ValueError(
            f"A student id must be 1-{MAX_NICKNAME} printable characters, not {student!r}: "
            "use the pad's id (mnistlib.classset.new_student_id())."
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


def _errno_name(exc: OSError) -> str:
    return errno.errorcode.get(exc.errno or 0, "")
