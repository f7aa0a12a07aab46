"""Train the models shipped in models/ on the full training set and write their model card data.

python -m tools.ship            # both shipped models (about a minute on 2 CPU cores)
python -m tools.ship cnn        # only the default CNN
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import re
import time
from pathlib import Path

import torch

from mnistlib.checkpoints import SHIPPED_MODELS, read_checkpoint, save_checkpoint
from mnistlib.data import data_sha256, load_mnist
from mnistlib.evaluate import accuracy, per_class_accuracy, predict_proba
from mnistlib.models import MODELS, build_model, count_parameters
from mnistlib.paths import MODELS_DIR
from mnistlib.runtime import bf16_supported, seed_everything
from mnistlib.train import RECIPES, fit, recipe_dict
from tools.bench import time_to
from tools.recipe_trial import VALIDATION
from tools.reliability import ECE_BINS, canvas_inputs, not_digit_inputs, reliability

SEED = 0


def train_and_save(name: str, seed: int = SEED, reliability_inputs: tuple | None = None) -> dict:
    """Train shipped model ``name`` with its recipe on all 60,000 digits, save it, return its facts.

    The test set is read after every epoch (off the training clock, no effect on the weights) for
    the time to 99.5 %; ``reliability_inputs`` (canvas-like inputs, non-digits) add the reliability
    figures of tools/reliability.py to the facts.
    """
    arch, recipe = RECIPES[name]
    train_data, test_data = load_mnist("train"), load_mnist("test")
    seed_everything(seed)
    model = build_model(arch)
    history = fit(model, train_data, test_data, recipe, seed=seed, device="cpu", progress=False)
    test_acc = accuracy(model, *test_data)
    facts = {
        "architecture": arch,
        "recipe_name": name,
        "recipe": recipe_dict(recipe),
        "seed": seed,
        "test_acc": round(test_acc, 4),
        "train_seconds": round(history["time"][-1], 1),
        "train_seconds_to_99_5": round(time_to(history, 0.995), 1),  # inf if never reached
        "parameters": count_parameters(model),
        "machine": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
        f"bf16={'yes' if bf16_supported('cpu') else 'no'}",
        "torch": str(torch.__version__),
        "train_data_sha256": data_sha256("train"),
        "date": time.strftime("%Y-%m-%d"),
    }
    if reliability_inputs is not None:
        facts["reliability"] = {
            k: round(v, 5) if isinstance(v, float) else v
            for k, v in _flat(reliability(model, *reliability_inputs)).items()
        }
    save_checkpoint(model, SHIPPED_MODELS[arch], **facts)
    return facts


def _flat(figures: dict) -> dict:
    """Return nested figure dicts flattened to one level ("canvas_by_stroke/thick")."""
    out = {}
    for key, value in figures.items():
        if isinstance(value, dict):
            out.update({f"{key}/{k}": v for k, v in value.items()})
        else:
            out[key] = value
    return out


TEST_ACCURACY_ABOUT = (
    "Each shipped model's accuracy on MNIST's 10,000 test digits, per digit, keyed by the pad's menu label; "
    "written by `python -m tools.ship` (alone: `python -m tools.ship --test-accuracy`). The teacher's live "
    "view reads it beside the class's own accuracy without loading PyTorch."
)


def write_test_accuracy() -> Path:
    """Write models/test_accuracy.json: every shipped checkpoint's accuracy per digit on the test set."""
    from mnistlib.checkpoints import load_shipped
    from mnistlib.classroom.class_view import TEST_ACCURACY

    X, y = load_mnist("test")
    models = {}
    for arch, path in SHIPPED_MODELS.items():
        predicted = predict_proba(load_shipped(arch), X).argmax(1)
        models[MODELS[arch].menu_label or arch] = {
            "file": path.name,
            "architecture": arch,
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            "test_acc": round(float((predicted == y).float().mean()), 4),
            "per_digit": [round(float(a), 4) for a in per_class_accuracy(y, predicted)],
            "test_digits": [int((y == d).sum()) for d in range(10)],
        }
    text = json.dumps({"about": TEST_ACCURACY_ABOUT, "models": models}, indent=2) + "\n"
    text = re.sub(r"\[\s+([-\d.,\s]+?)\s+\]", lambda m: "[" + " ".join(m[1].split()) + "]", text)
    tmp = TEST_ACCURACY.with_name(f".{TEST_ACCURACY.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, TEST_ACCURACY)
    return TEST_ACCURACY


CARD_HEAD = """# Shipped models

Trained by this project's own code on the full MNIST training set (60,000 digits) and evaluated
on the full test set (10,000 digits). `mnistlib.load_model()` loads the CNN; notebook 04 offers both.
This page is written by `python -m tools.ship` from the checkpoints' own metadata.

| file | model | parameters | test accuracy | training time | seed |
| --- | --- | --- | --- | --- | --- |
"""


def write_model_card() -> Path:
    """Write models/README.md from the metadata stored in the shipped checkpoints."""
    rows, details = [], []
    for arch, path in SHIPPED_MODELS.items():
        meta = read_checkpoint(path)["metadata"]
        rows.append(
            f"| `{path.name}` | `{arch}` | {meta['parameters']:,} | {meta['test_acc'] * 100:.2f} % "
            f"| {meta['train_seconds']:.1f} s | {meta['seed']} |"
        )
        recipe = ", ".join(f"{k}={v}" for k, v in meta["recipe"].items())
        details.append(
            f"### `{path.name}`\n\n- recipe `{meta['recipe_name']}`: {recipe}\n"
            f"- trained {meta['date']} on {meta['machine']}, torch {meta['torch']}\n"
            f"- SHA-256 of the training data (images and labels): `{meta['train_data_sha256']}`\n"
            f"- reproduce: `python -m tools.ship {arch}` (same machine and torch: same weights)\n"
        )
    card = CARD_HEAD + "\n".join(rows) + "\n\n" + "\n".join(details) + reliability_section() + CARD_TAIL
    path = MODELS_DIR / "README.md"
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(card)
    os.replace(tmp, path)  # a reader never sees half a card
    return path


def _pct(value: float) -> str:
    return f"{value * 100:.2f} %"


def reliability_section() -> str:
    """Return the card's reliability tables for the shipped models whose checkpoints carry the figures."""
    parts = []
    for path in SHIPPED_MODELS.values():
        meta = read_checkpoint(path)["metadata"]
        r = meta.get("reliability")
        if r is None:  # trained before the figures were recorded: retrain it with tools.ship
            continue
        styles = [k.split("/", 1)[1] for k in r if k.startswith("canvas_by_style/")]
        strokes = [k.split("/", 1)[1] for k in r if k.startswith("canvas_by_stroke/")]
        unsure = f"top probability under {r['unsure_below'] * 100:.0f} %"
        parts.append(
            f"\n## How far `{path.name}` can be trusted\n\n"
            "Measured when it was shipped, as `python -m tools.reliability` measures. The canvas-like set redraws "
            f"the {r['canvas_n']:,} test digits as the pad receives them (tools/canvas_testset.py): thin, "
            "normal or thick pens, varied size, tilt and place, in four colour styles. It is only ever "
            "measured on, never trained on.\n\n"
            "| figure | value |\n| --- | --- |\n"
            f"| MNIST test accuracy | {_pct(r['test_acc'])} |\n"
            f"| median confidence on correctly read test digits | {_pct(r['median_confidence_correct'])} |\n"
            f"| expected calibration error ({ECE_BINS} equal-width bins) | {_pct(r['ece15'])} |\n"
            f"| wrong test readings above 90 % sure | {r['wrong_above_90']} of 10,000 |\n"
            f"| canvas-like test set, overall | {_pct(r['canvas_acc'])} |\n"
            + "".join(f"| canvas-like, style {s} | {_pct(r['canvas_by_style/' + s])} |\n" for s in styles)
            + "".join(f"| canvas-like, {s} pen | {_pct(r['canvas_by_stroke/' + s])} |\n" for s in strokes)
            + f'| random scribbles read "not sure" ({unsure}) | {_pct(r["unsure_scribbles"])} |\n'
            f'| letters and signs read "not sure" | {_pct(r["unsure_letters"])} |\n'
        )
        recipe = meta["recipe"]
        if recipe.get("temperature", 1.0) != 1.0:  # older checkpoints have no temperature: 1
            smoothing = recipe["label_smoothing"]
            aim = 1 - smoothing + smoothing / 10  # the smoothed target's share for the right digit
            parts.append(
                f"\nIt was trained with label smoothing {smoothing}, which on its own leaves a model "
                f"under-confident (it aims at {aim * 100:.0f} % for a clear digit); then its scores were divided by the "
                f"temperature {recipe['temperature']} (folded into its last layer by `mnistlib.train.fit`). "
                f"The temperature was fitted by `python -m tools.recipe_trial` on {VALIDATION:,} training digits "
                "held out from trial runs, never on the test set.\n"
            )
        if math.isfinite(meta.get("train_seconds_to_99_5", math.inf)):
            parts.append(
                f"\nTraining reached 99.5 % test accuracy after {meta['train_seconds_to_99_5']:.1f} s "
                f"of its {meta['train_seconds']:.1f} s.\n"
            )
    return "".join(parts)


CARD_TAIL = """
## Intended use and limits

For teaching: reading single handwritten digits 0-9, drawn on the pad or photographed, after
`mnistlib.preprocess` has made them look like MNIST digits (ink bright, cropped, fitted into 20x20,
centred by mass in 28x28). Not for letters, several digits in one picture, or anything that matters:
the model always answers one of ten digits, confidently or not (notebook 05 shows how to fool it).
Every checkpoint records its architecture, normalisation, recipe, seed, accuracy and data hash, and
loads with `torch.load(..., weights_only=True)`. Speed figures: `make bench`.
"""


def main(argv: list[str] | None = None) -> None:
    """Train and save the shipped models named on the command line (default: all)."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("names", nargs="*", help=f"some of {', '.join(SHIPPED_MODELS)} (default: all)")
    parser.add_argument(
        "--test-accuracy",
        action="store_true",
        help="only write models/test_accuracy.json from the checkpoints as they are (seconds, no training)",
    )
    args = parser.parse_args(argv)
    if args.test_accuracy:
        print(f"wrote {write_test_accuracy()}")
        return
    names = args.names or list(SHIPPED_MODELS)
    for name in names:
        if name not in SHIPPED_MODELS:
            parser.error(f"unknown model {name!r}; choose from {sorted(SHIPPED_MODELS)}")
    inputs = (canvas_inputs(), not_digit_inputs())  # preprocessed once for every model (about 2 minutes)
    for name in names:
        print(json.dumps(train_and_save(name, reliability_inputs=inputs), indent=2), flush=True)
    print(f"wrote {write_model_card()}")
    print(f"wrote {write_test_accuracy()}")


if __name__ == "__main__":
    main()
