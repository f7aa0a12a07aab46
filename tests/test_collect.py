"""Collect mode: the digits a pad asks for, saving into the class store, nicknames, and broken stores.

The plain-Python ``Collector`` first, then the widget's Save flow driven by canvas events exactly as
the browser sends them (``_handle_frontend_event``), with stores that are locked, damaged,
read-only or full: the pad says what happened and keeps working.
"""

from __future__ import annotations

import io
import itertools
import sqlite3

import numpy as np
import pytest
from pad_support import mouse_draw, strokes_of
from PIL import Image

import mnistlib
from mnistlib.checkpoints import load_shipped
from mnistlib.classroom.collect import ASK, PICK, Collector, DigitPrompt, a_digit
from mnistlib.classroom.pad import DrawingPad
from mnistlib.classroom.store import ANONYMOUS, ClassStore
from mnistlib.classroom.strokes import Strokes
from tools.drawn_digits import DIGITS


@pytest.fixture
def store(tmp_path) -> ClassStore:
    return ClassStore(tmp_path / "class" / "class.sqlite", timeout=0.3)


@pytest.fixture(scope="module")
def cnn():
    return load_shipped("cnn")


# ---- the digits a pad asks for ---------------------------------------------------------------------


def test_the_prompt_asks_for_every_digit_once_per_round_and_never_twice_running():
    prompt = DigitPrompt(seed=3)
    asked = [prompt.digit] + [prompt.next() for _ in range(49)]
    for start in range(0, 50, 10):
        assert sorted(asked[start : start + 10]) == list(range(10)), asked
    assert all(a != b for a, b in itertools.pairwise(asked)), asked


def test_pads_ask_in_different_orders_and_a_seed_repeats_one():
    def first_round(seed: int) -> tuple[int, ...]:
        prompt = DigitPrompt(seed)
        return (prompt.digit, *(prompt.next() for _ in range(9)))

    orders = {first_round(seed) for seed in range(20)}
    assert len(orders) > 15  # 10! orders: twenty pads almost never share one
    assert len({first_round(None) for _ in range(5)}) > 1  # pads without a seed differ too
    first = DigitPrompt(seed=7)
    second = DigitPrompt(seed=7)
    assert [first.next() for _ in range(12)] == [second.next() for _ in range(12)]


# ---- saving ----------------------------------------------------------------------------------------


def test_saving_in_ask_mode_stores_the_drawing_with_the_digit_asked_for(store, cnn):
    collector = Collector(store, seed=1)
    asked = collector.prompt.digit
    assert collector.prompt_text() == f"Draw {a_digit(asked)}"
    drawing = strokes_of(7)
    prediction = mnistlib.predict(cnn, drawing.rasterize())
    outcome = collector.save(drawing, prediction, model_name="CNN (shipped)")

    assert outcome.kind == "saved" and outcome.label == asked
    assert (
        outcome.text
        == f"Saved your {asked} (drawing 1 of this pad). Now draw {a_digit(collector.prompt.digit)}."
    )
    assert collector.prompt.digit != asked
    record = store.get(outcome.record_id)
    assert record.label == asked and record.student == collector.student_id
    assert ANONYMOUS.fullmatch(record.student)
    assert record.strokes["strokes"] == [[list(p) for p in s] for s in drawing.strokes]
    assert record.raster.shape == (280, 280) and (record.raster == drawing.rasterize()).all()
    assert record.predicted == prediction.digit == 7 and record.model == "CNN (shipped)"
    np.testing.assert_allclose(record.probabilities, prediction.probabilities, atol=1e-5)
    # The stored model input is what the model read, to the uint8 step.
    assert np.abs(record.model_input / 255 - prediction.model_input).max() <= 0.5 / 255 + 1e-6


def test_each_save_counts_and_moves_on_and_every_pad_is_its_own_student(store):
    first, second = Collector(store, seed=1), Collector(store, seed=2)
    for n in range(1, 4):
        assert f"(drawing {n} of this pad)" in first.save(strokes_of(1)).text
    second.save(strokes_of(0))
    assert first.student_id != second.student_id
    counts = store.counts()
    assert sorted(sum(row) for row in counts.per_student.values()) == [1, 3]


def test_a_blank_pad_saves_nothing_and_says_so(store):
    collector = Collector(store, seed=0)
    asked = collector.prompt.digit
    for blank in (None, Strokes()):
        outcome = collector.save(blank)
        assert outcome.kind == "blank" and outcome.record_id is None
        assert f"draw a {asked}" in outcome.text and "Save" in outcome.text
    assert collector.prompt.digit == asked and collector.saved == 0
    assert len(store) == 0 and not store.path.exists()


