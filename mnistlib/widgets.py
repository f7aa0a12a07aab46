"""The drawing pad: draw a digit (mouse, finger or stylus) or upload a picture and watch a model read it.

With ``mnistlib.collect_view`` the only modules that import ipycanvas and ipywidgets. It wires
plain-Python parts together: ``mnistlib.drawing`` keeps the strokes and decides when a live reading
is due, ``mnistlib.panels`` renders the HTML panels, and ``mnistlib.predict`` reads the digit.
``PadView`` is what is on the page; ``DrawingPad`` adds the pad's state and actions (clear, undo,
read, save) and ``PadEvents`` routes what the student draws, clicks or uploads to them. Collect mode (``DrawingPad(collect=True)``) adds ``mnistlib.collect_view``'s controls,
behind which a ``mnistlib.collect.Collector`` asks for digits and saves drawings in the class store.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import numpy as np
from ipycanvas import Canvas, hold_canvas
from torch import nn

import mnistlib
from mnistlib.checkpoints import CheckpointError, ModelShelf, model_choices
from mnistlib.classset import ClassSet
from mnistlib.collect import Collector, SaveOutcome
from mnistlib.collect_view import CollectControls, CollectView, make_collector
from mnistlib.drawing import (
    BRUSH_WIDTH,
    LIVE_INTERVAL,
    MAX_UPLOAD_BYTES,
    MODEL_VIEW_SIZE,
    PAD_SIZE,
    UNSURE_BELOW,
    Strokes,
    Throttle,
    UploadTooLargeError,
    preprocessing_steps,
    upload_preview,
)
from mnistlib.panels import (
    PAD_CSS,
    bars_html,
    caption_html,
    message_html,
    png_bytes,
    reading_html,
    reading_state,
    step_caption_html,
    upload_error_text,
)

# Notebook 04 imports these from here; they live in mnistlib.drawing.
__all__ = ["UNSURE_BELOW", "DrawingPad", "PadView", "Strokes", "preprocessing_steps", "steps_widget"]

BLANK_INPUT = np.zeros((28, 28), np.uint8)


def _px(size: int) -> str:
    return f"{size}px"


def _flex_layout(grow: float) -> widgets.Layout:
    return widgets.Layout(flex=f"{grow} 1 0", min_width="0")


def steps_widget(steps: Sequence[tuple[str, np.ndarray]], size: int = 120) -> widgets.HBox:
    """Show preprocessing steps side by side, each enlarged with square pixels above its caption."""
    cells = []
    for name, array in steps:
        image = widgets.Image(value=png_bytes(array, size), format="png")
        label = widgets.HTML(step_caption_html(name, array.shape))
        cells.append(widgets.VBox([image, label], layout=widgets.Layout(align_items="center")))
    box = widgets.HBox(cells, layout=widgets.Layout(flex_flow="row wrap"))
    box.add_class("mnist-model-input")
    box.add_class("mnist-steps-row")
    return box


class PadView(widgets.VBox):
    """What the pad puts on the page: canvas, buttons, model menu, reading, bars and the model's input.

    ``collect=True`` adds collect mode's ``CollectView`` (its widgets are attributes of the view too:
    ``prompt``, ``save_button``, ``mode_toggle``, ``label_picker``, ``nickname``).
    """

    def __init__(self, model_labels: Sequence[str], collect: bool = False, nicknames: bool = False) -> None:
        self.canvas = Canvas(
            width=PAD_SIZE, height=PAD_SIZE, layout=widgets.Layout(width=_px(PAD_SIZE), height=_px(PAD_SIZE))
        )
        self.canvas.add_class("mnist-canvas")
        # Three buttons as wide as the pad together; Upload's label is the longest.
        self.clear_button = widgets.Button(description="Clear", icon="eraser", layout=_flex_layout(1))
        self.undo_button = widgets.Button(description="Undo", icon="undo", layout=_flex_layout(1))
        self.upload = widgets.FileUpload(
            accept="image/*", multiple=False, description="Upload", layout=_flex_layout(1.4)
        )
        self.model_menu = widgets.Dropdown(
            options=list(model_labels), description="Model", layout=widgets.Layout(width=_px(PAD_SIZE))
        )
        self.model_menu.style.description_width = "45px"
        self.message = widgets.HTML(message_html())
        self.reading = widgets.HTML(reading_html("blank"), layout=widgets.Layout(width="100%"))
        self.bars = widgets.HTML(bars_html(), layout=widgets.Layout(width="100%"))
        self.model_view = widgets.Image(
            value=png_bytes(BLANK_INPUT, MODEL_VIEW_SIZE),
            format="png",
            width=MODEL_VIEW_SIZE,
            height=MODEL_VIEW_SIZE,
        )
        self.steps_toggle = widgets.ToggleButton(
            description="Show steps",
            icon="eye",
            tooltip="Show how the drawing becomes a 28x28 MNIST digit",
            layout=widgets.Layout(width=_px(MODEL_VIEW_SIZE)),
        )
        self.steps = widgets.HBox(layout=widgets.Layout(display="none"))
        self.collect_view = CollectView(nicknames) if collect else None
        if self.collect_view is not None:
            v = self.collect_view
            self.prompt, self.save_button, self.mode_toggle = v.prompt, v.save_button, v.mode_toggle
            self.label_picker, self.nickname = v.label_picker, v.nickname
        for widget, css in [
            (self.reading, "mnist-reading"),
            (self.bars, "mnist-bars-panel"),
            (self.message, "mnist-message"),
            (self.model_view, "mnist-model-view"),
            (self.steps, "mnist-steps"),
        ]:
            widget.add_class(css)
        super().__init__(
            [widgets.HTML(PAD_CSS, layout=widgets.Layout(height="0px")), self._row(), self.steps]
        )
        self.add_class("mnist-pad")

    def _row(self) -> widgets.HBox:
        """Lay out the pad's three columns: drawing and controls, reading and bars, the model's input."""
        column = widgets.Layout(width=_px(PAD_SIZE + 4))
        buttons = widgets.HBox([self.clear_button, self.undo_button, self.upload], layout=column)
        controls = [self.canvas, buttons, self.model_menu, self.message]
        if self.collect_view is not None:
            v = self.collect_view
            controls = [v.prompt, self.canvas, buttons, *v.below, self.model_menu, self.message]
        left = widgets.VBox(controls, layout=column)
        middle = widgets.VBox([self.reading, self.bars], layout=widgets.Layout(width="240px"))
        caption = widgets.HTML(caption_html("What the model sees<br>28 x 28 pixels"))
        right = widgets.VBox(
            [caption, self.model_view, self.steps_toggle],
            layout=widgets.Layout(width=_px(MODEL_VIEW_SIZE + 8), align_items="center"),
        )
        right.add_class("mnist-model-input")
        row = widgets.HBox([left, middle, right], layout=widgets.Layout(align_items="flex-start"))
        row.add_class("mnist-row")
        return row

    def on_pointer(
        self,
        down: Callable[[float, float], None],
        move: Callable[[float, float], None],
        up: Callable[[], None],
    ) -> None:
        """Call ``down(x, y)``, ``move(x, y)`` and ``up()`` for the mouse and for the first finger alike."""
        c = self.canvas
        c.on_mouse_down(down)
        c.on_mouse_move(move)
        c.on_mouse_up(lambda x, y: up())
        c.on_mouse_out(lambda x, y: up())  # a stroke that leaves the pad ends there
        # Touch events carry a list of fingers; the first one draws. touch_end lists the fingers still
        # down (usually none): the stroke already holds its last point.
        c.on_touch_start(lambda touches: touches and down(*touches[0]))
        c.on_touch_move(lambda touches: touches and move(*touches[0]))
        c.on_touch_end(lambda touches: up())
        c.on_touch_cancel(lambda touches: up())

    def paint(self, strokes: Strokes, background: np.ndarray | None = None) -> None:
        """Repaint the canvas: black, the (size, size) uint8 ``background`` if given, then the strokes."""
        c = self.canvas
        with hold_canvas():
            c.clear()
            c.fill_style = "black"
            c.fill_rect(0, 0, c.width, c.height)
            if background is not None:
                c.put_image_data(background, 0, 0)
            c.stroke_style = c.fill_style = "white"
            c.line_width = strokes.brush
            c.line_cap = c.line_join = "round"
            for stroke in strokes.strokes:
                if len(stroke) > 1:
                    c.stroke_lines(stroke)
                else:
                    c.fill_circle(*stroke[0], strokes.brush / 2)

    def show_reading(self, prediction: Any, strokes: int, live: bool, unsure_below: float) -> str:
        """Show a Prediction (or None: blank) in the reading, the bars and the 28x28 view; return its state."""
        p = None if prediction is None else np.asarray(prediction.probabilities)
        state = reading_state(p, unsure_below)
        digit = None if prediction is None else prediction.digit
        self.reading.value = reading_html(state, digit, p, strokes, live)
        self.bars.value = bars_html(p, unsure_below)
        model_input = BLANK_INPUT if prediction is None else prediction.model_input
        self.model_view.value = png_bytes(model_input, MODEL_VIEW_SIZE)
        return state

    def show_steps(self, source: np.ndarray | bytes | None) -> None:
        """Fill the steps panel with the preprocessing of ``source`` (or a hint when there is nothing)."""
        if source is None:
            self.steps.children = [widgets.HTML(caption_html("Draw a digit to see its steps."))]
            return
        try:
            steps = preprocessing_steps(source)
        except Exception as exc:  # noqa: BLE001 - the panel explains, the pad keeps working
            self.steps.children = [widgets.HTML(message_html(f"No steps to show: {exc}", "error"))]
            return
        self.steps.children = [steps_widget(steps)]

    def toggle_steps(self, shown: bool, source: np.ndarray | bytes | None) -> None:
        """Show (with the preprocessing of ``source``) or hide the steps panel."""
        self.steps.layout.display = "flex" if shown else "none"
        self.steps_toggle.description = "Hide steps" if shown else "Show steps"
        if shown:
            self.show_steps(source)

    def set_message(self, text: str = "", kind: str = "info") -> None:
        """Show a line of text under the pad (``kind`` "error" in red, "saved" in green); empty text hides it."""
        self.message.value = message_html(text, kind)

    def show_prompt(self, text: str, digit: int | None, mode: str) -> None:
        """Show collect mode's prompt; in pick mode, the label picker under the Save button."""
        self.collect_view.show_prompt(text, digit, mode)


