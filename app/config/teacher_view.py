"""The teacher's live view: the class's drawings on the projector as they arrive, and the teacher's actions.

Every Voila of the app serves it at ``<base_url>teacher/`` (app/config/voila.py installs these
handlers; behind app/serve.py's nginx, ``/teacher`` goes to the first Voila): one HTML page and a few
JSON and image addresses, read from the class store by the server process itself. No kernel and no
notebook: a teacher's page costs the server a cheap read a second, and PyTorch is never loaded
(mnistlib.classroom.class_view renders the view without it).

* ``GET teacher/``: the page, or the login form without the teacher's cookie. ``GET
  teacher/?code=CODE`` checks the code, sets the cookie and sends the browser on to ``teacher/``, so
  the code never stays in the address bar on the projector; ``POST teacher/login`` is the form.
* ``GET teacher/api/summary?since=TOKEN``: the view's sections as HTML (a typed nickname escaped),
  the count and the class's state, or ``{"unchanged": true}`` while the store's change token
  (ClassStore.change_token) is ``since``. The page asks every 0.8 s: it is at most a second or so
  behind a save. Summaries are computed once per change for every teacher's page.
* ``GET teacher/api/drawing/UUID``: "how the model sees it" for one drawing (its 28x28 input and
  the pad's bars); ``GET teacher/api/image/UUID.png``: its raster, kept by the browser.
* ``POST teacher/api/action``: JSON ``{"action": "pause" | "resume" | "round" | "end-round" | "hide" |
  "unhide" | "delete", "digit": d, "uuid": u}``; answers with the fresh summary.

Guards, as for the rest of the class server: everything needs the teacher's cookie, an HMAC of the
teacher code (a code students never get; the class code opens nothing here), scoped to these
addresses, HttpOnly and SameSite=Strict. An action also needs the page's own token in a header,
a JSON body and, when the browser says where it comes from, this server's origin (no cross-site
request forgery). Wrong codes are counted per address and in all (``LOGIN_FAILURES``: beyond, 429; the
right code still opens, so guessing students cannot lock the teacher out); every client is paced
(kernel_socket.Pace); bodies are small; errors carry a short message and the traceback goes
to the teacher's terminal only; the page may not be framed, and its script runs under a nonce.
Store reads and writes run on one worker thread, so the server's event loop, which relays every
student's kernel messages, never waits for the disk.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import hmac
import html
import io
import json
import logging
import re
import secrets
import time
from collections.abc import Callable
from datetime import datetime
from hashlib import sha256
from pathlib import Path
from typing import Any

import tornado.web
from jupyter_server.utils import url_path_join
from kernel_socket import Pace  # next to this file (app/config is on sys.path)
from PIL import Image

from mnistlib.classroom.class_view import (
    esc,
    percent,
    render_sections,
    render_view,
    shown_student,
    view_attributes,
)
from mnistlib.classroom.panels import PAD_CSS, bars_html, model_view_html
from mnistlib.classroom.store import ClassStore, ClassStoreError, Record

PAGE_DIR = Path(__file__).resolve().parents[1] / "teacher"  # the page's HTML, script and style
COOKIE = "mnist-teacher"
COOKIE_AGE = 12 * 3600  # s: a school day
CSRF_HEADER = "X-MNIST-Teacher"
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
LOGIN_FAILURES = (10, 100)  # wrong codes a minute from one address, and from all: more get 429
MAX_PENDING = 8  # store jobs waiting for the worker thread: more, and a request gets 503
MAX_ACTION_BYTES = 1024
MAX_RASTER_BYTES = 256 * 1024  # an uploaded picture's raster is shown at tile size: larger ones are shrunk


def _mac(code: str, purpose: str) -> str:
    return hmac.new(code.encode(), f"mnist-teacher/{purpose}".encode(), sha256).hexdigest()


class LiveView:
    """What every teacher's page of one server shares: the code's keys, the store, its worker, the last summary."""

    def __init__(self, code: str, log: logging.Logger, store: ClassStore | None = None) -> None:
        self.cookie, self.csrf = _mac(code, "cookie"), _mac(code, "csrf")
        self.code, self.log = code, log
        self.store = store or ClassStore()
        self.worker = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="teacher-view")
        self.pending = 0
        self.last: tuple[str, dict[str, Any]] | None = None  # (token, the summary's JSON answer)
        self.failures: collections.deque[tuple[float, str]] = collections.deque()
        self.paces: dict[str, Pace] = {}
        self.warned: dict[str, float] = {}  # what the terminal was last told, and when
        self.page = (PAGE_DIR / "page.html").read_text()
        self.login = (PAGE_DIR / "login.html").read_text()
        self.script = (PAGE_DIR / "teacher.js").read_text()
        self.style = (PAGE_DIR / "teacher.css").read_text()

    def warn(self, key: str, text: str, *args: Any) -> None:
        """Log a warning for the teacher's terminal, at most once every 10 s per ``key`` (a flood is one line)."""
        now = time.monotonic()
        if now - self.warned.get(key, -60.0) >= 10:
            if len(self.warned) > 1000:
                self.warned.clear()
            self.warned[key] = now
            self.log.warning("Teacher's view: " + text, *args)

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(*args)`` (a store read or write) on the worker thread; 503 when too many wait.

        A problem of the store itself (locked, damaged, read-only, full) is refused with its message,
        which says what to do.
        """
        if self.pending >= MAX_PENDING:
            raise Refused(503, "The server is busy: try again in a moment.")
        self.pending += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self.worker, fn, *args)
        except ClassStoreError as exc:
            self.warn(f"store {exc.kind}", "%s", exc)
            raise Refused(503, str(exc)) from None
        finally:
            self.pending -= 1

    async def summary(self, since: str = "") -> dict[str, Any]:
        """Return the view's JSON answer, or ``{"unchanged": true}`` if the store's token is still ``since``."""
        token = await self.run(self.store.change_token)
        if token and token == since:
            return {"unchanged": True, "token": token}
        if self.last is None or self.last[0] != token:
            summary = await self.run(self.store.summary)
            self.last = (summary.token, self.answer(summary))
        return self.last[1]

    @staticmethod
    def answer(summary) -> dict[str, Any]:
        """Return the JSON the page applies: its data attributes, the state, the sections' HTML."""
        return {
            "token": summary.token,
            "count": summary.count,
            "paused": summary.state.paused,
            "round": summary.state.round,
            "attributes": view_attributes(summary),
            "sections": render_sections(summary, image_url, teacher=True),
        }

    def login_refused(self, address: str) -> bool:
        """Return True if ``address`` (or everyone) has given too many wrong codes in the last minute."""
        now = time.monotonic()
        while self.failures and now - self.failures[0][0] > 60:
            self.failures.popleft()
        mine = sum(1 for _, who in self.failures if who == address)
        return mine >= LOGIN_FAILURES[0] or len(self.failures) >= LOGIN_FAILURES[1]

    def pace(self, address: str) -> bool:
        """Return True if ``address`` may make one more request now (a page's polls and images pass)."""
        if len(self.paces) > 1000:  # addresses come and go: forget them all now and then
            self.paces.clear()
        pace = self.paces.setdefault(
            address, Pace(messages_per_s=20, message_burst=80, bytes_per_s=1e9, byte_burst=1e9)
        )
        return pace.take(0)


