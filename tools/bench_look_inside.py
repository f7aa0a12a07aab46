"""Time notebook 05's computations and plots for one test digit (median of a few runs).

python -m tools.bench_look_inside
"""

from __future__ import annotations

import time

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from mnistlib.checkpoints import load_shipped
from mnistlib.data import load_mnist
from mnistlib.look_inside import (
    embed,
    feature_maps,
    first_layer_filters,
    fit_pca,
    gradient_saliency,
    mlp_first_layer,
    mlp_top_units,
    nearest_neighbours,
    occlusion_saliency,
    probabilities,
    render_text,
    rotate,
    shift,
    thicken,
)
from mnistlib.prediction import predict
from mnistlib.preprocess import to_float
from mnistlib.viz import (
    plot_embedding,
    plot_feature_maps,
    plot_filters,
    plot_mlp_weights,
    plot_neighbours,
    plot_saliency,
    plot_variations,
)
from tools.timing import time_calls


def main(repeats: int = 5) -> None:
    """Print the median time of each computation + plot + render for one test digit."""

    cnn, mlp = load_shipped("cnn"), load_shipped("mlp")
    X_test, y_test = load_mnist("test")
    X_train, y_train = load_mnist("train")
    image = to_float(X_test[0])
    start = time.perf_counter()
    test_emb = embed(cnn, X_test)
    t_embed_test = time.perf_counter() - start
    start = time.perf_counter()
    train_emb = embed(cnn, X_train[:10_000])
    t_embed_train = time.perf_counter() - start
    start = time.perf_counter()
    pca = fit_pca(test_emb)
    t_pca = time.perf_counter() - start
    test_points = pca.transform(test_emb)

    def place_and_map() -> Figure:
        point = pca.transform(embed(cnn, image[None]))[0]
        return plot_embedding(test_points, y_test, you=point)

    def neighbours() -> Figure:
        idx, dist = nearest_neighbours(embed(cnn, image[None]), train_emb, k=8)
        return plot_neighbours(image, X_train[idx[0]], y_train[idx[0]], dist[0])

    jobs = {
        "feature maps (CNN)": lambda: plot_feature_maps(feature_maps(cnn, image), image),
        "first-layer filters (CNN)": lambda: plot_filters(first_layer_filters(cnn)),
        "saliency: grad x input + occlusion": lambda: plot_saliency(
            image,
            {"gradient x input": gradient_saliency(cnn, image), "occlusion": occlusion_saliency(cnn, image)},
        ),
        "MLP first-layer weights": lambda: plot_mlp_weights(
            mlp_first_layer(mlp), mlp_top_units(mlp, image, 16)[0], image
        ),
        "embedding map, digit placed": place_and_map,
        "nearest training neighbours": neighbours,
        "rotate / thicken / shift, 2 models": lambda: variations(cnn, mlp, image),
    }
    print(
        f"once: embed 10,000 test digits {t_embed_test:.2f} s, 10,000 training digits "
        f"{t_embed_train:.2f} s, PCA {t_pca:.2f} s; torch threads: {torch.get_num_threads()}"
    )
    print(f"per digit, compute + plot + render to pixels, median of {repeats}:")
    for name, job in jobs.items():
        timing = time_calls(lambda job=job: FigureCanvasAgg(job()).draw(), repeats)
        print(f"  {name:<38} {timing.median:.3f} s")


def variations(cnn: torch.nn.Module, mlp: torch.nn.Module, image: torch.Tensor) -> Figure:
    """Plot both models' readings of the digit shifted, turned, thickened, and of a typed "A"."""
    imgs = np.stack(
        [
            image.numpy(),
            shift(image, 6, 0),
            rotate(image, 90),
            rotate(image, 180),
            thicken(image, 1),
            thicken(image, 2),
            predict(cnn, render_text("A")).model_input,
        ]
    )
    probs = {"CNN": probabilities(cnn, imgs), "MLP": probabilities(mlp, imgs)}
    return plot_variations(imgs, probs, ["as drawn", "shifted", "90°", "180°", "thick", "thicker", "A"])


if __name__ == "__main__":
    main()
