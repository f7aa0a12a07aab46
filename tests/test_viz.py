"""Plot helpers: each returns a Figure with the expected panels and data, renders to PNG, and is made for
the room: text of 12 pt or more, at most 9 inches (900 pixels) wide, no red beside green, one colour per
model, log axes that say so, and mistakes marked by more than a colour."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # headless; the helpers never touch pyplot, this only guards against it

import inspect
import struct

import numpy as np
import pytest
import torch
from matplotlib.collections import Collection
from matplotlib.colors import rgb_to_hsv, same_color, to_rgba, to_rgba_array
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.text import Text

from mnistlib import evaluate, look_inside, models, viz

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MIN_POINTS, MAX_INCHES, MAX_PIXELS = 12, 9, 900
RED_HUES, GREEN_HUES = ((340, 360), (0, 30)), ((75, 165),)  # degrees; red takes in Okabe-Ito's vermillion


def _renders(fig: Figure) -> bytes:
    """Render through the same path IPython uses and return the PNG bytes."""
    assert isinstance(fig, Figure)
    png = fig._repr_png_()
    assert png.startswith(PNG_MAGIC) and len(png) > 2000
    return png


def _colours(fig: Figure) -> np.ndarray:
    """Every colour the figure draws with, RGBA (N, 4): lines, markers, patches, dots, text and colour maps."""
    found = []
    for a in fig.findobj(lambda a: a.get_visible()):
        if isinstance(a, Line2D):
            found += [a.get_color(), a.get_markerfacecolor(), a.get_markeredgecolor()]
        elif isinstance(a, Patch):
            found += [a.get_facecolor(), a.get_edgecolor()]
        elif isinstance(a, Collection):
            found += [*a.get_facecolors(), *a.get_edgecolors()]
        elif isinstance(a, Text):
            found.append(a.get_color())
        elif isinstance(a, AxesImage):
            found += [*a.cmap(np.linspace(0, 1, 64)), a.cmap.get_bad()]
    rgba = to_rgba_array([to_rgba(c) for c in found if not (isinstance(c, str) and c in ("none", "auto"))])
    return rgba[rgba[:, 3] > 0.05]


def _in_hues(rgba: np.ndarray, bands, saturation: float) -> np.ndarray:
    hsv = rgb_to_hsv(rgba[:, :3])
    hue = hsv[:, 0] * 360
    strong = (hsv[:, 1] >= saturation) & (hsv[:, 2] >= 0.3)  # greys and near-black have no hue to confuse
    return strong & np.any([(lo <= hue) & (hue <= hi) for lo, hi in bands], axis=0)


def room_problems(fig: Figure) -> list[str]:
    """What in ``fig``, rendered as JupyterLab shows it, breaks the room's rules; [] when nothing does."""
    png = _renders(fig)  # draws every artist, tick labels included, under the lesson style
    problems = []
    width = struct.unpack(">I", png[16:20])[0]
    if fig.get_figwidth() > MAX_INCHES or width > MAX_PIXELS:
        problems.append(f"{fig.get_figwidth():.1f} in, {width} px wide")
    for t in fig.findobj(Text):
        shown = t.get_visible() and t.get_text().strip() and (t.axes is None or t.axes.get_visible())
        if shown and t.get_fontsize() < MIN_POINTS:
            problems.append(f"{t.get_text()!r} at {t.get_fontsize():g} pt")
    rgba = _colours(fig)
    if _in_hues(rgba, RED_HUES, 0.4).any() and _in_hues(rgba, GREEN_HUES, 0.3).any():
        problems.append("a red-ish and a green-ish colour in one figure")
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            if ax.get_visible() and axis.get_scale() == "log" and "log scale" not in axis.get_label_text():
                problems.append(f"a log axis labelled {axis.get_label_text()!r}")
    return problems


