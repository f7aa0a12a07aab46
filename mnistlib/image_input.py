"""Reading any picture a user hands over: check it, decode it, and make it grey.

``to_grey`` accepts a PIL image, a numpy array or torch tensor, a file path, or the bytes of an
image file, and returns (H, W) float32 grey in [0, 1] with any transparency composited. Every input
it cannot use raises ``InvalidImageError``, with what to do about it; a picture with nothing on it
raises ``BlankImageError``. ``mnistlib.preprocess`` takes it from there to an MNIST digit.
"""

from __future__ import annotations

import io
import math
import os
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import ExifTags, Image, ImageOps

# Limits on what is decoded. MAX_PIXELS is checked on the header, before any pixel is decoded,
# so a small file that claims to be enormous (a decompression bomb) costs nothing. 50 MP is a
# large phone photo; Pillow's own warning starts at 89 MP.
MAX_PIXELS = 50_000_000
MIN_SIDE = 8  # smaller pictures cannot hold a recognisable digit and a background around it
FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP")  # Pillow names of the file formats read
WORK_SIDE = 1024  # bigger pictures are reduced to this first: the digit ends up 20 px anyway

LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R 601, as PIL's "L" conversion

ImageInput = Image.Image | np.ndarray | torch.Tensor | str | os.PathLike | bytes | bytearray | memoryview


class InvalidImageError(ValueError):
    """The input is not a usable image: wrong type or shape, corrupt, empty, or absurdly large."""


class BlankImageError(ValueError):
    """The image holds no ink: nothing was drawn, or nothing is left after cleaning."""


def _check_size(width: int, height: int, what: str) -> None:
    if width == 0 or height == 0:
        raise InvalidImageError(f"{what} is empty ({width}x{height} pixels). Pass a picture of a digit.")
    if width * height > MAX_PIXELS:
        raise InvalidImageError(
            f"{what} is {width}x{height} pixels, more than the {MAX_PIXELS:,} mnistlib decodes "
            "(a guard against decompression bombs). Scale the picture down first, e.g. with "
            "PIL.Image.thumbnail((1024, 1024))."
        )
    if width < MIN_SIDE or height < MIN_SIDE:
        raise InvalidImageError(
            f"{what} is only {width}x{height} pixels; a digit needs at least {MIN_SIDE}x{MIN_SIDE}."
        )


def _unreadable(what: str, exc: Exception) -> InvalidImageError:
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return InvalidImageError(
        f"{what} is not a readable PNG, JPEG, GIF, BMP or WebP file ({reason}). "
        "Check that the file is complete and really is a picture, or save it again."
    )


def _decode(fp: io.BufferedIOBase, what: str) -> Image.Image:
    """Decode an encoded image after checking its header size; any failure is an InvalidImageError."""
    try:
        with warnings.catch_warnings():
            # Pillow warns about (and above twice its limit refuses) decompression bombs.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(fp, formats=FORMATS)  # reads the header only
            _check_size(img.width, img.height, what)
            img.verify()  # PNG: checks every chunk's CRC, so a cut-off file is caught
            fp.seek(0)
            img = Image.open(fp, formats=FORMATS)  # verify() used the first one up
            img.draft(None, (WORK_SIDE, WORK_SIDE))  # JPEG: decode big photos at 1/2, 1/4 or 1/8 size
            img.load()
    except InvalidImageError:
        raise
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise InvalidImageError(
            f"{what} claims a size Pillow refuses as a decompression bomb ({exc}). Use a smaller picture."
        ) from exc
    except Exception as exc:
        # struct.error, zlib.error, ValueError, ...: for us each one means "not a readable image".
        raise _unreadable(what, exc) from exc
    return img


def _read_path(path: Path) -> Image.Image:
    try:
        with open(path, "rb") as f:
            return _decode(f, f"The image file {path}")
    except InvalidImageError:
        raise
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
        raise InvalidImageError(f"There is no image file at {path}. Check the path.") from exc
    except (OSError, ValueError) as exc:  # no permission, name too long, NUL byte in the name
        raise InvalidImageError(f"Cannot read {path!r}: {exc}. Check the path.") from exc


