"""The class server's limits, piece by piece, without a server: frames, pace, the class code, the pool's cap,
the kernel's memory ceiling, and the pad's, collect mode's and the class store's caps.

tests/test_attacks.py drives the same limits through a real server; these pin their edges.
"""

from __future__ import annotations

import asyncio
import csv
import datetime
import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from PIL import Image

from mnistlib.classroom.collect import Collector
from mnistlib.classroom.store import MAX_POINTS, ClassStore, ClassStoreError, looks_anonymous
from mnistlib.classroom.store_export import spreadsheet_safe, write_export
from mnistlib.classroom.strokes import MAX_BATCH_POINTS, MAX_UPLOAD_BYTES, Strokes, clean_points
from mnistlib.paths import REPO_ROOT

CONFIG = REPO_ROOT / "app" / "config"
SEVEN = [[(60.0, 50.0), (220.0, 50.0), (130.0, 240.0)], [(90.0, 140.0), (180.0, 140.0)]]
sys.path.insert(0, str(CONFIG))
sys.path.insert(0, str(REPO_ROOT / "app" / "fork" / "kernels" / "python3"))
import app_pool
import class_code
import fork_kernel
import kernel_socket
from kernel_socket import BadFrame, Pace, parse_v1, refusal


def frame(channel: str, msg_type: str, content: dict, buffers: tuple[bytes, ...] = ()) -> bytes:
    """Build a v1 frame exactly as the page's @jupyterlab/services does."""
    header = {"msg_id": "1", "msg_type": msg_type, "session": "s", "username": "", "version": "5.3"}
    parts = [channel.encode()] + [json.dumps(x).encode() for x in (header, {}, {}, content)] + list(buffers)
    offsets = [8 * (len(parts) + 2)]
    for part in parts:
        offsets.append(offsets[-1] + len(part))
    return b"".join([len(offsets).to_bytes(8, "little"), *(o.to_bytes(8, "little") for o in offsets), *parts])


# ---- kernel websocket frames -----------------------------------------------------------------------


def test_a_pages_frames_parse_with_or_without_buffers():
    parsed = parse_v1(frame("shell", "comm_msg", {"comm_id": "c", "data": {}}, (b"\x89PNG" * 10, b"")))
    assert (parsed.channel, parsed.msg_type) == ("shell", "comm_msg")
    assert json.loads(parsed.content) == {"comm_id": "c", "data": {}}


def test_every_malformed_frame_is_refused_without_trusting_its_numbers():
    good = frame("shell", "comm_msg", {"comm_id": "c"})
    n = int.from_bytes(good[:8], "little")

    def with_offset(i: int, value: int) -> bytes:
        return good[: 8 * (i + 1)] + value.to_bytes(8, "little") + good[8 * (i + 2) :]

    bad = {
        "text": good.decode("latin-1"),
        "short": good[:5],
        "count": (2**56 - 1).to_bytes(8, "little") + good[8:],
        "few offsets": (5).to_bytes(8, "little") + good[8:],
        "truncated": good[: 8 * n],
        "first offset": with_offset(0, 8),
        "decreasing": with_offset(3, 10),
        "past the end": with_offset(n - 1, len(good) + 1),
        "before the end": with_offset(n - 1, len(good) - 1),
        "channel": frame("iopub", "comm_msg", {}),
        "header": frame("shell", "comm_msg", {}).replace(b'"msg_type"', b'"msg_typo"'),
        "json": frame("shell", "comm_msg", {"x": "a" * (kernel_socket.MAX_JSON_BYTES + 1)}),
        "buffers": frame("shell", "comm_msg", {}, (b"b",) * (kernel_socket.MAX_BUFFERS + 1)),
    }
    for name, data in bad.items():
        with pytest.raises(BadFrame):
            parse_v1(data)
            pytest.fail(f"{name} was accepted")


def test_only_what_a_page_sends_passes():
    assert refusal(parse_v1(frame("shell", "comm_msg", {}))) is None
    control = {"comm_id": "c", "target_name": "jupyter.widget.control", "data": {}}
    assert refusal(parse_v1(frame("shell", "comm_open", control))) is None
    for msg_type in ("execute_request", "shutdown_request", "input_reply", "debug_request"):
        assert msg_type in refusal(parse_v1(frame("shell", msg_type, {})))
    widget = {"comm_id": "c", "target_name": "jupyter.widget", "data": {}}
    assert "jupyter.widget" in refusal(parse_v1(frame("shell", "comm_open", widget)))


