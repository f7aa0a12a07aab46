"""The class store: its API, many kernels saving at once, kernels killed mid-save, and every kind of bad store.

Writers are forked processes, as kernels are separate processes. Tests run as root, for whom file
permissions do not apply, so the read-only store is tried by a child that drops to user "nobody".
"""

from __future__ import annotations

import multiprocessing as mp
import os
import random
import shutil
import signal
import sqlite3
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
import torch
from class_support import ONE, SEVEN, bar_image
from matplotlib.colors import same_color
from test_viz import room_problems

import mnistlib
from mnistlib.classroom import store as classset
from mnistlib.classroom.gallery import show_class_drawings
from mnistlib.classroom.store import KINDS, SAMPLE_CLASS, ClassStore, ClassStoreError, new_student_id
from mnistlib.classroom.strokes import Strokes
from mnistlib.preprocess import BlankImageError, to_mnist
from mnistlib.viz import WRONG_COLOR

FORK = mp.get_context("fork")


def as_uint8(x: np.ndarray) -> np.ndarray:
    return (np.clip(x, 0, 1) * 255).round().astype(np.uint8)


def pad_raster(strokes, brush: int = 18) -> np.ndarray:
    canvas = Strokes(brush=brush)
    canvas.strokes = [[tuple(p) for p in s] for s in strokes]
    return canvas.rasterize()


@pytest.fixture
def store(tmp_path: Path) -> ClassStore:
    return ClassStore(tmp_path / "class" / "class.sqlite", timeout=5)


# ----------------------------------------------------------------------------- the API


def test_strokes_record_holds_everything_the_pad_knows(store: ClassStore) -> None:
    probs = np.full(10, 0.02)
    probs[7] = 0.82
    student = new_student_id()
    rid = store.add(SEVEN, 7, student=student, prediction=(7, probs), model_name="mnist_cnn.pt")
    assert isinstance(rid, int) and len(store) == 1
    rec = store.get(rid)
    assert rec.label == 7 and rec.student == student and rec.model == "mnist_cnn.pt"
    assert rec.strokes == {
        "width": 280,
        "height": 280,
        "brush": 18,
        "strokes": [[list(p) for p in s] for s in SEVEN],
    }
    np.testing.assert_array_equal(rec.raster, pad_raster(SEVEN))
    np.testing.assert_array_equal(rec.model_input, as_uint8(to_mnist(pad_raster(SEVEN))))
    assert rec.predicted == 7 and np.allclose(rec.probabilities, probs)
    created = datetime.fromisoformat(rec.created)
    assert created.utcoffset() == timedelta(0) and abs(datetime.now(timezone.utc) - created) < timedelta(
        minutes=1
    )
    assert store.get(rec.uuid).id == rid  # by UUID too


def test_a_prediction_object_and_the_pads_strokes_are_taken_as_they_are(
    store: ClassStore, shipped_cnn
) -> None:
    pad = Strokes(brush=24)
    for stroke in ONE:
        pad.add_stroke(stroke)
    reading = mnistlib.predict(shipped_cnn, pad.rasterize())
    rec = store.get(store.add(pad, 1, prediction=reading, model_name="cnn"))
    assert rec.strokes["brush"] == 24 and rec.predicted == reading.digit
    np.testing.assert_allclose(rec.probabilities, reading.probabilities, atol=1e-5)
    np.testing.assert_array_equal(rec.raster, pad.rasterize())


def test_a_picture_is_stored_without_strokes(store: ClassStore) -> None:
    rec = store.get(store.add(bar_image(), 1))
    assert rec.strokes is None and rec.predicted is None and rec.probabilities is None
    assert rec.raster.shape == (100, 80)
    np.testing.assert_array_equal(rec.model_input, as_uint8(to_mnist(bar_image())))


