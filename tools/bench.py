"""Benchmark: training speed and accuracy against the original pipeline, latency, real-world input.

    python -m tools.bench              # everything (about 8 minutes on 2 CPU cores)
    python -m tools.bench --quick      # one seed, no `best` recipe
    python -m tools.bench --pad        # only the drawing pad: one reading, rendered
    python -m tools.bench --predict    # only the pad's reading: the speed route beside the readable one
    python -m tools.bench_look_inside  # notebook 05's computations and plots

Every figure is measured in this one process on this one machine, baseline included, so the
ratios mean something even on a noisy machine. Prints a report; returns nothing to assert on.
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import time
from dataclasses import replace

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

from mnistlib.checkpoints import SHIPPED_MODELS, load_shipped
from mnistlib.classroom.fast_route import fast_predict, fast_to_mnist
from mnistlib.classroom.folded_cnn import folded_forward
from mnistlib.data import DATA_DIR, ensure_mnist, load_mnist
from mnistlib.evaluate import accuracy, predict_proba
from mnistlib.models import MLP, Recipe, build_model
from mnistlib.prediction import predict
from mnistlib.preprocess import MNIST_MEAN, MNIST_STD, to_mnist
from mnistlib.runtime import bf16_supported, eval_mode, seed_everything
from mnistlib.train import RECIPES, fit
from tools import canvas_testset
from tools.drawn_digits import DIGITS
from tools.timing import time_calls

THRESHOLDS = (0.990, 0.993, 0.995)


# Trades minutes for the last tenths: three of these CNNs, their probabilities averaged.
BEST = ("cnn", Recipe(num_epochs=10, batch_size=256, lr=6e-3, weight_decay=5e-4, augment=1.0))


def train_recipe(name: str, seed: int, train_data, test_data, **changes) -> dict:
    """Train one named recipe with one seed (``changes`` override recipe fields); return its history and accuracy."""
    arch, recipe = BEST if name == "best" else RECIPES[name]
    recipe = replace(recipe, **changes)
    seed_everything(seed)
    model = build_model(arch)
    history = fit(model, train_data, test_data, recipe, seed=seed, device="cpu", progress=False)
    return {
        "model": model,
        "history": history,
        "acc": history["val_acc"][-1],
        "seconds": history["time"][-1],
    }


def time_to(history: dict, threshold: float) -> float:
    """Return the training seconds until test accuracy first reached ``threshold`` (inf if never)."""
    for acc, seconds in zip(history["val_acc"], history["time"]):
        if acc >= threshold:
            return seconds
    return float("inf")


def baseline_pipeline(num_epochs: int, seed: int) -> dict:
    """Train the original way: torchvision MNIST + ToTensor/Normalize + DataLoader(64) + the MLP + Adam."""
    seed_everything(seed)
    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((MNIST_MEAN,), (MNIST_STD,))])
    train_set = datasets.MNIST(str(DATA_DIR), train=True, transform=tf)
    test_set = datasets.MNIST(str(DATA_DIR), train=False, transform=tf)
    train_loader = DataLoader(
        train_set, batch_size=64, shuffle=True, generator=torch.Generator().manual_seed(seed)
    )
    test_loader = DataLoader(test_set, batch_size=1000)
    model = MLP(mean=0.0, std=1.0)  # the transform already normalised
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    start = time.perf_counter()
    for _ in range(num_epochs):
        model.train()
        for X, y in train_loader:
            optimizer.zero_grad()
            loss_fn(model(X), y).backward()
            optimizer.step()
    seconds = time.perf_counter() - start
    model.eval()
    with torch.no_grad():
        correct = sum((model(X).argmax(1) == y).sum().item() for X, y in test_loader)
    return {"acc": correct / len(test_set), "seconds": seconds}


def latency_ms(model: torch.nn.Module, repeats: int = 2_000) -> float:
    """Return the median time of one batch-1 model call, in milliseconds."""
    x = torch.rand(1, 1, 28, 28)
    with torch.inference_mode():
        return 1000 * time_calls(lambda: model(x), repeats, warmup=50).median


def cnn_section(seeds: list[int], train_data, test_data) -> list[dict]:
    """Print the default CNN's time to each accuracy threshold (and in fp32); return its runs."""
    print("\n== default CNN (recipe 'cnn'), training seconds to reach a test accuracy")
    cnn_runs = [train_recipe("cnn", s, train_data, test_data) for s in seeds]
    for s, run in zip(seeds, cnn_runs):
        reached = ", ".join(f"{t:.1%}: {time_to(run['history'], t):.1f} s" for t in THRESHOLDS)
        print(f"  seed {s}: final {run['acc']:.2%} in {run['seconds']:.1f} s ({reached})")
    for t in THRESHOLDS:
        print(
            f"  median time to {t:.1%}: {statistics.median(time_to(r['history'], t) for r in cnn_runs):.1f} s"
        )
    if bf16_supported("cpu"):
        # Many laptops have no native bf16: show what the same recipe costs in plain fp32.
        fp32 = train_recipe("cnn", seeds[0], train_data, test_data, bf16="off")
        print(
            f"  seed {seeds[0]} in fp32 (a CPU without bf16): final {fp32['acc']:.2%} in {fp32['seconds']:.1f} s "
            f"(99.5%: {time_to(fp32['history'], 0.995):.1f} s), {fp32['seconds'] / cnn_runs[0]['seconds']:.1f}x "
            f"the bf16 time"
        )

    return cnn_runs


