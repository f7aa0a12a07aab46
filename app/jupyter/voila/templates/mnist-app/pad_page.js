// The pad's page for every student: screen readers, the keyboard, and the room the pad may take.
// PAD_CSS (mnistlib/classroom/panels.py) lays the pad out; this script adds what only the page can:
// * the canvas is named by the pad's text alternative (role img), out of the Tab order (the keyboard
//   cannot draw; Upload is the way round), and Tab on a focused canvas moves on: ipycanvas's own key
//   handler would swallow it and trap the focus;
// * the reading is announced when it settles (an ARIA live region, updated on finished readings only:
//   the reading's data-live="false"), not on every live reading while a stroke is drawn;
// * toggle buttons say whether they are pressed (aria-pressed), the upload button says "Upload"
//   (ipywidgets adds a file count, always 0 here: the pad empties it after each upload);
// * the page has a main landmark, and CSS learns the header's height (--mnist-above) to fit the pad.
// Included by index.html.j2 (a Jinja template: no double braces or brace-percent in this file).
(function () {
  "use strict";
  const root = document.documentElement;

  function announcer(pad) {
    const reading = pad.querySelector(".mnist-reading");
    if (!reading) return null;
    let region = reading.querySelector(".mnist-announce");
    if (!region) {
      // Inside the reading widget's element, which ipywidgets keeps; it only replaces the content beside it.
      region = document.createElement("div");
      region.className = "mnist-announce mnist-sr-only";
      region.setAttribute("role", "status");
      region.setAttribute("aria-live", "polite");
      region.setAttribute("aria-atomic", "true");
      reading.appendChild(region);
    }
    return region;
  }

  function settledText(box) {
    const state = box.dataset.state;
    const hint = (box.querySelector(".mnist-hint") || {}).textContent || "";
    if (state === "digit") return `The model reads ${box.dataset.digit}, ${hint}.`;
    if (state === "unsure") return `The model is ${hint.replace(/^Not sure/, "not sure")}`;
    return "The pad is empty: draw a digit.";
  }

  function announce(pad) {
    const region = announcer(pad);
    const box = pad.querySelector(".mnist-reading [data-state]");
    if (!region || !box || box.dataset.live !== "false") return;
    const text = settledText(box);
    // A blank pad is news only after a reading (Clear, Undo of the last stroke), not when the page opens.
    if (box.dataset.state === "blank" && !region.dataset.said) return;
    if (text !== region.textContent) region.textContent = text;
    region.dataset.said = box.dataset.state === "blank" ? "" : "1";
  }

  function nameCanvas(pad) {
    const canvas = pad.querySelector("canvas.mnist-canvas");
    const help = pad.querySelector(".mnist-pad-help");
    if (!canvas || canvas.dataset.mnistNamed) return;
    canvas.dataset.mnistNamed = "1";
    canvas.setAttribute("role", "img");
    canvas.setAttribute("aria-label", help ? help.textContent.trim() : "Drawing pad");
    canvas.setAttribute("tabindex", "-1");
    if (help) help.setAttribute("aria-hidden", "true"); // the canvas says it now: once is enough
  }

  function markPressed(pad) {
    pad.querySelectorAll(".widget-toggle-button").forEach((button) => {
      const pressed = String(button.classList.contains("mod-active"));
      if (button.getAttribute("aria-pressed") !== pressed) button.setAttribute("aria-pressed", pressed);
    });
  }

  function plainUpload(pad) {
    pad.querySelectorAll(".mnist-upload").forEach((button) => {
      button.childNodes.forEach((node) => {
        if (node.nodeType !== Node.TEXT_NODE) return;
        const plain = node.data.replace(/\s*\(\d+\)\s*$/, "");
        if (plain !== node.data) node.data = plain;
      });
    });
  }

  function measureAbove() {
    const pad = document.querySelector(".mnist-pad");
    if (!pad) return;
    const above = Math.max(0, Math.round(pad.getBoundingClientRect().top + window.scrollY));
    if (root.style.getPropertyValue("--mnist-above") !== `${above}px`) {
      root.style.setProperty("--mnist-above", `${above}px`);
    }
  }

  function enhance() {
    document.querySelectorAll(".mnist-pad").forEach((pad) => {
      nameCanvas(pad);
      markPressed(pad);
      plainUpload(pad);
      announce(pad);
    });
    measureAbove();
  }

  // Tab and Shift+Tab on the canvas never reach ipycanvas's key handler, which cancels them.
  document.addEventListener(
    "keydown",
    (event) => {
      const target = event.target;
      if (event.key === "Tab" && target instanceof Element && target.matches(".mnist-pad canvas")) {
        event.stopPropagation();
      }
    },
    true,
  );

  function start() {
    const main = document.getElementById("rendered_cells");
    if (main && !main.getAttribute("role")) main.setAttribute("role", "main");
    let queued = false;
    new MutationObserver(() => {
      if (queued) return;
      queued = true;
      requestAnimationFrame(() => {
        queued = false;
        enhance();
      });
    }).observe(document.body, {
      subtree: true,
      childList: true,
      characterData: true,
      attributes: true,
      attributeFilter: ["class", "data-live"],
    });
    window.addEventListener("resize", measureAbove);
    enhance();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
