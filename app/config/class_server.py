"""The app's class server: a bounded number of kernels, each answering only the page that took it.

Set up by app/config/voila.py for a standalone Voila (`make app`); a JupyterHub's servers keep their
own. What a curious student could otherwise do, and what happens instead:

* **Take kernels without end** (every ``GET /`` takes one): ``ClassKernelManager`` never runs more
  than ``max_kernels`` (the warm pool plus a small margin). A page beyond that gets the template's
  503.html, "The class is full: ask your teacher". A kernel whose page never connects its websocket
  is shut down after ``connect_timeout`` seconds; a closed or reloaded page frees its kernel at once
  (``ClassShutdownHandler`` accepts the page's beacon, which Voila's own handler refused for want of
  an ``_xsrf`` cookie).
* **Use another page's kernel** (its id travels in clear in the page and in URLs): ``ClassPageHandler``
  gives each page a secret cookie bound to its kernel, scoped to that kernel's URLs;
  ``PageAuthorizer`` answers a kernel's websocket, REST info and DELETE, and ``ClassShutdownHandler``
  its shutdown, only with that cookie.
* **Skip the pool** with ``?theme=`` or ``?template=``: the page handler drops both (overrides are off).
* **Read another page's request** through Voila's ``/voila/query/<kernel id>`` websocket, which asks
  for no login: the app's notebook never uses it, so it answers 404.

``install_handlers`` swaps Voila's handlers for these subclasses and fails at start-up if a new Voila
has changed them, rather than serving without the guards.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets

import tornado.web
import tornado.websocket
from jupyter_core.utils import ensure_async
from jupyter_server.auth.authorizer import Authorizer
from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from jupyter_server.utils import url_path_join
from traitlets import Float, Int

# A page's secret, in two cookies scoped to its own kernel's URLs (one response cannot set one name twice).
PAGE_COOKIES = {"api/kernels": "mnist-kernel", "voila/api/shutdown": "mnist-shutdown"}
PAGE_COOKIE_AGE = 12 * 3600  # s: longer than a school day's lessons, gone by the next morning
FULL = "The class is full: ask your teacher."


class ClassFullError(tornado.web.HTTPError):
    """No kernel may be started now: the page is the template's 503.html."""

    def __init__(self) -> None:
        super().__init__(503, reason="The class is full")