def _history(n: int = 3, val: bool = True) -> dict[str, list[float]]:
    nan = [float("nan")] * n
    return {
        "epoch": list(range(1, n + 1)),
        "train_loss": [0.5 / e for e in range(1, n + 1)],
        "train_acc": [0.9 + 0.02 * e for e in range(n)],
        "val_loss": [0.6 / e + 0.01 * e for e in range(1, n + 1)] if val else nan,
        "val_acc": [0.91 + 0.02 * e for e in range(n)] if val else nan,
        "time": [2.0 * e for e in range(1, n + 1)],
    }


# ----------------------------------------------------------------------------- every plot, made for the room


@pytest.fixture(scope="module")
def plots(mnist_test, shipped_cnn):
    """{name: a function that builds one figure}: every plot of mnistlib.viz, as the lessons call it."""
    X, y = mnist_test
    x = X[0].float() / 255
    torch.manual_seed(0)
    mlp = models.build_model("mlp")  # untrained: only the shapes matter here
    probs = evaluate.predict_proba(shipped_cnn, X[:500])
    preds, sure = probs.argmax(1), probs.max(1).values
    preds[:3] = (y[:3] + 1) % 10  # three wrong guesses
    emb = look_inside.embed(shipped_cnn, X[:300])
    pca = look_inside.fit_pca(emb)
    points = pca.transform(emb)
    imgs = np.stack(
        [x.numpy(), evaluate.rotate_images(x, 90), evaluate.shift_images(x, 6, 0)] * 2 + [x.numpy()]
    )
    seven = (X[0] > 0).numpy().astype(np.float32)
    live = viz.LiveHistoryPlot(num_epochs=4, title="MLP")
    two = {"MLP": [0.98, 0.9, 0.6], "CNN": [0.99, 0.99, 0.95]}
    return {
        "show_digits": lambda: viz.show_digits(X[:40], y[:40], title="The first 40 test digits"),
        "show_digits, mistakes": lambda: viz.show_digits(
            X[:20], y[:20], predictions=preds[:20], confidences=sure[:20], captions=["#12 3f9a2c7b"] * 20
        ),
        "show_digits, 30 in rows of 15": lambda: viz.show_digits(X[:30], ncols=15, title="30 digits"),
        "plot_pixel_values": lambda: viz.plot_pixel_values(X[0], int(y[0])),
        "plot_class_balance": lambda: viz.plot_class_balance({"training": y, "test": y[:5000]}),
        "plot_mean_digits": lambda: viz.plot_mean_digits(X[:2000], y[:2000]),
        "plot_pixel_histogram": lambda: viz.plot_pixel_histogram(
            {
                "bytes (uint8)": X[:100],
                "scaled to [0, 1]": X[:100] / 255,
                "normalised": (X[:100] / 255 - 0.13) / 0.3,
            }
        ),
        "plot_loss_curve": lambda: viz.plot_loss_curve(np.linspace(2.3, 0.05, 900), title="MLP, one epoch"),
        "plot_softmax": lambda: viz.plot_softmax(torch.randn(10), label=7, title="The untrained MLP"),
        "plot_running_accuracy": lambda: viz.plot_running_accuracy(np.linspace(0.1, 0.97, 900), 0.95),
        "plot_history": lambda: viz.plot_history(_history(100)),
        "plot_history, compared": lambda: viz.plot_history({"MLP": _history(5), "SmallCNN": _history(5)}),
        "plot_history, three runs": lambda: viz.plot_history(
            {
                "300 digits": _history(50),
                "3,000 digits": _history(50),
                "300 digits, weight decay 0.1": _history(5),
            }
        ),
        "LiveHistoryPlot": lambda: live(_history(2)) or live.fig,
        "plot_per_class_accuracy": lambda: viz.plot_per_class_accuracy(
            {f"{m} on {w}": np.linspace(0.8, 1, 10) for m in ("CNN", "MLP") for w in ("MNIST", "class")}
        ),
        "plot_confusion_matrix": lambda: viz.plot_confusion_matrix(
            evaluate.confusion_matrix(y[:500], preds), title="Confusion matrix of the CNN"
        ),
        "plot_reliability": lambda: viz.plot_reliability(evaluate.calibration(probs, y[:500])),
        "plot_robustness": lambda: viz.plot_robustness([0, 1, 2], two, "shift (pixels)", "Moved right"),
        "plot_shift_confidence": lambda: viz.plot_shift_confidence([0, 1, 2], two, digit=7),
        "plot_preprocessing_steps": lambda: viz.plot_preprocessing_steps(
            [("grey", np.zeros((280, 280), np.float32)), ("cropped", seven[4:24, 6:22]), ("centred", seven)]
            * 2
        ),
        "plot_filters": lambda: viz.plot_filters(look_inside.first_layer_filters(shipped_cnn)),
        "plot_filters, MLP rows": lambda: viz.plot_filters(mlp.fc1.weight[:32], title="32 MLP templates"),
        "plot_mlp_weights": lambda: viz.plot_mlp_weights(look_inside.mlp_first_layer(mlp), range(16), x),
        "plot_feature_maps": lambda: viz.plot_feature_maps(look_inside.feature_maps(shipped_cnn, x), x),
        "plot_feature_maps, all": lambda: viz.plot_feature_maps(
            look_inside.feature_maps(shipped_cnn, x), top=None
        ),
        "plot_saliency": lambda: viz.plot_saliency(
            x,
            {
                f"occlusion, patch {p}": look_inside.occlusion_saliency(shipped_cnn, x, patch=p)
                for p in (2, 6, 12)
            },
        ),
        "plot_embedding": lambda: viz.plot_embedding(points, y[:300], points[0], points[1:9]),
        "plot_neighbours": lambda: viz.plot_neighbours(x, X[1:9], y[1:9], torch.rand(8)),
        "plot_variations": lambda: viz.plot_variations(
            imgs,
            {"CNN": evaluate.predict_proba(shipped_cnn, imgs), "MLP": evaluate.predict_proba(mlp, imgs)},
            ["as drawn", "rotated 90°", "shifted 6 px", "again", "rotated 90°", "shifted 6 px", "thicker"],
        ),
    }


