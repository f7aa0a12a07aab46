"""The class as the teacher sees it: the class's state in the store, the summary, its HTML, collect mode following it.

Everything here runs without a server or a browser: tests/test_teacher_view.py serves the live view
from a real Voila, tests/test_teacher_browser.py drives it in Chromium while students draw.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import numpy as np
import pytest
from pad_support import FakeClock, mouse_draw, strokes_of

from mnistlib.checkpoints import SHIPPED_MODELS, read_checkpoint
from mnistlib.classroom.class_view import (
    TEST_ACCURACY,
    ClassState,
    mnist_accuracy,
    shown_student,
)
from mnistlib.classroom.collect import Collector
from mnistlib.classroom.pad import DrawingPad
from mnistlib.classroom.store import ClassStore, class_summary, new_student_id, sample_class
from mnistlib.paths import REPO_ROOT
from tools.drawn_digits import DIGITS

CNN = "CNN (shipped)"


@pytest.fixture
def store(tmp_path) -> ClassStore:
    return ClassStore(tmp_path / "class.sqlite", timeout=0.5)


def reading(digit: int, sure: float = 0.9) -> tuple[int, np.ndarray]:
    p = np.full(10, (1 - sure) / 9)
    p[digit] = sure
    return digit, p


def save(
    store: ClassStore, label: int, read: int | None, student: str | None = None, model: str = CNN
) -> int:
    """Save a drawn ``label`` that ``model`` read as ``read``; return its id."""
    prediction = None if read is None else reading(read)
    return store.add(
        DIGITS[label], label, student or new_student_id(), prediction=prediction, model_name=model
    )


# ---- the teacher's settings, one truth in the store --------------------------------------------------


def test_pause_round_and_their_version_live_in_the_store_for_every_kernel(store):
    assert store.class_state() == ClassState()  # no store yet: nothing paused, no round, nothing created
    assert not store.path.exists()
    other = ClassStore(store.path)  # another kernel of the class
    assert store.pause() == ClassState(paused=True, round=None, version=1)
    assert other.class_state().paused
    assert other.start_round(3) == ClassState(paused=True, round=3, version=2)
    assert store.resume() == ClassState(paused=False, round=3, version=3)
    assert store.end_round() == ClassState(paused=False, round=None, version=4)
    with pytest.raises(ValueError, match="digit 0-9"):
        store.start_round(12)
    with pytest.raises(ValueError, match="digit 0-9"):
        store.start_round(True)


def test_the_change_token_moves_with_every_save_deletion_and_teacher_action(store):
    tokens = [store.change_token()]
    first = save(store, 3, 3)
    tokens.append(store.change_token())
    last = save(store, 4, 4)
    tokens.append(store.change_token())
    store.hide(first)
    tokens.append(store.change_token())
    store.delete(last)  # the newest id: SQLite may give the next save the same id again
    tokens.append(store.change_token())
    save(store, 5, 5)
    tokens.append(store.change_token())
    store.pause()
    tokens.append(store.change_token())
    assert len(set(tokens)) == len(tokens), tokens
    assert store.change_token() == tokens[-1]  # reading changes nothing


def test_hidden_drawings_leave_the_view_not_the_store_and_deleted_ones_leave_everything(store, tmp_path):
    ids = [save(store, d, d) for d in (1, 2, 3)]
    store.hide(ids[0])
    summary = store.summary()
    assert [d.id for d in summary.newest] == [ids[2], ids[1]] and summary.hidden == 1
    assert summary.count == 3 and len(store) == 3  # still counted and kept: the teacher may show it again
    store.hide(ids[0], hidden=False)
    assert [d.id for d in store.summary().newest] == ids[::-1]
    store.hide(ids[1])
    store.show_hidden()
    assert store.hidden() == []
    gone = store.get(ids[1]).uuid
    store.hide(ids[1])
    store.delete(gone)  # by UUID, as the teacher's page sends it
    assert store.hidden() == [] and store.summary().hidden == 0  # a deleted drawing is not "hidden" either
    assert ids[1] not in store.images().ids.tolist()  # notebook 06 reads images()
    export = store.export(tmp_path / "export")
    assert gone not in (export / "records.csv").read_text() and not list((export / "2").glob("*.png"))
    with pytest.raises(KeyError):
        store.hide(ids[1])
    with pytest.raises(KeyError):
        store.delete(gone)
    with pytest.raises(KeyError):
        store.raster_png(gone)
    assert store.raster_png(ids[0]).startswith(b"\x89PNG")  # as stored, for the live view's tiles


# ---- the summary --------------------------------------------------------------------------------------


def test_the_summary_counts_compares_with_mnist_and_finds_the_hardest_digit_and_confusion(store):
    alice, bob = new_student_id(), new_student_id()
    for _ in range(4):
        save(store, 7, 1, alice)  # the class's 7s are read as 1s
    save(store, 7, 7, bob)
    for d in (0, 1, 2):
        save(store, d, d, bob)
    save(store, 4, 9, bob)  # one misread 4: fewer readings than MIN_READINGS, so 4 is not "hardest"
    save(store, 5, 3, bob, model="MLP (shipped)")  # another model's reading is not counted
    save(store, 6, None, bob)  # no reading
    s = store.summary(newest=5, examples=3)
    assert s.count == 11 and s.model == CNN and s.other_readings == 1
    assert s.students == [(shown_student(alice), 4), (shown_student(bob), 7)]
    assert shown_student(alice) == alice[5:9] and len(shown_student(alice)) == 4
    seven = s.digits[7]
    assert (seven.drawn, seven.read, seven.right) == (5, 5, 1) and seven.accuracy == pytest.approx(0.2)
    assert s.digits[5].read == 0 and s.digits[5].drawn == 1 and s.digits[5].accuracy is None
    assert s.hardest == 7 and s.confusion == (7, 1, 4)
    assert len(s.confusion_examples) == 3 and all(
        d.label == 7 and d.predicted == 1 for d in s.confusion_examples
    )
    mnist = mnist_accuracy(CNN)
    assert [d.mnist for d in s.digits] == mnist and all(0.99 < m <= 1 for m in mnist)
    assert [d.label for d in s.newest] == [6, 5, 4, 2, 1]  # newest first
    newest = s.newest[2]
    assert newest.misread and newest.predicted == 9 and newest.confidence == pytest.approx(0.9)
    assert s.newest[0].predicted is None and not s.newest[0].misread


def test_an_empty_store_and_a_store_with_no_mistakes(store):
    empty = store.summary()
    assert empty.count == 0 and empty.hardest is None and empty.newest == [] and empty.model is None
    assert "No drawings yet" in empty.html()
    for d in range(10):
        save(store, d, d)
    assert store.summary().hardest is None and store.summary().confusion is None


def test_the_sample_class_names_its_model_by_file_and_is_still_compared_with_mnist():
    s = sample_class().summary()
    assert s.model == CNN and all(d.mnist is not None for d in s.digits)  # "mnist_cnn.pt" in its records
    assert s.hardest == 1 and s.confusion == (1, 7, 8)  # the continental 1s read as 7s


def test_the_html_marks_misreadings_with_a_shape_and_words_and_exposes_its_hooks(store):
    save(store, 7, 1)
    save(store, 3, 3)
    store.pause()
    html = store.summary().html()
    assert 'class="mnist-class-view ' in html and 'data-count="2"' in html and 'data-paused="true"' in html
    assert "\u2717</b> read 1" in html and "\u2713</b> right" in html  # shapes and words, not colour alone
    assert (
        "Collecting is paused" in html and "data:image/png;base64," in html
    )  # a notebook inlines the images
    teacher = store.summary().html(image_src=lambda d: f"api/image/{d.uuid}.png", teacher=True)
    assert 'class="cv-open"' in teacher and "api/image/" in teacher and "data:image" not in teacher


def test_a_typed_nickname_is_never_html(store):
    store.allow_nicknames = True
    nasty = "<img src=x onerror=f()>"  # 24 characters: the most a nickname has
    save(store, 3, 3, nasty)
    summary = store.summary()
    assert summary.students == [(nasty, 1)]
    for html in (summary.html(), summary.html(teacher=True), *summary.sections(teacher=True).values()):
        assert "<img src=x" not in html
    assert "&lt;img src=x onerror=f()&gt;" in summary.html()


def test_notebook_06_gets_the_same_summary_and_the_lessons_plot():
    summary = class_summary(sample_class())
    assert summary.count == 300 and summary.newest[0].raster.startswith(b"\x89PNG")
    assert "mnist-class-view" in summary._repr_html_()
    figure = summary.plot()
    assert len(figure.axes[0].patches) >= 20  # two bars a digit: the class and MNIST's test set


def test_the_live_view_loads_without_pytorch():
    # The class server's process renders the view; importing PyTorch would add ~0.3 GB to it.
    code = (
        "import sys; sys.path.insert(0, 'app/config')\n"
        "import teacher_view\n"
        "from mnistlib.classroom.store import sample_class\n"
        "s = sample_class().summary(); s.html(); teacher_view.LiveView.answer(s)\n"
        "teacher_view.drawing_html(sample_class().get(1), 'x.png', teacher=True)\n"
        "heavy = sorted(m for m in ('torch', 'matplotlib', 'torchvision') if m in sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], check=False, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]


def test_the_mnist_figures_are_those_of_the_shipped_checkpoints():
    figures = json.loads(TEST_ACCURACY.read_text())["models"]
    for arch, path in SHIPPED_MODELS.items():
        entry = next(e for e in figures.values() if e["file"] == path.name)
        assert entry["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest(), (
            f"{path.name} changed since models/test_accuracy.json was written: python -m tools.ship --test-accuracy"
        )
        assert entry["architecture"] == arch
        assert entry["test_acc"] == read_checkpoint(path)["metadata"]["test_acc"]
        weighted = sum(a * n for a, n in zip(entry["per_digit"], entry["test_digits"], strict=True)) / 10_000
        assert weighted == pytest.approx(entry["test_acc"], abs=2e-4)


# ---- collect mode follows the teacher ---------------------------------------------------------------


def test_a_paused_class_saves_nothing_and_the_pad_says_so(store):
    collector = Collector(store, seed=0)
    store.pause()
    outcome = collector.save(strokes_of(7))
    assert outcome.kind == "paused" and "paused" in outcome.text and len(store) == 0
    assert collector.prompt_text() == "Paused by your teacher"
    store.resume()
    assert collector.save(strokes_of(7)).kind == "saved" and len(store) == 1


def test_a_round_makes_every_pad_ask_for_its_digit_then_the_pad_goes_back_to_its_order(store):
    clock = FakeClock()
    collector = Collector(store, seed=0, clock=clock, min_interval=1.0)
    before = collector.prompt.digit
    store.start_round(3)
    assert collector.follow() and collector.label == 3 and collector.prompt_text() == "Everyone: draw a 3"
    outcome = collector.save(strokes_of(3))
    assert outcome.label == 3 and outcome.text.endswith("Now draw a 3 again.")
    collector.pick(5)
    collector.mode = "pick"  # a round asks for its digit in pick mode too
    clock.now += 2
    assert collector.save(strokes_of(3)).label == 3
    store.end_round()
    collector.mode = "ask"
    assert collector.follow() and collector.label == before  # the pad's own order waited
    assert store.images().labels.tolist() == [3, 3]


def test_a_round_started_while_a_student_draws_waits_for_the_blank_pad(store):
    collector = Collector(store, seed=1)
    asked = collector.label
    store.start_round((asked + 1) % 10)
    assert not collector.follow(drawing=True) and collector.label == asked  # the drawing is still `asked`
    store.pause()
    assert collector.follow(drawing=True) and collector.state.paused  # a pause shows at once
    store.resume()
    collector.follow(drawing=True)
    outcome = collector.save(strokes_of(asked))  # saved as what the pad asked for when it was drawn
    assert outcome.label == asked and collector.label == (asked + 1) % 10


def test_the_pad_shows_the_pause_disables_save_and_shows_the_round(store):
    pad = DrawingPad(collect=True, store=store)
    prompt = pad.view.collect.prompt
    store.pause()
    pad.follow_class()  # what the kernel's loop does every CLASS_POLL s
    assert 'data-paused="true"' in prompt.value and pad.view.collect.save_button.disabled
    store.resume()
    store.start_round(8)
    pad.follow_class()
    assert (
        'data-round="8"' in prompt.value and 'data-digit="8"' in prompt.value and "draw an 8" in prompt.value
    )
    assert not pad.view.collect.save_button.disabled
    mouse_draw(pad, DIGITS[8])
    store.pause()  # paused after the button was drawn enabled: the save is refused all the same
    pad.view.collect.save_button.click()
    assert 'data-kind="paused"' in pad.view.message.value and len(store) == 0
    assert not pad.strokes.is_empty  # the drawing stays, to save once the teacher resumes
