"""The teacher's live view on a real class server: who may open it, what it answers, what the teacher's actions do.

Voila runs as `make app COLLECT=1` runs it (tests/server_support.start_server: the warm pool, the class
code, the class server's guards) with a known teacher code; students are light clients speaking the
app's own protocol (server_support.Page), as the abuse tests use them. Every request goes over real
HTTP on 127.0.0.1, as a student with a browser console or a few lines of Python would send it.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time
import urllib.parse

import pytest
from server_support import ONE, READING_WITHIN, SEVEN, Loop, Page, logged, new_page, start_server, wait_for

from mnistlib.classroom.store import ClassStore
from mnistlib.paths import REPO_ROOT
from tools.local_servers import app_launcher, app_server

sys.path.insert(0, str(REPO_ROOT / "app" / "config"))
import teacher_view  # app/config/teacher_view.py

TEACHER_CODE = "tchr-7k2m-q9xa"
WITHIN = 2.0  # s: the page is at most this far behind the store
CLASS_POLL = 2.0  # s between a pad's looks at the class's state (mnistlib.classroom.pad.CLASS_POLL)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    server = start_server(tmp_path_factory.mktemp("teacher-server"), APP_TEACHER_CODE=TEACHER_CODE)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def store(server) -> ClassStore:
    return ClassStore(server.log.parent / "class")


@pytest.fixture(scope="module")
def teacher(server, loop) -> Page:
    """The teacher's browser, logged in with the teacher code."""
    page = Page(server)
    response = loop.run(page.request(f"/teacher/?code={TEACHER_CODE}"))
    assert response.code == 303, response.code
    return page


def action(page: Page, loop: Loop, body: dict, **headers) -> tuple[int, dict]:
    """Return (status, JSON) of a teacher's action as the page sends it (its token, JSON, same origin)."""
    sent = {
        "Content-Type": "application/json",
        teacher_view.CSRF_HEADER: teacher_view._mac(TEACHER_CODE, "csrf"),
        "Origin": page.server.url,
        **headers,
    }
    sent = {k: v for k, v in sent.items() if v is not None}
    response = loop.run(page.request("/teacher/api/action", "POST", json.dumps(body).encode(), **sent))
    return response.code, json.loads(response.body or b"{}")


def get(page: Page, path: str, loop) -> object:
    return loop.run(page.request(path))


def no_traceback(response) -> None:
    assert b"Traceback" not in (response.body or b""), response.body[:500]


# ---- who may open it -----------------------------------------------------------------------------------


def test_the_teacher_gets_the_link_and_the_code_apart_from_the_students(server):
    log = server.log_tail(400_000)
    teacher_line = (
        f"The teacher's live view, for you only: https://class.example.org/teacher/?code={TEACHER_CODE}"
    )
    assert teacher_line in log
    students = log.index(f"Students open: https://class.example.org/?token={server.token}")
    assert log.index(teacher_line) > log.rindex("\u2588\u2588\u2588\u2588")  # after the students' QR code
    assert (
        TEACHER_CODE not in log[students : log.index(teacher_line)]
    )  # not in the students' link, nor its QR code


def test_the_class_code_opens_nothing_here(server, loop):
    student = Page(server)
    assert loop.run(student.open()).code == 200  # a student of the class, logged in with the class code
    asked = {
        "page": get(student, f"/teacher/?token={server.token}", loop),
        "summary": get(student, "/teacher/api/summary", loop),
        "drawing": get(student, "/teacher/api/drawing/00000000-0000-4000-8000-000000000000", loop),
        "image": get(student, "/teacher/api/image/00000000-0000-4000-8000-000000000000.png", loop),
    }
    page = asked.pop("page")
    assert page.code == 200 and b"Teacher code" in page.body and b"mnist-class-view" not in page.body
    assert {name: r.code for name, r in asked.items()} == {"summary": 403, "drawing": 403, "image": 403}
    code, answer = action(student, loop, {"action": "pause"})
    assert code == 403 and "teacher" in answer["message"]
    for response in asked.values():
        no_traceback(response)
    logged(server, "refused GET /teacher/api/summary")
    loop.run(student.leave())