def test_pace_lets_a_burst_through_and_holds_a_flood():
    clock = [0.0]
    pace = Pace(
        messages_per_s=10, message_burst=20, bytes_per_s=1000, byte_burst=5000, clock=lambda: clock[0]
    )
    assert sum(pace.take(10) for _ in range(50)) == 20
    clock[0] += 1
    assert sum(pace.take(10) for _ in range(50)) == 10
    clock[0] += 100
    assert pace.take(5000) and not pace.take(1)  # the byte bucket: 5000 at most at once
    clock[0] += 100
    assert not pace.take(5001)


# ---- the class code ----------------------------------------------------------------------------------


def test_a_class_code_is_required_on_the_network_and_chosen_or_made():
    assert class_code.class_code("", "localhost") is None
    assert class_code.class_code("", "127.0.0.1") is None
    made = class_code.class_code("", "0.0.0.0")
    assert made and len(made) == 14 and set(made) <= set(class_code.ALPHABET + "-")
    assert class_code.class_code("", "0.0.0.0") != made
    assert class_code.class_code("blue-fox-42", "0.0.0.0") == "blue-fox-42"
    assert class_code.class_code("none", "0.0.0.0") is None
    assert class_code.class_code("auto", "localhost")
    assert class_code.class_code("", "127.0.0.1", proxied=True), (
        "a proxy forwards the class: a code is needed"
    )


def test_the_teacher_gets_the_students_link_and_a_qr_code():
    url = class_code.students_url("0.0.0.0", 8866, "k7q2-m9xa-3fpt")
    assert url.startswith("http://") and url.endswith(":8866/?token=k7q2-m9xa-3fpt")
    assert (
        class_code.students_url("127.0.0.1", 1, None, "https://class.example.org")
        == "https://class.example.org/"
    )
    out = io.StringIO()
    class_code.announce(url, "k7q2-m9xa-3fpt", loopback=False, out=out)
    text = out.getvalue()
    assert f"Students open: {url}" in text and "Class code: k7q2-m9xa-3fpt" in text
    assert text.count("\u2588") > 100, "no QR code"
    out = io.StringIO()
    class_code.announce("http://127.0.0.1:8866/", None, loopback=True, out=out)
    assert "this computer only" in out.getvalue() and "HOST=0.0.0.0" in out.getvalue()


def test_a_hubs_servers_read_the_settings_students_need_and_none_of_the_standalone_guards():
    """JupyterHub's single-user servers load app/config/voila.py too (deploy/jupyterhub_config.d)."""
    script = (
        "import json, sys; from traitlets.config.loader import PyFileConfigLoader; "
        f"c = PyFileConfigLoader('voila.py', {str(CONFIG)!r}).load_config(); "
        "print(json.dumps({k: dict(v) for k, v in c.items()}, default=str))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    config = json.loads(done.stdout)  # in its own process: the file sets environment variables
    assert config["VoilaConfiguration"]["show_tracebacks"] is False
    assert config["VoilaConfiguration"]["allow_theme_override"] == "NO"
    assert config["VoilaConfiguration"]["allow_template_override"] == "NO"
    assert "multi_kernel_manager_class" not in config["VoilaConfiguration"]
    assert "Voila" not in config and "ClassKernelManager" not in config


def test_a_websocket_message_takes_the_biggest_upload_and_little_more():
    text = (CONFIG / "voila.py").read_text()
    assert '"websocket_max_message_size": 11 * 2**20' in text
    assert MAX_UPLOAD_BYTES < 11 * 2**20 < MAX_UPLOAD_BYTES + 2 * 2**20


# ---- the pool under a cap on kernels -----------------------------------------------------------------

NB = "app.ipynb"


class CappedPool:
    """The part of Voila's pooled kernel manager that serial_refill builds on, with ClassKernelManager's cap."""

    def __init__(self, size: int, max_kernels: int) -> None:
        self.size, self.max_kernels, self.running = size, max_kernels, 0
        self.last_kernel_activity = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1)
        self._pools: dict[str, list] = {}
        self.fill_if_needed()

    def kernel_count(self) -> int:
        return self.running

    def fill_if_needed(self) -> None:
        pool = self._pools.setdefault(NB, [])
        while len(pool) < self.size:
            pool.append(asyncio.ensure_future(self._initialize(NB)))

    async def _initialize(self, notebook_path: str, kernel_id: str | None = None, **kwargs) -> dict:
        self.running += 1
        return {"task": asyncio.ensure_future(asyncio.sleep(0.01)), "kernel_id": f"k{self.running}"}

    async def get_rendered_notebook(self, notebook_name: str, **kwargs) -> dict:
        content = await self._pools[notebook_name].pop(0)
        self.fill_if_needed()
        return content