class DrawingPad(PadView):
    """Draw a digit (or upload a picture) and see the model's reading and its ten probabilities live.

    Display it as the last expression of a cell: ``DrawingPad()`` offers the shipped CNN and MLP and
    any ``models/student_*.pt`` checkpoint; ``DrawingPad(model)`` adds a model you already have.

    Collect mode, ``DrawingPad(collect=True)``: the pad asks for a digit ("Draw a 3"; ``ask=False``
    starts with the student picking the label instead) and **Save** stores the drawing in the class
    store: ``store`` (a ClassSet or its path), by default ``ClassSet()``, the folder named by
    ``$MNISTLIB_CLASS_DIR``. ``allow_nicknames``: True shows a Nickname field (the teacher allows
    nicknames), None shows it if the store allows them, False never does.
    """

    def __init__(
        self,
        model: nn.Module | None = None,
        *,
        choices: dict[str, Path] | None = None,
        brush: int = BRUSH_WIDTH,
        unsure_below: float = UNSURE_BELOW,
        live_interval: float = LIVE_INTERVAL,
        collect: bool = False,
        store: ClassSet | str | os.PathLike | None = None,
        ask: bool = True,
        allow_nicknames: bool | None = None,
    ) -> None:
        self.strokes = Strokes(PAD_SIZE, PAD_SIZE, brush)
        self.throttle = Throttle(live_interval)
        self.unsure_below = unsure_below
        self.prediction: Any = None  # the last mnistlib Prediction shown, None when blank
        self.state = "blank"  # "blank", "digit" or "unsure"
        self._upload: tuple[str, bytes, np.ndarray] | None = None  # (name, file bytes, preview) when shown
        offered = {} if model is None else {"This notebook's model": model}
        self.models = ModelShelf({**offered, **(model_choices() if choices is None else choices)})
        # Collect mode's state, None when the pad only reads.
        self.collector: Collector | None = make_collector(store, ask, allow_nicknames) if collect else None
        nicknames = self.collector is not None and self.collector.nicknames_shown()
        super().__init__(self.models.labels, collect=collect, nicknames=nicknames)
        # The brush's width, for the app page's script that inks strokes in the browser.
        self.canvas.add_class(f"mnist-brush-{brush}")
        self.events = PadEvents(self)
        self.model = self.models.load(self.model_menu.value)
        self.redraw()
        self._collect: CollectControls | None = None
        if self.collector is not None:
            self._collect = CollectControls(self, self.collect_view, self.collector)

    def __repr__(self) -> str:
        # The default repr lists every child widget (PNG bytes included): too long for a notebook.
        return (
            f"DrawingPad(model={self.model_menu.value!r}, strokes={len(self.strokes)}, state={self.state!r})"
        )

    # ---- public actions -------------------------------------------------------------------------

    def warm_up(self) -> None:
        """Read a sample stroke once and wipe it, so that a student's first stroke is read as fast as the rest.

        The first reading in a process pays one-time costs (PyTorch's first call, the folded network,
        Pillow's PNG encoder, and in a forked app kernel the copying of the memory it shares with its
        template): about 30 ms each. Thirty kernels paying them together, as a class starts drawing,
        held the first readings up for seconds. The app notebook calls this before any student comes.
        """
        self.strokes.add_stroke([(140.0, 50.0), (140.0, 230.0)])
        self.update()
        self.clear()

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
        try:
            if len(content) > MAX_UPLOAD_BYTES:
                raise UploadTooLargeError(len(content))
            prediction = mnistlib.predict(self.model, content)
        except Exception as exc:  # noqa: BLE001 - the pad must keep working whatever a file holds
            self.set_message(upload_error_text(name, exc), "error")
            return False
        self.strokes.clear()
        self._upload = (name, content, upload_preview(content))
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
                # mnistlib.predict runs a single image on one thread, fast enough for live readings.
                prediction = mnistlib.predict(self.model, source)
            except mnistlib.BlankImageError:
                prediction = None
            except Exception as exc:  # noqa: BLE001 - show the problem, keep the pad alive
                self.set_message(f"Could not read the drawing: {exc}", "error")
                return
        self._show(prediction)

    def save(self) -> SaveOutcome:
        """Save the drawing (or the uploaded picture) with its label in the class store (collect mode).

        On success the pad clears itself and asks for the next digit; whatever goes wrong (a blank
        pad, no label picked, a locked, damaged, read-only or full store) the message line says so
        and the drawing stays on the pad, to save again later.
        """
        if self._collect is None:
            raise RuntimeError("This pad does not collect drawings: make it with DrawingPad(collect=True).")
        return self._collect.save(self._upload[1] if self._upload is not None else self.strokes)

    def current_image(self) -> np.ndarray | bytes | None:
        """Return what the model reads now: the uploaded file's bytes, the rasterised strokes, or None."""
        if self._upload is not None:
            return self._upload[1]
        return None if self.strokes.is_empty else self.strokes.rasterize()

    def redraw(self) -> None:
        """Repaint the canvas from the kernel's copy of the strokes (or the upload)."""
        self.paint(self.strokes, None if self._upload is None else self._upload[2])

    def _show(self, prediction: Any) -> None:
        self.prediction = prediction
        self.state = self.show_reading(
            prediction, self.strokes.finished, self.strokes.drawing, self.unsure_below
        )
        if self.steps_toggle.value and not self.strokes.drawing:
            self.show_steps(self.current_image())