def mlp_and_baseline_section(
    seeds: list[int], train_data, test_data, cnn_runs: list[dict], baseline_epochs: int
) -> None:
    """Print the MLP's runs and how ours compares with the original pipeline."""
    print("\n== MLP (recipe 'mlp', the lessons' recipe)")
    mlp_runs = [train_recipe("mlp", s, train_data, test_data) for s in seeds]
    for s, run in zip(seeds, mlp_runs):
        print(f"  seed {s}: {run['acc']:.2%} in {run['seconds']:.1f} s")

    print(f"\n== baseline: original pipeline, {baseline_epochs} epochs (DataLoader + PIL per sample)")
    base = baseline_pipeline(baseline_epochs, seed=0)
    base_epoch = base["seconds"] / baseline_epochs
    mlp_epoch = statistics.median(r["seconds"] / len(r["history"]["epoch"]) for r in mlp_runs)
    mlp_sec = statistics.median(r["seconds"] for r in mlp_runs)
    print(f"  baseline: {base['acc']:.2%} in {base['seconds']:.1f} s ({base_epoch:.1f} s per epoch)")
    print(
        f"  MLP, ours vs baseline: {base_epoch / mlp_epoch:.0f}x faster per epoch, "
        f"{base['seconds'] / mlp_sec:.1f}x less time in all, accuracy {statistics.median(r['acc'] for r in mlp_runs):.2%}"
        f" vs {base['acc']:.2%}"
    )
    cnn_sec = statistics.median(r["seconds"] for r in cnn_runs)
    print(
        f"  default CNN vs baseline: {statistics.median(r['acc'] for r in cnn_runs):.2%} in {cnn_sec:.1f} s "
        f"vs {base['acc']:.2%} in {base['seconds']:.1f} s"
    )


def best_section(train_data, test_data) -> None:
    """Print the 'best' recipe: three augmented CNNs and their averaged probabilities."""
    print("\n== recipe 'best': three augmented CNNs (seeds 0, 1, 2), their probabilities averaged")
    best = [train_recipe("best", s, train_data, test_data) for s in (0, 1, 2)]
    for s, run in zip((0, 1, 2), best):
        print(f"  seed {s}: {run['acc']:.2%} in {run['seconds']:.1f} s")
    probs = torch.stack([predict_proba(run["model"], test_data[0]) for run in best]).mean(0)
    ensemble_acc = (probs.argmax(1) == test_data[1]).float().mean().item()
    print(f"  ensemble of 3: {ensemble_acc:.2%}, {sum(r['seconds'] for r in best):.0f} s of training in all")