PLOT_NAMES = [
    "show_digits",
    "show_digits, mistakes",
    "show_digits, 30 in rows of 15",
    "plot_pixel_values",
    "plot_class_balance",
    "plot_mean_digits",
    "plot_pixel_histogram",
    "plot_loss_curve",
    "plot_softmax",
    "plot_running_accuracy",
    "plot_history",
    "plot_history, compared",
    "plot_history, three runs",
    "LiveHistoryPlot",
    "plot_per_class_accuracy",
    "plot_confusion_matrix",
    "plot_reliability",
    "plot_robustness",
    "plot_shift_confidence",
    "plot_preprocessing_steps",
    "plot_filters",
    "plot_filters, MLP rows",
    "plot_mlp_weights",
    "plot_feature_maps",
    "plot_feature_maps, all",
    "plot_saliency",
    "plot_embedding",
    "plot_neighbours",
    "plot_variations",
]


@pytest.mark.parametrize("name", PLOT_NAMES)
def test_every_plot_is_made_for_the_room(plots, name):
    assert room_problems(plots[name]()) == []


def test_the_room_test_covers_every_plot(plots):
    public = {n for n in dir(viz) if n.startswith(("plot_", "show_")) or n == "LiveHistoryPlot"}
    assert public <= {name.split(",")[0] for name in PLOT_NAMES} and set(plots) == set(PLOT_NAMES)


def test_the_room_checks_catch_small_text_red_beside_green_wide_figures_and_silent_log_axes():
    fig = viz.LessonFigure(figsize=(10, 3))
    ax = fig.subplots()
    ax.plot([0, 1], [1, 10], color="tab:red")
    ax.bar([0], [1], color="tab:green")
    ax.set_title("tiny", fontsize=8)
    ax.set(yscale="log", ylabel="count")
    problems = room_problems(fig)
    assert len(problems) >= 4
    assert any("red-ish" in p for p in problems) and any("'tiny' at 8 pt" == p for p in problems)
    assert any("px wide" in p for p in problems) and any("log axis" in p for p in problems)


