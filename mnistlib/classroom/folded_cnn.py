"""A SmallCNN's eval-mode forward pass for one image, its BatchNorms folded away, as a few matrix products.

For one 28x28 image a SmallCNN call spends most of its time in per-layer overhead (twenty modules,
four of them BatchNorms), not in arithmetic. In eval mode a BatchNorm is a fixed per-channel scale
and shift, which PyTorch's ``torch.nn.utils.fusion`` folds into the weights of the layer before it.
In a SmallCNN's blocks a 2x2 max-pool sits between the convolution and its BatchNorm; a positive
scale commutes with taking a maximum, so the fold holds there too (a negative one does not: such a
model gets None). The input normalisation folds into the first convolution the same way.

Each convolution then is one matrix product: the image's patches, gathered by a strided view
whose inner rows are contiguous (channels last), times the weights. The products go through
``torch.mm``, whose thread count the caller controls (numpy's BLAS would start its own threads,
and on a busy machine a small product that waits for a second thread is many times slower); the
small steps in between (pooling, bias, ReLU) are numpy, which costs less per call than torch. The logits equal the model's up to float32 rounding (about 1e-6).

``folded_forward(model)`` builds the pass once and rebuilds it whenever a weight or statistic has
changed: an optimiser step, a training batch's BatchNorm update, ``load_state_dict`` and any other
in-place change bump PyTorch's version counters; a replaced tensor, ``.data`` replaced, ``.to()``
and a replaced layer are other objects or storage. So a model being trained is never read with
stale weights. (In-place writes through ``tensor.data`` bypass the counters, as they bypass
autograd: after one, call ``load_state_dict`` or any in-place op.) Models with hooks (someone
watching a layer), other layouts, dtypes or devices get None: the caller calls the model itself.
"""

from __future__ import annotations

import itertools
import operator
import weakref
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn.modules import module as module_globals
from torch.nn.utils.fusion import fuse_conv_bn_weights, fuse_linear_bn_weights

from mnistlib.models import SmallCNN

Forward = Callable[[np.ndarray], np.ndarray]  # (28, 28) float32 in [0, 1] -> (10,) float32 logits
F32 = np.float32
_VERSION = operator.attrgetter("_version")
_DATA_PTR = operator.methodcaller("data_ptr")


@dataclass(frozen=True)
class _Conv:
    """One folded conv block: k x k 'same' convolution, 2x2 max-pool, bias, ReLU."""

    weight: torch.Tensor  # (k * k * c_in, c_out), rows in (ky, kx, c_in) order
    bias: np.ndarray  # (c_out,) float32
    k: int


@dataclass(frozen=True)
class _Entry:
    """A cached fold, with what it was built from (kept alive, so that their ids stay theirs)."""

    key: tuple
    keep: tuple
    submodules: tuple[nn.Module, ...]  # not the model itself: the cache's weak key must stay freeable
    forward: Forward | None


# model -> its _Entry; weak, so that a cached model can still be freed
_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _key(modules: tuple[nn.Module, ...]) -> tuple[tuple, list] | None:
    """Return what identifies the layers' current weights and structure, and the objects it names; None if hooked."""
    if any(hooks for layer in modules for hooks in (layer._forward_hooks, layer._forward_pre_hooks)):
        return None  # someone watches a layer (feature maps): the real layers must run
    children = [child for layer in modules for child in layer._modules.values()]
    tensors = [
        t
        for layer in modules
        for d in (layer._parameters, layer._buffers)
        for t in d.values()
        if t is not None
    ]
    # BatchNorm updates its running statistics without bumping their counters, but it bumps its
    # num_batches_tracked, which is here too. data_ptr: .to() and `.data = ...` give new storage.
    key = (
        *map(id, children),
        len(children),
        *map(id, tensors),
        *map(_VERSION, tensors),
        *map(_DATA_PTR, tensors),
    )
    return key, children + tensors


