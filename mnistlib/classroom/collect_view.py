"""Collect mode on the page: the prompt above the canvas, Save, ask/pick, the label picker, the nickname field.

``CollectView`` holds the widgets; ``CollectControls`` wires them to a ``collect.Collector`` and to
the pad's save action. The prompt's hooks (``.mnist-prompt`` with ``data-digit`` and ``data-mode``)
and the Save button's name are what the browser tests read: keep them stable.
"""

from __future__ import annotations

from collections.abc import Callable

import ipywidgets as widgets

from mnistlib.classroom.collect import ASK, PICK, Collector, SaveOutcome
from mnistlib.classroom.panels import prompt_html


class CollectView:
    """Collect mode's widgets; the prompt goes above the canvas, ``below`` are Save and the label's controls.

    Their sizes and places are the pad's CSS (panels.PAD_CSS): beside the pad, or under its buttons
    when the pad has the page's width.
    """

    def __init__(self, nicknames: bool) -> None:
        self.prompt = widgets.HTML(prompt_html("", None, ASK))
        self.prompt.add_class("mnist-prompt")
        self.save_button = widgets.Button(
            description="Save",
            icon="save",
            button_style="success",
            tooltip="Save the drawing and its label in the class's collection",
        )
        self.save_button.add_class("mnist-save")
        self.mode_toggle = widgets.ToggleButtons(
            options=[("Ask me", ASK), ("I pick", PICK)],
            tooltips=["The pad names the digit to draw", "You pick the digit you drew"],
        )
        self.mode_toggle.add_class("mnist-mode")
        self.label_picker = widgets.ToggleButtons(
            options=[str(d) for d in range(10)],
            value=None,
            tooltips=[f"The digit I drew: {d}" for d in range(10)],
            layout=widgets.Layout(display="none"),
        )
        self.label_picker.add_class("mnist-label-picker")
        self.nickname = widgets.Text(
            description="Nickname",
            placeholder="optional",
            layout=widgets.Layout(display="flex" if nicknames else "none"),
        )
        self.nickname.style.description_width = "70px"
        self.nickname.add_class("mnist-nickname")
        self.below = [self.save_button, self.mode_toggle, self.label_picker, self.nickname]

    def show_prompt(
        self, text: str, digit: int | None, mode: str, paused: bool = False, round_digit: int | None = None
    ) -> None:
        """Show the prompt; in pick mode, the label picker under the Save button (not during a round).

        While the teacher has paused saving, Save is off (the collector refuses a save anyway).
        """
        self.prompt.value = prompt_html(text, digit, mode, paused, round_digit)
        self.label_picker.layout.display = "flex" if mode == PICK and round_digit is None else "none"
        self.save_button.disabled = paused


class CollectControls:
    """Wires a CollectView to its Collector: Save calls ``on_save``, ask/pick and the picker set the label."""

    def __init__(self, view: CollectView, collector: Collector, on_save: Callable[[], SaveOutcome]) -> None:
        self.view, self.collector = view, collector
        view.mode_toggle.value = collector.mode
        view.save_button.on_click(lambda _: on_save())
        view.mode_toggle.observe(self._on_mode, "value")
        view.label_picker.observe(self._on_pick, "value")
        view.nickname.observe(lambda change: setattr(collector, "nickname", change["new"]), "value")
        self.show_prompt()

    def show_prompt(self) -> None:
        """Show what the collector asks for now."""
        c = self.collector
        self.view.show_prompt(c.prompt_text(), c.label, c.mode, c.state.paused, c.state.round)

    def saved(self, outcome: SaveOutcome) -> None:
        """Move on after a save: in pick mode the next drawing gets its own label; show the next prompt."""
        if outcome.kind == "saved":
            self.view.label_picker.value = None
        self.show_prompt()

    def _on_mode(self, change: dict) -> None:
        self.collector.mode = change["new"]
        self.show_prompt()

    def _on_pick(self, change: dict) -> None:
        self.collector.pick(None if change["new"] is None else int(change["new"]))
        self.show_prompt()