def test_log_axes_are_explained_in_their_docstrings():
    for fn in (viz.plot_pixel_histogram, viz.plot_loss_curve, viz.plot_reliability):
        assert "log axis" in inspect.getdoc(fn), fn.__name__


def test_each_model_keeps_its_colour_in_every_plot():
    mlp, cnn = viz.MODEL_COLORS["MLP"], viz.MODEL_COLORS["CNN"]
    assert len(set(viz.MODEL_COLORS.values()) | set(viz.PALETTE)) == len(viz.PALETTE)  # all from one palette
    for order in (["MLP", "CNN"], ["CNN", "MLP"]):
        figs = {
            "history": viz.plot_history({n: _history() for n in order}),
            "per class": viz.plot_per_class_accuracy({n: np.full(10, 0.99) for n in order}),
            "robustness": viz.plot_robustness([0, 1], {n: [1.0, 0.9] for n in order}, "shift"),
            "shift": viz.plot_shift_confidence([0, 1], {n: [1.0, 0.9] for n in order}),
            "variations": viz.plot_variations(
                np.zeros((1, 28, 28)), {n: np.eye(10)[:1] for n in order}, ["a"]
            ),
        }
        for what, fig in figs.items():
            drawn = [(line.get_label(), line.get_color()) for ax in fig.axes for line in ax.lines]
            drawn += [
                (bars.get_label(), bars[0].get_facecolor()) for ax in fig.axes for bars in ax.containers
            ]
            drawn = [(label, colour) for label, colour in drawn if label.startswith(("MLP", "CNN"))]
            assert len(drawn) >= 2, what
            for label, colour in drawn:
                assert same_color(colour, mlp if label.startswith("MLP") else cnn), (what, label)
    styles = viz.model_styles(["CNN on MNIST", "CNN on class", "MLP on class", "Plain CNN", "my own net"])
    assert styles == [(cnn, 0), (cnn, 1), (mlp, 0), (cnn, 2), (viz.PALETTE[0], 0)]
    live = viz.LiveHistoryPlot(title="CNN")
    live(_history(2))
    assert same_color(live.fig.axes[0].lines[0].get_color(), cnn)


# ----------------------------------------------------------------------------- each plot's content


def test_show_digits_marks_wrong_guesses_with_a_cross_a_frame_and_the_wrong_colour(mnist_test):
    X, y = mnist_test[0][:12], mnist_test[1][:12]
    preds = y.clone()
    preds[3] = (y[3] + 1) % 10
    fig = viz.show_digits(X, y, predictions=preds, confidences=torch.full((12,), 0.93), ncols=5, title="t")
    shown = [ax for ax in fig.axes if ax.get_visible()]
    assert len(shown) == 12 and len(fig.axes) == 15  # 3 rows of 5; the 3 spare panels are hidden
    assert shown[0].get_title() == f"label {int(y[0])}\nguess {int(y[0])}\n93.0% sure"
    assert shown[3].get_title() == f"label {int(y[3])}\nguess {int(preds[3])} ✗\n93.0% sure"
    assert np.array_equal(shown[0].images[0].get_array(), X[0].numpy())
    assert same_color(shown[3].title.get_color(), viz.WRONG_COLOR) and same_color(
        shown[0].title.get_color(), "k"
    )
    frame = shown[3].spines["left"]
    assert frame.get_visible() and frame.get_linewidth() >= 3 and not shown[0].spines["left"].get_visible()
    assert shown[0].images[0].get_cmap().name == "gray"


def test_show_digits_takes_fewer_columns_when_captions_are_long(mnist_test):
    X = mnist_test[0][:20]
    fig = viz.show_digits(X, captions=["a long caption here"] * 20, ncols=10)
    assert fig.get_figwidth() <= 9 and len(fig.axes) < 20 + 10  # fewer columns, more rows
    assert fig.axes[0].get_subplotspec().get_gridspec().ncols < 10


