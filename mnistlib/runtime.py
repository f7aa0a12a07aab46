"""Seeds, devices, eval mode, bf16 detection, the C library's freed memory and the smoke-mode switch."""

import contextlib
import ctypes
import os
import platform
import random
from collections.abc import Iterator

import numpy as np
import torch
from torch import nn

# Smoke mode: tiny, fast runs for CI. MNISTLIB_SMOKE=1 turns it on, MNISTLIB_SMOKE=0 forces it off.
SMOKE_TEST = os.environ.get("MNISTLIB_SMOKE", "0").strip().lower() not in ("", "0", "false", "no")

# glibc's mallopt() options (malloc.h) and its default trim threshold
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _DEFAULT_TRIM = -1, -3, 128 * 1024


def seed_everything(seed: int = 42) -> None:
    """Seed Python, NumPy and PyTorch so a rerun on the same machine gives the same numbers."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False


def pick_device() -> torch.device:
    """Return CUDA if available, then Apple MPS, otherwise CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def bf16_supported(device: torch.device | str) -> bool:
    """Return True if bf16 autocast is fast (native) on this device, not merely emulated."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        # Without native bf16 instructions, bf16 on a CPU is emulated and slower than fp32.
        try:
            return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported()) and (
                torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
            )
        except (AttributeError, RuntimeError):
            return False
    return False


def device_of(model: nn.Module) -> torch.device:
    """Return the device a model's weights are on (the CPU for a model without any)."""
    param = next(model.parameters(), None)
    return param.device if param is not None else torch.device("cpu")


@contextlib.contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Put ``model`` in eval mode (BatchNorm's running statistics, no dropout) inside the block, then back."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def _glibc() -> ctypes.CDLL | None:
    """Return the process's C library if it is glibc (which has mallopt and malloc_trim), else None."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        return ctypes.CDLL(None)
    except OSError:
        return None


@contextlib.contextmanager
def reusing_freed_memory() -> Iterator[None]:
    """Inside the block, let glibc keep freed tensors' memory for the next ones, not fault in fresh pages."""
    libc = _glibc()
    if libc is None:
        yield
        return
    libc.mallopt(_M_MMAP_THRESHOLD, 32 << 20)  # blocks under 32 MB come from the heap...
    libc.mallopt(_M_TRIM_THRESHOLD, 1 << 30)  # ...which keeps up to 1 GB free
    try:
        yield
    finally:
        libc.mallopt(_M_TRIM_THRESHOLD, _DEFAULT_TRIM)
        libc.malloc_trim(0)  # hand what is free back to the system
