"""The class code: who may open the app, and the link and QR code the teacher gives the students.

`make app` serves this computer only (127.0.0.1) unless ``HOST=0.0.0.0`` (``APP_HOST``) opens it to
the network, or a reverse proxy forwards the class to it (``APP_PUBLIC_URL`` or ``APP_BEHIND_PROXY``);
then a class code is required: Voila's own token, which a student's browser sends once
(the link's ``?token=``, or typed on Voila's login page) and then keeps as a login cookie.
``CODE=...`` (``APP_CODE``) chooses the code, ``CODE=auto`` makes one even on this computer only, and
``CODE=none`` serves without one. When the server is up, :func:`announce` prints the address to give
the students as a link and as a QR code in the terminal (behind a reverse proxy, ``APP_PUBLIC_URL``
is the address students use: see docs/class-server.md).

The teacher's live view (app/config/teacher_view.py) has a code of its own that students never get,
always, even on this computer only: ``APP_TEACHER_CODE``, or a new one (:func:`teacher_code`), printed
on the line that says "teacher".
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import socket
import sys

# No 0/o, 1/l/i: a code read off a projector is typed without mistakes. 12 of 31 letters: 59 bits.
ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
NO_CODE = ("none", "off", "no")


def new_code(groups: int = 3, size: int = 4) -> str:
    """Return a fresh class code such as ``k7q2-m9xa-3fpt``."""
    return "-".join("".join(secrets.choice(ALPHABET) for _ in range(size)) for _ in range(groups))


def is_loopback(host: str) -> bool:
    """Return True if ``host`` (an address Voila listens on) serves this computer only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # "" (every interface) or a name
        return False


def class_code(code: str, host: str, proxied: bool = False) -> str | None:
    """Return the class code to require: ``code`` as given, else a new one when others can connect, or None.

    Others can connect when Voila listens on a network address, or when a reverse proxy in front
    (``proxied``) forwards the class to it; "auto" makes a code in any case, "none" never.
    """
    code = code.strip()
    if code.lower() in NO_CODE:
        return None
    if code and code.lower() != "auto":
        return code
    if code.lower() == "auto" or proxied or not is_loopback(host):
        return new_code()
    return None


def teacher_code() -> str:
    """Return the teacher's code: ``APP_TEACHER_CODE``, or a new one put there, so every Voila started from here shares it."""
    code = os.environ.get("APP_TEACHER_CODE", "").strip()
    if not code:
        code = os.environ["APP_TEACHER_CODE"] = new_code()
    return code


def lan_address() -> str:
    """Return this computer's address on its network (the one a route out would use), or its name."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(
                ("192.0.2.1", 9)
            )  # a documentation address: nothing is sent, the route is looked up
            return probe.getsockname()[0]
        except OSError:
            return socket.gethostname()


def students_url(host: str, port: int, code: str | None, public_url: str = "") -> str:
    """Return the address students open: the public one if given, else this computer's, with the code."""
    if public_url:
        base = public_url.rstrip("/") + "/"
    else:
        name = "127.0.0.1" if is_loopback(host) else lan_address() if host in ("", "0.0.0.0", "::") else host
        base = f"http://{name}:{port}/"
    return base + (f"?token={code}" if code else "")


def announce(url: str, code: str | None, loopback: bool, out=sys.stdout, teacher: str | None = None) -> None:
    """Print the students' link, a QR code of it and the class code, for the teacher's terminal.

    ``teacher``: the teacher's code (by default ``APP_TEACHER_CODE``, if set); then the live view's
    link goes last, on its own line, away from the QR code the students scan.
    """
    lines = ["", "=" * 72]
    if loopback:
        lines.append(f"The app is served to this computer only: {url}")
        lines.append("To serve the class's network: make app HOST=0.0.0.0 (a class code is then required).")
    else:
        lines.append(f"Students open: {url}")
    if code:
        lines.append(f"Class code: {code}   (typed on the login page if the link was not used)")
    print("\n".join(lines), file=out)
    if not loopback:
        try:
            import segno

            segno.make(url, error="L").terminal(out=out, compact=True)
        except ImportError:
            print("(pip install segno to show the link as a QR code here)", file=out)
    teacher = os.environ.get("APP_TEACHER_CODE") if teacher is None else teacher
    if teacher:
        view = url.split("?", 1)[0] + "teacher/"
        print(f"The teacher's live view, for you only: {view}?code={teacher}", file=out)
        print(f"Teacher code: {teacher}   (students never get it; the class code does not open it)", file=out)
    print("=" * 72, file=out, flush=True)