def test_show_digits_accepts_float_batches_and_rejects_bad_shapes():
    fig = viz.show_digits(torch.rand(4, 1, 28, 28), [1, 2, 3, 4])
    assert [ax.get_title() for ax in fig.axes] == ["label 1", "label 2", "label 3", "label 4"]
    assert fig.axes[0].images[0].get_clim() == (0, 1)
    with pytest.raises(ValueError, match="shaped"):
        viz.show_digits(torch.rand(2, 3, 28, 28))


def test_show_digits_captions_go_under_the_label():
    fig = viz.show_digits(torch.rand(3, 28, 28), labels=[1, 2, 3], captions=["a", "b", "c"])
    assert [ax.get_title() for ax in fig.axes] == ["label 1\na", "label 2\nb", "label 3\nc"]
    fig = viz.show_digits(torch.rand(2, 28, 28), captions=["+1 px", "+2 px"])
    assert [ax.get_title() for ax in fig.axes] == ["+1 px", "+2 px"]


def test_pixel_values_writes_every_value_of_the_framed_window(mnist_test):
    image, label = mnist_test[0][0], int(mnist_test[1][0])
    fig = viz.plot_pixel_values(image, label)
    whole, part = fig.axes
    assert np.array_equal(whole.images[0].get_array(), image.numpy()) and whole.get_title() == f"a {label}"
    frame = whole.patches[0]
    c0, r0 = int(frame.get_x() + 0.5), int(frame.get_y() + 0.5)
    window = image[r0 : r0 + 10, c0 : c0 + 10].numpy()
    assert np.array_equal(part.images[0].get_array(), window) and len(part.texts) == 100
    assert sorted(int(t.get_text()) for t in part.texts) == sorted(window.ravel().tolist())
    assert ((window > 0) & (window < 255)).sum() >= 10  # a window with grey pixels, not all paper
    assert "28 x 28 grid of numbers" in fig.get_suptitle()


def test_class_balance_bars_are_the_shares_of_each_split(mnist_test, mnist_train):
    fig = viz.plot_class_balance({"train": mnist_train[1], "test": mnist_test[1]})
    (ax,) = fig.axes
    heights = [p.get_height() for p in ax.patches]
    assert len(heights) == 20
    expected = torch.bincount(mnist_test[1], minlength=10).float() / 10_000
    assert np.allclose(heights[10:], expected.numpy())
    assert "test (10,000)" in [t.get_text() for t in fig.legends[0].get_texts()]
    assert ax.get_xlabel() == "digit"


def test_mean_digits_are_the_class_averages(mnist_test):
    X, y = mnist_test
    fig = viz.plot_mean_digits(X, y)
    assert len(fig.axes) == 20  # a row of means and a row of spreads
    mean_of_sevens = (X[y == 7].float() / 255).mean(0).numpy()
    assert np.allclose(fig.axes[7].images[0].get_array(), mean_of_sevens, atol=1e-5)
    assert fig.axes[7].get_title() == "7"


def test_pixel_histogram_counts_every_pixel_once_per_panel(mnist_test):
    raw = mnist_test[0][:100]
    fig = viz.plot_pixel_histogram({"raw": raw, "scaled": raw.float() / 255})
    assert [ax.get_title().split("\n")[0] for ax in fig.axes] == ["raw", "scaled"]
    for ax in fig.axes:
        assert sum(p.get_height() for p in ax.containers[0]) == 100 * 784
        assert ax.get_yscale() == "log"
    assert fig.axes[0].get_ylabel() == "pixels (log scale)"


def test_loss_curve_has_raw_and_smoothed_lines():
    fig = viz.plot_loss_curve(np.linspace(2, 0.1, 200))
    raw, smooth = fig.axes[0].lines
    assert len(raw.get_xdata()) == 200 and len(smooth.get_xdata()) == 151  # a moving average of 50


