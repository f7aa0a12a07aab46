"""mnistlib: the companion package of the MNIST teaching notebooks::

    import mnistlib
    model = mnistlib.load_model()            # the shipped CNN, or load_model(path)
    pred = mnistlib.predict(model, image)    # any image: array, PIL image, path or PNG bytes
    pred.digit, pred.probabilities, pred.model_input

The classroom product (the drawing pad, collect mode, the class store) is ``mnistlib.classroom``.
Names are imported when first used: a server process that only reads the class store (the teacher's
live view) never loads PyTorch.
"""

from importlib import import_module

__version__ = "0.1.0"
_HOMES = {
    "BlankImageError": "mnistlib.preprocess",
    "CheckpointError": "mnistlib.checkpoints",
    "ClassStore": "mnistlib.classroom",
    "ClassStoreError": "mnistlib.classroom",
    "DrawingPad": "mnistlib.classroom",
    "InvalidImageError": "mnistlib.preprocess",
    "Prediction": "mnistlib.prediction",
    "load_model": "mnistlib.checkpoints",
    "predict": "mnistlib.prediction",
}
__all__ = list(_HOMES)


def __getattr__(name: str) -> object:
    """Import ``mnistlib.load_model`` and the other main names, or a submodule (``mnistlib.viz``), when first asked for."""
    if name in _HOMES:
        return getattr(import_module(_HOMES[name]), name)
    if name.startswith("__"):  # probes such as __wrapped__ name no submodule
        raise AttributeError(f"module 'mnistlib' has no attribute {name!r}")
    try:
        return import_module(f"mnistlib.{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"mnistlib.{name}":
            raise  # the submodule exists but something it imports does not
        raise AttributeError(f"module 'mnistlib' has no attribute {name!r}") from None
