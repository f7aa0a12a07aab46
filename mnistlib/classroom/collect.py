"""Collect mode as plain Python: which digit the pad asks for, who is drawing, saving into the class store.

No widget library here: ``mnistlib.classroom.pad`` puts a ``Collector`` behind the pad's Save button, and
the tests drive it without a browser. A collector either **asks** for digits ("Draw a 3": all ten
digits in a shuffled order, then all ten again in a new order, so a class collects every digit
evenly) or lets the student **pick** the label of what they drew. Each pad has its own anonymous
student id (``anon-3f9a2c7b``); a nickname is used instead only where the teacher allows them.

    collector = Collector(ClassStore())               # asks for digits; the class folder's store
    collector.prompt.digit                          # the digit asked for now
    outcome = collector.save(pad_strokes, prediction, model_name="CNN (shipped)")
    outcome.kind, outcome.text                      # "saved", "blank", "paused" or "error", and what to show

The teacher acts for the whole class through the store (``ClassStore.pause``, ``start_round``): a
collector reads the class's state before every save, and ``follow`` shows it between saves.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mnistlib.classroom.class_view import ClassState
from mnistlib.classroom.store import ClassStore, ClassStoreError, looks_anonymous, new_student_id

ASK, PICK = "ask", "pick"  # the two ways a pad gets a drawing's label
MODES = (ASK, PICK)
SAVE_INTERVAL = 1.0  # s: nobody draws a digit faster; the pad (DrawingPad) saves at most this often
MAX_SAVES = 300  # drawings one pad saves: ten of every digit three times over


def a_digit(digit: int) -> str:
    """Return "a 3", or "an 8": the digit with its article, as the pad's prompts say it."""
    return f"an {digit}" if digit == 8 else f"a {digit}"


class DigitPrompt:
    """The digits a pad asks for: 0-9 in a shuffled order, then reshuffled, never the same digit twice running."""

    def __init__(self, seed: int | None = None) -> None:
        self._rng = random.Random(seed)  # a pad of its own: neighbours' pads ask in different orders
        self._order: list[int] = []
        self.digit = self._draw()

    def _draw(self) -> int:
        if not self._order:
            order = list(range(10))
            self._rng.shuffle(order)
            if order[0] == getattr(self, "digit", None):  # the new round must not repeat the last digit
                order[0], order[-1] = order[-1], order[0]
            self._order = order
        return self._order.pop(0)

    def next(self) -> int:
        """Move on to the next digit and return it."""
        self.digit = self._draw()
        return self.digit

    @property
    def left_in_round(self) -> int:
        """Return how many digits of this round of ten are still to come after the current one."""
        return len(self._order)


@dataclass(frozen=True)
class SaveOutcome:
    """What happened when the student clicked Save: ``kind`` is "saved", "blank", "paused" or "error"."""

    kind: str
    text: str  # the message for the pad's message line
    record_id: int | None = None  # the new record's id when saved
    label: int | None = None  # the label it was saved with