def test_refills_wait_for_room_and_the_page_handler_sees_only_kernels_it_can_take():
    Pool = app_pool.serial_refill(CappedPool, quiet=0.01, poll=0.01)

    async def scenario() -> list:
        manager = Pool(size=3, max_kernels=4)
        await asyncio.wait_for(asyncio.gather(*manager._pools[NB]), 5)
        seen = [manager.get_pool_size(NB)]  # 3 ready
        for _ in range(3):
            await manager.get_rendered_notebook(NB)  # three pages take them; three refills queue
        await asyncio.sleep(0.3)
        seen += [manager.kernel_count(), manager.get_pool_size(NB)]  # one refill started: 4 kernels, the cap
        manager.running -= 2  # two pages closed
        await asyncio.sleep(0.3)
        seen += [manager.kernel_count(), manager.get_pool_size(NB)]
        return seen

    assert asyncio.run(scenario()) == [3, 4, 1, 4, 3]


# ---- a kernel's memory ceiling -------------------------------------------------------------------------


def test_a_kernel_over_its_memory_ceiling_is_killed_by_its_launcher(monkeypatch):
    """fork_kernel.watch_memory, watching a process that takes 60 MB with a ceiling of 30."""
    monkeypatch.setenv(fork_kernel.MEMORY_ENV, "30")
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; sys.stdin.readline(); x = bytearray(60 << 20); time.sleep(30)",
        ],
        stdin=subprocess.PIPE,
    )
    ours, theirs = socket.socketpair()
    watcher = threading.Thread(target=fork_kernel.watch_memory, args=(ours, child.pid, "kernel-test.json"))
    try:
        time.sleep(0.5)  # the child has started: the watcher's baseline
        watcher.start()
        time.sleep(0.5)
        child.stdin.write(b"go\n")
        child.stdin.flush()
        assert child.wait(10) == -signal.SIGKILL
        theirs.close()  # as a dead kernel's end of the launcher's socket does
        watcher.join(5)
        assert not watcher.is_alive()
    finally:
        if child.poll() is None:
            child.kill()
        ours.close()


def test_a_kernel_under_its_ceiling_is_left_alone():
    assert fork_kernel.over_ceiling(os.getpid(), fork_kernel._memory()[1], 2**30) is None
    assert fork_kernel.over_ceiling(os.getpid(), 0, 1) is not None
    assert fork_kernel.over_ceiling(2**22 + 12345, 0, 1) is None  # no such process


# ---- the pad's points ------------------------------------------------------------------------------------


def test_a_page_s_points_are_checked_and_capped():
    points, left_out = clean_points(
        [[1, 2], [3, "a"], [1e308, 5], [float("nan"), 1], [True, 2], (1, 2, 3), "xy"]
    )
    assert points == [(1.0, 2.0), (1120.0, 5.0)] and left_out == 5
    assert clean_points("not a list") == ([], 1)
    points, left_out = clean_points([[float(i), 0.0] for i in range(MAX_BATCH_POINTS + 100)])
    assert len(points) == MAX_BATCH_POINTS and left_out == 100


def test_a_stroke_and_a_pad_hold_a_bounded_number_of_points():
    strokes = Strokes(max_points=10, max_strokes=3)
    strokes.start(0, 0)
    added = [strokes.add(3.0 * i, 0) for i in range(1, 30)]
    assert sum(p is not None for p in added) == 9 and strokes.stroke_full
    strokes.end()
    assert strokes.start(0, 50) and strokes.start(0, 100) and strokes.full
    assert not strokes.start(0, 150) and len(strokes) == 3 and not strokes.drawing
    with pytest.raises(ValueError, match="3 strokes"):
        strokes.add_stroke([(1, 1), (5, 5)])


# ---- collect mode and the class store ---------------------------------------------------------------------


