"""mnistlib: the companion package of the MNIST teaching notebooks::

    import mnistlib
    model = mnistlib.load_model()            # the shipped CNN, or load_model(path)
    pred = mnistlib.predict(model, image)    # any image: array, PIL image, path or PNG bytes
    pred.digit, pred.probabilities, pred.model_input

The classroom product (the drawing pad, collect mode, the class store) is ``mnistlib.classroom``.
"""

from mnistlib.checkpoints import CheckpointError, load_model
from mnistlib.prediction import Prediction, predict
from mnistlib.preprocess import BlankImageError, InvalidImageError

__version__ = "0.1.0"
__all__ = [
    "BlankImageError",
    "CheckpointError",
    "ClassStore",
    "ClassStoreError",
    "DrawingPad",
    "InvalidImageError",
    "Prediction",
    "load_model",
    "predict",
]


def __getattr__(name: str) -> object:
    """Hand out the classroom's main names (``mnistlib.DrawingPad``) without importing widgets up front."""
    if name in ("ClassStore", "ClassStoreError", "DrawingPad"):
        import mnistlib.classroom

        return getattr(mnistlib.classroom, name)
    raise AttributeError(f"module 'mnistlib' has no attribute {name!r}")
