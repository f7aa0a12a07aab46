"""What the app page loads: the JupyterLab extensions it uses, and where its JavaScript comes from.

Voila loads every JupyterLab extension installed in the environment into every page. The pad needs
the widgets (ipywidgets' manager and Voila's own for ipywidgets 8) and ipycanvas; anything else
installed beside them (jupyterlab_pygments comes with nbconvert) would be one more download per
student. app/config/voila.py makes :data:`EXTENSIONS` Voila's allowlist, and app/serve.py
serves the same list from disk behind nginx.

Behind app/serve.py's nginx, the page's JavaScript comes from one shared address for every Voila
process, with a content hash in the path (:func:`shared_static_urls`): a student's browser fetches
it once, keeps it for a year, and the Voila processes never see those requests. A Voila serving the
class alone (no nginx) compresses what it sends itself (:func:`gzip_responses`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

EXTENSIONS = (
    "@jupyter-widgets/jupyterlab-manager",
    "@voila-dashboards/widgets-manager8",
    "ipycanvas",
)


def shared_static_urls(static_url: str, labextensions_url: str) -> Callable[..., dict[str, Any]]:
    """Return a Voila ``page_config_hook`` that points the page's scripts at ``static_url`` and ``labextensions_url``.

    Voila's main script and its chunks load from ``fullStaticUrl`` (webpack takes its public path
    from the script's own address) and each extension from ``fullLabextensionsUrl``/<name>/.
    """

    def hook(page_config: dict[str, Any], **_context: Any) -> dict[str, Any]:
        return {**page_config, "fullStaticUrl": static_url, "fullLabextensionsUrl": labextensions_url}

    return hook


def gzip_responses(voila_class: type) -> None:
    """Make ``voila_class`` (voila.app.Voila) gzip its answers, as Tornado's ``compress_response`` does.

    Voila hands its ``tornado_settings`` to the application after creating it, too late for that
    setting, so the transform is added where Voila adds its handlers.
    """
    import tornado.web

    init_handlers = voila_class.init_handlers

    def init_handlers_gzipped(app) -> list:
        if tornado.web.GZipContentEncoding not in app.app.transforms:
            app.app.transforms.append(tornado.web.GZipContentEncoding)
        return init_handlers(app)

    voila_class.init_handlers = init_handlers_gzipped