def drawing() -> Strokes:
    strokes = Strokes()
    for stroke in SEVEN:
        strokes.add_stroke(stroke)
    return strokes


def test_a_pad_saves_no_faster_than_a_student_draws_and_at_most_its_share(tmp_path):
    clock = [100.0]
    collector = Collector(ClassStore(tmp_path), min_interval=1.0, max_saves=3, clock=lambda: clock[0], seed=0)
    assert collector.save(drawing()).kind == "saved"
    clock[0] += 0.5
    too_fast = collector.save(drawing())
    assert too_fast.kind == "error" and "too fast" in too_fast.text
    for _ in range(2):
        clock[0] += 1.0
        assert collector.save(drawing()).kind == "saved"
    clock[0] += 10
    full = collector.save(drawing())
    assert full.kind == "error" and "most one pad saves" in full.text and collector.saved == 3


def test_a_nickname_cannot_pass_for_a_pads_id(tmp_path):
    store = ClassStore(tmp_path)
    store.allow_nicknames = True
    # Widths, cases, accents, invisible characters and letters of other scripts that look like Latin ones.
    look_alikes = (
        "\u0430non-1234abcd",
        "\u0410\u039d\u039f\u039d-1234abcd",
        "an0n-1",
        "a\u200bnon",
        "\u00e1non",
    )
    for posing in (
        "anon-00000000",
        "ANON-1234abcd",
        "Anon",
        " anon",
        "\uff41\uff4e\uff4f\uff4e-12345678",
        *look_alikes,
    ):
        assert looks_anonymous(posing), posing
        collector = Collector(store, allow_nicknames=True, seed=0)
        collector.nickname = posing
        outcome = collector.save(drawing())
        assert outcome.kind == "error" and "anon" in outcome.text, posing
    assert not any(map(looks_anonymous, ("Anna", "Anton", "Nina", "Ana", "onion"))) and len(store) == 0
    collector.nickname = "Anna"
    assert collector.save(drawing()).kind == "saved"


def test_a_store_takes_a_bounded_number_of_records_of_a_bounded_size(tmp_path):
    store = ClassStore(tmp_path, max_records=2)
    store.add(drawing(), 7)
    store.add(drawing(), 7)
    with pytest.raises(ClassStoreError, match="holds 2 drawings") as full:
        store.add(drawing(), 7)
    assert full.value.kind == "full" and len(store) == 2
    assert "full" in Collector(store, seed=0).save(drawing()).text
    many = [[(float(i % 200), float(i // 200)) for i in range(MAX_POINTS + 1)]]
    with pytest.raises(ValueError, match="points"):
        ClassStore(tmp_path / "other.sqlite").add(many, 1)


def test_a_record_over_its_size_cap_is_refused(tmp_path, monkeypatch):
    import mnistlib.classroom.store as store_module

    monkeypatch.setattr(store_module, "MAX_RECORD_BYTES", 100)  # a drawn seven takes several hundred bytes
    with pytest.raises(ValueError, match="kB"):
        ClassStore(tmp_path).add(drawing(), 7)


def test_a_picture_is_kept_at_most_1024_px_a_side(tmp_path):
    picture = np.full((2000, 1500), 230, np.uint8)
    picture[400:1600, 700:800] = 10
    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, format="PNG")
    store = ClassStore(tmp_path)
    record = store.get(store.add(buffer.getvalue(), 1))
    height, width = record.raster.shape
    assert max(height, width) <= 1024 and abs(height / width - 2000 / 1500) < 0.01


def test_an_export_never_hands_a_spreadsheet_a_formula(tmp_path):
    for cell in ("=HYPERLINK(1)", "+1", "-1", "@SUM(A1)", "\tx", "\rx"):
        assert spreadsheet_safe(cell) == "'" + cell
    assert spreadsheet_safe("Ada") == "Ada" and spreadsheet_safe(3) == 3
    image = np.zeros(784, np.uint8).tobytes()
    row = (1, "0b7c4f1e-8a59-4c1f-9d3e-2f6a1b0c9d8e", 3, "=cmd|' /C calc'!A0", "2026", image, None, "@x")
    out = write_export([row], tmp_path / "out")
    (record,) = csv.DictReader((out / "records.csv").read_text(encoding="utf-8").splitlines())
    assert record["student"] == "'=cmd|' /C calc'!A0" and record["model"] == "'@x"
