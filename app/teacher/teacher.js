// The teacher's live view in the browser: ask the server for the class's summary every second, swap the
// sections that changed, open "how the model sees it" for a clicked drawing, send the teacher's actions.
// The server renders every piece of HTML (mnistlib/classroom/class_view.py), escaping what students
// typed; this script only moves it into place. app/config/teacher_view.py serves it, under a nonce.
(function () {
  "use strict";
  const POLL_MS = 800; // from one poll's start to the next: a save shows within about a second
  const TIMEOUT_MS = 5000;
  const view = document.querySelector(".mnist-class-view");
  const csrf = document.querySelector('meta[name="mnist-teacher-token"]').content;
  const live = document.querySelector(".tv-live");
  const message = document.querySelector(".tv-message");
  const dialog = document.querySelector(".tv-dialog");
  const dialogBody = dialog.querySelector(".tv-dialog-body");
  const shown = new Map(); // section -> the HTML it shows, as the server sent it
  const gone = new Set(); // drawings the teacher hid or deleted: never shown again by a late answer
  let token = view.dataset.token;
  let pollSaid = false; // the message line shows a poll's trouble, to clear once polls work again
  // Every change the page showed, for the classroom benchmark's lag (tools/classroom/teacher_page.py).
  const record = (window.mnistClassView = { updates: [], polls: 0 });

  function say(text) {
    message.textContent = text;
  }

  // Replace a section's content, keeping the tiles that did not change (their images stay decoded):
  // a new drawing adds one tile instead of rebuilding the gallery every second.
  function swap(part, html) {
    const next = document.createElement("template");
    next.innerHTML = html;
    next.content.querySelectorAll("li[data-uuid]").forEach((tile) => {
      const old = part.querySelector(`li[data-uuid="${tile.dataset.uuid}"]`);
      if (old && old.outerHTML === tile.outerHTML) tile.replaceWith(old);
    });
    part.replaceChildren(next.content);
  }

  function removeGone() {
    for (const uuid of gone) {
      view.querySelectorAll(`[data-uuid="${uuid}"]`).forEach((tile) => tile.remove());
    }
  }

  function showState(paused, round) {
    const pause = document.querySelector(".tv-pause");
    pause.dataset.action = paused ? "resume" : "pause";
    pause.setAttribute("aria-pressed", String(paused));
    pause.textContent = paused ? "Resume saving" : "Pause saving";
    document.querySelectorAll(".tv-round [data-digit]").forEach((button) => {
      button.setAttribute("aria-pressed", String(String(round) === button.dataset.digit));
    });
    document.querySelector(".tv-end-round").hidden = round === null || round === "";
  }

  function apply(answer) {
    if (!answer || answer.unchanged) return;
    token = answer.token;
    for (const [name, value] of Object.entries(answer.attributes)) view.setAttribute(name, value);
    for (const [name, html] of Object.entries(answer.sections)) {
      if (shown.get(name) === html) continue;
      const part = view.querySelector(`[data-section="${name}"]`);
      if (part) swap(part, html);
      shown.set(name, html);
    }
    removeGone();
    showState(answer.paused, answer.round);
    record.updates.push({ at: Date.now(), count: answer.count });
    if (record.updates.length > 5000) record.updates.shift();
  }

  function connected(ok) {
    live.textContent = ok ? "live" : "reconnecting...";
    live.classList.toggle("tv-lost", !ok);
  }

  async function poll() {
    const started = performance.now();
    record.polls += 1;
    try {
      const since = encodeURIComponent(token);
      const r = await fetch(`api/summary?since=${since}`, { cache: "no-store", signal: AbortSignal.timeout(TIMEOUT_MS) });
      if (r.status === 403) {
        window.location.reload(); // the teacher's cookie has gone: the login form
        return;
      }
      if (!r.ok) {
        const why = (await r.json().catch(() => ({}))).message; // a damaged or locked store says what to do
        if (why) say(why);
        pollSaid = Boolean(why);
        throw new Error(`HTTP ${r.status}`);
      }
      apply(await r.json());
      if (pollSaid) say("");
      pollSaid = false;
      connected(true);
    } catch (error) {
      connected(false);
    }
    window.setTimeout(poll, Math.max(100, POLL_MS - (performance.now() - started)));
  }

  async function act(body) {
    try {
      const r = await fetch("api/action", {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-MNIST-Teacher": csrf },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(15000),
      });
      const answer = await r.json().catch(() => ({}));
      if (!r.ok) {
        say(answer.message || `The server refused (${r.status}).`);
        return;
      }
      say("");
      apply(answer.summary);
    } catch (error) {
      say("The server did not answer: try again.");
    }
  }

  async function openDrawing(uuid, opener) {
    const r = await fetch(`api/drawing/${uuid}`, { cache: "no-store" });
    if (!r.ok) {
      say((await r.json().catch(() => ({}))).message || "That drawing could not be shown.");
      return;
    }
    dialogBody.innerHTML = await r.text();
    dialog.returnFocus = opener;
    dialog.showModal();
  }

  function forget(uuid) {
    gone.add(uuid); // gone from this page at once; the server confirms
    removeGone();
    if (dialog.open) dialog.close();
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest("button");
    if (!button) return;
    const tile = button.closest(".cv-tile");
    if (button.classList.contains("cv-open") && tile) {
      openDrawing(tile.dataset.uuid, button);
      return;
    }
    const action = button.dataset.action;
    if (!action) return;
    if (action === "round") act({ action, digit: Number(button.dataset.digit) });
    else if (action === "hide") {
      forget(button.dataset.uuid);
      act({ action, uuid: button.dataset.uuid });
    } else if (action === "delete") {
      if (!button.dataset.armed) {
        button.dataset.armed = "1"; // a second click deletes: nothing is deleted by a slip
        button.textContent = "Delete for good? Click again";
        return;
      }
      forget(button.dataset.uuid);
      act({ action, uuid: button.dataset.uuid });
    } else if (action === "show-hidden") {
      gone.clear();
      act({ action });
    } else act({ action });
  });

  dialog.addEventListener("close", () => {
    dialogBody.textContent = "";
    if (dialog.returnFocus && dialog.returnFocus.isConnected) dialog.returnFocus.focus();
  });

  view.querySelectorAll("[data-section]").forEach((part) => shown.set(part.dataset.section, null));
  showState(view.dataset.paused === "true", view.dataset.round);
  window.setTimeout(poll, POLL_MS);
})();