def test_pick_mode_needs_a_label_and_takes_it_back_after_each_save(store):
    collector = Collector(store, mode=PICK)
    assert collector.label is None and collector.prompt_text() == "Which digit is it?"
    refused = collector.save(strokes_of(0))
    assert refused.kind == "error" and "Pick the digit" in refused.text and len(store) == 0
    collector.pick(0)
    assert collector.prompt_text() == "Your drawing is a 0"
    outcome = collector.save(strokes_of(0))
    assert outcome.kind == "saved" and store.get(outcome.record_id).label == 0
    assert collector.picked is None and "pick its label" in outcome.text
    with pytest.raises(ValueError, match="0-9"):
        collector.pick(10)
    with pytest.raises(ValueError, match="ask"):
        collector.mode = "guess"
    collector.mode = ASK
    assert collector.label == collector.prompt.digit


def test_an_uploaded_picture_is_saved_without_strokes(store):
    paper = Image.fromarray(240 - (strokes_of(7).rasterize() // 255) * 210)
    buffer = io.BytesIO()
    paper.save(buffer, format="PNG")
    collector = Collector(store, mode=PICK)
    collector.pick(7)
    outcome = collector.save(buffer.getvalue())
    record = store.get(outcome.record_id)
    assert outcome.kind == "saved" and record.strokes is None and record.label == 7
    assert record.model_input.max() > 200  # the ink, made bright


# ---- nicknames -------------------------------------------------------------------------------------


def test_nicknames_are_ignored_unless_the_teacher_allows_them(store):
    collector = Collector(store, seed=0)
    collector.nickname = "Ada"
    assert not collector.nicknames_shown()
    record = store.get(collector.save(strokes_of(1)).record_id)
    assert record.student == collector.student_id


def test_a_store_that_allows_nicknames_shows_the_field_on_every_pad(store):
    store.allow_nicknames = True
    collector = Collector(store, seed=0)
    assert collector.nicknames_shown()
    collector.nickname = "  Ada "
    assert store.get(collector.save(strokes_of(1)).record_id).student == "Ada"
    assert not Collector(store, allow_nicknames=False).nicknames_shown()  # a pad may still refuse them


def test_a_pad_that_allows_nicknames_records_the_permission_in_the_store(store):
    collector = Collector(store, allow_nicknames=True, seed=0)
    assert collector.nicknames_shown() and not store.allow_nicknames
    collector.nickname = "Grace"
    assert store.get(collector.save(strokes_of(0)).record_id).student == "Grace"
    assert store.allow_nicknames


def test_a_nickname_the_store_refuses_gives_a_message_and_saves_nothing(store):
    collector = Collector(store, allow_nicknames=True, seed=0)
    collector.nickname = "x" * 40
    outcome = collector.save(strokes_of(0))
    assert outcome.kind == "error" and "Not saved" in outcome.text and "24" in outcome.text
    assert len(store) == 0 and collector.saved == 0
    collector.nickname = ""
    assert collector.save(strokes_of(0)).kind == "saved"


# ---- broken stores ---------------------------------------------------------------------------------


def assert_refused_then_saves_again(collector: Collector, words: str, fix) -> None:
    """Save into a broken store: an error naming the problem, nothing lost; after ``fix()`` it saves."""
    asked = collector.prompt.digit
    outcome = collector.save(strokes_of(7))
    assert outcome.kind == "error" and words in outcome.text and outcome.record_id is None, outcome.text
    assert collector.prompt.digit == asked and collector.saved == 0  # still asking for the same digit
    fix()
    outcome = collector.save(strokes_of(7))
    assert outcome.kind == "saved", outcome.text
    assert collector.store.get(outcome.record_id).label == asked


def test_a_locked_store_says_try_again_and_the_next_save_works(store):
    store.add(strokes_of(1), 1)  # the file exists
    holder = sqlite3.connect(store.path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another program holds the write lock
    try:
        assert_refused_then_saves_again(Collector(store, seed=0), "busy", holder.rollback)
    finally:
        holder.close()


def test_a_damaged_store_says_tell_the_teacher(store, tmp_path):
    store.path.parent.mkdir(parents=True)
    store.path.write_bytes(b"this is not a database" * 200)

    def replace_with_a_new_store():
        store.path.rename(tmp_path / "damaged.sqlite")

    assert_refused_then_saves_again(Collector(store, seed=0), "damaged", replace_with_a_new_store)
    assert "Tell the teacher" in Collector(ClassStore(tmp_path / "damaged.sqlite")).save(strokes_of(0)).text


def test_a_store_opened_read_only_says_so(store, tmp_path):
    store.add(strokes_of(1), 1)
    read_only = ClassStore(store.path, read_only=True)
    collector = Collector(read_only, seed=0)

    def writable():
        collector.store = ClassStore(store.path)

    assert_refused_then_saves_again(collector, "read_only=True", writable)


def test_a_full_store_says_so(store):
    store.add(strokes_of(1), 1)
    size = store.path.stat().st_size
    full = ClassStore(store.path, max_bytes=size, timeout=0.3)
    collector = Collector(full, seed=0)
    for _ in range(20):  # fill the last free pages
        outcome = collector.save(strokes_of(0))
        if outcome.kind == "error":
            break
    assert outcome.kind == "error" and "full" in outcome.text, outcome.text
    saved_before = len(store)
    collector.store = ClassStore(store.path)  # the teacher raised the limit
    assert collector.save(strokes_of(0)).kind == "saved"
    assert len(store) == saved_before + 1


# ---- the pad's Save flow, without a browser --------------------------------------------------------


def attribute(html: str, name: str) -> str:
    """Return the first ``data-<name>`` attribute's value in a panel's HTML, as the browser tests read it."""
    return html.split(f'data-{name}="')[1].split('"')[0]


def shown_message(pad) -> tuple[str, str]:
    """Return (data-kind, text) of the pad's message line."""
    html = pad.view.message.value
    return attribute(html, "kind"), html.split(">", 1)[1].rsplit("<", 1)[0]


@pytest.fixture
def collect_pad(store):
    return DrawingPad(collect=True, store=store)


def test_a_reading_pad_has_no_collect_controls():
    pad = DrawingPad()
    assert pad.collector is None and not hasattr(pad, "save_button")
    with pytest.raises(RuntimeError, match="collect=True"):
        pad.save()


def test_the_pad_asks_for_a_digit_saves_it_clears_and_asks_for_the_next(collect_pad, store):
    pad = collect_pad
    asked = pad.collector.prompt.digit
    assert (
        attribute(pad.view.collect.prompt.value, "digit") == str(asked)
        and f"Draw {a_digit(asked)}" in pad.view.collect.prompt.value
    )
    assert (
        attribute(pad.view.collect.prompt.value, "mode") == "ask"
        and pad.view.collect.label_picker.layout.display == "none"
    )
    mouse_draw(pad, DIGITS[7])
    assert pad.state == "digit" and pad.prediction.digit == 7
    drawn = [list(s) for s in pad.strokes.strokes]
    pad.view.collect.save_button.click()

    kind, text = shown_message(pad)
    following = pad.collector.prompt.digit
    assert (
        kind == "saved"
        and text == f"Saved your {asked} (drawing 1 of this pad). Now draw {a_digit(following)}."
    )
    assert attribute(pad.view.collect.prompt.value, "digit") == str(following) != str(asked)
    assert pad.strokes.is_empty and pad.state == "blank"  # cleared for the next digit
    record = store.get(int(store.images().ids[0]))
    assert record.label == asked and record.predicted == 7 and record.model == "CNN (shipped)"
    assert len(record.strokes["strokes"]) == len(drawn)
    for kept, sent in zip(record.strokes["strokes"], drawn, strict=True):  # as drawn, to 0.01 px
        np.testing.assert_allclose(kept, sent, atol=0.006)
    assert record.student == pad.collector.student_id


def test_saving_a_blank_pad_says_so_and_stores_nothing(collect_pad, store):
    collect_pad.view.collect.save_button.click()
    kind, text = shown_message(collect_pad)
    assert kind == "blank" and "Nothing to save" in text
    assert len(store) == 0


def test_the_student_can_pick_the_label_instead(collect_pad, store):
    pad = collect_pad
    pad.view.collect.mode_toggle.value = PICK
    assert (
        pad.view.collect.label_picker.layout.display == "flex"
        and attribute(pad.view.collect.prompt.value, "digit") == ""
    )
    mouse_draw(pad, DIGITS[0])
    pad.view.collect.save_button.click()
    assert shown_message(pad)[0] == "error" and len(store) == 0
    assert not pad.strokes.is_empty  # the drawing waits for its label
    pad.view.collect.label_picker.value = "0"
    assert attribute(pad.view.collect.prompt.value, "digit") == "0"
    pad.view.collect.save_button.click()
    assert shown_message(pad)[0] == "saved" and store.images().labels.tolist() == [0]
    assert (
        pad.view.collect.label_picker.value is None
        and attribute(pad.view.collect.prompt.value, "digit") == ""
    )


def test_a_pad_can_start_in_pick_mode(store):
    pad = DrawingPad(collect=True, store=store, ask=False)
    assert pad.view.collect.mode_toggle.value == PICK and pad.collector.mode == PICK
    assert attribute(pad.view.collect.prompt.value, "mode") == "pick"


def test_an_uploaded_picture_can_be_saved(collect_pad, store):
    paper = Image.fromarray(240 - (strokes_of(0).rasterize() // 255) * 210)
    buffer = io.BytesIO()
    paper.save(buffer, format="PNG")
    collect_pad.read_file("zero.png", buffer.getvalue())
    collect_pad.view.collect.mode_toggle.value = PICK
    collect_pad.view.collect.label_picker.value = "0"
    collect_pad.view.collect.save_button.click()
    assert shown_message(collect_pad)[0] == "saved"
    record = store.get(int(store.images().ids[0]))
    assert record.strokes is None and record.label == 0 and record.predicted == 0


def test_the_nickname_field_shows_only_where_nicknames_are_allowed(store):
    assert DrawingPad(collect=True, store=store).view.collect.nickname.layout.display == "none"
    pad = DrawingPad(collect=True, store=store, allow_nicknames=True)
    assert pad.view.collect.nickname.layout.display == "flex"
    pad.view.collect.nickname.value = "Ada"
    mouse_draw(pad, DIGITS[1])
    pad.view.collect.save_button.click()
    assert shown_message(pad)[0] == "saved" and store.images().students.tolist() == ["Ada"]


def test_a_damaged_store_gives_a_message_and_the_pad_keeps_working(collect_pad, store, tmp_path):
    pad = collect_pad
    store.path.parent.mkdir(parents=True)
    store.path.write_bytes(b"not a database at all " * 100)
    asked = pad.collector.prompt.digit
    mouse_draw(pad, DIGITS[7])
    pad.view.collect.save_button.click()
    kind, text = shown_message(pad)
    assert kind == "error" and "damaged" in text and "Tell the teacher" in text
    assert not pad.strokes.is_empty and pad.collector.prompt.digit == asked  # nothing lost, same digit
    # Drawing and reading go on.
    mouse_draw(pad, [[(60, 200), (220, 200)]])
    assert pad.state in ("digit", "unsure") and len(pad.strokes) == 2
    store.path.rename(tmp_path / "damaged.sqlite")  # the teacher moves the damaged file aside
    pad.view.collect.save_button.click()
    assert shown_message(pad)[0] == "saved" and store.images().labels.tolist() == [asked]


def test_a_locked_store_gives_a_message_and_a_later_save_works(collect_pad, store):
    pad = collect_pad
    store.add(strokes_of(1), 1)
    holder = sqlite3.connect(store.path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        mouse_draw(pad, DIGITS[0])
        pad.view.collect.save_button.click()
        kind, text = shown_message(pad)
        assert kind == "error" and "busy" in text and "Try again" in text
    finally:
        holder.rollback()
        holder.close()
    pad.view.collect.save_button.click()
    assert shown_message(pad)[0] == "saved" and len(store) == 2


def test_an_unexpected_failure_in_a_save_keeps_the_pad_working(collect_pad, store, monkeypatch):
    def broken_add(*args, **kwargs):
        raise OSError("disk went away")

    monkeypatch.setattr(store, "add", broken_add)
    mouse_draw(collect_pad, DIGITS[1])
    collect_pad.view.collect.save_button.click()
    kind, text = shown_message(collect_pad)
    assert kind == "error" and "disk went away" in text
    mouse_draw(collect_pad, DIGITS[7])
    assert collect_pad.state in ("digit", "unsure")


def test_the_prompts_say_an_8():
    assert [a_digit(d) for d in (1, 8)] == ["a 1", "an 8"]
    collector = Collector(ClassStore(read_only=True), seed=0)
    while collector.prompt.digit != 8:
        collector.prompt.next()
    assert collector.prompt_text() == "Draw an 8"