def _conv_block(block: nn.Sequential, scale: float = 1.0, shift: float = 0.0) -> _Conv | None:
    """Fold one (Conv2d, MaxPool2d, BatchNorm2d, ReLU) block; ``scale``/``shift`` fold an input normalisation."""
    conv, pool, bn, _ = block
    if (pool.kernel_size, pool.stride, pool.padding, pool.dilation) != (2, 2, 0, 1) or pool.ceil_mode:
        return None
    k = conv.kernel_size[0]
    same = conv.kernel_size == (k, k) and k % 2 == 1 and conv.padding == (k // 2, k // 2)
    if not same or conv.stride != (1, 1) or conv.dilation != (1, 1) or conv.groups != 1:
        return None
    if conv.padding_mode != "zeros" or bn.running_mean is None or not bool((bn.weight > 0).all()):
        return None  # no running statistics, or a scale that would turn the max into a min
    weight, bias = fuse_conv_bn_weights(
        conv.weight, conv.bias, bn.running_mean, bn.running_var, bn.eps, bn.weight, bn.bias
    )
    weight = weight.detach().double().permute(2, 3, 1, 0).reshape(-1, weight.shape[0])  # (ky, kx, c_in)
    # conv((x - mean) / std) = conv(x) / std - mean / std * sum(weights), with the border padded by the mean
    bias = bias.detach().double() - shift * scale * weight.sum(0)
    return _Conv((weight * scale).float().contiguous(), bias.float().numpy(), k)


@torch.no_grad()
def _fold(model: SmallCNN) -> Forward | None:
    """Return the folded forward pass of ``model``, or None if its layers are not a SmallCNN's usual ones."""
    expected = [nn.Conv2d, nn.MaxPool2d, nn.BatchNorm2d, nn.ReLU]
    if any([type(layer) for layer in block] != expected for block in model.features):
        return None
    head = [nn.Flatten, nn.Linear, nn.BatchNorm1d, nn.ReLU, nn.Dropout, nn.Linear]
    if [type(layer) for layer in model.classifier] != head:
        return None
    tensors = [*model.parameters(), *model.buffers()]
    if any(t.device.type != "cpu" or (t.is_floating_point() and t.dtype != torch.float32) for t in tensors):
        return None
    mean, std = model.normalize.mean, model.normalize.std
    convs = [_conv_block(model.features[0], 1 / std, mean)] + [_conv_block(b) for b in model.features[1:]]
    if any(conv is None for conv in convs) or model.features[0][0].in_channels != 1:
        return None
    _, first, bn, _, _, last = model.classifier
    if bn.running_mean is None:
        return None
    w1, b1 = fuse_linear_bn_weights(
        first.weight, first.bias, bn.running_mean, bn.running_var, bn.eps, bn.weight, bn.bias
    )
    side = 28
    for _ in convs:
        side //= 2
    channels = convs[-1].weight.shape[1]
    if w1.shape[1] != channels * side * side:
        return None
    # Flatten takes (c, h, w) order; the pass keeps channels last, (h, w, c): reorder the columns.
    w1 = w1.detach().reshape(-1, channels, side, side).permute(0, 2, 3, 1).reshape(w1.shape[0], -1)
    w2 = last.weight.detach().numpy().copy()
    b2 = np.zeros(len(w2), F32) if last.bias is None else last.bias.detach().numpy().copy()
    head_weights = (w1.contiguous(), b1.detach().numpy().copy(), w2, b2)
    return lambda image: _forward(image, convs, F32(mean), head_weights)


def _view(base: np.ndarray, shape: tuple[int, ...], strides: tuple[int, ...]) -> np.ndarray:
    """Return a strided view of a contiguous float32 array (as_strided, at a fifth of its overhead)."""
    return np.ndarray(shape, F32, base, 0, strides)


def _mm(a: np.ndarray, b: torch.Tensor) -> np.ndarray:
    """Return a @ b through torch, on torch's threads."""
    return torch.mm(torch.from_numpy(a), b).numpy()


def _pool_into(y: np.ndarray, h: int, w: int, out: np.ndarray, bias: np.ndarray) -> None:
    """Write relu(2x2 max-pool of y[:h, :w] + bias) into ``out``; y is (>= h, >= w, c)."""
    rows = np.maximum(y[0:h:2], y[1:h:2])
    np.maximum(rows[:, 0:w:2], rows[:, 1:w:2], out=out)
    out += bias
    np.maximum(out, 0, out=out)


def _first_conv(image: np.ndarray, conv: _Conv, pad_value: np.float32) -> np.ndarray:
    """Return the first conv's output (h, w + k - 1, c_out) of a one-channel image; the last k - 1 columns are junk."""
    k, p = conv.k, conv.k // 2
    h, w = image.shape
    wide = w + 2 * p
    # One extra row: the last patches run past the bottom right corner (into the junk columns).
    padded = np.full((h + 2 * p + 1, wide), pad_value, F32)
    padded[p : p + h, p : p + w] = image
    # With the output computed at every one of the `wide` columns, patch element (ky, kx) of all
    # outputs is one contiguous run of the padded image: a fast copy instead of h * w small ones.
    cols = _view(padded, (k, k, h * wide), (wide * 4, 4, 4)).reshape(k * k, h * wide)
    return torch.mm(torch.from_numpy(cols).t(), conv.weight).numpy().reshape(h, wide, -1)


def _forward(image: np.ndarray, convs: list[_Conv], mean: np.float32, head: tuple) -> np.ndarray:
    """Return the (10,) float32 logits of one (28, 28) image."""
    y = _first_conv(np.asarray(image, dtype=F32), convs[0], mean)
    h, w = image.shape
    for prev, conv in itertools.pairwise(convs):
        p, c = conv.k // 2, prev.weight.shape[1]
        padded = np.zeros((h // 2 + 2 * p, w // 2 + 2 * p, c), F32)
        _pool_into(y, h // 2 * 2, w // 2 * 2, padded[p : p + h // 2, p : p + w // 2], prev.bias)
        h, w = h // 2, w // 2
        s0, s1, s2 = padded.strides
        hq, wq = h // 2 * 2, w // 2 * 2  # only the outputs the pooling uses
        # Patches of the outputs: (kx, c_in) is one contiguous run of the channels-last image.
        cols = _view(padded, (hq, wq, conv.k, conv.k * c), (s0, s1, s0, s2)).reshape(hq * wq, -1)
        y = _mm(cols, conv.weight).reshape(hq, wq, -1)
    last = convs[-1]
    pooled = np.empty((h // 2, w // 2, last.weight.shape[1]), F32)
    _pool_into(y, h // 2 * 2, w // 2 * 2, pooled, last.bias)
    w1, b1, w2, b2 = head
    hidden = torch.mv(w1, torch.from_numpy(pooled.reshape(-1))).numpy()  # mm with one row is 4x slower
    hidden += b1
    np.maximum(hidden, 0, out=hidden)
    return w2 @ hidden + b2  # 10 x 128: far below any BLAS threading threshold


def folded_forward(model: nn.Module) -> Forward | None:
    """Return an up-to-date folded eval-mode forward pass of a SmallCNN on the CPU; None for anything else.

    The pass takes one (28, 28) float32 image in [0, 1] (numpy) and returns its (10,) float32 logits.
    """
    if type(model) is not SmallCNN or module_globals._global_forward_hooks:
        return None
    if module_globals._global_forward_pre_hooks:
        return None
    cached = _CACHE.get(model)
    if cached is not None:
        state = _key((model, *cached.submodules))
        if state is not None and state[0] == cached.key:
            return cached.forward
    modules = tuple(model.modules())
    state = _key(modules)
    if state is None:
        return None
    forward = _fold(model)
    _CACHE[model] = _Entry(state[0], tuple(state[1]), modules[1:], forward)
    return forward