def test_plot_history_draws_training_and_validation_loss_together():
    h = _history()
    fig = viz.plot_history(h)
    loss_ax, acc_ax = fig.axes
    train, val = loss_ax.lines
    assert list(train.get_ydata()) == h["train_loss"] and list(val.get_ydata()) == h["val_loss"]
    assert train.get_linestyle() == "-" and val.get_linestyle() == "--"  # told apart by style, not hue
    assert same_color(train.get_color(), val.get_color())
    assert [line.get_label() for line in acc_ax.lines] == ["training", "validation"]
    fig = viz.plot_history({"MLP": _history(2), "CNN": _history(4)})
    labels = [line.get_label() for line in fig.axes[0].lines]
    assert labels == ["MLP training", "MLP validation", "CNN training", "CNN validation"]
    assert len(fig.axes[1].lines[3].get_xdata()) == 4
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend == ["MLP", "CNN", "training", "validation"]


def test_plot_history_leaves_out_validation_that_was_not_measured():
    fig = viz.plot_history(_history(val=False))
    assert [line.get_label() for line in fig.axes[0].lines] == ["training"]
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["training"]
    fig = viz.plot_history(_history(), held_out="test")
    assert [line.get_label() for line in fig.axes[1].lines] == ["training", "test"]


def test_live_plot_redraws_with_the_growing_history():
    live = viz.LiveHistoryPlot(num_epochs=3, title="CNN")
    for n in (1, 2, 3):
        live(_history(n))
        assert len(live.fig.axes) == 2  # cleared and redrawn, not stacked
        assert len(live.fig.axes[0].lines[0].get_xdata()) == n
        assert [line.get_label() for line in live.fig.axes[0].lines] == ["training", "validation"]
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
    (ax,) = fig.axes
    assert len(ax.patches) == 20
    assert ax.get_ylim()[0] >= 0.9 and ax.get_ylim()[1] == 1.0


def test_a_second_series_of_one_model_is_hatched_not_recoloured():
    fig = viz.plot_per_class_accuracy({"CNN before": np.full(10, 0.9), "CNN after": np.full(10, 0.95)})
    before, after = fig.axes[0].patches[0], fig.axes[0].patches[10]
    assert same_color(before.get_facecolor(), after.get_facecolor())
    assert before.get_hatch() in (None, "") and after.get_hatch()


def test_confusion_matrix_shows_every_nonzero_count_with_right_answers_grey():
    y = torch.tensor([0, 0, 1, 1, 2, 2, 2, 9])
    p = torch.tensor([0, 1, 1, 1, 2, 7, 2, 9])
    cm = evaluate.confusion_matrix(y, p)
    fig = viz.plot_confusion_matrix(cm)
    ax = fig.axes[0]
    assert sorted(t.get_text() for t in ax.texts) == sorted(str(int(v)) for v in cm.flatten() if v)
    assert ax.get_xlabel() == "predicted digit" and ax.get_ylabel() == "true digit"
    assert len(fig.axes) == 2  # the matrix and its colour bar
    mistakes, right = ax.images
    assert mistakes.get_array().mask.diagonal().all() and not right.get_array().mask.diagonal().any()
    assert same_color(right.cmap(0.5), viz.LIGHT_GREY)
    assert "mistakes" in fig.axes[1].get_ylabel()


def test_reliability_diagram_bars_are_the_bin_accuracies():
    probs = torch.softmax(torch.randn(400, 10, generator=torch.Generator().manual_seed(0)) * 4, 1)
    y = torch.randint(0, 10, (400,), generator=torch.Generator().manual_seed(1))
    cal = evaluate.calibration(probs, y)
    fig = viz.plot_reliability(cal)
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
    (ax,) = fig.axes
    assert [line.get_label() for line in ax.lines] == ["MLP", "CNN", "chance (10 %)"]
    assert list(ax.lines[0].get_ydata()) == [0.98, 0.9, 0.6]
    assert ax.get_xlabel() == "shift (pixels)"


