"""Collect mode on the page: the prompt above the canvas, Save, ask/pick, the label picker, the nickname field.

``mnistlib.collect.Collector`` decides which digit to ask for and saves drawings; here ``CollectView``
holds the widgets and ``CollectControls`` wires them to a ``DrawingPad`` and its collector. The
prompt's hooks (``.mnist-prompt`` with ``data-digit`` and ``data-mode``) and the Save button's name
are what the browser tests read: keep them stable.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import ipywidgets as widgets

import mnistlib
from mnistlib.classset import ClassSet
from mnistlib.collect import ASK, PICK, Collector, SaveOutcome
from mnistlib.drawing import PAD_SIZE
from mnistlib.panels import prompt_html

if TYPE_CHECKING:
    from mnistlib.drawing import Strokes
    from mnistlib.widgets import DrawingPad


def _width(px: int, display: str | None = None) -> widgets.Layout:
    return widgets.Layout(width=f"{px}px", display=display)


def make_collector(
    store: ClassSet | str | os.PathLike | None, ask: bool, allow_nicknames: bool | None
) -> Collector:
    """Return the Collector of a collect-mode pad: ``store`` is a ClassSet, its path, or None for ``ClassSet()``."""
    class_store = store if store is None or isinstance(store, ClassSet) else ClassSet(store)
    return Collector(class_store, mode=ASK if ask else PICK, allow_nicknames=allow_nicknames)


class CollectView:
    """Collect mode's widgets; ``below`` are the ones under the pad's buttons, the prompt goes above the canvas."""

    def __init__(self, nicknames: bool) -> None:
        self.prompt = widgets.HTML(prompt_html("", None, ASK), layout=widgets.Layout(width="100%"))
        self.prompt.add_class("mnist-prompt")
        self.save_button = widgets.Button(
            description="Save",
            icon="save",
            button_style="success",
            tooltip="Save the drawing and its label in the class's collection",
            layout=_width(PAD_SIZE),
        )
        self.mode_toggle = widgets.ToggleButtons(
            options=[("Ask me", ASK), ("I pick", PICK)],
            tooltips=["The pad names the digit to draw", "You pick the digit you drew"],
            layout=_width(PAD_SIZE + 4),
        )
        self.mode_toggle.style.button_width = "134px"
        self.label_picker = widgets.ToggleButtons(
            options=[str(d) for d in range(10)], value=None, layout=_width(PAD_SIZE + 4, "none")
        )
        self.label_picker.style.button_width = "24px"
        self.label_picker.add_class("mnist-label-picker")
        self.nickname = widgets.Text(
            description="Nickname",
            placeholder="optional",
            layout=_width(PAD_SIZE, "flex" if nicknames else "none"),
        )
        self.nickname.style.description_width = "70px"
        self.below = [self.save_button, self.mode_toggle, self.label_picker, self.nickname]

    def show_prompt(self, text: str, digit: int | None, mode: str) -> None:
        """Show the prompt; in pick mode, the label picker under the Save button."""
        self.prompt.value = prompt_html(text, digit, mode)
        self.label_picker.layout.display = "flex" if mode == PICK else "none"


class CollectControls:
    """Wires a pad's CollectView to its Collector: Save saves, ask/pick and the picker set the label."""

    def __init__(self, pad: DrawingPad, view: CollectView, collector: Collector) -> None:
        self.pad, self.view, self.collector = pad, view, collector
        view.mode_toggle.value = collector.mode
        view.save_button.on_click(lambda _: pad.save())
        view.mode_toggle.observe(self._on_mode, "value")
        view.label_picker.observe(self._on_pick, "value")
        view.nickname.observe(lambda change: setattr(collector, "nickname", change["new"]), "value")
        self.show_prompt()

    def show_prompt(self) -> None:
        """Show what the collector asks for now."""
        c = self.collector
        self.view.show_prompt(c.prompt_text(), c.label, c.mode)

    def save(self, drawing: Strokes | bytes) -> SaveOutcome:
        """Save ``drawing`` (the pad's strokes or uploaded file) as ``DrawingPad.save`` describes."""
        pad = self.pad
        prediction = None
        if pad.current_image() is not None:
            try:  # read again exactly what is saved: the reading shown may be a live one
                prediction = mnistlib.predict(pad.model, pad.current_image())
            except Exception:  # noqa: BLE001 - a drawing the model cannot read is saved without a reading
                prediction = None
        try:
            outcome = self.collector.save(drawing, prediction, model_name=pad.model_menu.value)
        except Exception as exc:  # noqa: BLE001 - nothing that goes wrong in a save may break the pad
            outcome = SaveOutcome("error", f"Not saved ({type(exc).__name__}: {exc}).")
        if outcome.kind == "saved":
            pad.clear()
            self.view.label_picker.value = None  # pick mode: the next drawing gets its own label
        self.show_prompt()
        pad.set_message(outcome.text, outcome.kind)
        return outcome

    def _on_mode(self, change: dict) -> None:
        self.collector.mode = change["new"]
        self.pad.set_message()
        self.show_prompt()

    def _on_pick(self, change: dict) -> None:
        self.collector.pick(None if change["new"] is None else int(change["new"]))
        self.show_prompt()
