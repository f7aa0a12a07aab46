// Watch the kernel behind this page's pad. When it dies, is restarted empty, is culled after a long
// pause or the server stops, the pad can never answer again: say so where the student looks
// (`.mnist-pad .mnist-message [data-kind="reload"]`, or a banner if no pad was shown yet) and stop
// the dead pad from taking strokes. A reload gets a fresh kernel from the server's pool.
// Included by index.html.j2 (a Jinja template: no double braces or brace-percent in this file).
(function () {
  "use strict";
  const TEXT = "This pad lost its connection to the server (its kernel stopped, or was shut down " +
    "after a long pause). Reload the page to get a working pad.";
  const FATAL = ["dead", "restarting", "autorestarting", "terminating"];
  const POLL_MS = 10000; // a safety net: a REST look at the kernel, cheap for the server
  let lost = false;
  let unloading = false;

  function config() {
    const el = document.getElementById("jupyter-config-data");
    try {
      return el ? JSON.parse(el.textContent) : {};
    } catch (err) {
      return {};
    }
  }

  function messageHtml(reason) {
    return `<div class="mnist-message-text mnist-error" data-kind="reload" data-reason="${reason}" ` +
      `role="alert">${TEXT} <button type="button" class="mnist-reload">Reload the page</button></div>`;
  }

  function showLost(reason) {
    if (lost || unloading) return;
    lost = true;
    document.body.dataset.mnistKernel = reason;
    const slots = document.querySelectorAll(".mnist-pad .mnist-message");
    if (slots.length) {
      slots.forEach((el) => { el.innerHTML = messageHtml(reason); });
    } else {
      const banner = document.createElement("div");
      banner.className = "mnist-message mnist-page-message";
      banner.innerHTML = messageHtml(reason);
      document.body.prepend(banner);
    }
    document.querySelectorAll(".mnist-pad").forEach((pad) => pad.classList.add("mnist-pad-lost"));
    document.querySelectorAll(".mnist-reload").forEach((button) => {
      button.addEventListener("click", () => window.location.reload());
    });
  }

  // A kernel the server restarted by itself is empty (no pad in it): free it now instead of at culling.
  function shutDown(baseUrl, kernelId) {
    const form = new FormData();
    const xsrf = document.cookie.match("\\b_xsrf=([^;]*)\\b");
    form.append("_xsrf", (xsrf && xsrf[1]) || "");
    navigator.sendBeacon(`${baseUrl}voila/api/shutdown/${kernelId}`, form);
  }

  async function check(baseUrl, kernelId) {
    if (lost || unloading) return;
    const token = new URLSearchParams(window.location.search).get("token");
    const headers = token ? { Authorization: `token ${token}` } : {};
    try {
      const reply = await fetch(`${baseUrl}api/kernels/${kernelId}`, { headers, cache: "no-store" });
      if (reply.status === 404) {
        showLost("gone");
      } else if (reply.ok) {
        const model = await reply.json();
        if (model.execution_state === "dead") showLost("dead");
      }
    } catch (err) {
      showLost("unreachable"); // the server itself is gone
    }
  }

  function start() {
    const page = config();
    const baseUrl = page.baseUrl || "/";
    const kernelId = page.kernelId;
    if (!kernelId) return;
    window.addEventListener("beforeunload", () => { unloading = true; });
    setInterval(() => check(baseUrl, kernelId), POLL_MS);
    // The widget manager's own connection to the kernel reports restarts and lost sockets at once.
    const hook = () => {
      const app = window.jupyterapp;
      const kernel = app && app.widgetManager && app.widgetManager.kernel;
      if (!kernel) {
        setTimeout(hook, 250);
        return;
      }
      kernel.statusChanged.connect((_, status) => {
        if (FATAL.includes(status)) {
          if (status !== "terminating") shutDown(baseUrl, kernelId);
          showLost(status === "dead" ? "dead" : "restarted");
        }
      });
      kernel.connectionStatusChanged.connect((_, status) => {
        if (status !== "connected") check(baseUrl, kernelId);
      });
      if (FATAL.includes(kernel.status)) showLost("dead");
    };
    hook();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
