"""The drawing pad: draw a digit (mouse, finger or stylus) or upload a picture and watch a model read it.

The only module that imports ipycanvas and ipywidgets. The logic is plain Python and needs no browser:

* ``Strokes`` keeps every point the browser sends and rasterises the strokes with Pillow (round
  brush, white ink on black, canvas resolution), so a prediction is a pure function of the strokes;
* ``Throttle`` decides when a prediction is due while a stroke is still being drawn.

``DrawingPad`` only wires canvas, button and upload events to them and renders the results.
"""

from __future__ import annotations

import io
import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import numpy as np
from ipycanvas import Canvas, hold_canvas
from PIL import Image, ImageDraw, ImageOps
from torch import nn

import mnistlib
from mnistlib.checkpoints import SHIPPED_MODELS, CheckpointError, load_model, read_checkpoint
from mnistlib.paths import MODELS_DIR
from mnistlib.preprocess import to_grey, to_mnist

Point = tuple[float, float]

PAD_SIZE = 280  # CSS px and canvas px: ten screen pixels per MNIST pixel
BRUSH_WIDTH = 18  # px; a digit drawn 150-250 px tall and fitted into 20x20 gets MNIST's 1.5-2.5 px pen
UNSURE_BELOW = 0.6  # a top probability under this shows the "not sure" hint
LIVE_INTERVAL = 0.15  # s: at most this often a prediction while a stroke is drawn
MAX_UPLOAD_BYTES = 10 * 1024 * 1024  # larger files are refused before decoding
MODEL_VIEW_SIZE = 140  # px: the 28x28 model input shown enlarged five times
# What each step of mnistlib.preprocess.to_mnist does, for the captions of the steps panel.
STEP_CAPTIONS = {"grey": "in grey", "ink": "ink made bright", "cleaned": "background removed",
                 "cropped": "cut to the ink", "fitted": "fitted into 20 x 20",
                 "centered": "centred in 28 x 28"}


class Strokes:
    """The strokes drawn on the pad, in canvas pixels, and their rasterisation with Pillow."""

    def __init__(self, width: int = PAD_SIZE, height: int = PAD_SIZE, brush: int = BRUSH_WIDTH,
                 min_step: float = 2.0) -> None:
        self.width, self.height, self.brush = width, height, brush
        self.min_step = min_step  # points closer than this to the last one add nothing visible
        self.strokes: list[list[Point]] = []
        self.drawing = False

    def __len__(self) -> int:
        return len(self.strokes)

    @property
    def is_empty(self) -> bool:
        """True when nothing has been drawn."""
        return not self.strokes

    def start(self, x: float, y: float) -> None:
        """Begin a new stroke at (x, y), ending any stroke still open."""
        self.end()
        self.strokes.append([(float(x), float(y))])
        self.drawing = True

    def add(self, x: float, y: float) -> Point | None:
        """Extend the open stroke to (x, y); return the previous point, or None if nothing was added."""
        if not self.drawing:
            return None
        last = self.strokes[-1][-1]
        if math.dist(last, (x, y)) < self.min_step:
            return None
        self.strokes[-1].append((float(x), float(y)))
        return last

    def end(self) -> bool:
        """Close the open stroke; return True if there was one."""
        was_drawing, self.drawing = self.drawing, False
        return was_drawing

    def undo(self) -> bool:
        """Remove the last stroke; return True if there was one."""
        self.drawing = False
        if not self.strokes:
            return False
        self.strokes.pop()
        return True

    def clear(self) -> None:
        """Remove every stroke."""
        self.strokes.clear()
        self.drawing = False

    def add_stroke(self, points: Iterable[Point]) -> None:
        """Add a whole stroke at once (for scripts, tests and exercises)."""
        points = list(points)
        if not points:
            raise ValueError("A stroke needs at least one (x, y) point.")
        self.start(*points[0])
        for x, y in points[1:]:
            self.add(x, y)
        self.end()

    def rasterize(self) -> np.ndarray:
        """Return the drawing as a (height, width) uint8 array: white ink (255) on black (0)."""
        image = Image.new("L", (self.width, self.height), 0)
        draw = ImageDraw.Draw(image)
        r = self.brush / 2
        for stroke in self.strokes:
            if len(stroke) > 1:
                draw.line(stroke, fill=255, width=self.brush, joint="curve")
            # A disc at every point gives round caps and joints, as the canvas's round line caps do.
            for x, y in stroke:
                draw.ellipse((x - r, y - r, x + r, y + r), fill=255)
        return np.asarray(image)