class PadEvents:
    """Routes what the browser sends to a DrawingPad: strokes, a new view, clicks, an upload, the menus."""

    def __init__(self, pad: DrawingPad) -> None:
        self.pad = pad
        self.model_label = pad.model_menu.value  # the model loaded last: a failed load goes back to it
        self._repainted = False  # the kernel repainted the canvas when the open inked stroke began
        pad.canvas.on_client_ready(self.client_ready)
        pad.on_pointer(self.pointer_down, self.pointer_move, self.pointer_up)
        pad.canvas.on_msg(self.inked_strokes)
        pad.clear_button.on_click(lambda _: pad.clear())
        pad.undo_button.on_click(lambda _: pad.undo())
        pad.upload.observe(self.file_uploaded, "value")
        pad.model_menu.observe(self.model_chosen, "value")
        pad.steps_toggle.observe(lambda change: pad.toggle_steps(change["new"], pad.current_image()), "value")

    def client_ready(self) -> None:
        """Repaint a new browser view of the canvas."""
        # A new browser view (a reload, Voila) starts with a blank canvas and never got the commands
        # sent before it connected. ipycanvas also remembers on the kernel side which canvas the
        # browser draws on, and that memory is stale after a reload (ipycanvas#322): forget it so
        # the next command names the canvas again.
        self.pad.canvas._canvas_manager._current_canvas = None
        self.pad.redraw()

    def pointer_down(self, x: float, y: float) -> None:
        """Start a stroke (drawing replaces a shown upload) and paint its first dot."""
        pad = self.pad
        if pad._upload is not None:
            pad._upload = None
            pad.redraw()
        pad.set_message()
        pad.strokes.start(x, y)
        pad.canvas.fill_circle(x, y, pad.strokes.brush / 2)

    def pointer_move(self, x: float, y: float) -> None:
        """Extend the stroke on the canvas at once; read it live when the throttle says one is due."""
        pad = self.pad
        previous = pad.strokes.add(x, y)
        if previous is None:
            return
        # Colour, width and round caps were set by redraw(), which every new browser view runs first.
        pad.canvas.stroke_line(*previous, x, y)
        if pad.throttle.due():
            pad.update()

    def pointer_up(self) -> None:
        """End the stroke and always read the finished drawing."""
        if self.pad.strokes.end():
            self.pad.update()

    def inked_strokes(self, _canvas: Canvas, content: dict, _buffers: Any) -> None:
        """Take a stroke the browser has inked itself (the app page's pad_client.js), in batches of points.

        ``mnist_down`` (x, y), ``mnist_moves`` (points) and ``mnist_up`` (the last points, if any):
        the canvas already shows them, so nothing is drawn back, and a batch is one message instead
        of one per mouse move.
        ipycanvas's own events (JupyterLab, or a page without the script) go to pointer_* instead.
        """
        pad, event = self.pad, content.get("event")
        if event == "mnist_down":
            self._repainted = pad._upload is not None
            pad._upload = None  # drawing replaces a shown upload
            pad.set_message()
            pad.strokes.start(content["x"], content["y"])
            if self._repainted:
                pad.redraw()
        elif event == "mnist_moves":
            added = [pad.strokes.add(x, y) for x, y in content.get("points", [])]
            if any(p is not None for p in added) and pad.throttle.due():
                pad.update()
        elif event == "mnist_up" and pad.strokes.drawing:
            for x, y in content.get("points", []):
                pad.strokes.add(x, y)
            pad.strokes.end()
            if self._repainted:  # ink drawn before the repaint landed was wiped: paint the stroke again
                pad.redraw()
            pad.update()

    def file_uploaded(self, change: dict) -> None:
        """Read the file the upload button received."""
        files = change["new"]
        if not files:
            return  # our own reset below
        file = files[0]
        self.pad.read_file(file["name"], bytes(file["content"]))
        self.pad.upload.value = ()  # so that uploading the same file again fires again

    def model_chosen(self, change: dict) -> None:
        """Load the model picked in the menu; on a broken file, say so and go back to the one that works."""
        pad, label = self.pad, change["new"]
        if label == self.model_label:
            return  # our own revert after a failed load: keep its error message
        try:
            model = pad.models.load(label)
        except CheckpointError as exc:
            pad.set_message(str(exc), "error")
            pad.model_menu.value = self.model_label
            return
        pad.model, self.model_label = model, label
        pad.set_message(f"Now reading with: {label}{pad.models.note(label)}.")
        pad.update()
