"""mnistlib: the companion package of the MNIST teaching notebooks.

The public API::

    import mnistlib
    model = mnistlib.load_model()            # the shipped CNN, or load_model(path)
    pred = mnistlib.predict(model, image)    # any image: array, PIL image, path or PNG bytes
    pred.digit, pred.probabilities, pred.model_input
"""

from mnistlib.checkpoints import CheckpointError, load_model
from mnistlib.classset import ClassSet, ClassSetError
from mnistlib.predict import BlankImageError, InvalidImageError, Prediction, predict

__version__ = "0.1.0"
__all__ = [
    "BlankImageError",
    "CheckpointError",
    "ClassSet",
    "ClassSetError",
    "InvalidImageError",
    "Prediction",
    "load_model",
    "predict",
]