def test_a_wrong_code_is_refused_and_guessing_cannot_lock_the_teacher_out(server, loop):
    guesser = Page(server)
    codes = [
        get(guesser, f"/teacher/?code=guess-{i}", loop).code
        for i in range(teacher_view.LOGIN_FAILURES[0] + 3)
    ]
    assert codes[0] == 403 and codes[-1] == 429, codes
    assert "mnist-teacher" not in guesser.cookies
    assert get(guesser, f"/teacher/?code={TEACHER_CODE}", loop).code == 303  # the right code still opens
    logged(server, "a wrong teacher code")


def test_the_code_sets_a_cookie_for_these_addresses_only_and_leaves_the_address_bar(server, loop):
    page = Page(server)
    response = get(page, f"/teacher/?code={TEACHER_CODE}", loop)
    assert response.code == 303 and response.headers["Location"] == "/teacher/"
    cookie = next(c for c in response.headers.get_list("Set-Cookie") if c.startswith("mnist-teacher="))
    assert "Path=/teacher/" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert TEACHER_CODE not in cookie
    # The login form works as well (typed on the projector: a password field).
    form = Page(server)
    body = urllib.parse.urlencode({"code": TEACHER_CODE}).encode()
    typed = loop.run(
        form.request("/teacher/login", "POST", body, **{"Content-Type": "application/x-www-form-urlencoded"})
    )
    assert typed.code == 303 and form.cookies["mnist-teacher"] == page.cookies["mnist-teacher"]


def test_the_page_cannot_be_framed_and_runs_only_its_own_script(server, loop, teacher):
    response = get(teacher, "/teacher/", loop)
    assert response.code == 200
    body = response.body.decode()
    assert 'class="mnist-class-view mnist-live"' in body and "data-count=" in body and "data-paused=" in body
    policy = response.headers["Content-Security-Policy"]
    nonce = re.search(r"'nonce-([^']+)'", policy)[1]
    assert f'<script nonce="{nonce}">' in body and body.count("<script") == 1
    assert "frame-ancestors 'none'" in policy and response.headers["X-Frame-Options"] == "DENY"
    assert (
        response.headers["Cache-Control"] == "no-store"
        and response.headers["Referrer-Policy"] == "no-referrer"
    )
    assert TEACHER_CODE not in body  # the projector never shows the code


# ---- what it answers, and how fast -----------------------------------------------------------------


def summary(teacher: Page, loop, since: str = "") -> dict:
    response = get(teacher, f"/teacher/api/summary?since={since}", loop)
    assert response.code == 200, response.body
    return json.loads(response.body)


async def save_drawing(page: Page, strokes=ONE) -> tuple[str, str]:
    """Draw and click Save as a student does (a second apart: saves are paced); return the pad's message."""
    await page.draw(strokes)
    await asyncio.sleep(1.1)
    since = len(page.messages)
    page.custom("Save", {"event": "click"})
    return await page.said(since)


def test_a_save_shows_within_two_seconds_and_an_unchanged_store_costs_a_short_answer(
    server, loop, teacher, store
):
    before = summary(teacher, loop)
    assert summary(teacher, loop, before["token"]) == {"unchanged": True, "token": before["token"]}
    student = loop.run(new_page(server))
    kind, text = loop.run(save_drawing(student))
    saved = time.monotonic()
    assert kind == "saved", text
    token, seen = before["token"], None
    while time.monotonic() - saved < 10 and seen is None:  # polled every second, as the page does
        answer = summary(teacher, loop, token)
        if not answer.get("unchanged") and answer["count"] == before["count"] + 1:
            seen = time.monotonic() - saved
        time.sleep(1.0)
    assert seen is not None and seen <= WITHIN, seen
    newest = store.summary().newest[0]
    assert f'data-uuid="{newest.uuid}"' in answer["sections"]["newest"]
    assert answer["attributes"]["data-count"] == str(before["count"] + 1)
    image = get(teacher, f"/teacher/api/image/{newest.uuid}.png", loop)
    assert (
        image.code == 200
        and image.body.startswith(b"\x89PNG")
        and "immutable" in image.headers["Cache-Control"]
    )
    drawing = get(teacher, f"/teacher/api/drawing/{newest.uuid}", loop)
    assert drawing.code == 200 and b"mnist-bars" in drawing.body and b"mnist-model-img" in drawing.body
    loop.run(student.leave())


