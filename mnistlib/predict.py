"""The public prediction API: any picture of a digit in, the model's reading of it out.

import mnistlib
model = mnistlib.load_model()
pred = mnistlib.predict(model, "my_digit.png")
pred.digit, pred.probabilities, pred.model_input
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from mnistlib.folded_cnn import folded_forward
from mnistlib.preprocess import BlankImageError, ImageInput, InvalidImageError, one_thread, to_mnist
from mnistlib.runtime import device_of, eval_mode

__all__ = ["BlankImageError", "InvalidImageError", "Prediction", "predict"]


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


def predict(model: nn.Module, image: ImageInput) -> Prediction:
    """Preprocess one image the MNIST way and return the model's prediction.

    ``image``: a PIL image, a numpy array (H, W), (H, W, 3) or (H, W, 4) of any size and dtype,
    a file path, or the bytes of a PNG/JPEG/GIF/BMP/WebP file. Raises BlankImageError when
    nothing is drawn and InvalidImageError for anything that is not a usable image.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(
            "predict() takes the model first, then the image: predict(model, image); "
            f"got a {type(model).__name__} as the model."
        )
    with one_thread():  # one image: the resize's products and the network are too small to share
        x = to_mnist(image)
        folded = folded_forward(model)  # a SmallCNN on the CPU: the same logits, far less per-layer overhead
        if folded is not None:
            logits = folded(x)
        else:
            # Eval mode: BatchNorm and dropout must not act on a single image. Switching a model costs
            # about a third of a small CNN's call, so a model already in eval mode throughout is left as is.
            training = any(module.training for module in model.modules())
            with eval_mode(model) if training else contextlib.nullcontext(), torch.inference_mode():
                batch = torch.from_numpy(x).view(1, 1, 28, 28).to(device_of(model))
                logits = model(batch)[0].float().cpu().numpy()  # float: numpy has no bfloat16
    probabilities = _softmax(logits)
    x.setflags(write=False)
    probabilities.setflags(write=False)
    return Prediction(digit=int(probabilities.argmax()), probabilities=probabilities, model_input=x)


def _softmax(logits: np.ndarray) -> np.ndarray:
    """Return the float64 softmax of 10 logits: numpy costs a fraction of torch's calls for 10 numbers."""
    z = logits.astype(np.float64)
    z -= z.max()
    np.exp(z, out=z)
    z /= z.sum()
    return z