def image_url(drawing) -> str:
    """Return the page's address of a drawing's raster (relative to teacher/)."""
    return f"api/image/{drawing.uuid}.png"


class Refused(tornado.web.HTTPError):
    """A request the live view refuses; ``message`` is what the page shows (the status line stays short)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(status)
        self.message = message


class TeacherHandler(tornado.web.RequestHandler):
    """The live view's requests: security headers, pacing, the teacher's cookie, short errors."""

    def initialize(self, view: LiveView) -> None:
        self.view = view

    def set_default_headers(self) -> None:
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("X-Frame-Options", "DENY")
        self.set_header("Referrer-Policy", "no-referrer")
        self.set_header(
            "Content-Security-Policy",
            "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; connect-src 'self'; "
            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        )

    def prepare(self) -> None:
        address = self.request.remote_ip
        if not self.view.pace(address):
            self.view.warn(f"pace {address}", "slowing down %s (too many requests)", address)
            raise Refused(429, "Too many requests: slow down.")

    def is_teacher(self) -> bool:
        """Return True if the request carries the teacher's cookie."""
        cookie = self.get_cookie(COOKIE) or ""
        return hmac.compare_digest(cookie.encode(), self.view.cookie.encode())

    def require_teacher(self) -> None:
        if not self.is_teacher():
            address, request = self.request.remote_ip, f"{self.request.method} {self.request.path}"
            self.view.warn(f"refused {address}", "refused %s from %s (no teacher code)", request, address)
            raise Refused(403, "This needs the teacher code: open the teacher's link again.")

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Answer with a short message; a traceback goes to the teacher's terminal only (tornado logs it)."""
        error = kwargs.get("exc_info", (None, None, None))[1]
        message = getattr(error, "message", None) or self._reason
        if "/teacher/api/" in self.request.path:
            self.set_header("Content-Type", "application/json")
            self.finish(json.dumps({"message": message}))
        else:
            self.set_header("Content-Type", "text/html; charset=utf-8")
            self.finish(
                f'<!doctype html><meta charset="utf-8"><title>Teacher\'s view</title><p>{html.escape(message)}</p>'
            )

    def page_path(self) -> str:
        """Return the teacher's pages' address prefix (where the cookie is sent)."""
        return url_path_join(self.settings.get("base_url", "/"), "teacher/")

    def same_origin(self) -> bool:
        """Return False if the browser says the request comes from another site (Origin, Sec-Fetch-Site)."""
        origin = self.request.headers.get("Origin")
        if origin is not None and re.sub(r"^[a-z]+://", "", origin) != self.request.host:
            return False
        return self.request.headers.get("Sec-Fetch-Site", "same-origin") in ("same-origin", "none")


