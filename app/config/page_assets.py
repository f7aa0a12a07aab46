"""What the app page loads: the JupyterLab extensions it uses, and where its JavaScript comes from.

Voila loads every JupyterLab extension installed in the environment into every page. The pad needs
the widgets (ipywidgets' manager and Voila's own for ipywidgets 8) and ipycanvas; anything else
installed beside them (jupyterlab_pygments comes with nbconvert) would be one more download per
student. app/config/voila.py makes :data:`EXTENSIONS` Voila's allowlist, and app/serve.py
serves the same list from disk behind nginx.

Behind app/serve.py's nginx, the page's JavaScript comes from one shared address for every Voila
process, with a content hash in the path (:func:`shared_static_urls`): a student's browser fetches
it once, keeps it for a year, and the Voila processes never see those requests.
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