class ClassKernelManager(AsyncMappingKernelManager):
    """jupyter_server's kernel manager with a cap on kernels and each kernel bound to the page that took it."""

    max_kernels = Int(0, config=True, help="Most kernels running at once (0: no limit).")
    connect_timeout = Float(
        60, config=True, help="Seconds a page has to connect to the kernel it took before it is shut down."
    )

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._pages: dict[str, str] = {}  # kernel id -> its page's secret
        self._connected: set[str] = set()  # kernels whose page connected at least once
        self._starting: set[str] = set()  # ids of kernels being started, counted before they exist
        self._stopping: dict[str, asyncio.Future] = {}  # kernels being shut down

    def kernel_count(self) -> int:
        """Return the kernels running or starting."""
        return len(set(self._kernels) | set(self._pending_kernels) | self._starting)

    def has_room(self) -> bool:
        """Return True if one more kernel may start."""
        return not self.max_kernels or self.kernel_count() < self.max_kernels

    async def start_kernel(self, *, kernel_id: str | None = None, **kwargs) -> str:
        """Start a kernel as jupyter_server does, or raise ClassFullError if ``max_kernels`` run already."""
        if kernel_id is not None and kernel_id in self:
            return await super().start_kernel(kernel_id=kernel_id, **kwargs)
        if not self.has_room():
            self.log.warning(
                "The class is full: %d kernels run, the most this server starts", self.max_kernels
            )
            raise ClassFullError()
        kernel_id = kernel_id or self.new_kernel_id()
        self._starting.add(kernel_id)
        try:
            return await super().start_kernel(kernel_id=kernel_id, **kwargs)
        finally:
            self._starting.discard(kernel_id)

    def bind_page(self, kernel_id: str, secret: str) -> None:
        """Give ``kernel_id`` to the page holding ``secret``; shut it down if that page never connects."""
        self._pages[kernel_id] = secret
        asyncio.get_running_loop().call_later(self.connect_timeout, self._return_if_unconnected, kernel_id)

    def page_owns(self, kernel_id: str, secret: str | None) -> bool:
        """Return True if ``secret`` is the one of the page that took ``kernel_id``."""
        expected = self._pages.get(kernel_id)
        return bool(expected and secret) and hmac.compare_digest(expected, secret)

    def notify_connect(self, kernel_id: str) -> None:
        """Note that the kernel's page connected (jupyter_server calls this for every websocket)."""
        self._connected.add(kernel_id)
        super().notify_connect(kernel_id)

    def _return_if_unconnected(self, kernel_id: str) -> None:
        if kernel_id in self._pages and kernel_id not in self._connected and kernel_id in self:
            self.log.warning(
                "Kernel %s: its page never connected in %g s; shutting it down",
                kernel_id,
                self.connect_timeout,
            )
            asyncio.ensure_future(self.shutdown_kernel(kernel_id))

    async def shutdown_kernel(self, kernel_id: str, *args, **kwargs) -> None:
        """Shut a kernel down as jupyter_server does, once (a second call waits for the first), then forget its page.

        A page says reload, and closes, as soon as its kernel restarts: its beacons (the page's own
        and Voila's) come while the restart runs, and jupyter_client cannot shut a kernel down before
        its restart is over (InvalidStateError), so they wait for it.
        """
        if kernel_id in self._stopping:
            return await asyncio.shield(self._stopping[kernel_id])
        self._stopping[kernel_id] = done = asyncio.get_running_loop().create_future()
        try:
            deadline = asyncio.get_running_loop().time() + 60
            while asyncio.get_running_loop().time() < deadline:  # a restart replaces `ready` at each step
                ready = getattr(self._kernels.get(kernel_id), "ready", None)
                if ready is None or ready.done():
                    break
                await asyncio.sleep(0.1)
            result = await super().shutdown_kernel(kernel_id, *args, **kwargs)
            self._pages.pop(kernel_id, None)
            self._connected.discard(kernel_id)
            forget_request_info(kernel_id)
            done.set_result(result)
            return result
        except BaseException as exc:
            done.set_exception(exc)
            done.exception()  # retrieved here: a second caller re-raises it, nobody logs it twice
            raise
        finally:
            del self._stopping[kernel_id]


def forget_request_info(kernel_id: str) -> None:
    """Drop what Voila keeps for ``/voila/query/<kernel id>``: it would keep it for every page ever served."""
    from voila.request_info_handler import RequestInfoSocketHandler

    getattr(RequestInfoSocketHandler, "_cache", {}).pop(kernel_id, None)


def page_owns(handler: tornado.web.RequestHandler, kernel_id: str) -> bool:
    """Return True if the request comes from the page that took ``kernel_id``; log it when it does not."""
    manager = handler.settings["kernel_manager"]
    sent = [handler.get_cookie(name) for name in PAGE_COOKIES.values()]
    if isinstance(manager, ClassKernelManager) and any(manager.page_owns(kernel_id, s) for s in sent):
        return True
    handler.log.warning(
        "Refused %s %s from %s: not the page that took kernel %s",
        handler.request.method,
        handler.request.path,
        handler.request.remote_ip,
        kernel_id,
    )
    return False


class PageAuthorizer(Authorizer):
    """Allow anything a logged-in student may do, but a kernel only to the page that took it."""

    def is_authorized(self, handler, user, action: str, resource: str) -> bool:
        """Kernels: only their page (websocket, REST info, DELETE). Everything else: allowed, as in Voila."""
        if resource != "kernels":
            return True
        kernel_id = handler.path_kwargs.get("kernel_id")
        if kernel_id and kernel_id not in handler.settings["kernel_manager"]:
            return True  # nothing to protect: the handler says 404 (a page whose kernel went says reload)
        if kernel_id and page_owns(handler, kernel_id):
            return True
        if isinstance(handler, tornado.websocket.WebSocketHandler):
            # Its error page needs templates the kernel websocket handler lacks: a traceback per refusal.
            handler.set_status(403)
            raise tornado.web.Finish("Not this page's kernel.")
        return False