# ---- the teacher's actions -------------------------------------------------------------------------


def test_an_action_needs_the_pages_token_its_origin_and_json(server, loop, teacher, store):
    refused = {
        "no token": action(teacher, loop, {"action": "pause"}, **{teacher_view.CSRF_HEADER: None}),
        "another site": action(teacher, loop, {"action": "pause"}, Origin="https://evil.example"),
        "cross-site fetch": action(teacher, loop, {"action": "pause"}, **{"Sec-Fetch-Site": "cross-site"}),
        "a form": action(
            teacher, loop, {"action": "pause"}, **{"Content-Type": "application/x-www-form-urlencoded"}
        ),
        "no such action": action(teacher, loop, {"action": "shutdown"}),
        "round 12": action(teacher, loop, {"action": "round", "digit": 12}),
        "a bad id": action(teacher, loop, {"action": "delete", "uuid": "../../etc/passwd"}),
        "no such drawing": action(
            teacher, loop, {"action": "delete", "uuid": "00000000-0000-4000-8000-000000000000"}
        ),
    }
    codes = {why: code for why, (code, _) in refused.items()}
    assert codes == {
        "no token": 403,
        "another site": 403,
        "cross-site fetch": 403,
        "a form": 415,
        "no such action": 400,
        "round 12": 400,
        "a bad id": 400,
        "no such drawing": 404,
    }
    assert all(
        answer.get("message") and "Traceback" not in answer["message"] for _, answer in refused.values()
    )
    assert not store.class_state().paused
    logged(server, "refused an action")


def test_pause_reaches_every_pad_which_then_saves_nothing_until_resumed(server, loop, teacher, store):
    pads = [loop.run(new_page(server)) for _ in range(2)]
    code, answer = action(teacher, loop, {"action": "pause"})
    assert code == 200 and answer["summary"]["paused"] and store.class_state().paused
    for pad in pads:  # each pad's prompt says so within a look or two
        loop.run(pad.wait(lambda m, pad=pad: 'data-paused="true"' in str(m), CLASS_POLL + 3))
    before = len(store)
    for pad in pads:
        kind, text = loop.run(save_drawing(pad))
        assert kind == "paused" and "paused" in text, text
    assert len(store) == before
    assert action(teacher, loop, {"action": "resume"})[0] == 200
    loop.run(pads[0].wait(lambda m: 'data-paused="false"' in str(m), CLASS_POLL + 3))
    assert loop.run(save_drawing(pads[0]))[0] == "saved" and len(store) == before + 1
    for pad in pads:
        loop.run(pad.leave())


def test_a_round_makes_every_pad_ask_for_its_digit(server, loop, teacher, store):
    pad = loop.run(new_page(server))
    try:
        assert action(teacher, loop, {"action": "round", "digit": 7})[0] == 200
        loop.run(
            pad.wait(lambda m: 'data-digit="7"' in str(m) and 'data-round="7"' in str(m), CLASS_POLL + 3)
        )
        kind, text = loop.run(save_drawing(pad, SEVEN))
        assert kind == "saved" and text.startswith("Saved your 7") and text.endswith("Now draw a 7 again."), (
            text
        )
        assert store.images().labels.tolist()[-1] == 7
    finally:
        action(teacher, loop, {"action": "end-round"})
        loop.run(pad.leave())
    assert store.class_state().round is None