def _pil_to_array(img: Image.Image) -> np.ndarray:
    """Return a PIL image as an (H, W), (H, W, 3) or (H, W, 4) array, reduced if very large."""
    _check_size(img.width, img.height, "The image")
    try:
        img.load()  # an image from Image.open() is decoded only now
    except Exception as exc:
        raise _unreadable("The PIL image", exc) from exc
    if img.getexif().get(ExifTags.Base.Orientation, 1) != 1:  # without one, exif_transpose only copies
        img = ImageOps.exif_transpose(img)  # phone photos are often stored sideways with an EXIF note
    if img.mode.startswith("I;16"):
        return np.asarray(img).astype(np.uint16)  # 16-bit grey: the dtype keeps the 65535 scale
    if img.mode in ("I", "F"):
        return np.asarray(img)
    has_alpha = img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info
    mode = "RGBA" if has_alpha else "L" if img.mode in ("1", "L") else "RGB"
    if img.mode != mode:  # converting to its own mode would only copy it
        img = img.convert(mode)
    factor = math.ceil(max(img.size) / WORK_SIDE)
    if factor > 1:  # averaging blocks now saves memory later (Pillow premultiplies alpha here)
        img = img.reduce(factor)
    return np.asarray(img)


def _unit_scale(arr: np.ndarray) -> np.float32:
    """Check a numeric array's values; return the factor that maps them to [0, 1] (by dtype and range)."""
    if arr.dtype.kind == "b":
        return np.float32(1)
    if arr.dtype.kind == "f":
        if not np.isfinite(arr).all():
            raise InvalidImageError(
                "The image array contains NaN or infinite values. Replace them (np.nan_to_num) first."
            )
        lo, hi = float(arr.min()), float(arr.max())
        if lo < 0 or hi > 255:
            raise InvalidImageError(
                f"A float image must hold values in [0, 1] (or 0-255), but this one spans "
                f"[{lo:g}, {hi:g}]. Rescale it, e.g. (x - x.min()) / (x.max() - x.min())."
            )
        return np.float32(1 if hi <= 1 else 1 / 255)
    lo, hi = int(arr.min()), int(arr.max())
    if lo < 0:
        raise InvalidImageError(f"The image array has negative values (down to {lo}); pixels must be >= 0.")
    if hi <= 1:
        scale = 1  # a 0/1 mask, whatever the dtype
    elif arr.dtype == np.uint16 or hi > 255:
        scale = 65535
    else:
        scale = 255
    if hi > scale:
        raise InvalidImageError(
            f"The image array has values up to {hi}; integer pixels must be 8-bit (0-255) "
            "or 16-bit (0-65535)."
        )
    return np.float32(1 / scale)


def _luma(rgb: np.ndarray, scale: np.float32) -> np.ndarray:
    """Return the grey (H, W) float32 of an (H, W, 3+) array, times ``scale``, with few temporaries."""
    # Big temporaries are costly where every fresh page faults (virtual machines): reuse two.
    weights = LUMA * scale
    grey = np.multiply(rgb[..., 0], weights[0], dtype=np.float32)
    term = np.multiply(rgb[..., 1], weights[1], dtype=np.float32)
    grey += term
    np.multiply(rgb[..., 2], weights[2], out=term, dtype=np.float32)
    grey += term
    return grey


def _sample_step(size: int) -> int:
    """Return the step of ``_sample`` for a picture of ``size`` pixels."""
    return max(1, int(math.sqrt(size / 16_000)))


def _sample(image: np.ndarray) -> np.ndarray:
    """Return every k-th pixel in both directions, at least 16,000 of them: statistics stay fast."""
    step = _sample_step(image.size)
    return image[::step, ::step]


def _percentiles(values: np.ndarray, *qs: float) -> list[float]:
    """Return the ``qs`` percentiles of ``values`` (nearest rank; faster than np.percentile)."""
    flat = values.ravel()
    ranks = [round(q / 100 * (flat.size - 1)) for q in qs]
    part = np.partition(flat, ranks)
    return [float(part[r]) for r in ranks]


