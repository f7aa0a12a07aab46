"""The drawing pad: draw a digit (mouse, finger or stylus) or upload a picture and watch a model read it.

Three parts, each with one job. ``PadView`` is what is on the page (ipycanvas and ipywidgets);
``DrawingPad`` keeps the pad's state and does its actions (clear, undo, read, save), showing the
result in its view; ``PadEvents`` routes what the student draws, clicks or uploads to those
actions. The strokes live in ``strokes.Strokes``, the HTML panels come from ``panels``, and
readings from ``fast_route.fast_predict`` (``mnistlib.predict``'s answers, faster). Collect mode,
``DrawingPad(collect=True)``, adds ``collect_view``'s controls in front of a ``collect.Collector``.
"""

from __future__ import annotations

import asyncio
import functools
import math
import os
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import numpy as np
from ipycanvas import Canvas, hold_canvas
from torch import nn

from mnistlib.checkpoints import CheckpointError
from mnistlib.classroom.collect import SAVE_INTERVAL, Collector, SaveOutcome
from mnistlib.classroom.collect_view import CollectControls, CollectView
from mnistlib.classroom.fast_route import fast_predict
from mnistlib.classroom.model_menu import ModelShelf, model_choices
from mnistlib.classroom.panels import (
    PAD_CSS,
    bars_html,
    caption_html,
    message_html,
    model_view_html,
    pad_help_html,
    reading_html,
    reading_state,
    step_caption_html,
    step_image_html,
    upload_error_text,
)
from mnistlib.classroom.store import ClassStore
from mnistlib.classroom.strokes import (
    BRUSH_WIDTH,
    LIVE_INTERVAL,
    MAX_BATCH_POINTS,
    MAX_UPLOAD_BYTES,
    PAD_SIZE,
    UNSURE_BELOW,
    Strokes,
    Throttle,
    UploadTooLargeError,
    clean_points,
    preprocessing_steps,
    upload_preview,
)
from mnistlib.prediction import Prediction
from mnistlib.preprocess import BlankImageError

BLANK_INPUT = np.zeros((28, 28), np.uint8)
CLASS_POLL = 2.0  # s: a collecting pad shows the teacher's pause or round this soon (one cheap read)
# What the student reads when something they sent could not be used; the details go to tell_teacher.
FAILED = "That did not work, and the pad ignored it. Try again, or reload the page if it keeps happening."


_told: dict[str, float] = {}  # what tell_teacher wrote last, and when


def tell_teacher(
    what: str, with_traceback: bool = True, key: str | None = None, quiet_for: float = 5.0
) -> None:
    """Write ``what`` (and the exception being handled) to the kernel's own stderr: the server's log, not the page.

    Lines of one ``key`` (by default ``what`` itself) are written at most once every ``quiet_for``
    seconds: a page repeating a refused action must not fill the teacher's log.
    """
    stream = sys.__stderr__  # sys.stderr, in a kernel, sends to the page
    now, key = time.monotonic(), key or what
    if stream is None or now - _told.get(key, -math.inf) < quiet_for:
        return
    _told[key] = now
    print(f"[mnistlib pad, pid {os.getpid()}] {what}", file=stream)
    if with_traceback:
        traceback.print_exc(file=stream)
    stream.flush()


def _guarded(handler: Callable) -> Callable:
    """Run one of PadEvents' handlers; on any error, log it for the teacher and show the student a short message."""

    @functools.wraps(handler)
    def run(self: PadEvents, *args: Any) -> None:
        try:
            handler(self, *args)
        except Exception:  # noqa: BLE001 - a page's bad input must never break the pad
            tell_teacher(f"{handler.__name__} failed on what the page sent")
            self.pad.view.set_message(FAILED, "error")

    return run


# The canvas's size on the page: PAD_CSS fits it to the notebook's column or the app's window (its pixels
# stay PAD_SIZE, so what the model reads is the same at every size); 280 px until the CSS has loaded.
PAD_SIDE = f"var(--mnist-pad-size, {PAD_SIZE}px)"


