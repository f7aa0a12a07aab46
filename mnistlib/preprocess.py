"""Pixel conventions: the one place that knows what an MNIST digit looks like."""

from __future__ import annotations

# Mean and standard deviation of the MNIST training pixels, scaled to [0, 1].
MNIST_MEAN = 0.1307
MNIST_STD = 0.3081
