"""A SmallCNN's eval-mode forward pass for one image with its BatchNorms folded into the layers before them.

For one 28x28 image a SmallCNN call spends much of its time in per-layer overhead (twenty modules,
four of them BatchNorms), not in arithmetic. In eval mode a BatchNorm is a fixed per-channel scale
and shift, which PyTorch's ``torch.nn.utils.fusion`` folds into the weights of the layer before it.
In a SmallCNN's blocks a 2x2 max-pool sits between the convolution and its BatchNorm; a positive
scale commutes with taking a maximum, so the fold holds there too (a negative one does not: such a
model gets None). The folded pass returns the same logits up to float32 rounding.

``folded_forward(model)`` builds the pass once and rebuilds it whenever a weight or statistic has
changed: an optimiser step, a training batch's BatchNorm update, ``load_state_dict`` and any other
in-place change bump PyTorch's version counters, and a replaced tensor is another object. So a
model being trained is never read with stale weights. (Writes through ``tensor.data`` bypass the
counters, as they bypass autograd: after one, call ``load_state_dict`` or any in-place op.)
Models with hooks (someone watching a layer), other layouts, dtypes or devices get None: the
caller calls the model itself.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules import module as module_globals
from torch.nn.utils.fusion import fuse_conv_bn_weights, fuse_linear_bn_weights

from mnistlib.models import SmallCNN

Forward = Callable[[torch.Tensor], torch.Tensor]
# model -> (the tensors it was folded from and their versions, the folded pass or None)
_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _state(model: nn.Module) -> tuple[tuple[torch.Tensor, int], ...] | None:
    """Return every parameter and buffer with its in-place version counter; None if a layer has hooks."""
    # BatchNorm updates its running statistics without bumping their counters, but it bumps its
    # num_batches_tracked, which is here too. The tensors themselves are kept: an id can be reused.
    if module_globals._global_forward_hooks or module_globals._global_forward_pre_hooks:
        return None
    state = []
    for layer in model.modules():
        if layer._forward_hooks or layer._forward_pre_hooks:
            return None  # someone watches this layer (feature maps): the real layers must run
        state += [
            (t, t._version) for t in (*layer._parameters.values(), *layer._buffers.values()) if t is not None
        ]
    return tuple(state)


def _unchanged(saved: tuple, state: tuple) -> bool:
    return len(saved) == len(state) and all(t is u and v == w for (t, v), (u, w) in zip(saved, state))


@torch.no_grad()
def _fold(model: SmallCNN) -> Forward | None:
    """Return the folded forward pass of ``model``, or None if its layers are not a SmallCNN's usual ones."""
    blocks = [list(block) for block in model.features]
    expected = [nn.Conv2d, nn.MaxPool2d, nn.BatchNorm2d, nn.ReLU]
    if any([type(layer) for layer in block] != expected for block in blocks):
        return None
    head = list(model.classifier)
    if [type(layer) for layer in head] != [
        nn.Flatten,
        nn.Linear,
        nn.BatchNorm1d,
        nn.ReLU,
        nn.Dropout,
        nn.Linear,
    ]:
        return None
    if any(p.dtype != torch.float32 or p.device.type != "cpu" for p in model.parameters()):
        return None
    convs = []
    for conv, pool, bn, _ in blocks:
        if (pool.kernel_size, pool.stride, pool.padding, pool.dilation) != (2, 2, 0, 1) or pool.ceil_mode:
            return None
        if bn.running_mean is None or not bool((bn.weight > 0).all()):
            return None  # no running statistics, or a scale that would turn the max into a min
        weight, bias = fuse_conv_bn_weights(
            conv.weight, conv.bias, bn.running_mean, bn.running_var, bn.eps, bn.weight, bn.bias
        )
        weight = weight.detach().contiguous(memory_format=torch.channels_last)
        convs.append((weight, bias.detach(), conv.stride, conv.padding, conv.dilation, conv.groups))
    _, first, bn, _, _, last = head
    if bn.running_mean is None:
        return None
    w1, b1 = (
        t.detach()
        for t in fuse_linear_bn_weights(
            first.weight, first.bias, bn.running_mean, bn.running_var, bn.eps, bn.weight, bn.bias
        )
    )
    w2, b2 = last.weight.detach().clone(), None if last.bias is None else last.bias.detach().clone()
    mean, std = model.normalize.mean, model.normalize.std

    def forward(x: torch.Tensor) -> torch.Tensor:
        x = ((x - mean) / std).contiguous(memory_format=torch.channels_last)
        for weight, bias, stride, padding, dilation, groups in convs:
            x = F.relu(F.max_pool2d(F.conv2d(x, weight, bias, stride, padding, dilation, groups), 2))
        return F.linear(F.relu(F.linear(x.flatten(1), w1, b1)), w2, b2)

    return forward


def folded_forward(model: nn.Module) -> Forward | None:
    """Return an up-to-date folded eval-mode forward pass of a SmallCNN on the CPU; None for anything else."""
    state = _state(model) if type(model) is SmallCNN else None
    if state is None:
        return None
    cached = _CACHE.get(model)
    if cached is not None and _unchanged(cached[0], state):
        return cached[1]
    forward = _fold(model)
    _CACHE[model] = (state, forward)
    return forward
