"""Try changes to the default CNN's recipe or widths, paired by seed, before shipping any of them.

Each variant trains once per seed on the training set minus a validation split carved from it (the
same split for every variant; the test set is only measured). With ``label_smoothing`` the model is
then calibrated: one temperature, fitted on the validation split, divides its last layer, so
``predict()`` and the folded fast path need nothing new; a recipe's own ``temperature`` (used
when it trains on all 60,000 digits) is set to what this fits. Prints tools/reliability.py's
figures per run and per variant (mean over seeds), then one training step's time per variant, the
variants interleaved in this process so a noisy machine slows all of them alike.

    python -m tools.recipe_trial --seeds 0 1 2 \\
        --variant "shipped:" \\
        --variant "unsmoothed: label_smoothing=0" \\
        --variant "narrow: channels=8,32,64"
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

import torch
import torch.nn.functional as F

from mnistlib.data import load_mnist
from mnistlib.models import Recipe, build_model
from mnistlib.preprocess import to_batch
from mnistlib.runtime import seed_everything
from mnistlib.train import RECIPES, fit, fold_temperature
from tools.reliability import canvas_inputs, not_digit_inputs, reliability

SPLIT_SEED = 1234  # the validation split does not depend on the training seed
VALIDATION = 5000  # training digits held out by default (the shipped temperature was fitted on them)
MODEL_ARGS = {"channels": lambda v: tuple(int(c) for c in v.split(",")), "hidden": int, "dropout": float}
TEMPERATURES = torch.logspace(-1.5, 0.5, 401)  # 0.03 to 3.2, 0.5 % apart


@dataclasses.dataclass(frozen=True)
class Variant:
    """One recipe and set of model widths to try."""

    name: str
    recipe: Recipe
    model_args: dict


def parse_variant(text: str) -> Variant:
    """Parse ``"name: field=value ..."``: Recipe fields, or the CNN's channels, hidden and dropout."""
    name, _, changes = text.partition(":")
    _, recipe = RECIPES["cnn"]
    fields = {f.name: type(getattr(recipe, f.name)) for f in dataclasses.fields(Recipe)}
    recipe_changes, model_args = {}, {}
    for item in changes.split():
        key, _, value = item.partition("=")
        if key in MODEL_ARGS:
            model_args[key] = MODEL_ARGS[key](value)
        elif key in fields:
            recipe_changes[key] = (
                value.lower() in ("1", "true", "yes") if fields[key] is bool else fields[key](value)
            )
        else:
            raise SystemExit(f"Unknown change {key!r}: use a Recipe field or one of {sorted(MODEL_ARGS)}.")
    return Variant(name.strip() or "shipped", dataclasses.replace(recipe, **recipe_changes), model_args)


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Return the temperature in ``TEMPERATURES`` that gives ``logits`` the lowest cross-entropy on ``labels``."""
    losses = torch.stack([F.cross_entropy(logits / t, labels) for t in TEMPERATURES])
    return float(TEMPERATURES[losses.argmin()])


def validation_split(n: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (training, validation) indices of ``n`` images, ``size`` of them held out."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(SPLIT_SEED))
    return order[size:], order[:size]


def run(variant: Variant, seed: int, validation: int, inputs: tuple, train_data: tuple) -> dict:
    """Train ``variant`` with ``seed``, calibrate it if it smooths labels; return its figures.

    The recipe's own ``temperature`` is left out: the one fitted here, on digits the model never
    trained on, is what a recipe's ``temperature`` should be set to.
    """
    X, y = train_data
    train_idx, val_idx = validation_split(len(X), validation)
    seed_everything(seed)
    model = build_model("cnn", **variant.model_args)
    recipe = dataclasses.replace(variant.recipe, temperature=1.0)
    history = fit(model, (X[train_idx], y[train_idx]), None, recipe, seed=seed, device="cpu", progress=False)
    temperature = 1.0
    if variant.recipe.label_smoothing > 0:
        with torch.inference_mode():
            logits = model(to_batch(X[val_idx])).float()
        temperature = fit_temperature(logits, y[val_idx])
        fold_temperature(model, temperature)
    r = reliability(model, *inputs)
    return {
        "seconds": history["time"][-1],
        "temperature": temperature,
        "mnist": r["test_acc"],
        "median_conf": r["median_confidence_correct"],
        "ece15": r["ece15"],
        "canvas": r["canvas_acc"],
        "thick": r["canvas_by_stroke"]["thick"],
        "worst_style": min(r["canvas_by_style"].values()),
        "unsure_letters": r["unsure_letters"],
        "unsure_scribbles": r["unsure_scribbles"],
    }


def step_ms(variant: Variant, train_data: tuple, batches: int = 20) -> float:
    """Return the mean time of one real training step of ``variant`` (augmentation, forward, backward, AdamW), in ms."""
    X, y = train_data
    n = batches * variant.recipe.batch_size
    recipe = dataclasses.replace(variant.recipe, num_epochs=1)
    model = build_model("cnn", **variant.model_args)
    history = fit(model, (X[:n], y[:n]), None, recipe, seed=0, device="cpu", progress=False)
    return 1000 * history["time"][-1] / batches


def _row(figures: dict) -> str:
    percent = (
        "mnist",
        "median_conf",
        "ece15",
        "canvas",
        "thick",
        "worst_style",
        "unsure_letters",
        "unsure_scribbles",
    )
    return ", ".join(f"{k} {figures[k]:.2%}" if k in percent else f"{k} {figures[k]:.3g}" for k in figures)


def main(argv: list[str] | None = None) -> None:
    """Train every variant with every seed and print the figures, then the step times."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--variant", action="append", type=parse_variant, help='"name: field=value ..."')
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument(
        "--validation", type=int, default=VALIDATION, help=f"training digits held out (default {VALIDATION})"
    )
    args = parser.parse_args(argv)
    variants = args.variant or [parse_variant("shipped:")]
    inputs = (canvas_inputs(), not_digit_inputs())
    train_data = load_mnist("train")  # read once: every run takes its own split of the same digits
    print(
        f"{time.strftime('%Y-%m-%d %H:%M')} UTC, {torch.get_num_threads()} threads, {args.validation} held out"
    )
    for v in variants:
        runs = []
        for seed in args.seeds:
            runs.append(run(v, seed, args.validation, inputs, train_data))
            print(f"{v.name} seed {seed}: {_row(runs[-1])}", flush=True)
        mean = {k: statistics.mean(r[k] for r in runs) for k in runs[0]}
        print(f"{v.name} MEAN of {len(runs)}: {_row(mean)}", flush=True)
    times = {v.name: [] for v in variants}
    for _ in range(3):  # interleaved rounds: the machine's noise falls on every variant
        for v in variants:
            times[v.name].append(step_ms(v, train_data))
    base = min(times[variants[0].name])
    for v in variants:
        print(f"{v.name}: one training step {min(times[v.name]):.1f} ms (x{base / min(times[v.name]):.2f})")


if __name__ == "__main__":
    main()
