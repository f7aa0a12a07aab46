"""Notebook 05's plots (mnistlib.viz): each returns a Figure that renders and is made for the room."""

from __future__ import annotations

import torch
from matplotlib.colors import same_color
from matplotlib.figure import Figure
from test_viz import room_problems

from mnistlib import evaluate, look_inside, viz


def _plots(cnn, mlp, x, X, y):
    g = look_inside.gradient_saliency(cnn, x)
    emb = look_inside.embed(cnn, X[:40])
    pca = look_inside.fit_pca(emb)
    imgs = [x.numpy(), evaluate.shift_images(x, 4, 0), evaluate.rotate_images(x, 30)]
    return {
        "feature maps": lambda: viz.plot_feature_maps(look_inside.feature_maps(cnn, x), x),
        "feature maps, no input": lambda: viz.plot_feature_maps(look_inside.feature_maps(cnn, x)),
        "filters": lambda: viz.plot_filters(look_inside.first_layer_filters(cnn)),
        "saliency": lambda: viz.plot_saliency(
            x, {"gradient x input": g, "occlusion": look_inside.occlusion_saliency(cnn, x)}, digit=7
        ),
        "saliency, one map": lambda: viz.plot_saliency(x, {"my own map": g}),
        "mlp weights": lambda: viz.plot_mlp_weights(look_inside.mlp_first_layer(mlp)),
        "mlp top units": lambda: viz.plot_mlp_weights(look_inside.mlp_first_layer(mlp), [3, 1, 4], x),
        "embedding": lambda: viz.plot_embedding(pca.transform(emb), y[:40]),
        "embedding, you": lambda: viz.plot_embedding(
            pca.transform(emb),
            y[:40],
            pca.transform(emb[0]),
            pca.transform(emb[1:4]),
            you_label="a test digit",
        ),
        "neighbours": lambda: viz.plot_neighbours(x, X[:4], y[:4], torch.rand(4)),
        "variations": lambda: viz.plot_variations(imgs, evaluate.predict_proba(cnn, imgs), "abc"),
        "variations, two models": lambda: viz.plot_variations(
            imgs,
            {"CNN": evaluate.predict_proba(cnn, imgs), "MLP": evaluate.predict_proba(mlp, imgs)},
            "abc",
        ),
    }


def test_each_plot_returns_a_figure_made_for_the_room(shipped_cnn, shipped_mlp, digits, mnist_test):
    for name, make in _plots(shipped_cnn, shipped_mlp, digits[0], *mnist_test).items():
        fig = make()
        assert isinstance(fig, Figure), name
        assert fig.axes, name
        assert room_problems(fig) == [], name  # renders, and every rule of the room holds


def test_feature_map_plot_has_one_panel_per_layer_and_the_input(shipped_cnn, digits):
    maps = look_inside.feature_maps(shipped_cnn, digits[0])
    assert len(viz.plot_feature_maps(maps, digits[0]).axes) == len(maps) + 1
    assert len(viz.plot_feature_maps(maps).axes) == len(maps)


def test_variations_put_at_most_four_digits_a_row_with_each_model_in_its_colour(shipped_cnn, digits):
    imgs = torch.stack([d for d in digits] + [digits[0], digits[1]])  # 7 images
    probs = evaluate.predict_proba(shipped_cnn, imgs)
    fig = viz.plot_variations(imgs.numpy(), {"MLP": probs, "CNN": probs}, [str(i) for i in range(7)])
    images = [ax for ax in fig.axes if ax.images]
    assert len(images) == 7 and len({round(ax.get_position().y0, 3) for ax in images}) == 2  # 4 + 3
    assert images[0].get_title().split("\n")[1:] == [
        f"MLP: {int(probs[0].argmax())} ({float(probs[0].max()):.0%})",
        f"CNN: {int(probs[0].argmax())} ({float(probs[0].max()):.0%})",
    ]
    bars = fig.axes[1].containers
    assert same_color(bars[0][0].get_facecolor(), viz.MODEL_COLORS["MLP"])
    assert same_color(bars[1][0].get_facecolor(), viz.MODEL_COLORS["CNN"])
