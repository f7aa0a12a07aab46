"""Read one picture of a digit: any picture in, the model's reading of it out (``mnistlib.predict``)."""

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from mnistlib.preprocess import ImageInput, to_mnist
from mnistlib.runtime import device_of, eval_mode


@dataclass(frozen=True, eq=False)  # eq=False: numpy fields make == ambiguous
class Prediction:
    """What a model read in one image."""

    digit: int  # the most probable digit, 0-9
    probabilities: np.ndarray  # (10,) float64, sums to 1
    model_input: np.ndarray  # (28, 28) float32 in [0, 1], ink bright: what the model saw

    @property
    def confidence(self) -> float:
        """Return the probability of the predicted digit."""
        return float(self.probabilities[self.digit])

    @classmethod
    def of(cls, model_input: np.ndarray, probabilities: np.ndarray) -> "Prediction":
        """Return the read-only Prediction of a model input and its ten probabilities."""
        model_input.setflags(write=False)
        probabilities.setflags(write=False)
        return cls(int(probabilities.argmax()), probabilities, model_input)


def predict(model: nn.Module, image: ImageInput) -> Prediction:
    """Preprocess one image the MNIST way (``preprocess.to_mnist``) and return the model's reading.

    ``image``: a PIL image, array, path or image file's bytes. Raises BlankImageError, InvalidImageError.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"predict(model, image) takes the model first; got a {type(model).__name__} first.")
    x = to_mnist(image)
    return Prediction.of(x, model_probabilities(model, x))


def model_probabilities(model: nn.Module, x: np.ndarray) -> np.ndarray:
    """Return the model's (10,) float64 probabilities for one (28, 28) input, read in eval mode."""
    # Eval mode: BatchNorm and dropout must not act on a single image.
    with eval_mode(model), torch.inference_mode():
        batch = torch.from_numpy(x).view(1, 1, 28, 28).to(device_of(model))
        logits = model(batch)[0].double().cpu()  # double: numpy has no bfloat16, and sums to 1 exactly
    return torch.softmax(logits, 0).numpy()