class Throttle:
    """Decide when a live prediction is due while a stroke is drawn.

    At most one every ``interval`` seconds, never while one is running, and never sooner after the last
    one ended than it took: predictions then use at most half of the kernel's time, so the mouse-move
    events the browser sends without any throttling cannot pile up behind them.
    """

    def __init__(self, interval: float = LIVE_INTERVAL, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self.clock = clock
        self.running = False
        self.last_duration = 0.0
        self._next = -math.inf  # earliest clock time at which the next live prediction may start

    def due(self) -> bool:
        """Return True if a live prediction may start now."""
        return not self.running and self.clock() >= self._next

    @contextmanager
    def run(self) -> Iterator[None]:
        """Wrap one prediction (live or final) to record when it ran and how long it took."""
        self.running = True
        start = self.clock()
        try:
            yield
        finally:
            end = self.clock()
            self.running = False
            self.last_duration = end - start
            self._next = max(start + self.interval, end + self.last_duration)


def model_choices(models_dir: Path = MODELS_DIR) -> dict[str, Path]:
    """Return the models the pad offers, label -> checkpoint: the shipped CNN and MLP, then students' ones."""
    labels = {"cnn": "CNN (shipped)", "mlp_improved": "MLP (shipped)"}
    choices = {labels[name]: path for name, path in SHIPPED_MODELS.items() if path.is_file()}
    for path in sorted(Path(models_dir).glob("student_*.pt")):
        choices[f"Yours: {path.stem.removeprefix('student_')}"] = path
    return choices


def _checkpoint_accuracy(path: Path) -> str:
    try:
        acc = read_checkpoint(path).get("metadata", {}).get("test_acc")
    except CheckpointError:
        return ""
    return f", {acc:.1%} on the test set" if isinstance(acc, float) else ""


def _uint8(image: np.ndarray) -> np.ndarray:
    """Return a (H, W) image as uint8; floats are taken to be in [0, 1]."""
    image = np.asarray(image)
    return image if image.dtype == np.uint8 else (np.clip(image, 0.0, 1.0) * 255).round().astype(np.uint8)


def png_bytes(image: np.ndarray, size: int | None = None) -> bytes:
    """Encode a (H, W) image (uint8, or float in [0, 1]) as PNG, its long side enlarged to ``size`` px."""
    image = Image.fromarray(_uint8(image))
    if size is not None:
        # Nearest-neighbour keeps each MNIST pixel a crisp square instead of a blur.
        scale = size / max(image.size)
        new_size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(new_size, Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def reading_html(state: str, digit: int | None = None, probabilities: Sequence[float] | None = None,
                 strokes: int = 0, live: bool = False) -> str:
    """Render the big reading: ``state`` is "blank", "digit" or "unsure".

    The data attributes let tests read it: the digit, how many finished ``strokes`` it reads and
    whether it is a ``live`` reading taken while a stroke was still being drawn.
    """
    data = f'data-strokes="{strokes}" data-live="{str(live).lower()}"'
    if state == "blank" or digit is None or probabilities is None:
        return (f'<div class="mnist-reading-box" data-state="blank" data-digit="" {data}>'
                '<div class="mnist-big mnist-empty">?</div>'
                '<div class="mnist-hint">Draw a digit on the black pad</div></div>')
    p = np.asarray(probabilities, dtype=float)
    top = p[digit]
    if state == "unsure":
        runner_up = int(np.argsort(p)[-2])
        hint = f"Not sure: {digit} ({top:.0%}) or {runner_up} ({p[runner_up]:.0%})?"
    else:
        hint = f"{top:.0%} sure"
    return (f'<div class="mnist-reading-box" data-state="{state}" data-digit="{digit}" {data}>'
            f'<div class="mnist-big mnist-{state}">{digit}</div>'
            f'<div class="mnist-hint">{hint}</div></div>')


def bars_html(probabilities: Sequence[float] | None = None, unsure_below: float = UNSURE_BELOW) -> str:
    """Render ten horizontal bars, one per digit, the most probable one highlighted."""
    p = np.zeros(10) if probabilities is None else np.asarray(probabilities, dtype=float)
    top = int(p.argmax()) if probabilities is not None else -1
    rows = []
    for d in range(10):
        kind = ("mnist-top-unsure" if p[d] < unsure_below else "mnist-top") if d == top else ""
        rows.append(
            f'<div class="mnist-bar-row {kind}" data-digit="{d}" data-p="{p[d]:.4f}">'
            f'<span class="mnist-bar-label">{d}</span>'
            f'<span class="mnist-bar-track"><span class="mnist-bar-fill" style="width:{100 * p[d]:.1f}%">'
            f"</span></span><span class=\"mnist-bar-pct\">{p[d]:.0%}</span></div>"
        )
    return '<div class="mnist-bars">' + "".join(rows) + "</div>"


def message_html(text: str = "", kind: str = "info") -> str:
    """Render the message line under the pad: ``kind`` is "info" or "error"."""
    if not text:
        return '<div class="mnist-message-text" data-kind="none"></div>'
    return f'<div class="mnist-message-text mnist-{kind}" data-kind="{kind}">{_escape(text)}</div>'


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# One style sheet for the pad's HTML panels, scoped by class names. JupyterLab's theme variables
# keep it readable in the dark theme too; the fallbacks are for Voila's light theme.
_CSS = """<style>
.mnist-pad .mnist-reading-box {text-align:center; width:100%;}
.mnist-pad .mnist-big {font: bold 96px/1.05 system-ui, sans-serif;
  color: var(--jp-ui-font-color0, #111);}
.mnist-pad .mnist-big.mnist-empty {color: var(--jp-ui-font-color3, #bbb);}
.mnist-pad .mnist-big.mnist-unsure {color: #c77700;}
.mnist-pad .mnist-hint {font-size:13px; line-height:1.35; min-height:2.7em;
  color: var(--jp-ui-font-color2, #555);}
.mnist-pad .mnist-bars {width:100%; font: 13px/1.2 system-ui, sans-serif;}
.mnist-pad .mnist-bar-row {display:flex; align-items:center; gap:6px; margin:3px 0;
  color: var(--jp-ui-font-color1, #333);}
.mnist-pad .mnist-bar-label {width:1em; text-align:right; font-weight:600;}
.mnist-pad .mnist-bar-track {flex:1; height:14px; border-radius:3px; overflow:hidden;
  background: var(--jp-layout-color2, #eee);}
.mnist-pad .mnist-bar-fill {display:block; height:100%; background:#9db4cc;}
.mnist-pad .mnist-top .mnist-bar-fill {background:#1f6fb4;}
.mnist-pad .mnist-top-unsure .mnist-bar-fill {background:#e08e0b;}
.mnist-pad .mnist-top, .mnist-pad .mnist-top-unsure {font-weight:700;}
.mnist-pad .mnist-bar-pct {width:3.4em; text-align:right; font-variant-numeric: tabular-nums;}
.mnist-pad .mnist-message-text {font-size:13px; line-height:1.35; margin-top:4px;
  color: var(--jp-ui-font-color2, #555);}
.mnist-pad .mnist-message-text.mnist-error {color:#c62828; font-weight:600;}
.mnist-pad .mnist-caption {font-size:12px; line-height:1.35; text-align:center;
  color: var(--jp-ui-font-color2, #555);}
.mnist-pad .mnist-row {gap: 24px;}
.mnist-pad .mnist-steps-row {gap: 12px; margin-top: 8px;}
.mnist-pad .mnist-canvas {border-radius:6px; touch-action:none; cursor:crosshair;}
.mnist-pad .mnist-model-input img {image-rendering: pixelated; border:1px solid #888;}
</style>"""


class DrawingPad(widgets.VBox):
    """Draw a digit (or upload a picture) and see the model's reading and its ten probabilities live.

    Display it as the last expression of a cell: ``DrawingPad()`` offers the shipped CNN and MLP and
    any ``models/student_*.pt`` checkpoint; ``DrawingPad(model)`` adds a model you already have.
    """

    def __init__(self, model: nn.Module | None = None, *, choices: dict[str, Path] | None = None,
                 brush: int = BRUSH_WIDTH, unsure_below: float = UNSURE_BELOW,
                 live_interval: float = LIVE_INTERVAL) -> None:
        self.strokes = Strokes(PAD_SIZE, PAD_SIZE, brush)
        self.throttle = Throttle(live_interval)
        self.unsure_below = unsure_below
        self.prediction: Any = None  # the last mnistlib Prediction shown, None when blank
        self.state = "blank"  # "blank", "digit" or "unsure"
        self._upload: tuple[str, bytes, np.ndarray] | None = None  # (name, file bytes, preview) when shown
        self._models: dict[str, nn.Module | Path] = {}
        if model is not None:
            self._models["This notebook's model"] = model
        self._models.update(model_choices() if choices is None else choices)
        if not self._models:
            raise CheckpointError("No model to read digits with: pass one, or ship models/mnist_cnn.pt.")
        self._loaded: dict[str, nn.Module] = {}

        self.canvas = Canvas(width=PAD_SIZE, height=PAD_SIZE,
                             layout=widgets.Layout(width=f"{PAD_SIZE}px", height=f"{PAD_SIZE}px"))
        self.canvas.add_class("mnist-canvas")
        # Three buttons as wide as the pad together; Upload's label is the longest.
        self.clear_button = widgets.Button(description="Clear", icon="eraser",
                                           layout=widgets.Layout(flex="1 1 0", min_width="0"))
        self.undo_button = widgets.Button(description="Undo", icon="undo",
                                          layout=widgets.Layout(flex="1 1 0", min_width="0"))
        self.upload = widgets.FileUpload(accept="image/*", multiple=False, description="Upload",
                                         layout=widgets.Layout(flex="1.4 1 0", min_width="0"))
        self.model_menu = widgets.Dropdown(options=list(self._models), description="Model",
                                           layout=widgets.Layout(width=f"{PAD_SIZE}px"))
        self.model_menu.style.description_width = "45px"
        self.message = widgets.HTML(message_html())
        self.reading = widgets.HTML(reading_html("blank"), layout=widgets.Layout(width="100%"))
        self.bars = widgets.HTML(bars_html(), layout=widgets.Layout(width="100%"))
        self.model_view = widgets.Image(value=png_bytes(np.zeros((28, 28), np.uint8), MODEL_VIEW_SIZE),
                                        format="png", width=MODEL_VIEW_SIZE, height=MODEL_VIEW_SIZE)
        self.steps_toggle = widgets.ToggleButton(description="Show steps", icon="eye",
                                                 tooltip="Show how the drawing becomes a 28x28 MNIST digit",
                                                 layout=widgets.Layout(width=f"{MODEL_VIEW_SIZE}px"))
        self.steps = widgets.HBox(layout=widgets.Layout(display="none"))
        for widget, css in [(self.reading, "mnist-reading"), (self.bars, "mnist-bars-panel"),
                            (self.message, "mnist-message"), (self.model_view, "mnist-model-view"),
                            (self.steps, "mnist-steps")]:
            widget.add_class(css)

        buttons = widgets.HBox([self.clear_button, self.undo_button, self.upload],
                               layout=widgets.Layout(width=f"{PAD_SIZE + 4}px"))
        left = widgets.VBox([self.canvas, buttons, self.model_menu, self.message],
                            layout=widgets.Layout(width=f"{PAD_SIZE + 4}px"))
        middle = widgets.VBox([self.reading, self.bars], layout=widgets.Layout(width="240px"))
        caption = widgets.HTML('<div class="mnist-caption">What the model sees<br>28 x 28 pixels</div>')
        right = widgets.VBox([caption, self.model_view, self.steps_toggle], layout=widgets.Layout(
            width=f"{MODEL_VIEW_SIZE + 8}px", align_items="center"))
        right.add_class("mnist-model-input")
        row = widgets.HBox([left, middle, right], layout=widgets.Layout(align_items="flex-start"))
        row.add_class("mnist-row")
        super().__init__([widgets.HTML(_CSS, layout=widgets.Layout(height="0px")), row, self.steps])
        self.add_class("mnist-pad")

        self.canvas.on_client_ready(self._on_client_ready)
        self.canvas.on_mouse_down(self._pointer_down)
        self.canvas.on_mouse_move(self._pointer_move)
        self.canvas.on_mouse_up(self._pointer_up)
        self.canvas.on_mouse_out(self._pointer_up)  # a stroke that leaves the pad ends there
        self.canvas.on_touch_start(self._touch_start)
        self.canvas.on_touch_move(self._touch_move)
        self.canvas.on_touch_end(self._touch_end)
        self.canvas.on_touch_cancel(self._touch_end)
        self.clear_button.on_click(lambda _: self.clear())
        self.undo_button.on_click(lambda _: self.undo())
        self.upload.observe(self._on_upload, "value")
        self.model_menu.observe(self._on_model_change, "value")
        self.steps_toggle.observe(self._on_steps_toggle, "value")
        self._model_label = self.model_menu.value
        self.model = self._load(self._model_label)
        self.redraw()

    def __repr__(self) -> str:
        # The default repr lists every child widget (PNG bytes included): too long for a notebook.
        return (f"DrawingPad(model={self.model_menu.value!r}, strokes={len(self.strokes)}, "
                f"state={self.state!r})")

    # ---- public actions -------------------------------------------------------------------------

    def clear(self) -> None:
        """Wipe the pad and go back to the "draw a digit" state."""
        self.strokes.clear()
        self._upload = None
        self.set_message()
        self.redraw()
        self.update()

    def undo(self) -> None:
        """Remove the last stroke and read what is left."""
        if self.strokes.undo():
            self.redraw()
            self.update()

    def read_file(self, name: str, content: bytes) -> bool:
        """Read an image file's bytes as the upload button does; return True if it was read."""
        if len(content) > MAX_UPLOAD_BYTES:
            self.set_message(f"{name} is {len(content) / 2**20:.1f} MB; upload an image under "
                             f"{MAX_UPLOAD_BYTES // 2**20} MB (a photo or scan of one digit).", "error")
            return False
        try:
            prediction = self._predict(content)
        except (mnistlib.BlankImageError, mnistlib.InvalidImageError) as exc:
            # The library's messages speak of "The bytes given": name the student's file instead.
            self.set_message(f"Could not read {name}. {str(exc).replace('The bytes given', name)}", "error")
            return False
        except Exception as exc:  # noqa: BLE001 - the pad must keep working whatever a file holds
            self.set_message(f"Could not read {name} ({type(exc).__name__}: {exc}). "
                             "Upload a PNG or JPEG picture of one digit.", "error")
            return False
        self.strokes.clear()
        self._upload = (name, content, _preview(content))
        self.set_message(f"Reading the uploaded {name}. Draw on the pad to go back to drawing.")
        self.redraw()
        self._show(prediction)
        return True

    def update(self) -> None:
        """Read the current drawing or upload with the selected model and show the result."""
        source = self.current_image()
        if source is None:
            self._show(None)
            return
        with self.throttle.run():
            try:
                prediction = self._predict(source)
            except mnistlib.BlankImageError:
                prediction = None
            except Exception as exc:  # noqa: BLE001 - show the problem, keep the pad alive
                self.set_message(f"Could not read the drawing: {exc}", "error")
                return
        self._show(prediction)

    def _predict(self, image: np.ndarray | bytes) -> Any:
        # mnistlib.predict already runs a single image on one thread, fast enough for live readings.
        return mnistlib.predict(self.model, image)

    def current_image(self) -> np.ndarray | bytes | None:
        """Return what the model reads now: the uploaded file's bytes, the rasterised strokes, or None."""
        if self._upload is not None:
            return self._upload[1]
        return None if self.strokes.is_empty else self.strokes.rasterize()

    def set_message(self, text: str = "", kind: str = "info") -> None:
        """Show a line of text under the pad (``kind`` "error" in red); empty text hides it."""
        self.message.value = message_html(text, kind)

    # ---- drawing on the canvas ------------------------------------------------------------------

    def redraw(self) -> None:
        """Repaint the canvas from the kernel's copy of the strokes (or the upload)."""
        c = self.canvas
        with hold_canvas():
            c.clear()
            c.fill_style = "black"
            c.fill_rect(0, 0, c.width, c.height)
            if self._upload is not None:
                c.put_image_data(self._upload[2], 0, 0)
            c.stroke_style = c.fill_style = "white"
            c.line_width = self.strokes.brush
            c.line_cap = c.line_join = "round"
            for stroke in self.strokes.strokes:
                if len(stroke) > 1:
                    c.stroke_lines(stroke)
                else:
                    c.fill_circle(*stroke[0], self.strokes.brush / 2)

    def _on_client_ready(self) -> None:
        # A new browser view (a reload, Voila) starts with a blank canvas and never got the commands
        # sent before it connected. ipycanvas also remembers on the kernel side which canvas the
        # browser draws on, and that memory is stale after a reload (ipycanvas#322): forget it so
        # the next command names the canvas again.
        self.canvas._canvas_manager._current_canvas = None
        self.redraw()

    def _pointer_down(self, x: float, y: float) -> None:
        if self._upload is not None:  # drawing replaces a shown upload
            self._upload = None
            self.redraw()
        self.set_message()
        self.strokes.start(x, y)
        self.canvas.fill_circle(x, y, self.strokes.brush / 2)

    def _pointer_move(self, x: float, y: float) -> None:
        previous = self.strokes.add(x, y)
        if previous is None:
            return
        # Colour, width and round caps were set by redraw(), which every new browser view runs first.
        self.canvas.stroke_line(*previous, x, y)
        if self.throttle.due():
            self.update()

    def _pointer_up(self, x: float, y: float) -> None:
        if self.strokes.end():
            self.update()  # always read the finished stroke

    def _touch_start(self, touches: list[Point]) -> None:
        if touches:
            self._pointer_down(*touches[0])

    def _touch_move(self, touches: list[Point]) -> None:
        if touches:
            self._pointer_move(*touches[0])

    def _touch_end(self, touches: list[Point]) -> None:
        # touch_end lists the fingers still down (usually none): the stroke already holds its last point.
        if self.strokes.end():
            self.update()

    # ---- rendering results ----------------------------------------------------------------------

    def _show(self, prediction: Any) -> None:
        self.prediction = prediction
        finished = len(self.strokes) - self.strokes.drawing  # strokes whose pen has been lifted
        if prediction is None:
            self.state = "blank"
            self.reading.value = reading_html("blank", strokes=finished, live=self.strokes.drawing)
            self.bars.value = bars_html()
            self.model_view.value = png_bytes(np.zeros((28, 28), np.uint8), MODEL_VIEW_SIZE)
        else:
            p = np.asarray(prediction.probabilities)
            self.state = "unsure" if p[prediction.digit] < self.unsure_below else "digit"
            self.reading.value = reading_html(self.state, prediction.digit, p, finished, self.strokes.drawing)
            self.bars.value = bars_html(p, self.unsure_below)
            self.model_view.value = png_bytes(prediction.model_input, MODEL_VIEW_SIZE)
        if self.steps_toggle.value and not self.strokes.drawing:
            self._show_steps()

    def _show_steps(self) -> None:
        source = self.current_image()
        if source is None:
            hint = '<div class="mnist-caption">Draw a digit to see its steps.</div>'
            self.steps.children = [widgets.HTML(hint)]
            return
        try:
            steps = preprocessing_steps(source)
        except Exception as exc:  # noqa: BLE001
            self.steps.children = [widgets.HTML(message_html(f"No steps to show: {exc}", "error"))]
            return
        self.steps.children = [steps_widget(steps)]

    def _on_steps_toggle(self, change: dict) -> None:
        self.steps.layout.display = "flex" if change["new"] else "none"
        self.steps_toggle.description = "Hide steps" if change["new"] else "Show steps"
        if change["new"]:
            self._show_steps()

    # ---- upload and model menu ------------------------------------------------------------------

    def _on_upload(self, change: dict) -> None:
        files = change["new"]
        if not files:
            return  # our own reset below
        file = files[0]
        self.read_file(file["name"], bytes(file["content"]))
        self.upload.value = ()  # so that uploading the same file again fires again

    def _on_model_change(self, change: dict) -> None:
        if change["new"] == self._model_label:
            return  # our own revert after a failed load: keep its error message
        try:
            model = self._load(change["new"])
        except CheckpointError as exc:
            self.set_message(str(exc), "error")
            self.model_menu.value = self._model_label  # back to the model that works
            return
        self.model, self._model_label = model, change["new"]
        self.set_message(f"Now reading with: {change['new']}{self._accuracy_note(change['new'])}.")
        self.update()

    def _accuracy_note(self, label: str) -> str:
        source = self._models[label]
        return _checkpoint_accuracy(source) if isinstance(source, Path) else ""

    def _load(self, label: str) -> nn.Module:
        if label not in self._loaded:
            source = self._models[label]
            self._loaded[label] = source.eval() if isinstance(source, nn.Module) else load_model(source)
        return self._loaded[label]


def _preview(content: bytes, size: int = PAD_SIZE) -> np.ndarray:
    """Return an uploaded picture as the pipeline sees it in grey, fitted into a (size, size) uint8 square."""
    grey = Image.fromarray(_uint8(to_grey(content)))
    return np.asarray(ImageOps.pad(grey, (size, size), color=0))


def preprocessing_steps(image: np.ndarray | bytes) -> list[tuple[str, np.ndarray]]:
    """Return the named intermediate images of ``mnistlib.preprocess.to_mnist`` for ``image``, in order."""
    _, steps = to_mnist(image, return_steps=True)
    return list(steps.items())


def steps_widget(steps: Sequence[tuple[str, np.ndarray]], size: int = 120) -> widgets.HBox:
    """Show preprocessing steps side by side, each enlarged with square pixels above its caption."""
    cells = []
    for name, array in steps:
        image = widgets.Image(value=png_bytes(array, size), format="png")
        label = widgets.HTML(f'<div class="mnist-caption"><b>{_escape(name)}</b>: '
                             f'{STEP_CAPTIONS.get(name, "")}<br>{array.shape[1]} x {array.shape[0]} px</div>')
        cells.append(widgets.VBox([image, label], layout=widgets.Layout(align_items="center")))
    box = widgets.HBox(cells, layout=widgets.Layout(flex_flow="row wrap"))
    box.add_class("mnist-model-input")
    box.add_class("mnist-steps-row")
    return box


def benchmark(repeats: int = 50) -> None:
    """Print how long the kernel takes to read a drawing and show it: the work behind every reading."""
    pad = DrawingPad()
    pad.strokes.add_stroke([(75, 55), (205, 55), (160, 140), (120, 235)])  # a 7
    for label in pad.model_menu.options:
        pad.model = pad._load(label)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            pad.update()  # rasterise, preprocess, predict, render the reading, the bars and the 28x28 view
            times.append(time.perf_counter() - start)
        print(f"read a drawing and show it with {label}: median {1000 * np.median(times):.1f} ms, "
              f"slowest {1000 * max(times):.1f} ms")


if __name__ == "__main__":
    benchmark()
