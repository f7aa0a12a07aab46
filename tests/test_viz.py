"""Plot helpers: each returns a Figure with the expected panels, titles and data, and renders to PNG."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # headless; the helpers never touch pyplot, this only guards against it

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from mnistlib import evaluate, viz

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _renders(fig: Figure) -> bytes:
    """Render through the same path IPython uses and return the PNG bytes."""
    assert isinstance(fig, Figure)
    png = fig._repr_png_()
    assert png.startswith(PNG_MAGIC) and len(png) > 2000
    return png


def _image_axes(fig: Figure) -> list:
    return [ax for ax in fig.axes if ax.get_visible() and ax.images]


def _history(n: int = 3) -> dict[str, list[float]]:
    return {
        "epoch": list(range(1, n + 1)),
        "train_loss": [0.5 / e for e in range(1, n + 1)],
        "train_acc": [0.9 + 0.02 * e for e in range(n)],
        "test_acc": [0.91 + 0.02 * e for e in range(n)],
        "time": [2.0 * e for e in range(1, n + 1)],
    }


def test_show_digits_one_panel_per_digit_with_labels_and_red_mistakes(mnist_test):
    X, y = mnist_test[0][:12], mnist_test[1][:12]
    preds = y.clone()
    preds[3] = (y[3] + 1) % 10
    fig = viz.show_digits(X, y, predictions=preds, confidences=torch.full((12,), 0.93), ncols=5, title="t")
    _renders(fig)
    shown = _image_axes(fig)
    assert len(shown) == 12 and len(fig.axes) == 15  # 3 rows of 5; the 3 spare panels are hidden
    assert shown[0].get_title() == f"guess {int(y[0])} (93.0%)\nlabel {int(y[0])}"
    assert np.array_equal(shown[0].images[0].get_array(), X[0].numpy())
    assert shown[3].title.get_color() == viz.WRONG_COLOR and shown[0].title.get_color() == "black"
    assert shown[0].images[0].get_cmap().name == "gray"


def test_show_digits_accepts_float_batches_and_rejects_bad_shapes():
    fig = viz.show_digits(torch.rand(4, 1, 28, 28), [1, 2, 3, 4])
    assert [ax.get_title() for ax in _image_axes(fig)] == ["label 1", "label 2", "label 3", "label 4"]
    assert _image_axes(fig)[0].images[0].get_clim() == (0, 1)
    with pytest.raises(ValueError, match="shaped"):
        viz.show_digits(torch.rand(2, 3, 28, 28))
    with pytest.raises(ValueError, match="no images"):
        viz.show_digits(torch.rand(0, 28, 28))


def test_class_balance_bars_are_the_shares_of_each_split(mnist_test, mnist_train):
    fig = viz.plot_class_balance({"train": mnist_train[1], "test": mnist_test[1]})
    _renders(fig)
    (ax,) = fig.axes
    heights = [p.get_height() for p in ax.patches]
    assert len(heights) == 20
    expected = torch.bincount(mnist_test[1], minlength=10).float() / 10_000
    assert np.allclose(heights[10:], expected.numpy())
    assert "test (10,000)" in [t.get_text() for t in ax.get_legend().get_texts()]
    assert ax.get_xlabel() == "digit"


def test_mean_digits_are_the_class_averages(mnist_test):
    X, y = mnist_test
    fig = viz.plot_mean_digits(X, y)
    _renders(fig)
    assert len(fig.axes) == 20  # a row of means and a row of spreads
    mean_of_sevens = (X[y == 7].float() / 255).mean(0).numpy()
    assert np.allclose(fig.axes[7].images[0].get_array(), mean_of_sevens, atol=1e-5)
    assert fig.axes[7].get_title() == "7"
    assert len(viz.plot_mean_digits(X, y, show_std=False).axes) == 10


def test_pixel_histogram_counts_every_pixel_once_per_panel(mnist_test):
    raw = mnist_test[0][:100]
    scaled = raw.float() / 255
    fig = viz.plot_pixel_histogram({"raw": raw, "scaled": scaled})
    _renders(fig)
    assert [ax.get_title() for ax in fig.axes] == ["raw", "scaled"]
    for ax in fig.axes:
        assert sum(p.get_height() for p in ax.containers[0]) == 100 * 784
        assert ax.get_yscale() == "log"


def test_loss_curve_has_raw_and_smoothed_lines():
    fig = viz.plot_loss_curve(np.linspace(2, 0.1, 200), smooth=20)
    _renders(fig)
    raw, smooth = fig.axes[0].lines
    assert len(raw.get_xdata()) == 200 and len(smooth.get_xdata()) == 181


def test_plot_history_single_and_compared():
    fig = viz.plot_history(_history())
    _renders(fig)
    loss_ax, acc_ax = fig.axes
    assert list(loss_ax.lines[0].get_ydata()) == _history()["train_loss"]
    assert [line.get_label() for line in acc_ax.lines] == ["training", "test"]
    fig = viz.plot_history({"MLP": _history(2), "CNN": _history(4)})
    assert [line.get_label() for line in fig.axes[1].lines] == ["MLP", "CNN"]
    assert len(fig.axes[1].lines[1].get_xdata()) == 4


def test_live_plot_redraws_with_the_growing_history():
    live = viz.LiveHistoryPlot(num_epochs=3, title="CNN")
    for n in (1, 2, 3):
        live(_history(n))
        assert len(live.fig.axes) == 2  # cleared and redrawn, not stacked
        assert len(live.fig.axes[0].lines[0].get_xdata()) == n
    assert live.fig.get_suptitle() == "CNN: epoch 3/3"
    assert live.fig.axes[0].get_xlim() == (0.7, 3.3)
    _renders(live.fig)


def test_live_plot_updates_one_display_in_a_kernel(monkeypatch):
    """In IPython the first epoch displays the figure and later epochs update that same output."""
    import IPython
    import IPython.display

    calls = []

    class Handle:
        def update(self, obj):
            calls.append(("update", obj))

    monkeypatch.setattr(IPython, "get_ipython", lambda: object())
    monkeypatch.setattr(
        IPython.display, "display", lambda obj, display_id: calls.append(("display", obj)) or Handle()
    )
    live = viz.LiveHistoryPlot()
    live(_history(1))
    live(_history(2))
    assert calls == [("display", live.fig), ("update", live.fig)]


def test_per_class_accuracy_bars_and_zoomed_axis():
    acc = {"MLP": np.linspace(0.95, 0.99, 10), "CNN": np.full(10, 0.99)}
    fig = viz.plot_per_class_accuracy(acc)
    _renders(fig)
    (ax,) = fig.axes
    assert len(ax.patches) == 20
    assert ax.get_ylim()[0] >= 0.9 and ax.get_ylim()[1] == 1.0


def test_confusion_matrix_shows_every_nonzero_count():
    y = torch.tensor([0, 0, 1, 1, 2, 2, 2, 9])
    p = torch.tensor([0, 1, 1, 1, 2, 7, 2, 9])
    cm = evaluate.confusion_matrix(y, p)
    fig = viz.plot_confusion_matrix(cm)
    _renders(fig)
    ax = fig.axes[0]
    assert sorted(t.get_text() for t in ax.texts) == sorted(str(int(v)) for v in cm.flatten() if v)
    assert ax.get_xlabel() == "predicted digit" and ax.get_ylabel() == "true digit"
    assert len(fig.axes) == 2  # the matrix and its colour bar


def test_reliability_diagram_bars_are_the_bin_accuracies():
    probs = torch.softmax(torch.randn(400, 10, generator=torch.Generator().manual_seed(0)) * 4, 1)
    y = torch.randint(0, 10, (400,), generator=torch.Generator().manual_seed(1))
    cal = evaluate.calibration(probs, y)
    fig = viz.plot_reliability(cal)
    _renders(fig)
    ax, ax_count = fig.axes
    used = cal["count"] > 0
    assert np.allclose([p.get_height() for p in ax.patches], cal["accuracy"][used].numpy())
    dots = next(line for line in ax.lines if line.get_label() == "mean confidence in the bin")
    assert np.allclose(dots.get_ydata(), cal["confidence"][used].numpy())
    assert sum(p.get_height() for p in ax_count.patches) == 400


def test_robustness_one_line_per_model_plus_chance():
    fig = viz.plot_robustness(
        [0, 1, 2], {"MLP": [0.98, 0.9, 0.6], "CNN": [0.99, 0.99, 0.95]}, "shift (pixels)"
    )
    _renders(fig)
    (ax,) = fig.axes
    assert [line.get_label() for line in ax.lines] == ["MLP", "CNN", "chance (10 %)"]
    assert list(ax.lines[0].get_ydata()) == [0.98, 0.9, 0.6]
    assert ax.get_xlabel() == "shift (pixels)"


@pytest.mark.parametrize("shape", [(32, 1, 5, 5), (32, 5, 5), (16, 784)])
def test_filters_one_panel_each_with_a_symmetric_scale(shape):
    w = torch.randn(*shape, generator=torch.Generator().manual_seed(0))
    fig = viz.plot_filters(w, ncols=8)
    _renders(fig)
    shown = _image_axes(fig)
    assert len(shown) == shape[0]
    side = 28 if shape[-1] == 784 else 5
    assert shown[0].images[0].get_array().shape == (side, side)
    assert shown[0].images[0].get_clim() == (-1, 1)
    assert np.abs(shown[0].images[0].get_array()).max() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="filters shaped"):
        viz.plot_filters(torch.randn(4, 3, 5, 5))


def test_pixel_values_writes_every_nonzero_pixel_on_the_image(mnist_test):
    image, label = mnist_test[0][0], int(mnist_test[1][0])
    fig = viz.plot_pixel_values(image, label)
    _renders(fig)
    (ax,) = fig.axes
    assert np.array_equal(ax.images[0].get_array(), image.numpy())
    nonzero = image[image > 0]
    assert len(ax.texts) == len(nonzero)
    assert sorted(int(t.get_text()) for t in ax.texts) == sorted(nonzero.tolist())
    assert ax.get_title().startswith(f"a {label} is a 28x28 grid")


def test_show_digits_captions_go_under_the_label():
    fig = viz.show_digits(torch.rand(3, 28, 28), labels=[1, 2, 3], captions=["a", "b", "c"])
    assert [ax.get_title() for ax in _image_axes(fig)] == ["label 1\na", "label 2\nb", "label 3\nc"]
    fig = viz.show_digits(torch.rand(2, 28, 28), captions=["+1 px", "+2 px"])
    assert [ax.get_title() for ax in _image_axes(fig)] == ["+1 px", "+2 px"]


def test_history_plots_name_the_held_out_data():
    fig = viz.plot_history(_history(), held_out="validation")
    assert [line.get_label() for line in fig.axes[1].lines] == ["training", "validation"]
    fig = viz.plot_history({"MLP": _history(2), "CNN": _history(3)}, held_out="validation")
    assert fig.axes[1].get_title() == "Validation accuracy (higher is better)"
    live = viz.LiveHistoryPlot(num_epochs=3, held_out="validation")
    live(_history(2))
    assert [line.get_label() for line in live.fig.axes[1].lines] == ["training", "validation"]


def test_softmax_plot_shows_the_scores_and_their_probabilities():
    scores = torch.tensor([1.0, 3.0, 0.0, -1.0, 2.0, 0.5, 0.0, 0.0, 0.0, 0.0])
    fig = viz.plot_softmax(scores, label=1, title="one digit")
    _renders(fig)
    ax_s, ax_p = fig.axes
    assert [b.get_height() for b in ax_s.patches] == scores.tolist()
    probs = [b.get_height() for b in ax_p.patches]
    assert np.allclose(probs, torch.softmax(scores, 0).numpy()) and abs(sum(probs) - 1) < 1e-9
    assert ax_p.patches[1].get_facecolor() != ax_p.patches[0].get_facecolor()  # the label stands out
    # Huge scores do not overflow: softmax subtracts the largest first.
    assert np.allclose(
        [b.get_height() for b in viz.plot_softmax([1000.0, 1000.0]).axes[1].patches], [0.5, 0.5]
    )


def test_running_accuracy_ends_at_the_epoch_average():
    batch = [0.1, 0.5, 0.9, 0.9]
    fig = viz.plot_running_accuracy(batch, end_accuracy=0.95)
    _renders(fig)
    raw, running, end = fig.axes[0].lines
    assert list(raw.get_ydata()) == batch
    assert list(running.get_ydata()) == pytest.approx([0.1, 0.3, 0.5, 0.6])
    assert list(end.get_ydata()) == [0.95, 0.95]
    assert "60.0%" in running.get_label() and "95.0%" in end.get_label()