class Collector:
    """One pad's collect mode: asks for digits (or takes the student's label), saves drawings, says what happened.

    ``store``: the ClassStore drawings go to (by default ``ClassStore()``, the class folder named by
    ``$MNISTLIB_CLASS_DIR``). ``mode``: "ask" (the pad names the digit to draw) or "pick" (the
    student picks it). ``allow_nicknames``: None follows the store's setting (a teacher sets
    ``ClassStore().allow_nicknames = True`` once for the class); True lets this pad save under a
    nickname and records that permission in the store; False never does. ``seed`` fixes the order
    of the digits asked for (tests); by default every pad has its own. ``min_interval``: seconds
    that must pass between two saves (a pad on a page sets SAVE_INTERVAL: a student cannot save
    faster than they draw); ``max_saves``: the most drawings this pad saves; ``clock`` (tests).
    """

    def __init__(
        self,
        store: ClassStore | None = None,
        *,
        mode: str = ASK,
        allow_nicknames: bool | None = None,
        student: str | None = None,
        seed: int | None = None,
        min_interval: float = 0.0,
        max_saves: int = MAX_SAVES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = ClassStore() if store is None else store
        self.student_id = student or new_student_id()  # one per pad, for as long as the pad lives
        self.prompt = DigitPrompt(seed)
        self.allow_nicknames = allow_nicknames
        self.nickname = ""
        self.picked: int | None = None  # the label the student picked (pick mode)
        self.saved = 0  # drawings this pad has saved
        self.min_interval, self.max_saves, self.clock = min_interval, max_saves, clock
        self._last_save = -math.inf
        self._mode = ASK
        self.mode = mode
        self.state = ClassState()  # the teacher's pause and round, as this pad last showed them

    @property
    def mode(self) -> str:
        """Return "ask" or "pick"."""
        return self._mode

    @mode.setter
    def mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"The collect mode is 'ask' (the pad names a digit) or 'pick', not {mode!r}.")
        self._mode = mode

    @property
    def label(self) -> int | None:
        """Return the label the next saved drawing gets: the round's digit, the one asked for, or the one picked."""
        if self.state.round is not None:
            return self.state.round
        return self.prompt.digit if self.mode == ASK else self.picked

    def follow(self, state: ClassState | None = None, drawing: bool = False) -> bool:
        """Take the teacher's pause and round (``state``, else read from the store); return True if they changed.

        A pause shows at once. A new round waits while the student is ``drawing`` (the pad is not
        blank): the drawing on the pad is still the digit the pad asked for.
        """
        if state is None:
            try:
                state = self.store.class_state()
            except ClassStoreError:
                return False  # a store that cannot be read now: the next save says why
        if drawing and state.round != self.state.round:
            state = ClassState(state.paused, self.state.round, self.state.version)
        changed, self.state = state != self.state, state
        return changed

    def pick(self, digit: int | None) -> None:
        """Pick the label of the drawing (pick mode); None takes the pick back."""
        if digit is not None and (isinstance(digit, bool) or digit not in range(10)):
            raise ValueError(f"Pick a digit 0-9, not {digit!r}.")
        self.picked = digit

    def nicknames_shown(self) -> bool:
        """Return True if the pad should offer a nickname field (the teacher allows nicknames here)."""
        if self.allow_nicknames is not None:
            return self.allow_nicknames
        try:
            return self.store.allow_nicknames
        except ClassStoreError:
            return False  # a store that cannot be read now: anonymous ids always work

    def prompt_text(self) -> str:
        """Return what the pad asks the student to do now."""
        if self.state.paused:
            return "Paused by your teacher"
        if self.state.round is not None:
            return f"Everyone: draw {a_digit(self.state.round)}"
        if self.mode == ASK:
            return f"Draw {a_digit(self.prompt.digit)}"
        if self.picked is None:
            return "Which digit is it?"  # short: the prompt is one line above the pad
        return f"Your drawing is a {self.picked}"

    def student(self) -> str:
        """Return the name this pad saves under: the nickname if one is typed and allowed, else the anonymous id."""
        nickname = self.nickname.strip()
        return nickname if nickname and self.nicknames_shown() else self.student_id

    def save(self, drawing: Any, prediction: Any = None, model_name: str | None = None) -> SaveOutcome:
        """Save ``drawing`` (the pad's Strokes, or an uploaded picture's bytes; None when blank) with its label.

        ``prediction`` is the model's reading of it now (a ``mnistlib.Prediction``), ``model_name``
        which model read it. Never raises for a problem of the store or of the input: the outcome
        says what happened, and the pad goes on working. After a save the prompt moves on.
        """
        label = self.label
        if drawing is None or getattr(drawing, "is_empty", False):
            what = a_digit(label) if self.mode == ASK else "a digit"
            return SaveOutcome(
                "blank", f"Nothing to save yet: draw {what} on the black pad, then click Save."
            )
        if label is None:
            return SaveOutcome("error", "Pick the digit you drew (0-9) first, then click Save.")
        if self.saved >= self.max_saves:
            return SaveOutcome(
                "error",
                f"Not saved: this pad has saved {self.saved} drawings, the most one pad saves. Thank you!",
            )
        if self.clock() - self._last_save < self.min_interval:
            return SaveOutcome("error", "Not saved: that was too fast. Draw the digit, then click Save.")
        shown = self.state
        self.follow()  # the teacher may have paused the class since the pad last looked
        if self.state.paused:
            return SaveOutcome(
                "paused", "Not saved: your teacher has paused saving. Keep drawing; Save works again soon."
            )
        student = self.student()
        if student != self.student_id and looks_anonymous(student):
            return SaveOutcome(
                "error",
                "Not saved: a nickname cannot start with 'anon' (pads' own ids do). Choose another one.",
            )
        try:
            if student != self.student_id and self.allow_nicknames and not self.store.allow_nicknames:
                self.store.allow_nicknames = True  # this pad's teacher allows them: say so in the store
            record_id = self.store.add(drawing, label, student, prediction=prediction, model_name=model_name)
        except ClassStoreError as exc:
            return SaveOutcome("error", f"Not saved. {exc}")
        except ValueError as exc:  # a nickname the store refuses, a drawing it cannot take
            return SaveOutcome("error", f"Not saved: {exc}")
        self.saved += 1
        self._last_save = self.clock()
        done = f"Saved your {label} (drawing {self.saved} of this pad)."
        if shown.round is None and self.mode == ASK:
            self.prompt.next()  # the drawing was the prompt's digit; during a round the order waits
        self.picked = None  # every drawing gets a label picked for it, not the last one's by mistake
        if self.state.round is not None:
            again = " again" if shown.round == self.state.round else ""
            return SaveOutcome(
                "saved", f"{done} Now draw {a_digit(self.state.round)}{again}.", record_id, label
            )
        if self.mode == ASK:
            return SaveOutcome("saved", f"{done} Now draw {a_digit(self.prompt.digit)}.", record_id, label)
        return SaveOutcome("saved", f"{done} Draw the next digit and pick its label.", record_id, label)
