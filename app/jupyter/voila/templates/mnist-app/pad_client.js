// The pad's strokes, handled in the browser (the app page only; in JupyterLab, ipycanvas's own events).
// Without this, every mouse move is a message to the kernel, and the ink appears only once the kernel
// has answered with a drawing command: with a class of 30 on one server, moves queue behind each other
// and the ink lags by seconds. Here, for the pad's canvas (`.mnist-pad canvas`, widget class
// mnist-canvas), the page:
// * inks each stroke at once on the canvas widget's own picture (ipycanvas's model canvas, which
//   every view of it copies), with the pad's brush (widget class mnist-brush-N);
// * sends the kernel a stroke as "mnist_down", then its points in batches ("mnist_moves", one every
//   BATCH_MS) and "mnist_up" with the last batch's points (mnistlib.classroom.pad.PadEvents reads them; the
//   kernel draws nothing back);
// * keeps the stroke being drawn on top when the kernel repaints the canvas meanwhile.
// Included by index.html.j2 (a Jinja template: no double braces or brace-percent in this file).
(function () {
  "use strict";
  // At most 3-4 messages a second while drawing, instead of one per mouse move (about 60 a second).
  // Each message costs the kernel and the server CPU whatever it holds, and the app reads the drawing
  // live at most every 0.3 s (app/app.ipynb's live_interval): sending points more often than that only
  // adds messages, which a whole class's kernels then queue for. The ink does not wait for them.
  const BATCH_MS = 300;
  const MIN_STEP = 2; // px: closer points add nothing visible (mnistlib.classroom.strokes.Strokes.min_step)
  const wrapped = new WeakSet();

  function brushOf(model) {
    const found = (model.get("_dom_classes") || []).map((c) => /^mnist-brush-(\d+)$/.exec(c)).find(Boolean);
    return found ? Number(found[1]) : 18;
  }

  function takeOver(model) {
    if (wrapped.has(model)) return;
    wrapped.add(model);
    const send = model.send.bind(model);
    const brush = brushOf(model);
    let stroke = null; // the points of the stroke being drawn, null when the pen is up
    // A stroke begun before this script took the pad over is ipycanvas's: its events pass through.
    let ours = false;
    let batch = [];
    let timer = null;

    function ink(points) {
      const c = model.ctx;
      c.save();
      c.strokeStyle = c.fillStyle = "white";
      c.lineWidth = brush;
      c.lineCap = c.lineJoin = "round";
      c.beginPath();
      if (points.length === 1) {
        c.arc(points[0][0], points[0][1], brush / 2, 0, 2 * Math.PI);
        c.fill();
      } else {
        c.moveTo(points[0][0], points[0][1]);
        points.slice(1).forEach((p) => c.lineTo(p[0], p[1]));
        c.stroke();
      }
      c.restore();
    }

    const show = () => model.forEachView((view) => view.updateCanvas());

    function flush() {
      if (timer !== null) clearTimeout(timer);
      timer = null;
      if (batch.length) send({ event: "mnist_moves", points: batch }, {});
      batch = [];
    }

    function down(x, y) {
      if (stroke) up();
      ours = true;
      stroke = [[x, y]];
      ink(stroke);
      show();
      send({ event: "mnist_down", x, y }, {});
    }

    function move(x, y) {
      if (!stroke) return; // moves with the pen up draw nothing: not worth a message
      const last = stroke[stroke.length - 1];
      if (Math.hypot(x - last[0], y - last[1]) < MIN_STEP) return;
      stroke.push([x, y]);
      ink([last, [x, y]]);
      show();
      batch.push([x, y]);
      if (timer === null) timer = setTimeout(flush, BATCH_MS);
    }

    function up() {
      if (!stroke) return;
      stroke = null;
      if (timer !== null) clearTimeout(timer);
      timer = null;
      send({ event: "mnist_up", points: batch }, {}); // the last points and the pen-up, in one message
      batch = [];
    }

    // ipycanvas's view reports the pointer through model.send, in canvas pixels.
    model.send = function (content, callbacks, buffers) {
      const event = content && content.event;
      const touch = content && content.touches && content.touches[0];
      if (!ours && event !== "mouse_down" && event !== "touch_start") return send(content, callbacks, buffers);
      if (event === "mouse_down") return down(content.x, content.y);
      if (event === "mouse_move") return move(content.x, content.y);
      if (event === "touch_start") return touch ? down(touch.x, touch.y) : undefined;
      if (event === "touch_move") return touch ? move(touch.x, touch.y) : undefined;
      if (["mouse_up", "mouse_out", "touch_end", "touch_cancel"].includes(event)) return up();
      return send(content, callbacks, buffers);
    };
    // The kernel's drawing commands (a repaint after Clear, Undo, an upload) land on the model canvas,
    // then syncViews shows them: ink the open stroke again on top, so it never blinks out.
    const syncViews = model.syncViews.bind(model);
    model.syncViews = function () {
      if (stroke) ink(stroke);
      return syncViews();
    };
  }

  function scan() {
    const app = window.jupyterapp;
    const manager = app && app.widgetManager;
    if (!manager || !manager._models) return;
    Object.values(manager._models).forEach((promise) => {
      Promise.resolve(promise)
        .then((model) => {
          const isPad = (model.get("_dom_classes") || []).includes("mnist-canvas");
          if (isPad && typeof model.syncViews === "function" && model.ctx) takeOver(model);
        })
        .catch(() => {});
    });
  }

  // Widgets arrive as the page loads; a pad that appears later is taken over within a second.
  setInterval(scan, 500);
  scan();
})();