def predict_section(rounds: int = 9, calls: int = 40) -> None:
    """Print the pad's reading (fast_predict) beside mnistlib.predict (the readable route), one thread, interleaved."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one core: what one reading costs, whatever else the machine does
    snapshot = canvas_testset.canvas_snapshot()
    inputs = {
        "280x280 RGBA numpy snapshot": snapshot,
        "280x280 PIL RGBA image": Image.fromarray(snapshot, "RGBA"),
        "28x28 float array": to_mnist(snapshot),
    }
    print(f"  one thread, median of {rounds} rounds x {calls} calls, readable and fast alternating")
    # Other work on the machine slows both alike, but it shifts the figures: say how busy it was.
    print("  load average (1, 5, 15 min) before: " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))
    for name in SHIPPED_MODELS:
        model = load_shipped(name)
        worst = max(
            float(
                np.abs(fast_predict(model, image).probabilities - predict(model, image).probabilities).max()
            )
            for image in inputs.values()
        )
        medians: dict[tuple[str, str], list[float]] = {
            (k, w): [] for k in inputs for w in ("readable", "fast")
        }
        for _ in range(rounds):  # interleaved, so that both see the same load
            for key, image in inputs.items():
                for which, fn in (("readable", predict), ("fast", fast_predict)):
                    timing = time_calls(functools.partial(fn, model, image), calls, warmup=5)
                    medians[(key, which)].append(timing.median)
        print(f"  {name} (largest difference in the probabilities: {worst:.1e})")
        for key in inputs:
            slow, fast = (1000 * statistics.median(medians[(key, w)]) for w in ("readable", "fast"))
            print(f"    {key:28s} readable {slow:6.3f} ms   fast {fast:6.3f} ms   {slow / fast:4.1f}x faster")
        if folded_forward(model) is not None:
            parts_section(model, snapshot, rounds, calls)
    print("  load average (1, 5, 15 min) after: " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))
    torch.set_num_threads(threads)


def parts_section(model: torch.nn.Module, snapshot: np.ndarray, rounds: int, calls: int) -> None:
    """Print where a reading's time goes: preprocessing and the network alone, readable and fast, interleaved."""
    x = to_mnist(snapshot)
    batch = torch.from_numpy(x).view(1, 1, 28, 28)

    def network_readable() -> None:
        with eval_mode(model), torch.inference_mode():
            model(batch)

    pil = Image.fromarray(snapshot, "RGBA")
    parts = {
        "to_mnist, 280x280 RGBA numpy": (
            functools.partial(to_mnist, snapshot),
            functools.partial(fast_to_mnist, snapshot),
        ),
        "to_mnist, 280x280 PIL RGBA": (
            functools.partial(to_mnist, pil),
            functools.partial(fast_to_mnist, pil),
        ),
        "to_mnist, 28x28 float": (
            functools.partial(to_mnist, x),
            functools.partial(fast_to_mnist, x),
        ),
        "network alone, 28x28 to logits": (network_readable, lambda: folded_forward(model)(x)),
        # The readable route calls the model as it is: it has no such step (its figure is a no-op call's).
        "finding the folded network": (lambda: None, lambda: folded_forward(model)),
    }
    medians: dict[tuple[str, int], list[float]] = {(k, i): [] for k in parts for i in (0, 1)}
    for _ in range(rounds):
        for key, fns in parts.items():
            for i, fn in enumerate(fns):
                medians[(key, i)].append(time_calls(fn, calls, warmup=5).median)
    for key in parts:
        slow, fast = (1000 * statistics.median(medians[(key, i)]) for i in (0, 1))
        print(f"    of which {key:30s} readable {slow:6.3f} ms   fast {fast:6.3f} ms")


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print the report."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="one seed and no `best` recipe")
    parser.add_argument("--baseline-epochs", type=int, default=3)
    parser.add_argument("--pad", action="store_true", help="only time the drawing pad's readings")
    parser.add_argument(
        "--predict", action="store_true", help="only time the pad's reading against predict()"
    )
    args = parser.parse_args(argv)
    if args.pad:
        pad_benchmark()
        return
    if args.predict:
        print("== one image to probabilities: mnistlib.predict (readable) vs the pad's fast_predict")
        predict_section()
        return
    seeds = [0] if args.quick else [0, 1, 2]
    ensure_mnist()
    train_data, test_data = load_mnist("train"), load_mnist("test")
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, bf16 native: {bf16_supported('cpu')}"
    )

    cnn_runs = cnn_section(seeds, train_data, test_data)
    mlp_and_baseline_section(seeds, train_data, test_data, cnn_runs, args.baseline_epochs)
    if not args.quick:
        best_section(train_data, test_data)

    print("\n== batch-1 inference latency (one model call, median)")
    for name in SHIPPED_MODELS:
        print(f"  shipped {name}: {latency_ms(load_shipped(name)):.3f} ms")

    print("\n== one image to probabilities: mnistlib.predict (readable) vs the pad's fast_predict")
    predict_section()

    print("\n== real-world input: canvas-like digits redrawn from the MNIST test split")
    model = load_shipped("cnn")
    print(f"  shipped CNN on the MNIST test set itself: {accuracy(model, *test_data):.2%}")
    result = canvas_testset.measure(model)
    print(
        f"  {result['n']} digits (seed {result['seed']}): mnistlib.predict {result['ours']:.2%}, "
        f"naive resize to 28x28 (the original app) {result['naive']:.2%}"
    )
    print("  by style: " + ", ".join(f"{k} {v:.2%}" for k, v in result["by_style"].items()))
    print(f"  one 280x280 RGBA canvas snapshot to probabilities: {result['latency_ms']:.2f} ms median")

    print("\n== drawing pad: read a drawing and show the reading (rasterise, preprocess, predict, render)")
    pad_benchmark()


def pad_benchmark(repeats: int = 50) -> None:
    """Print how long the kernel takes to read a drawing and show it: the work behind every reading."""
    from mnistlib.classroom import DrawingPad  # imported here: only this section needs ipywidgets/ipycanvas

    pad = DrawingPad()
    for stroke in DIGITS[7]:
        pad.strokes.add_stroke(stroke)
    for label in pad.view.model_menu.options:
        pad.model = pad.models.load(label)
        # One update: rasterise, preprocess, predict, render the reading, the bars and the 28x28 view.
        timing = time_calls(pad.update, repeats)
        print(
            f"  read a drawing and show it with {label}: median {1000 * timing.median:.1f} ms, "
            f"slowest {1000 * timing.slowest:.1f} ms"
        )


if __name__ == "__main__":
    main()