class _PageKernels:
    """The kernel manager as one page's request sees it: notes which kernel the page takes."""

    def __init__(self, manager, page: tornado.web.RequestHandler) -> None:
        self._manager, self._page = manager, page

    def __getattr__(self, name: str):
        return getattr(self._manager, name)

    async def get_rendered_notebook(self, *args, **kwargs):
        render_task, rendered, kernel_id = await self._manager.get_rendered_notebook(*args, **kwargs)
        self._page.took(kernel_id)
        return render_task, rendered, kernel_id

    async def start_kernel(self, *args, **kwargs) -> str:
        kernel_id = await ensure_async(self._manager.start_kernel(*args, **kwargs))
        self._page.took(kernel_id)
        return kernel_id


def _page_handler(base: type) -> type:
    """Return Voila's page handler ``base`` with the app's page rules (a class, so that Voila's stays untouched)."""

    class ClassPageHandler(base):
        """Voila's page, with no theme or template override, a 503 when full, and a cookie bound to its kernel."""

        @property
        def kernel_manager(self):
            return _PageKernels(self.settings["kernel_manager"], self)

        @tornado.web.authenticated
        async def get(self, path=None):
            for name in ("theme", "template"):  # either would skip the warm pool and start a kernel
                self.request.arguments.pop(name, None)
                self.request.query_arguments.pop(name, None)
            manager = self.settings["kernel_manager"]
            if manager.get_pool_size(self.notebook_path) == 0 and not manager.has_room():
                self.log.warning("The class is full: refused a page to %s", self.request.remote_ip)
                raise ClassFullError()
            await super().get(path)

        def took(self, kernel_id: str) -> None:
            """Bind ``kernel_id`` to this page: a secret cookie only its own kernel's URLs receive."""
            secret = secrets.token_urlsafe(32)
            self.settings["kernel_manager"].bind_page(kernel_id, secret)
            secure = self.request.protocol == "https"
            for prefix, name in PAGE_COOKIES.items():
                self.set_cookie(
                    name,
                    secret,
                    path=url_path_join(self.base_url, prefix, kernel_id),
                    httponly=True,
                    samesite="Strict",
                    secure=secure,
                    max_age=PAGE_COOKIE_AGE,
                )
            self.xsrf_token  # noqa: B018 - sets the _xsrf cookie that the page's shutdown beacon sends back

    return ClassPageHandler


def _shutdown_handler(base: type) -> type:
    class ClassShutdownHandler(base):
        """Voila's shutdown beacon (a page closing), for the page's own kernel only."""

        @tornado.web.authenticated
        async def post(self, kernel_id):
            if kernel_id not in self.kernel_manager:
                raise tornado.web.HTTPError(404)  # gone already (its page's second beacon, a restart)
            if not page_owns(self, kernel_id):
                raise tornado.web.HTTPError(403)
            self.log.info("Kernel %s: its page closed; shutting it down", kernel_id)
            await super().post(kernel_id)

    return ClassShutdownHandler


class ClosedHandler(tornado.web.RequestHandler):
    """A route the app does not serve."""

    def get(self, *args, **kwargs) -> None:
        raise tornado.web.HTTPError(404)


def install_handlers(voila_class: type) -> None:
    """Make ``voila_class`` (voila.app.Voila) serve its page and shutdown handlers with the app's guards."""
    from voila.request_info_handler import RequestInfoSocketHandler
    from voila.shutdown_kernel_handler import VoilaShutdownKernelHandler
    from voila.tornado.handler import TornadoVoilaHandler

    swaps = {
        TornadoVoilaHandler: _page_handler(TornadoVoilaHandler),
        VoilaShutdownKernelHandler: _shutdown_handler(VoilaShutdownKernelHandler),
        RequestInfoSocketHandler: ClosedHandler,
    }
    init_handlers = voila_class.init_handlers

    def guarded_init_handlers(app) -> list:
        routes = init_handlers(app)
        missing = {TornadoVoilaHandler, VoilaShutdownKernelHandler} - {route[1] for route in routes}
        if missing:
            raise RuntimeError(
                f"This Voila has no {sorted(c.__name__ for c in missing)} handler: "
                "app/config/class_server.py needs updating for it."
            )
        return [(route[0], swaps.get(route[1], route[1]), *route[2:]) for route in routes]

    voila_class.init_handlers = guarded_init_handlers