class PageHandler(TeacherHandler):
    """The live view's page; the login form to whoever lacks the teacher's cookie; ?code= logs in."""

    async def get(self) -> None:
        code = self.get_query_argument("code", None)
        if code is not None:
            self.log_in(code)
            return
        if not self.is_teacher():
            self.login_form()
            return
        await self.page()

    def log_in(self, code: str) -> None:
        address = self.request.remote_ip
        if not hmac.compare_digest(code.strip().encode(), self.view.code.encode()):
            # The right code always opens (a class guessing codes cannot lock the teacher out); wrong
            # ones are counted so that the terminal gets a line a minute, not one per guess.
            if self.view.login_refused(address):
                self.login_form("Too many wrong codes: wait a minute.", 429)
                return
            self.view.failures.append((time.monotonic(), address))
            self.view.log.warning("Teacher's view: a wrong teacher code from %s", address)
            self.login_form("That is not the teacher code (the class code is not it).", 403)
            return
        self.set_cookie(
            COOKIE,
            self.view.cookie,
            path=self.page_path(),
            httponly=True,
            samesite="Strict",
            secure=self.request.protocol == "https",
            max_age=COOKIE_AGE,
        )
        self.view.log.info("Teacher's view: the teacher logged in from %s", address)
        self.redirect(self.page_path(), status=303)  # the code leaves the address bar

    def login_form(self, message: str = "", status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        note = f'<p class="tv-error" role="alert">{html.escape(message)}</p>' if message else ""
        self.finish(self.view.login.replace("@MESSAGE@", note))

    async def page(self) -> None:
        nonce = secrets.token_urlsafe(16)
        self.set_header(
            "Content-Security-Policy",
            "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; connect-src 'self'; "
            f"script-src 'nonce-{nonce}'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        )
        summary = await self.view.run(self.view.store.summary)
        values = {
            "CSRF": self.view.csrf,
            "NONCE": nonce,
            "STYLE": f"{PAD_CSS}<style>{self.view.style}</style>",
            "VIEW": render_view(summary, image_url, teacher=True, extra_class="mnist-live"),
            "SCRIPT": self.view.script,
        }
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(re.sub(r"@([A-Z]+)@", lambda m: values[m[1]], self.view.page))


class LoginHandler(PageHandler):
    """The login form's POST."""

    def post(self) -> None:
        if not self.same_origin():
            raise Refused(403, "A login from another site is refused.")
        self.log_in(self.get_body_argument("code", ""))


class SummaryHandler(TeacherHandler):
    async def get(self) -> None:
        self.require_teacher()
        answer = await self.view.summary(self.get_query_argument("since", "")[:64])
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(answer))


class DrawingHandler(TeacherHandler):
    async def get(self, uuid: str) -> None:
        self.require_teacher()
        try:
            record = await self.view.run(self.view.store.get, uuid)
        except KeyError:
            raise Refused(404, "That drawing is not in the store (deleted?).") from None
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(drawing_html(record, f"api/image/{uuid}.png", teacher=True))


class ImageHandler(TeacherHandler):
    async def get(self, uuid: str) -> None:
        self.require_teacher()
        png = await self.view.run(_raster, self.view.store, uuid)
        if png is None:
            raise Refused(404, "That drawing is not in the store (deleted?).")
        self.set_header("Content-Type", "image/png")
        self.set_header("Cache-Control", "private, max-age=86400, immutable")  # a UUID's raster never changes
        self.finish(png)


def drawing_html(record: Record, image_src: str, teacher: bool) -> str:
    """Render "how the model sees it" for one record: the drawing, the 28x28 input, the reading and its bars."""
    probabilities = record.probabilities
    # The server's own clock and zone: in class, that of the room (the store keeps UTC).
    saved_at = datetime.fromisoformat(record.created).astimezone().strftime("%H:%M:%S")
    if record.predicted is None or probabilities is None:
        reading = "The model gave no reading when it was saved."
    else:
        verdict = "\u2713 right" if record.predicted == record.label else "\u2717 misread"
        sure = percent(float(probabilities[record.predicted]))
        reading = f'Read as <b class="cv-big">{record.predicted}</b>, {sure} sure: <b>{verdict}</b>'
    actions = ""
    if teacher:
        actions = (
            '<div class="cv-actions">'
            f'<button type="button" data-action="hide" data-uuid="{esc(record.uuid)}">Hide from this view</button>'
            f'<button type="button" data-action="delete" data-uuid="{esc(record.uuid)}" class="cv-danger">'
            "Delete from the store</button></div>"
        )
    return (
        f'<div class="cv-detail mnist-pad" data-uuid="{esc(record.uuid)}" data-id="{record.id}">'
        f'<h2 class="cv-detail-title">How the model sees drawing #{record.id}</h2>'
        '<div class="cv-detail-row">'
        f'<figure><img class="cv-raster" src="{esc(image_src)}" alt="The drawing as saved"><figcaption>'
        f"Drawn for <b>{record.label}</b></figcaption></figure>"
        f"<figure>{model_view_html(record.model_input)}<figcaption>What the model sees: 28 x 28</figcaption></figure>"
        f'<div class="cv-detail-reading"><p>{reading}</p>{bars_html(probabilities)}</div></div>'
        f'<p class="cv-note">Saved at {esc(saved_at)} by {esc(shown_student(record.student))}, '
        f"read by {esc(record.model or 'no model')}.</p>{actions}</div>"
    )


def _raster(store: ClassStore, uuid: str) -> bytes | None:
    """Return a record's raster PNG as stored (a picture's larger than MAX_RASTER_BYTES shrunk), or None."""
    try:
        png = store.raster_png(uuid)
    except KeyError:
        return None
    if len(png) > MAX_RASTER_BYTES:
        image = Image.open(io.BytesIO(png))
        image.thumbnail((280, 280))
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        png = buffer.getvalue()
    return png


ACTIONS = {
    "pause": lambda store, body: store.pause(),
    "resume": lambda store, body: store.resume(),
    "round": lambda store, body: store.start_round(_digit(body.get("digit"))),
    "end-round": lambda store, body: store.end_round(),
    "hide": lambda store, body: store.hide(_uuid(body.get("uuid"))),
    "unhide": lambda store, body: store.hide(_uuid(body.get("uuid")), hidden=False),
    "delete": lambda store, body: store.delete(_uuid(body.get("uuid"))),
    "show-hidden": lambda store, body: store.show_hidden(),
}


def _digit(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 9:
        raise ValueError("a round needs a digit 0-9")
    return value


def _uuid(value: Any) -> str:
    if not isinstance(value, str) or not re.fullmatch(UUID, value):
        raise ValueError("that is not a drawing's id")
    return value


class ActionHandler(TeacherHandler):
    """A teacher's action; answered with the fresh summary, so the page shows it at once."""

    async def post(self) -> None:
        self.require_teacher()
        token = self.request.headers.get(CSRF_HEADER, "")
        if not (hmac.compare_digest(token.encode(), self.view.csrf.encode()) and self.same_origin()):
            address = self.request.remote_ip
            self.view.warn(f"action {address}", "refused an action from %s (not the teacher's page)", address)
            raise Refused(403, "Actions come from the teacher's page only.")
        if not self.request.headers.get("Content-Type", "").startswith("application/json"):
            raise Refused(415, "An action is sent as JSON.")
        if len(self.request.body) > MAX_ACTION_BYTES:
            raise Refused(413, "That action is too large.")
        try:
            body = json.loads(self.request.body)
            act = ACTIONS[body["action"]]
            await self.view.run(act, self.view.store, body)
        except KeyError:
            if isinstance(body, dict) and body.get("action") in ("hide", "unhide", "delete"):
                raise Refused(404, "That drawing is gone already.") from None
            raise Refused(400, "Not an action of the live view.") from None
        except (ValueError, TypeError, AttributeError) as exc:
            raise Refused(400, f"Not an action of the live view: {str(exc)[:80]}") from None
        self.view.log.info("Teacher's view: %s %s", body["action"], body.get("digit", body.get("uuid", "")))
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"done": body["action"], "summary": await self.view.summary()}))


def routes(base_url: str, view: LiveView) -> list[tuple]:
    """Return the live view's routes under ``base_url``."""
    kw = {"view": view}
    return [
        (
            url_path_join(base_url, "teacher"),
            tornado.web.RedirectHandler,
            {"url": url_path_join(base_url, "teacher/")},
        ),
        (url_path_join(base_url, "teacher/"), PageHandler, kw),
        (url_path_join(base_url, "teacher/login"), LoginHandler, kw),
        (url_path_join(base_url, "teacher/api/summary"), SummaryHandler, kw),
        (url_path_join(base_url, rf"teacher/api/drawing/({UUID})"), DrawingHandler, kw),
        (url_path_join(base_url, rf"teacher/api/image/({UUID})\.png"), ImageHandler, kw),
        (url_path_join(base_url, "teacher/api/action"), ActionHandler, kw),
    ]


def install_handlers(voila_class: type, code: str) -> None:
    """Make ``voila_class`` (voila.app.Voila) serve the live view, ahead of its page handler's catch-all route."""
    init_handlers = voila_class.init_handlers

    def with_teacher(app) -> list:
        return [*routes(app.server_url or app.base_url, LiveView(code, app.log)), *init_handlers(app)]

    voila_class.init_handlers = with_teacher