def test_images_are_uint8_arrays_with_labels_students_ids_and_readings(store: ClassStore) -> None:
    a, b = new_student_id(), new_student_id()
    ids = [store.add(SEVEN, 7, a, prediction=(1, np.eye(10)[1])), store.add(ONE, 1, b), store.add(ONE, 1, a)]
    data = store.images()
    assert data.images.shape == (3, 28, 28) and data.images.dtype == np.uint8 and data.images.max() == 255
    assert data.labels.tolist() == [7, 1, 1] and data.labels.dtype == np.int64
    assert data.students.tolist() == [a, b, a] and data.ids.tolist() == ids
    assert data.predicted.tolist() == [1, -1, -1]
    np.testing.assert_array_equal(data.images[0], store.get(ids[0]).model_input)
    assert store.images(label=1).ids.tolist() == ids[1:]
    assert store.images(student=a, label=1).ids.tolist() == [ids[2]]
    assert torch.from_numpy(data.images).shape == (3, 28, 28)  # as load_mnist's images, once converted


def test_an_empty_or_missing_store_reads_as_empty_and_creates_nothing(tmp_path: Path) -> None:
    cs = ClassStore(tmp_path / "nowhere" / "class.sqlite")
    assert len(cs) == 0 and cs.images().images.shape == (0, 28, 28) and cs.counts().total == 0
    assert not (tmp_path / "nowhere").exists()


@pytest.mark.parametrize(
    ("drawing", "label", "student", "error", "words"),
    [
        (SEVEN, 10, None, ValueError, "digit 0-9"),
        (SEVEN, True, None, ValueError, "digit 0-9"),
        (SEVEN, "7", None, ValueError, "digit 0-9"),
        ([], 3, None, BlankImageError, "no ink"),
        ([[(1, 2, 3)]], 3, None, ValueError, "not a list of"),
        ([[(1.0, float("nan"))]], 3, None, ValueError, "NaN"),
        (np.zeros((50, 50), np.uint8), 3, None, BlankImageError, "no ink"),
        (SEVEN, 7, "Zoe", ValueError, "takes no nicknames"),
        (SEVEN, 7, "x" * 40, ValueError, "printable characters"),
    ],
)
def test_bad_input_is_a_value_error_and_writes_nothing(store, drawing, label, student, error, words) -> None:
    with pytest.raises(error, match=words):
        store.add(drawing, label, student)
    assert len(store) == 0


def test_nicknames_only_when_the_teacher_allows_them(store: ClassStore) -> None:
    assert store.allow_nicknames is False
    with pytest.raises(ValueError, match="allow nicknames"):
        store.add(SEVEN, 7, "Zoe")
    store.allow_nicknames = True
    assert ClassStore(store.path).allow_nicknames is True  # a setting of the store, for every pad
    assert store.get(store.add(SEVEN, 7, "Zoe")).student == "Zoe"


