"""The class store's SQLite plumbing: connections, WAL and pragmas, transactions, errors named by kind.

``mnistlib.classroom.store.ClassStore`` keeps a ``StoreFile``: each operation calls ``run(write, doing, fn,
empty)``, which opens a fresh connection, runs ``fn(conn)`` in one transaction, waits and retries
while another kernel holds the write lock, and turns every problem of the file into a
``ClassStoreError`` whose ``kind`` is one of KINDS and whose message says what to do.
"""

from __future__ import annotations

import errno
import os
import random
import sqlite3
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote

T = TypeVar("T")


APPLICATION_ID = 0x4D4E4353  # "MNCS" in the file header: this file is a class store
SCHEMA_VERSION = 1
TIMEOUT = 10.0  # s a save waits for a busy store: 30 kernels' saves take well under a second in all
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


class ClassStoreError(Exception):
    """The class store cannot be used right now; ``kind`` is one of KINDS and the message says what to do."""

    def __init__(self, message: str, kind: str, path: Path) -> None:
        super().__init__(message)
        self.kind, self.path = kind, path


def utc_timestamp(moment: datetime | None = None) -> str:
    """Return ``moment`` (by default now) in UTC, ISO 8601 to the millisecond, as the store keeps times."""
    moment = datetime.now(timezone.utc) if moment is None else moment
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds")


class StoreFile:
    """One SQLite class-store file, opened afresh for each operation so a replaced or repaired file is seen at once.

    ``read_only=True`` never writes; ``timeout``: seconds a busy store is waited for; ``max_bytes``
    caps the file's size (a quota; beyond it a save fails as on a full disk).
    """

    def __init__(self, path: Path, read_only: bool, timeout: float, max_bytes: int | None) -> None:
        self.path = path
        self.read_only, self.timeout, self.max_bytes = read_only, timeout, max_bytes

    def error(self, kind: str, doing: str, detail: str, max_bytes: int | None = None) -> ClassStoreError:
        """Return the ClassStoreError of a ``kind`` of problem met while trying to ``doing``."""
        return ClassStoreError(
            _message(kind, self.path, doing, detail, self.timeout, max_bytes), kind, self.path
        )

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

    def run(self, write: bool, doing: str, fn: Callable[[sqlite3.Connection], T], empty: T) -> T:
        """Run ``fn`` in one transaction on a fresh connection; retry while busy; map errors to ClassStoreError.

        A write transaction is BEGIN IMMEDIATE: it takes the write lock first, so it never has to
        upgrade a read lock, the one case in which SQLite reports "busy" without waiting. Reads of
        a store that does not exist yet return ``empty`` and create nothing.
        """
        if write and self.read_only:
            raise ClassStoreError(
                f"Could not {doing}: this class store {self.path} was opened with read_only=True, for "
                "looking only. Open it with ClassStore(path) to change it (or copy a shipped sample first).",
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
                raise self.error(kind, doing, str(exc), self.max_bytes) from exc
            except OSError as exc:  # creating the folder, or checking the file
                kind = {
                    "EROFS": "read-only",
                    "EACCES": "read-only",
                    "EPERM": "read-only",
                    "ENOSPC": "full",
                    "EDQUOT": "full",
                }.get(_errno_name(exc), "unavailable")
                raise self.error(kind, doing, str(exc), self.max_bytes) from exc

    def fetch_all(self, doing: str, sql: str, params: tuple = ()) -> list[tuple]:
        """Return all rows of one query, read in one transaction (none if the store does not exist yet)."""
        return self.run(False, doing, lambda c: c.execute(sql, params).fetchall(), [])

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
        conn.execute("INSERT INTO meta VALUES ('created', ?)", (utc_timestamp(),))
        return True


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
    """Return the message of a ClassStoreError: what happened, then what the student and the teacher can do."""
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
        "unavailable": "Tell the teacher: check that MNISTLIB_CLASS_DIR (or the path given to ClassStore) "
        "names a folder this kernel can reach, holding a class store or nothing.",
    }[kind]
    return f"Could not {doing}: the class store {path} is {what}. {todo}"


def _errno_name(exc: OSError) -> str:
    return errno.errorcode.get(exc.errno or 0, "")