def steps_widget(steps: Sequence[tuple[str, np.ndarray]], size: int = 120) -> widgets.HBox:
    """Show preprocessing steps side by side, each enlarged with square pixels above its caption."""
    cells = []
    for name, array in steps:
        image = widgets.HTML(step_image_html(name, array, size))
        label = widgets.HTML(step_caption_html(name, array.shape))
        cells.append(widgets.VBox([image, label], layout=widgets.Layout(align_items="center")))
    box = widgets.HBox(cells, layout=widgets.Layout(flex_flow="row wrap"))
    box.add_class("mnist-steps-row")
    return box


def _classed(widget: widgets.DOMWidget, *names: str) -> widgets.DOMWidget:
    for name in names:
        widget.add_class(name)
    return widget


class PadView(widgets.VBox):
    """What the pad puts on the page: canvas, buttons, model menu, reading, bars and the model's input.

    ``collect`` is collect mode's ``CollectView`` (its prompt goes above the canvas, its controls
    beside the pad, or under the buttons when the pad has the page's width), or None. Sizes and
    places are PAD_CSS's: the widgets carry class names, not sizes.
    """

    def __init__(self, model_labels: Sequence[str], brush: int, collect: CollectView | None = None) -> None:
        self.canvas = Canvas(
            width=PAD_SIZE, height=PAD_SIZE, layout=widgets.Layout(width=PAD_SIDE, height=PAD_SIDE)
        )
        self.canvas.add_class("mnist-canvas")
        self.canvas.add_class(f"mnist-brush-{brush}")  # for the app page's script that inks strokes itself
        self.help = _classed(widgets.HTML(pad_help_html()), "mnist-pad-help")
        self.clear_button = widgets.Button(description="Clear", icon="eraser", tooltip="Wipe the pad")
        self.undo_button = widgets.Button(
            description="Undo", icon="undo", tooltip="Take back the last stroke"
        )
        self.upload = widgets.FileUpload(
            accept="image/*",
            multiple=False,
            description="Upload",
            tooltip="Read a photo or picture of one digit",
        )
        self.upload.add_class("mnist-upload")
        self.model_menu = widgets.Dropdown(options=list(model_labels), description="Model")
        self.model_menu.style.description_width = "45px"
        self.message = widgets.HTML(message_html())
        self.reading = widgets.HTML(reading_html("blank"))
        self.bars = widgets.HTML(bars_html())
        self.model_view = widgets.HTML(model_view_html(BLANK_INPUT))
        self.steps_toggle = widgets.ToggleButton(
            description="Show steps", icon="eye", tooltip="Show how the drawing becomes a 28x28 MNIST digit"
        )
        self.steps = widgets.HBox(layout=widgets.Layout(display="none"))
        self.collect = collect
        for widget, css in [
            (self.reading, "mnist-reading"),
            (self.bars, "mnist-bars-panel"),
            (self.message, "mnist-message"),
            (self.model_view, "mnist-model-view"),
            (self.steps, "mnist-steps"),
            (self.model_menu, "mnist-model-menu"),
            (self.steps_toggle, "mnist-steps-toggle"),
        ]:
            widget.add_class(css)
        super().__init__([_classed(widgets.HTML(PAD_CSS), "mnist-style"), self._row(), self.steps])
        self.add_class("mnist-pad")
        if collect is not None:
            self.add_class("mnist-collecting")

    def _row(self) -> widgets.HBox:
        """Lay out the pad's three columns: drawing, reading and bars, and the rest (collect mode's, the model's)."""
        buttons = _classed(widgets.HBox([self.clear_button, self.undo_button, self.upload]), "mnist-buttons")
        head = [] if self.collect is None else [self.collect.prompt]
        draw = _classed(widgets.VBox([*head, self.help, self.canvas, buttons, self.message]), "mnist-draw")
        result = _classed(widgets.VBox([self.reading, self.bars]), "mnist-result")
        caption = widgets.HTML(caption_html("What the model sees<br>28 x 28 pixels"))
        model_input = _classed(
            widgets.VBox([caption, self.model_view, self.steps_toggle]), "mnist-model-input"
        )
        side = [self.model_menu, model_input]
        if self.collect is not None:
            side.insert(0, _classed(widgets.VBox(self.collect.below), "mnist-collect"))
        row = widgets.HBox([draw, result, _classed(widgets.VBox(side), "mnist-side")])
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
        # The first finger draws; touch_end lists the fingers still down, so the stroke keeps its last point.
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

    def show_reading(
        self, prediction: Prediction | None, strokes: int, live: bool, unsure_below: float
    ) -> str:
        """Show a Prediction (or None: blank) in the reading, the bars and the 28x28 view; return its state."""
        p = None if prediction is None else np.asarray(prediction.probabilities)
        state = reading_state(p, unsure_below)
        digit = None if prediction is None else prediction.digit
        self.reading.value = reading_html(state, digit, p, strokes, live)
        self.bars.value = bars_html(p, unsure_below)
        model_input = BLANK_INPUT if prediction is None else prediction.model_input
        self.model_view.value = model_view_html(model_input)
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
        """Show a line of text under the pad (``kind`` "error", "saved", ...); empty text hides it."""
        self.message.value = message_html(text, kind)