def test_hide_and_delete_take_a_drawing_off_the_view_and_delete_out_of_the_store(
    server, loop, teacher, store, tmp_path
):
    student = loop.run(new_page(server))
    first, second = (loop.run(save_drawing(student, s)) for s in (ONE, SEVEN))
    assert first[0] == second[0] == "saved"
    newest = store.summary().newest
    hidden, deleted = newest[1], newest[0]
    code, answer = action(teacher, loop, {"action": "hide", "uuid": hidden.uuid})
    assert code == 200 and hidden.uuid not in json.dumps(answer["summary"]["sections"])
    assert answer["summary"]["attributes"]["data-hidden"] == "1" and store.get(hidden.id).uuid == hidden.uuid
    count = answer["summary"]["count"]
    code, answer = action(teacher, loop, {"action": "delete", "uuid": deleted.uuid})
    assert code == 200 and answer["summary"]["count"] == count - 1
    assert deleted.uuid not in json.dumps(answer["summary"]) and deleted.id not in store.images().ids.tolist()
    assert deleted.uuid not in (store.export(tmp_path / "export") / "records.csv").read_text()
    assert get(teacher, f"/teacher/api/image/{deleted.uuid}.png", loop).code == 404
    assert action(teacher, loop, {"action": "delete", "uuid": deleted.uuid})[0] == 404  # gone already
    assert action(teacher, loop, {"action": "show-hidden"})[1]["summary"]["attributes"]["data-hidden"] == "0"
    loop.run(student.leave())


def test_a_flood_of_requests_is_paced_and_the_class_carries_on(server, loop, teacher):
    student = loop.run(new_page(server))
    loop.run(student.draw(ONE))  # the first reading pays one-time costs

    async def flood() -> list[int]:
        responses = await asyncio.gather(*(teacher.request("/teacher/api/summary") for _ in range(300)))
        return [r.code for r in responses]

    codes = loop.run(flood())
    assert 429 in codes and 200 in codes, set(codes)
    logged(server, "slowing down")
    latency = loop.run(student.draw(SEVEN, timeout=10))
    assert latency < READING_WITHIN, f"a student's reading took {latency:.2f} s after the flood"
    wait_for(lambda: get(teacher, "/teacher/api/summary", loop).code == 200, 10, server, poll=0.5)
    loop.run(student.leave())


# ---- behind app/serve.py's nginx -----------------------------------------------------------------------


def test_behind_nginx_the_teacher_link_reaches_the_first_voila_and_every_voila_knows_the_code(tmp_path, loop):
    if app_launcher.find_nginx() is None:
        pytest.skip("nginx is not installed (apt-get install nginx)")
    env = {
        "APP_POOL": "2",
        "APP_BACKENDS": "2",
        "APP_COLLECT": "1",
        "MNISTLIB_CLASS_DIR": str(tmp_path / "class"),
    }
    with app_server(tmp_path, timeout=240, **env) as app:
        wait_for(lambda: "Teacher code:" in app.log_tail(400_000), 60, app)
        log = app.log_tail(400_000)
        code = re.search(r"Teacher code: (\S+)", log)[1]
        assert log.count("The teacher's live view, for you only:") == 1  # the launcher's, not each Voila's
        assert f"http://127.0.0.1:{app.port}/teacher/?code={code}" in log
        page = Page(app)
        redirected = get(page, f"/teacher/?code={code}", loop)
        assert redirected.code == 302 and redirected.headers["Location"] == f"/s1/teacher/?code={code}"
        assert get(page, redirected.headers["Location"], loop).code == 303
        assert get(page, "/s1/teacher/api/summary", loop).code == 200
        other = Page(app)  # the second Voila has the same code: any of them can serve the page
        assert get(other, f"/s2/teacher/?code={code}", loop).code == 303
        assert get(other, "/s2/teacher/api/summary", loop).code == 200
