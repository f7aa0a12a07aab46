"""Save and load models with everything needed to rebuild them; atomic writes, no pickle code."""

import io
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mnistlib.models import MODELS, REGISTRY, build_model, model_name
from mnistlib.paths import write_atomically

FORMAT = "mnistlib-checkpoint-v1"
# name -> file of the models the project ships trained, in MODELS order; the first is the default.
SHIPPED_MODELS = {name: spec.shipped_path for name, spec in MODELS.items() if spec.shipped_path is not None}
DEFAULT_MODEL = next(iter(SHIPPED_MODELS.values()))


class CheckpointError(ValueError):
    """A checkpoint file is missing, damaged, or does not fit the model it describes."""


def _plain(value: Any) -> Any:
    """Return ``value`` as plain data that ``torch.load(weights_only=True)`` accepts, or raise TypeError."""
    if isinstance(value, bool) or value is None:
        return value
    for plain_type in (int, float, str):  # also turns subclasses (torch.__version__) into the plain type
        if isinstance(value, plain_type):
            return plain_type(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:  # numpy or torch scalar
        return value.item()
    raise TypeError(
        f"checkpoint metadata must be plain data (numbers, strings, lists, dicts), not {type(value).__name__}"
    )


def save_checkpoint(model: nn.Module, path: str | Path, **metadata: Any) -> Path:
    """Write ``model``'s weights, name and arguments and plain-data ``metadata`` to ``path`` atomically."""
    name = model_name(model)  # first: a model outside MODELS has no model_args either
    args = _plain(model.model_args)  # recorded by mnistlib.models.ModelBase when the model was built
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    payload = {
        "format": FORMAT,
        "model_name": name,
        "model_args": args,
        "normalization": {"mean": args.get("mean"), "std": args.get("std")},
        "state_dict": state,
        "metadata": _plain(metadata),
    }
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return write_atomically(Path(path), buffer.getvalue())


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read and validate a checkpoint's contents without building the model."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(
            f"No checkpoint at {path}. Train and save a model first (notebooks 02a and 02b), "
            "or call load_model() with no argument to use the shipped one."
        )
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch.load raises many types on garbage (KeyError, EOFError, ...)
        raise CheckpointError(
            f"{path} is not a readable mnistlib checkpoint (truncated, corrupt, or no checkpoint at all): "
            f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}. Save it with save_checkpoint()."
        ) from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(
            f"{path} is a PyTorch file but not an mnistlib checkpoint (expected format {FORMAT!r}). "
            "Save models with mnistlib.checkpoints.save_checkpoint()."
        )
    if payload.get("model_name") not in REGISTRY:
        raise CheckpointError(
            f"{path} describes a model {payload.get('model_name')!r}, but the known models are {sorted(REGISTRY)}."
        )
    return payload


def load_checkpoint(
    path: str | Path, device: torch.device | str = "cpu", expected_model: str | None = None
) -> nn.Module:
    """Rebuild a checkpoint's model with its weights and ``checkpoint_metadata``; return it in eval mode."""
    payload = read_checkpoint(path)
    name, args = payload["model_name"], payload["model_args"]
    if expected_model is not None and name != expected_model:
        raise CheckpointError(f"{path} holds a {name!r} model, but a {expected_model!r} model was expected.")
    try:
        model = build_model(name, **args)
    except TypeError as exc:
        raise CheckpointError(f"{path}: the arguments {args} do not fit model {name!r}: {exc}") from exc
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError as exc:
        detail = " ".join(line.strip() for line in str(exc).strip().splitlines()[:4])
        raise CheckpointError(
            f"{path}: its weights do not fit a {name!r} model built with {args} ({detail})."
        ) from exc
    model.checkpoint_metadata = dict(payload.get("metadata", {}))
    return model.to(device).eval()


def load_model(path: str | Path | None = None, device: torch.device | str = "cpu") -> nn.Module:
    """Load a checkpoint, or the shipped default CNN when no path is given."""
    return load_checkpoint(DEFAULT_MODEL if path is None else path, device=device)


def load_shipped(name: str = "cnn", device: torch.device | str = "cpu") -> nn.Module:
    """Load one of the models shipped in ``models/`` by name (the keys of ``SHIPPED_MODELS``)."""
    if name not in SHIPPED_MODELS:
        raise ValueError(f"No shipped model {name!r}; choose one of {sorted(SHIPPED_MODELS)}.")
    return load_checkpoint(SHIPPED_MODELS[name], device=device, expected_model=name)