class DrawingPad:
    """Draw a digit (or upload a picture) and see the model's reading and its ten probabilities live.

    Display it as the last expression of a cell: ``DrawingPad()`` offers the shipped CNN and MLP and
    any ``models/student_*.pt`` checkpoint; ``DrawingPad(model)`` adds a model you already have. Its
    widgets are ``pad.view``'s.

    Collect mode, ``DrawingPad(collect=True)``: the pad asks for a digit ("Draw a 3"; ``ask=False``
    starts with the student picking the label instead) and **Save** stores the drawing in the class
    store: ``store`` (a ClassStore or its path), by default ``ClassStore()``, the folder named by
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
        store: ClassStore | str | os.PathLike | None = None,
        ask: bool = True,
        allow_nicknames: bool | None = None,
    ) -> None:
        self.strokes = Strokes(PAD_SIZE, PAD_SIZE, brush)
        self.throttle = Throttle(live_interval)
        self.unsure_below = unsure_below
        self.prediction: Prediction | None = None  # the last reading shown, None when blank
        self.state = "blank"  # "blank", "digit" or "unsure"
        self.uploaded: tuple[str, bytes, np.ndarray] | None = None  # (name, file bytes, preview) when shown
        offered = {} if model is None else {"This notebook's model": model}
        self.models = ModelShelf({**offered, **(model_choices() if choices is None else choices)})
        self.collector: Collector | None = None
        collect_view = None
        if collect:
            class_store = store if store is None or isinstance(store, ClassStore) else ClassStore(store)
            self.collector = Collector(
                class_store,
                mode="ask" if ask else "pick",
                allow_nicknames=allow_nicknames,
                min_interval=SAVE_INTERVAL,  # a student cannot save faster than they draw
            )
            collect_view = CollectView(self.collector.nicknames_shown())
        self.view = PadView(self.models.labels, brush, collect_view)
        self.model = self.models.load(self.view.model_menu.value)
        self.model_label = self.view.model_menu.value
        self.events = PadEvents(self)
        self.redraw()
        if self.collector is not None:
            self.collect_controls = CollectControls(collect_view, self.collector, on_save=self.save)
            collect_view.mode_toggle.observe(lambda _: self.view.set_message(), "value")
            self.follow_class()
            self._watch_class()

    def __repr__(self) -> str:
        return f"DrawingPad(model={self.model_label!r}, strokes={len(self.strokes)}, state={self.state!r})"

    def _repr_mimebundle_(self, **kwargs: Any) -> dict:
        """Show the pad's view when the pad is the last expression of a cell (text where no widget can show)."""
        bundle = self.view._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = (
            "A drawing pad: run this cell in JupyterLab to draw a digit and watch the model read it."
        )
        return bundle

    # ---- actions ---------------------------------------------------------------------------------

    def warm_up(self) -> None:
        """Read a sample stroke once and wipe it, so that a student's first stroke is read as fast as the rest.

        The first reading in a process pays one-time costs (PyTorch's first call, the folded network,
        Pillow's PNG encoder, and in a forked app kernel the copying of memory shared with its
        template). The app notebook calls this before any student comes.
        """
        self.strokes.add_stroke([(140.0, 50.0), (140.0, 230.0)])
        self.update()
        self.clear()

    def clear(self) -> None:
        """Wipe the pad and go back to the "draw a digit" state."""
        self.strokes.clear()
        self.uploaded = None
        self.view.set_message()
        self.redraw()
        self.update()
        if self.collector is not None:
            self.follow_class()  # a round the teacher started while this drawing was on the pad

    def undo(self) -> None:
        """Remove the last stroke and read what is left."""
        if self.strokes.undo():
            self.redraw()
            self.update()

    def start_stroke(self, x: float, y: float, paint: bool) -> bool:
        """Begin a stroke at (x, y); a shown upload gives way to the drawing (``paint``: dot it on the canvas).

        Return False, with a message, when the pad already holds its most strokes.
        """
        if self.uploaded is not None:
            self.uploaded = None
            self.redraw()
        self.view.set_message()
        if not self.strokes.start(x, y):
            self.view.set_message(
                f"The pad holds {self.strokes.max_strokes} strokes at most: Undo or Clear to draw more.",
                "error",
            )
            return False
        if paint:
            self.view.canvas.fill_circle(x, y, self.strokes.brush / 2)
        return True

    def read_file(self, name: str, content: bytes) -> bool:
        """Read an image file's bytes as the upload button does; return True if it was read."""
        try:
            if len(content) > MAX_UPLOAD_BYTES:
                raise UploadTooLargeError(len(content))
            prediction = fast_predict(self.model, content)
        except Exception as exc:  # noqa: BLE001 - the pad must keep working whatever a file holds
            self.view.set_message(upload_error_text(name, exc), "error")
            return False
        self.strokes.clear()
        self.uploaded = (name, content, upload_preview(content))
        self.view.set_message(f"Reading the uploaded {name}. Draw on the pad to go back to drawing.")
        self.redraw()
        self._show(prediction)
        return True

    def choose_model(self, label: str) -> None:
        """Read with the model under ``label``; on a broken file, say so and keep the current one."""
        try:
            model = self.models.load(label)
        except CheckpointError as exc:
            self.view.set_message(str(exc), "error")
            self.view.model_menu.value = self.model_label
            return
        self.model, self.model_label = model, label
        self.view.set_message(f"Now reading with: {label}{self.models.note(label)}.")
        self.update()

    def update(self) -> None:
        """Read the current drawing or upload with the selected model and show the result."""
        source = self.current_image()
        if source is None:
            self._show(None)
            return
        with self.throttle.run():
            try:
                prediction = fast_predict(self.model, source)
            except BlankImageError:
                prediction = None
            except Exception:  # noqa: BLE001 - show the problem, keep the pad alive
                tell_teacher("reading the drawing failed")
                self.view.set_message("Could not read the drawing. Clear the pad and try again.", "error")
                return
        self._show(prediction)

    def save(self) -> SaveOutcome:
        """Save the drawing (or the uploaded picture) with its label in the class store (collect mode).

        On success the pad clears itself and asks for the next digit; whatever goes wrong (a blank
        pad, no label picked, a locked, damaged, read-only or full store) the message line says so
        and the drawing stays on the pad, to save again later.
        """
        if self.collector is None:
            raise RuntimeError("This pad does not collect drawings: make it with DrawingPad(collect=True).")
        prediction = None
        if self.current_image() is not None:
            try:  # read again exactly what is saved: the reading shown may be a live one
                prediction = fast_predict(self.model, self.current_image())
            except Exception:  # noqa: BLE001 - a drawing the model cannot read is saved without a reading
                prediction = None
        drawing = self.uploaded[1] if self.uploaded is not None else self.strokes
        try:
            outcome = self.collector.save(drawing, prediction, model_name=self.model_label)
        except Exception as exc:  # noqa: BLE001 - nothing that goes wrong in a save may break the pad
            tell_teacher("saving a drawing failed")
            outcome = SaveOutcome("error", f"Not saved: {str(exc)[:200]}. Try again, or tell the teacher.")
        if outcome.kind == "saved":
            self.clear()
        self.collect_controls.saved(outcome)
        self.view.set_message(outcome.text, outcome.kind)
        if outcome.kind == "error":
            tell_teacher(
                f"a pad's drawing was not saved: {outcome.text}", with_traceback=False, key="not saved"
            )
        return outcome

    def follow_class(self) -> None:
        """Show the teacher's pause or round (from the class store) on the prompt, if it changed (collect mode)."""
        blank = self.strokes.is_empty and self.uploaded is None
        if self.collector is not None and self.collector.follow(drawing=not blank):
            self.collect_controls.show_prompt()

    def _watch_class(self) -> None:
        """Look at the class's state every CLASS_POLL s on the kernel's event loop, while the pad's canvas lives."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no kernel's loop (a script, a test): the state is read at every save instead

        def look() -> None:
            if self.view.canvas.comm is None:  # the pad was closed
                return
            try:
                self.follow_class()
            except Exception:  # noqa: BLE001 - a failed look must not stop the next ones
                tell_teacher("reading the class's state failed", key="class state")
            loop.call_later(CLASS_POLL, look)

        loop.call_later(CLASS_POLL, look)

    def current_image(self) -> np.ndarray | bytes | None:
        """Return what the model reads now: the uploaded file's bytes, the rasterised strokes, or None."""
        if self.uploaded is not None:
            return self.uploaded[1]
        return None if self.strokes.is_empty else self.strokes.rasterize()

    def redraw(self) -> None:
        """Repaint the canvas from the kernel's copy of the strokes (or the upload)."""
        self.view.paint(self.strokes, None if self.uploaded is None else self.uploaded[2])

    def toggle_steps(self, shown: bool) -> None:
        """Show or hide how the current drawing becomes a 28x28 digit."""
        self.view.toggle_steps(shown, self.current_image())

    def _show(self, prediction: Prediction | None) -> None:
        self.prediction = prediction
        self.state = self.view.show_reading(
            prediction, self.strokes.finished, self.strokes.drawing, self.unsure_below
        )
        if self.view.steps_toggle.value and not self.strokes.drawing:
            self.view.show_steps(self.current_image())


