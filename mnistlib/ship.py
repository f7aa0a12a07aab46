"""Train the models shipped in models/ on the full training set and write their model card data.

    python -m mnistlib.ship            # both shipped models (about a minute on 2 CPU cores)
    python -m mnistlib.ship cnn        # only the default CNN
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import torch

from mnistlib.checkpoints import SHIPPED_MODELS, save_checkpoint
from mnistlib.data import data_sha256, load_mnist
from mnistlib.evaluate import accuracy
from mnistlib.models import build_model, count_parameters
from mnistlib.runtime import bf16_supported, seed_everything
from mnistlib.train import RECIPES, fit, recipe_dict

SEED = 0


def train_and_save(name: str, seed: int = SEED) -> dict:
    """Train shipped model ``name`` with its recipe on all 60,000 digits, save it, return its facts."""
    arch, recipe = RECIPES[name]
    train_data, test_data = load_mnist("train"), load_mnist("test")
    seed_everything(seed)
    model = build_model(arch)
    history = fit(model, train_data, None, recipe, seed=seed, device="cpu", progress=False)
    test_acc = accuracy(model, *test_data)
    facts = {
        "architecture": arch,
        "recipe_name": name,
        "recipe": recipe_dict(recipe),
        "seed": seed,
        "test_acc": round(test_acc, 4),
        "train_seconds": round(history["time"][-1], 1),
        "parameters": count_parameters(model),
        "machine": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
        f"bf16={'yes' if bf16_supported('cpu') else 'no'}",
        "torch": torch.__version__,
        "train_data_sha256": data_sha256("train"),
        "date": time.strftime("%Y-%m-%d"),
    }
    save_checkpoint(model, SHIPPED_MODELS[arch], **facts)
    return facts


def main(argv: list[str] | None = None) -> None:
    """Train and save the shipped models named on the command line (default: all)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="cnn and/or mlp_improved (default: both)")
    names = parser.parse_args(argv).names or ["cnn", "mlp_improved"]
    for name in names:
        if name not in SHIPPED_MODELS:
            parser.error(f"unknown model {name!r}; choose from {sorted(SHIPPED_MODELS)}")
    for name in names:
        print(json.dumps(train_and_save(name), indent=2), flush=True)


if __name__ == "__main__":
    main()
