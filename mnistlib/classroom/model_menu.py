"""The pad's model menu: which models it offers, each loaded once when first chosen."""

from __future__ import annotations

from pathlib import Path

from torch import nn

from mnistlib.checkpoints import SHIPPED_MODELS, CheckpointError, load_model, read_checkpoint
from mnistlib.models import MODELS
from mnistlib.paths import STUDENT_MODELS_DIR


def model_choices(models_dir: Path = STUDENT_MODELS_DIR) -> dict[str, Path]:
    """Return the models the pad offers, label -> checkpoint: the shipped CNN and MLP, then students' ones."""
    choices = {
        MODELS[name].menu_label or name: path for name, path in SHIPPED_MODELS.items() if path.is_file()
    }
    for path in sorted(Path(models_dir).glob("student_*.pt")):
        choices[f"Yours: {path.stem.removeprefix('student_')}"] = path
    return choices


def accuracy_note(path: Path) -> str:
    """Return ", 99.1% on the test set" from a checkpoint's metadata, or "" if it has no such figure."""
    try:
        acc = read_checkpoint(path).get("metadata", {}).get("test_acc")
    except CheckpointError:
        return ""
    return f", {acc:.1%} on the test set" if isinstance(acc, float) else ""


class ModelShelf:
    """The models a menu offers, label -> a model or its checkpoint, each loaded once when first chosen."""

    def __init__(self, sources: dict[str, nn.Module | Path]) -> None:
        if not sources:
            raise CheckpointError("No model to read digits with: pass one, or ship models/mnist_cnn.pt.")
        self.sources = dict(sources)
        self._loaded: dict[str, nn.Module] = {}

    @property
    def labels(self) -> list[str]:
        """Return the labels in menu order."""
        return list(self.sources)

    def load(self, label: str) -> nn.Module:
        """Return the model under ``label`` in eval mode, loading its checkpoint the first time."""
        if label not in self._loaded:
            source = self.sources[label]
            self._loaded[label] = source.eval() if isinstance(source, nn.Module) else load_model(source)
        return self._loaded[label]

    def note(self, label: str) -> str:
        """Return the accuracy note of a checkpoint (", 99.1% on the test set"), "" for a model in memory."""
        source = self.sources[label]
        return accuracy_note(source) if isinstance(source, Path) else ""