class PadEvents:
    """Routes what the browser sends to a DrawingPad: strokes, a new view, clicks, an upload, the menus."""

    def __init__(self, pad: DrawingPad) -> None:
        self.pad = pad
        self._repainted = False  # the kernel repainted the canvas when the open inked stroke began
        self._said = False  # the message line already told this stroke's limits
        view = pad.view
        view.canvas.on_client_ready(self.client_ready)
        view.on_pointer(self.pointer_down, self.pointer_move, self.pointer_up)
        view.canvas.on_msg(self.inked_strokes)
        view.clear_button.on_click(lambda _: pad.clear())
        view.undo_button.on_click(lambda _: pad.undo())
        view.upload.observe(self.file_uploaded, "value")
        view.model_menu.observe(self.model_chosen, "value")
        view.steps_toggle.observe(lambda change: pad.toggle_steps(change["new"]), "value")

    @_guarded
    def client_ready(self) -> None:
        """Repaint a new browser view of the canvas."""
        # A new browser view (a reload, Voila) starts blank and never got the commands sent before it
        # connected; ipycanvas's memory of the current canvas is stale after a reload (ipycanvas#322).
        self.pad.view.canvas._canvas_manager._current_canvas = None
        self.pad.redraw()

    @_guarded
    def pointer_down(self, x: float, y: float) -> None:
        """Start a stroke and paint its first dot."""
        self._said = False
        points, left_out = clean_points([(x, y)])
        if points:
            self.pad.start_stroke(*points[0], paint=True)
        self._say_limits(left_out)

    @_guarded
    def pointer_move(self, x: float, y: float) -> None:
        """Extend the stroke on the canvas at once; read it live when the throttle says one is due."""
        pad = self.pad
        points, left_out = clean_points([(x, y)])
        previous = pad.strokes.add(*points[0]) if points else None
        self._say_limits(left_out)
        if previous is None:
            return
        pad.view.canvas.stroke_line(*previous, *points[0])  # colour, width and caps were set by redraw()
        if pad.throttle.due():
            pad.update()

    @_guarded
    def pointer_up(self) -> None:
        """End the stroke and always read the finished drawing."""
        if self.pad.strokes.end():
            self.pad.update()

    @_guarded
    def inked_strokes(self, _canvas: Canvas, content: dict, _buffers: Any) -> None:
        """Take a stroke the browser has inked itself (the app page's pad_client.js), in batches of points.

        ``mnist_down`` (x, y), ``mnist_moves`` (points) and ``mnist_up`` (the last points, if any):
        the canvas already shows them, so nothing is drawn back. ipycanvas's own events (JupyterLab)
        go to pointer_* instead. Points beyond the pad's limits (strokes.MAX_BATCH_POINTS a message,
        MAX_STROKE_POINTS a stroke, MAX_STROKES a pad) or that are not pairs of numbers are left out,
        and the message line says so.
        """
        pad, event = self.pad, content.get("event")
        if event == "mnist_down":
            self._said = False
            self._repainted = pad.uploaded is not None
            points, left_out = clean_points([(content.get("x"), content.get("y"))])
            if points:
                pad.start_stroke(*points[0], paint=False)
            self._say_limits(left_out)
        elif event == "mnist_moves":
            points, left_out = clean_points(content.get("points", []))
            added = [pad.strokes.add(x, y) for x, y in points]
            self._say_limits(left_out)
            if any(p is not None for p in added) and pad.throttle.due():
                pad.update()
        elif event == "mnist_up" and pad.strokes.drawing:
            points, left_out = clean_points(content.get("points", []))
            for x, y in points:
                pad.strokes.add(x, y)
            self._say_limits(left_out)
            pad.strokes.end()
            if self._repainted:  # ink drawn before the repaint landed was wiped: paint the stroke again
                pad.redraw()
            pad.update()

    def _say_limits(self, left_out: int) -> None:
        """Say, once a stroke, what the pad left out of the points a page sent (and log it for the teacher)."""
        strokes = self.pad.strokes
        if self._said or not (left_out or strokes.stroke_full):
            return
        self._said = True
        if strokes.stroke_full:
            text = f"That stroke is very long: the pad keeps its first {strokes.max_points:,} points."
        else:
            text = (
                f"The pad left out {left_out:,} point(s) it could not use "
                f"(at most {MAX_BATCH_POINTS} at a time, each a pair of numbers)."
            )
        tell_teacher(f"a page sent more than a pad takes: {text}", with_traceback=False, key="limits")
        self.pad.view.set_message(text, "error")

    @_guarded
    def file_uploaded(self, change: dict) -> None:
        """Read the file the upload button received."""
        files = change["new"]
        if not files:
            return  # our own reset below
        self.pad.read_file(str(files[0]["name"])[:80], bytes(files[0]["content"]))
        self.pad.view.upload.value = ()  # so that uploading the same file again fires again

    def model_chosen(self, change: dict) -> None:
        """Load the model picked in the menu."""
        if change["new"] != self.pad.model_label:  # not our own revert after a failed load
            self.pad.choose_model(change["new"])