def _composite(lum: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Flatten grey ``lum`` with transparency ``alpha`` (both (H, W) in [0, 1]) onto a background shade."""
    if alpha.min() >= 1:
        return lum
    if alpha.max() <= 0:
        raise BlankImageError("The image is fully transparent: nothing is drawn on it. Draw a digit first.")
    painted = _sample(lum)[_sample(alpha) >= min(0.5, float(alpha.max()))]
    lo, hi = _percentiles(painted, 1, 99) if painted.size else (0.0, 0.0)
    if hi - lo > 0.25:
        # The painted part has a background of its own (a photo of paper with transparent
        # corners): transparent pixels take that paper's shade.
        fill = float(np.median(painted))
    else:
        # Strokes alone on transparency, like a canvas snapshot: put them on a background
        # they stand out against (dark strokes on white, light ones on black).
        stroke = float((alpha * lum).sum() / alpha.sum())
        fill = 1.0 if stroke < 0.5 else 0.0
    # alpha * lum + (1 - alpha) * fill, in place
    lum -= fill
    lum *= alpha
    lum += fill
    return lum


def _tensor_to_array(tensor: torch.Tensor) -> np.ndarray:
    tensor = tensor.detach().cpu()
    if tensor.dtype == torch.bfloat16:  # numpy has no bfloat16
        tensor = tensor.float()
    try:
        return tensor.numpy()
    except (TypeError, RuntimeError) as exc:
        raise InvalidImageError(f"Cannot use a {tensor.dtype} tensor as an image ({exc}).") from exc


def _reduce(grey: np.ndarray) -> np.ndarray:
    """Shrink by averaging whole blocks of pixels so that no side exceeds WORK_SIDE."""
    factor = math.ceil(max(grey.shape) / WORK_SIDE)
    if factor == 1:
        return grey
    return np.asarray(Image.fromarray(grey, "F").reduce(factor))


def to_grey(image: ImageInput) -> np.ndarray:
    """Decode and check any accepted input; return (H, W) float32 grey in [0, 1], transparency composited.

    Accepted: a PIL image; a numpy array or torch tensor shaped (H, W), (H, W, 3) or (H, W, 4)
    (bool, 8- or 16-bit integers, or floats in [0, 1]); a file path; or the bytes of a PNG,
    JPEG, GIF, BMP or WebP file. Anything else raises InvalidImageError.
    """
    return _grey_of(_checked_array(image))


def _checked_array(image: ImageInput) -> np.ndarray:
    """Decode and check any input ``to_grey`` accepts; return it as an (H, W), (H, W, 3) or (H, W, 4) array."""
    if isinstance(image, (bytes, bytearray, memoryview)):
        image = _decode(io.BytesIO(bytes(image)), "The image in the bytes given")
    elif isinstance(image, (str, os.PathLike)):
        image = _read_path(Path(image))
    if isinstance(image, Image.Image):
        image = _pil_to_array(image)
    elif isinstance(image, torch.Tensor):
        image = _tensor_to_array(image)
    if not isinstance(image, np.ndarray):
        raise InvalidImageError(
            f"Cannot read a digit from a value of type {type(image).__name__}. Pass a PIL image, "
            "a numpy array (H, W), (H, W, 3) or (H, W, 4), a file path, or the bytes of an image file."
        )
    if image.dtype.kind not in "buif":
        raise InvalidImageError(f"An image array must hold numbers, not {image.dtype}.")
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] in (3, 4))):
        hint = " Drop the extra axes, e.g. x.squeeze()." if image.ndim > 2 and 1 in image.shape else ""
        raise InvalidImageError(
            f"An image array must be shaped (H, W), (H, W, 3) or (H, W, 4), not {image.shape}.{hint}"
        )
    _check_size(image.shape[1], image.shape[0], "The image")
    if image.dtype == np.uint8 and max(image.shape[:2]) > WORK_SIDE:
        image = _pil_to_array(Image.fromarray(image))  # Pillow averages it down: far less memory
    return image


def _grey_of(image: np.ndarray) -> np.ndarray:
    """Return the (H, W) float32 grey in [0, 1] of a checked array, transparency composited."""
    scale = _unit_scale(image)
    if image.ndim == 2:
        grey = np.multiply(image, scale, dtype=np.float32)
    else:
        grey = _luma(image, scale)
        if image.shape[2] == 4:
            grey = _composite(grey, np.multiply(image[..., 3], scale, dtype=np.float32))
    return _reduce(grey)