@pytest.mark.parametrize("shape", [(32, 1, 5, 5), (32, 5, 5), (16, 784)])
def test_filters_are_tiled_each_on_its_own_symmetric_scale(shape):
    w = torch.randn(*shape, generator=torch.Generator().manual_seed(0))
    fig = viz.plot_filters(w)
    mosaic = fig.axes[0].images[0].get_array()
    side = 28 if shape[-1] == 784 else 5 * 6  # small filters enlarged with square pixels
    rows = shape[0] // 8
    assert mosaic.shape == (rows * (side + 1) + 1, 8 * (side + 1) + 1)  # 8 a row, one-pixel gaps
    tiles = [
        mosaic[1 + r * (side + 1) :, 1 + c * (side + 1) :][:side, :side]
        for r in range(rows)
        for c in range(8)
    ]
    assert all(np.abs(t).max() == pytest.approx(1.0) for t in tiles)
    assert fig.axes[0].images[0].get_clim() == (-1, 1)
    with pytest.raises(ValueError, match="filters shaped"):
        viz.plot_filters(torch.randn(4, 3, 5, 5))


def test_softmax_plot_shows_the_scores_and_their_probabilities():
    scores = torch.tensor([1.0, 3.0, 0.0, -1.0, 2.0, 0.5, 0.0, 0.0, 0.0, 0.0])
    fig = viz.plot_softmax(scores, label=1, title="one digit")
    ax_s, ax_p = fig.axes
    assert [b.get_height() for b in ax_s.patches] == scores.tolist()
    probs = [b.get_height() for b in ax_p.patches]
    assert np.allclose(probs, torch.softmax(scores, 0).numpy()) and abs(sum(probs) - 1) < 1e-9
    assert ax_p.patches[1].get_facecolor() != ax_p.patches[0].get_facecolor()  # the label stands out
    assert "label" in ax_p.get_xticklabels()[1].get_text()  # and says so in words
    # Huge scores do not overflow: softmax subtracts the largest first.
    assert np.allclose(
        [b.get_height() for b in viz.plot_softmax([1000.0, 1000.0]).axes[1].patches], [0.5, 0.5]
    )


def test_running_accuracy_ends_at_the_epoch_average():
    batch = [0.1, 0.5, 0.9, 0.9]
    fig = viz.plot_running_accuracy(batch, end_accuracy=0.95)
    raw, running, end = fig.axes[0].lines
    assert list(raw.get_ydata()) == batch
    assert list(running.get_ydata()) == pytest.approx([0.1, 0.3, 0.5, 0.6])
    assert list(end.get_ydata()) == [0.95, 0.95]
    assert "60.0%" in running.get_label() and "95.0%" in end.get_label()


def test_show_digits_of_nothing_says_none_yet():
    empty = torch.zeros(0, 28, 28, dtype=torch.uint8)
    assert viz.show_digits(empty, title="Changed").texts[0].get_text() == "Changed: none yet"
    assert len(viz.show_digits(empty)._repr_png_()) > 0


def test_pixel_histograms_of_the_same_pixels_draw_the_same_bars(mnist_train):
    X = mnist_train[0][:200].double()
    fig = viz.plot_pixel_histogram({"bytes": X, "scaled": X / 255, "normalised": (X / 255 - 0.1307) / 0.3081})
    heights = [[bar.get_height() for bar in ax.containers[0] if bar.get_height() > 0] for ax in fig.axes]
    assert len(heights[0]) > 20 and heights[0] == heights[1] == heights[2]
    assert sum(heights[0]) == X.numel()  # every pixel in a bar
    assert "mean -0.00" not in " ".join(ax.get_title() for ax in fig.axes)


def test_percentages_near_certainty_keep_a_decimal():
    assert [viz.sure(p) for p in (0.998, 0.9996, 0.5, 1.0)] == ["99.8%", "100%", "50%", "100%"]