def test_default_folder_comes_from_the_environment(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MNISTLIB_CLASS_DIR", str(tmp_path / "shared"))
    assert ClassStore().path == tmp_path / "shared" / "class.sqlite"
    monkeypatch.delenv("MNISTLIB_CLASS_DIR")
    assert ClassStore().path == mnistlib.paths.DATA_DIR / "class" / "class.sqlite"
    assert ClassStore(tmp_path).path == tmp_path / "class.sqlite"  # a folder means its class.sqlite
    assert mnistlib.ClassStore is ClassStore and mnistlib.ClassStoreError is ClassStoreError


def test_counts_per_digit_and_per_student_and_delete(store: ClassStore) -> None:
    a, b = new_student_id(), new_student_id()
    ids = [store.add(SEVEN, 7, a), store.add(ONE, 1, a), store.add(ONE, 1, b), store.add(SEVEN, 7, b)]
    counts = store.counts()
    assert counts.per_digit == [0, 2, 0, 0, 0, 0, 0, 2, 0, 0] and counts.total == 4
    assert counts.per_student == {a: [0, 1, 0, 0, 0, 0, 0, 1, 0, 0], b: [0, 1, 0, 0, 0, 0, 0, 1, 0, 0]}
    assert a in str(counts) and "total" in str(counts)
    store.delete(ids[0])
    store.delete(store.get(ids[2]).uuid)
    assert store.images().ids.tolist() == [ids[1], ids[3]]
    with pytest.raises(KeyError, match="no record"):
        store.delete(ids[0])


def test_merge_adds_each_record_once_and_keeps_deleted_ones_out(tmp_path: Path) -> None:
    ours, theirs = ClassStore(tmp_path / "a.sqlite"), ClassStore(tmp_path / "b.sqlite")
    ours.add(SEVEN, 7)
    their_ids = [theirs.add(ONE, 1), theirs.add(SEVEN, 7), theirs.add(bar_image(), 1)]
    assert ours.merge(theirs) == 3 and len(ours) == 4
    assert ours.merge(tmp_path / "b.sqlite") == 0 and len(ours) == 4  # idempotent, by path too
    assert ours.merge(ours) == 0
    assert sorted(ours.images().labels.tolist()) == [1, 1, 7, 7]
    uuid = theirs.get(their_ids[0]).uuid
    merged = ours.get(uuid)
    np.testing.assert_array_equal(merged.raster, theirs.get(their_ids[0]).raster)
    assert merged.strokes == theirs.get(their_ids[0]).strokes and merged.created == theirs.get(uuid).created
    ours.delete(uuid)  # junk the teacher removed stays removed
    assert ours.merge(theirs) == 0 and len(ours) == 3
    assert len(theirs) == 3  # the other store is only read


def test_gallery_shows_ids_and_labels_and_marks_misread_drawings(store: ClassStore) -> None:
    ok = store.add(SEVEN, 7, prediction=(7, np.eye(10)[7]))
    wrong = store.add(ONE, 1, prediction=(7, np.eye(10)[7]))
    fig = show_class_drawings(store.images(), title="Ours")
    right, misread = fig.axes
    assert right.get_title() == f"#{ok}: 7" and same_color(right.title.get_color(), "black")
    assert misread.get_title() == f"#{wrong}: 1\n✗ read 7"
    assert same_color(misread.title.get_color(), WRONG_COLOR)
    assert misread.spines["left"].get_visible() and not right.spines["left"].get_visible()  # a frame, too
    assert room_problems(fig) == []  # renders, 12 pt text, no red beside green
    assert "none yet" in show_class_drawings(store.images(label=3))._suptitle.get_text()


# ----------------------------------------------------------------------------- many kernels at once


def _writer(path: str, student: str, n: int, start, out) -> None:
    cs = ClassStore(path)
    start.wait()
    out.send([cs.add(ONE if i % 2 else SEVEN, 1 if i % 2 else 7, student) for i in range(n)])


def test_thirty_kernels_saving_at_once_lose_nothing(tmp_path: Path) -> None:
    writers, per_writer = 30, 3
    path = str(tmp_path / "class.sqlite")  # a fresh file: the writers also race to create it
    start = FORK.Event()
    students = [new_student_id() for _ in range(writers)]
    pipes = [FORK.Pipe(duplex=False) for _ in range(writers)]
    procs = [
        FORK.Process(target=_writer, args=(path, s, per_writer, start, w))
        for s, (_, w) in zip(students, pipes)
    ]
    for p in procs:
        p.start()
    began = time.perf_counter()
    start.set()
    returned = [r.recv() for r, _ in pipes]
    elapsed = time.perf_counter() - began
    for p in procs:
        p.join(10)
        assert p.exitcode == 0
    cs = ClassStore(path)
    ids = [i for chunk in returned for i in chunk]
    assert len(cs) == writers * per_writer and sorted(ids) == sorted(cs.images().ids.tolist())
    assert all(sum(row) == per_writer for row in cs.counts().per_student.values())
    assert set(cs.counts().per_student) == set(students)
    cs.check()
    print(f"{writers} writers x {per_writer} records: {elapsed:.2f} s", file=sys.stderr)


def _saver_until_killed(path: str, out_fd: int) -> None:
    cs = ClassStore(path)
    while True:
        rid = cs.add(SEVEN, 7, prediction=(7, np.eye(10)[7]))
        os.write(out_fd, f"{rid}\n".encode())  # reported only once add() has returned: committed


def test_killing_writers_mid_save_loses_no_saved_record_and_corrupts_nothing(tmp_path: Path) -> None:
    path = str(tmp_path / "class.sqlite")
    rng = random.Random(0)
    reported: list[int] = []
    kills = 8
    for _ in range(kills):
        read_fd, write_fd = os.pipe()
        child = FORK.Process(target=_saver_until_killed, args=(path, write_fd))
        child.start()
        os.close(write_fd)
        time.sleep(rng.uniform(0.1, 0.3))
        os.kill(child.pid, signal.SIGKILL)
        child.join()
        with os.fdopen(read_fd) as f:
            reported += [int(line) for line in f.read().split()]
    cs = ClassStore(path)
    stored = set(cs.images().ids.tolist())
    assert reported and set(reported) <= stored  # every save that returned is there
    assert len(stored) - len(reported) <= kills  # at most the one in flight at each kill
    cs.check()  # SQLite's integrity check, and every record whole
    assert cs.add(ONE, 1) > max(stored)  # no lock left behind


def _hang_before_commit(path: str) -> None:
    real_connect = sqlite3.connect

    def connect(*args, **kwargs):
        conn = real_connect(*args, **kwargs)
        conn.set_trace_callback(lambda sql: time.sleep(60) if sql == "COMMIT" else None)
        return conn

    classset.sqlite3.connect = connect  # only in this child process
    ClassStore(path).add(ONE, 1)


def test_a_kernel_killed_inside_its_save_leaves_no_half_record_and_no_lock(store: ClassStore) -> None:
    store.add(SEVEN, 7)
    child = FORK.Process(target=_hang_before_commit, args=(str(store.path),))
    child.start()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # wait until the child holds the write lock, in its transaction
        probe = sqlite3.connect(store.path, timeout=0, isolation_level=None)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.execute("ROLLBACK")
            time.sleep(0.02)
        except sqlite3.OperationalError:
            break
        finally:
            probe.close()
    else:
        pytest.fail("the child never started its save")
    os.kill(child.pid, signal.SIGKILL)
    child.join()
    assert store.images().labels.tolist() == [7]  # the killed save left nothing
    store.check()
    store = ClassStore(store.path, timeout=1)
    assert len(store.images(label=1).ids) == 0 and store.add(ONE, 1)  # and no lock


# ----------------------------------------------------------------------------- bad stores


def assert_store_error(exc_info, kind: str, *words: str) -> None:
    error = exc_info.value
    assert error.kind == kind and kind in KINDS and isinstance(error.path, Path)
    text = str(error)
    assert text.startswith("Could not ") and str(error.path) in text
    for word in words:
        assert word in text, f"{word!r} not in: {text}"


def test_a_locked_store_says_busy_and_works_once_released(store: ClassStore) -> None:
    store.add(SEVEN, 7)
    store = ClassStore(store.path, timeout=0.3)
    holder = sqlite3.connect(store.path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another program in the middle of a write
    began = time.perf_counter()
    with pytest.raises(ClassStoreError) as exc_info:
        store.add(ONE, 1)
    assert 0.25 < time.perf_counter() - began < 3  # it waited, then gave up
    assert_store_error(exc_info, "locked", "busy", "Try again", "nothing was saved half-way")
    assert len(store) == 1  # WAL: reading goes on while another writes
    holder.execute("COMMIT")
    store.add(ONE, 1)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")  # a program that keeps the whole file to itself
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("COMMIT")
    with pytest.raises(ClassStoreError) as exc_info:
        len(store)
    assert_store_error(exc_info, "locked", "Could not count the drawings")
    holder.close()
    assert len(store) == 2


def test_a_corrupt_store_says_damaged_and_a_new_one_starts_once_it_is_moved_aside(tmp_path: Path) -> None:
    path = tmp_path / "class.sqlite"
    path.write_bytes(random.Random(0).randbytes(20_000))
    cs = ClassStore(path)
    assert cs  # a handle: truthy without reading the file
    for operation in (lambda: cs.add(SEVEN, 7), lambda: len(cs), cs.images, cs.counts):
        with pytest.raises(ClassStoreError) as exc_info:
            operation()
        assert_store_error(exc_info, "corrupt", "damaged", "rename the file aside")
    assert path.stat().st_size == 20_000  # untouched: the teacher may want to rescue it
    path.rename(tmp_path / "class.damaged.sqlite")
    assert cs.add(SEVEN, 7) and len(cs) == 1


def test_damaged_pages_are_found_by_check_and_a_restored_copy_works(
    store: ClassStore, tmp_path: Path
) -> None:
    for i in range(12):
        store.add(SEVEN if i % 2 else ONE, 7 if i % 2 else 1)
    store.check()
    backup = tmp_path / "backup.sqlite"
    shutil.copy(store.path, backup)
    with open(store.path, "r+b") as f:  # a disk fault: garbage over pages 2-5
        f.seek(4096)
        f.write(random.Random(1).randbytes(4 * 4096))
    with pytest.raises(ClassStoreError) as exc_info:
        store.check()
    assert_store_error(exc_info, "corrupt", "damaged")
    shutil.copy(backup, store.path)
    store.check()
    assert len(store) == 12 and store.add(ONE, 1)


def test_a_file_of_another_program_or_an_unreachable_folder_is_unavailable(tmp_path: Path) -> None:
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE notes (text)")
    conn.close()
    with pytest.raises(ClassStoreError) as exc_info:
        ClassStore(other).add(SEVEN, 7)
    assert_store_error(exc_info, "unavailable", "another program")
    newer = ClassStore(tmp_path / "newer.sqlite")
    newer.add(SEVEN, 7)
    with sqlite3.connect(newer.path) as conn:
        conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(ClassStoreError) as exc_info:
        len(newer)
    assert_store_error(exc_info, "unavailable", "newer mnistlib")
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(ClassStoreError) as exc_info:
        ClassStore(tmp_path / "file" / "class.sqlite").add(SEVEN, 7)
    assert_store_error(exc_info, "unavailable", "MNISTLIB_CLASS_DIR")


def test_a_full_store_says_full_keeps_what_it_had_and_works_once_there_is_room(tmp_path: Path) -> None:
    # max_bytes applies PRAGMA max_page_count to each connection: SQLite then fails as on a full disk.
    cs = ClassStore(tmp_path / "class.sqlite", max_bytes=48 * 1024)
    saved = 0
    with pytest.raises(ClassStoreError) as exc_info:
        for _ in range(100):
            cs.add(SEVEN, 7)
            saved += 1
    assert_store_error(exc_info, "full", "full", "free space", "nothing was saved half-way")
    assert saved > 0 and len(cs) == saved
    cs.check()
    cs = ClassStore(cs.path)  # the teacher made room
    cs.add(SEVEN, 7)
    assert len(cs) == saved + 1


def test_a_store_opened_read_only_refuses_to_write_but_reads(store: ClassStore) -> None:
    store.add(SEVEN, 7)
    looking = ClassStore(store.path, read_only=True)
    with pytest.raises(ClassStoreError) as exc_info:
        looking.add(ONE, 1)
    assert_store_error(exc_info, "read-only", "read_only=True")
    with pytest.raises(ClassStoreError):
        looking.delete(1)
    assert len(looking) == 1 and looking.images().labels.tolist() == [7]


def _as_nobody(path: str, conn) -> None:
    """In a child: become "nobody" (when root), try the store, report, wait for a go, try again."""
    if os.geteuid() == 0:
        os.setgid(65534)
        os.setuid(65534)
    cs = ClassStore(path, timeout=2)
    try:
        cs.add(ONE, 1)
        first = ("saved", "")
    except ClassStoreError as exc:
        first = (exc.kind, str(exc))
    conn.send((first, len(cs), cs.images().labels.tolist()))
    conn.recv()  # the teacher fixed the permissions
    conn.send((cs.add(ONE, 1), len(cs)))


def test_a_read_only_folder_says_read_only_reads_fine_and_works_once_writable() -> None:
    folder = Path(tempfile.mkdtemp(prefix="h3-readonly-", dir="/tmp"))  # /tmp: reachable for nobody
    try:
        folder.chmod(0o755)
        path = folder / "class.sqlite"
        ClassStore(path).add(SEVEN, 7)
        path.chmod(0o444)
        folder.chmod(0o555)
        parent, child_end = FORK.Pipe()
        child = FORK.Process(target=_as_nobody, args=(str(path), child_end))
        child.start()
        (kind, message), count, labels = parent.recv()
        assert kind == "read-only" and "writable" in message and str(path) in message
        assert count == 1 and labels == [7]  # reading a read-only store works
        folder.chmod(0o777)
        path.chmod(0o666)
        parent.send("go")
        rid, count = parent.recv()
        child.join(10)
        assert rid == 2 and count == 2 and child.exitcode == 0
    finally:
        folder.chmod(0o755)
        shutil.rmtree(folder)


# ----------------------------------------------------------------------------- the shipped sample


def test_the_sample_class_says_it_was_drawn_by_a_script() -> None:
    before = set(SAMPLE_CLASS.parent.iterdir())
    cs = classset.sample_class()
    meta = cs.metadata()
    assert (
        meta["synthetic"] == "1"
        and "drawing strokes" in meta["description"]
        and "not by children" in meta["description"]
    )
    counts = cs.counts()
    assert counts.total == 300 and len(counts.per_student) == 10
    assert all(row == [3] * 10 for row in counts.per_student.values())
    assert set(SAMPLE_CLASS.parent.iterdir()) == before  # reading it leaves no -wal or -shm files
    assert SAMPLE_CLASS.stat().st_size < 800_000


def test_sample_records_are_what_the_pad_makes_of_their_strokes() -> None:
    cs = classset.sample_class()
    for rid in (1, 150, 300):
        rec = cs.get(rid)
        raster = pad_raster(rec.strokes["strokes"], rec.strokes["brush"])
        np.testing.assert_array_equal(rec.raster, raster)
        np.testing.assert_array_equal(rec.model_input, as_uint8(to_mnist(raster)))
        assert rec.model == "mnist_cnn.pt" and rec.predicted is not None


def test_the_shipped_cnn_reads_the_sample_well_but_not_perfectly(shipped_cnn) -> None:
    data = classset.sample_class().images()
    with torch.inference_mode():
        predicted = shipped_cnn(torch.from_numpy(data.images).float().div(255).unsqueeze(1)).argmax(1).numpy()
    accuracy = (predicted == data.labels).mean()
    assert 0.8 <= accuracy <= 0.97
    assert (predicted == data.predicted).mean() > 0.97  # the stored readings are this model's


def test_sample_tool_draws_the_same_strokes_for_a_seed() -> None:
    sys.path.insert(0, str(mnistlib.paths.REPO_ROOT / "tools"))
    try:
        import make_sample_class as tool
    finally:
        sys.path.pop(0)
    draws = []
    for _ in range(2):
        rng = np.random.default_rng(5)
        style = tool.student_style(rng)
        draws.append([tool.draw(d, style, rng) for d in range(10)])
    assert draws[0] == draws[1]
    assert all(0 <= c <= 279 for digit in draws[0] for s in digit for p in s for c in p)
