"""Today's pipeline, frozen: ``to_mnist`` and ``predict`` as they were at commit 58927d3.

The reference that the fast route of ``mnistlib.predict`` is tested against (tests/test_predict_speed.py)
and timed beside (``python -m tools.bench --predict``): every step of ``mnistlib.preprocess`` on the
whole picture, then a plain call of the model. The steps themselves are ``mnistlib.preprocess``'s
public functions; only the way ``to_mnist`` and ``predict`` chain them is frozen here.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from mnistlib import preprocess
from mnistlib.runtime import device_of, eval_mode


def to_mnist(image: preprocess.ImageInput) -> np.ndarray:
    """Return the (28, 28) MNIST digit of any picture, every step on the whole picture."""
    grey = preprocess.to_grey(image)
    ink = preprocess.ink_bright(grey)
    cleaned = preprocess.remove_background(ink)
    cropped = preprocess.crop_to_ink(cleaned)
    return preprocess.center_digit(cropped)[1]


def predict(model: nn.Module, image: preprocess.ImageInput) -> tuple[np.ndarray, np.ndarray]:
    """Return (probabilities, model_input) as predict() computed them: float64 (10,), float32 (28, 28)."""
    x = to_mnist(image)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as predict() did on every call, whatever the thread count was
    try:
        with eval_mode(model), torch.inference_mode():
            logits = model(torch.from_numpy(x).to(device_of(model)).view(1, 1, 28, 28))
    finally:
        torch.set_num_threads(threads)
    return torch.softmax(logits[0].double(), dim=0).cpu().numpy(), x
