"""Pixel conventions: the one place that knows what an MNIST digit looks like.

An MNIST digit is a (28, 28) image of bright ink (1.0) on black (0.0). The ink was scaled to fit
a 20x20 box, keeping its aspect ratio, with anti-aliased edges, then shifted by whole pixels so
that its centre of mass landed on pixel (14, 14), counting pixel ``i`` as centred at ``i``.

``to_mnist`` makes any picture of a digit look like that, in these steps::

    grey      decode, composite transparency, convert to grey                 (H, W) in [0, 1]
    ink       invert dark-on-light pictures so the ink is bright              (H, W)
    cleaned   subtract background, uneven light and noise; ink scaled to 1    (H, W)
    cropped   cut to the ink's bounding box, stray specks left out            (h, w)
    fitted    scale the long side to 20 px, aspect kept; hairlines thickened  (<= 20, <= 20)
    centred  place in 28x28 with the centre of mass at (14, 14)              (28, 28) float32 in [0, 1]

The steps follow in that order, then the reading of what a user hands over; normalisation lives here only.
"""

import io
import math
import os
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import ExifTags, Image, ImageFilter, ImageOps

# Mean and standard deviation of MNIST's training pixels in [0, 1]: the models normalise with them.
MNIST_MEAN = 0.1307
MNIST_STD = 0.3081

SIZE = 28  # the MNIST field is SIZE x SIZE
BOX = 20  # the ink fits a BOX x BOX square
CENTER = 14.0  # the centre of mass goes to pixel (CENTER, CENTER), as in MNIST itself

# Uneven light is estimated on a coarse grid of GRID x GRID blocks; pixels more than NOISE_SIGMAS
# standard deviations of the background's noise above the background are ink.
GRID = 8
NOISE_SIGMAS = 4.0
MIN_CONTRAST = 0.08  # ink must differ from the background by 8 % of full scale, or it is blank
INK_THRESHOLD = 0.1  # the crop is the bounding box of pixels >= 10 % of the ink level...
SPECK = 0.01  # ...leaving out, beyond empty rows or columns, specks with < 1 % of the ink

# Stroke width in pixels of the 20x20 box; MNIST's median is 2.4. A fine pen shrunk to 20 px
# becomes a faint hairline that models misread, so thinner strokes are thickened.
MIN_STROKE = 1.6
TARGET_STROKE = 2.2

# Limits on what is read. MAX_PIXELS is checked on a file's header, before decoding, so a small
# file that claims to be enormous (a decompression bomb) costs nothing.
MAX_PIXELS = 50_000_000
MIN_SIDE = 8  # smaller pictures cannot hold a recognisable digit and a background around it
WORK_SIDE = 1024  # bigger pictures are reduced to this first: the digit ends up 20 px anyway
FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP")  # Pillow names of the file formats read
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R 601, as PIL's "L" conversion

ImageInput = Image.Image | np.ndarray | torch.Tensor | str | os.PathLike | bytes | bytearray | memoryview


class InvalidImageError(ValueError):
    """The input is not a usable image: wrong type or shape, corrupt, empty, or absurdly large."""


class BlankImageError(ValueError):
    """The image holds no ink: nothing was drawn, or nothing is left after cleaning."""


def to_mnist(
    image: ImageInput, return_steps: bool = False
) -> np.ndarray | tuple[np.ndarray, dict[str, np.ndarray]]:
    """Turn any picture of one digit into a (28, 28) float32 MNIST digit in [0, 1], ink bright.

    ``return_steps=True`` also returns every step's image by name; raises InvalidImageError, BlankImageError.
    """
    steps = {"grey": to_grey(image)}
    steps["ink"] = ink_bright(steps["grey"])
    steps["cleaned"] = remove_background(steps["ink"])
    steps["cropped"] = crop_to_ink(steps["cleaned"])
    steps["fitted"], steps["centred"] = center_digit(steps["cropped"])
    return (steps["centred"], steps) if return_steps else steps["centred"]


# ----------------------------------------------------------------------------- ink: bright on dark
def border(image: np.ndarray) -> np.ndarray:
    """Return the outermost ring of pixels: mostly paper, since a digit seldom runs along the edges."""
    return np.concatenate([image[0], image[-1], image[1:-1, 0], image[1:-1, -1]])


def ink_bright(grey: np.ndarray) -> np.ndarray:
    """Return the image with bright ink: inverted if dark ink pulls its mean below the border's median."""
    return 1 - grey if grey.mean() < np.median(border(grey)) else grey


# ----------------------------------------------------------------------------- cleaned: background removed
def min3x3(grid: np.ndarray) -> np.ndarray:
    """Return each cell's minimum over itself and its 8 neighbours."""
    gh, gw = grid.shape
    p = np.pad(grid, 1, mode="edge")
    return np.min([p[i : i + gh, j : j + gw] for i in range(3) for j in range(3)], axis=0)


def background_map(ink: np.ndarray) -> np.ndarray | float:
    """Return the background's shade at every pixel (uneven light makes it vary slowly), or 0.0 if black.

    Each of about GRID x GRID blocks takes the lowest median of itself and its neighbours (ink covers
    under half of most blocks, but one may lie inside a thick stroke), smoothed bilinearly.
    """
    h, w = ink.shape
    b = math.ceil(max(h, w) / GRID)  # block side
    gh, gw = math.ceil(h / b), math.ceil(w / b)
    if (gh * b, gw * b) != (h, w):  # pad to whole blocks
        ink = np.pad(ink, ((0, gh * b - h), (0, gw * b - w)), mode="edge")
    blocks = ink.reshape(gh, b, gw, b)
    if not min3x3(blocks.min(axis=(1, 3))).any():
        return 0.0  # black pixels near every block: a black background, as on the pad and in MNIST
    medians = np.median(blocks.transpose(0, 2, 1, 3).reshape(gh, gw, b * b), axis=2)
    low = Image.fromarray(np.ascontiguousarray(min3x3(medians), dtype=np.float32), "F")
    return np.asarray(low.resize((gw * b, gh * b), Image.Resampling.BILINEAR))[:h, :w]


def remove_background(ink: np.ndarray) -> np.ndarray:
    """Subtract background, uneven light and noise, and scale so the ink level is 1: values in [0, 1]."""
    light = background_map(ink)
    if isinstance(light, np.ndarray):
        ink = ink - light  # the background is now about 0, its noise either side
    sample = subsample(ink)
    # Ink only ever raises a median, so the background is the lower of the picture's median and
    # its border's. Pixels below it are pure noise: their median distance from it is 0.6745 sigma.
    background = min(float(np.median(sample)), float(np.median(border(ink))))
    sigma = 1.4826 * float(np.median(background - sample[sample <= background]))
    floor = background + NOISE_SIGMAS * sigma
    above = sample[sample > floor]
    if above.size < 100:  # the sample may all but miss a small or thin drawing: use every pixel
        above = ink[ink > floor]
    level = ink_level(floor, above)
    cleaned = ink - np.float32(floor)
    cleaned *= np.float32(1 / (level - floor))
    return np.clip(cleaned, 0, 1, out=cleaned)


def ink_level(floor: float, above: np.ndarray) -> float:
    """Return the ink's level (of the pixels ``above`` the floor); BlankImageError if there is too little."""
    if above.size == 0:
        raise BlankImageError("The image is blank: there is no ink on it. Draw a digit first.")
    (level,) = percentiles(above, 99)  # robust to a few bright specks
    if level - floor < MIN_CONTRAST:
        raise BlankImageError(
            f"The image is (nearly) blank: nothing differs from the background by more than "
            f"{MIN_CONTRAST:.0%}. Draw a darker or thicker digit, or take the photo in better light."
        )
    return level


# ----------------------------------------------------------------------------- cropped: cut to the ink
def ink_span(counts: np.ndarray) -> tuple[int, int]:
    """Return the first and last index of the runs of nonzero ``counts`` that are not specks.

    A run (rows or columns with ink, between empty ones) under SPECK of all the ink is stray noise
    that must not widen the crop; a digit's detached parts (the bar of a 5) are far bigger.
    """
    inked = np.concatenate([[False], counts > 0, [False]])
    edges = np.flatnonzero(np.diff(inked.astype(np.int8)))  # alternating run starts and ends
    total = counts.sum()
    runs = [(a, b) for a, b in zip(edges[::2], edges[1::2]) if counts[a:b].sum() >= SPECK * total]
    return int(runs[0][0]), int(runs[-1][1]) - 1


def crop_to_ink(cleaned: np.ndarray) -> np.ndarray:
    """Cut the image to the bounding box of its ink (pixels >= INK_THRESHOLD), specks left out."""
    mask = cleaned >= INK_THRESHOLD
    if not mask.any():
        raise BlankImageError("No ink is left after removing the background. Draw a darker or bigger digit.")
    (top, bottom), (left, right) = ink_span(mask.sum(1)), ink_span(mask.sum(0))
    return cleaned[top : bottom + 1, left : right + 1]


# ----------------------------------------------------------------------------- fitted: into 20 x 20
def resize(image: np.ndarray, long_side: int) -> np.ndarray:
    """Scale so the long side is ``long_side`` pixels, keeping the aspect ratio."""
    h, w = image.shape
    scale = long_side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))  # PIL sizes are (width, height)
    # Pillow's bilinear filter widens with the scale when shrinking: anti-aliased, no overshoot.
    img = Image.fromarray(np.ascontiguousarray(image, dtype=np.float32), "F")
    return np.asarray(img.resize(size, Image.Resampling.BILINEAR))


def stroke_width(image: np.ndarray) -> float:
    """Estimate the mean stroke width in pixels: twice the ink's area over its outline's length."""
    padded = np.pad(image, 1)
    # Summed |dx| + |dy| measures an outline 4/pi times longer than it is, on average over angles.
    outline = (np.abs(np.diff(padded, axis=0)).sum() + np.abs(np.diff(padded, axis=1)).sum()) * np.pi / 4
    return float(2 * image.sum() / outline) if outline > 0 else 0.0


def fit_box(cropped: np.ndarray, box: int = BOX) -> np.ndarray:
    """Scale the ink's long side to ``box`` pixels, aspect ratio kept (a "1" stays thin), brightest ink 1.

    Hairlines (thinner than MIN_STROKE once fitted) are thickened to about TARGET_STROKE.
    """
    fitted = resize(cropped, box)
    if stroke_width(fitted) < MIN_STROKE:
        # Thicken by grey dilation at 4x the final size, where a pixel is a quarter of one. Fit to
        # 4 * box - 2r first, so that the dilated ink still fits the box.
        width = stroke_width(resize(cropped, 4 * box)) / 4
        r = max(1, round(2 * (TARGET_STROKE - width)))  # 4x pixels added on each side of a stroke
        big = np.pad(resize(cropped, 4 * box - 2 * r), r)
        big = Image.fromarray(big, "F").filter(ImageFilter.MaxFilter(2 * r + 1))
        fitted = resize(np.asarray(big), box)
    peak = fitted.max()
    return np.clip(fitted / peak if peak > 0 else fitted, 0, 1)


# ----------------------------------------------------------------------------- centred: in 28 x 28
def center_of_mass(image: np.ndarray) -> tuple[float, float]:
    """Return the (row, column) centre of mass of an image's brightness, pixel ``i`` centred at ``i``."""
    total = float(image.sum(dtype=np.float64))
    if total <= 0:
        raise BlankImageError("The image has no ink, so it has no centre of mass. Draw a digit first.")
    rows = image.sum(1, dtype=np.float64) @ np.arange(image.shape[0]) / total
    cols = image.sum(0, dtype=np.float64) @ np.arange(image.shape[1]) / total
    return float(rows), float(cols)


def place(fitted: np.ndarray, center: tuple[float, float]) -> np.ndarray | None:
    """Paste into SIZE x SIZE, ``center`` (centre of mass) on CENTER to the pixel; None if it won't fit."""
    cy, cx = center
    top, left = round(CENTER - cy), round(CENTER - cx)
    h, w = fitted.shape
    if top < 0 or left < 0 or top + h > SIZE or left + w > SIZE:
        return None
    out = np.zeros((SIZE, SIZE), dtype=np.float32)
    out[top : top + h, left : left + w] = fitted
    return out


def center_digit(cropped: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fit the cropped ink into 20x20 and centre it in 28x28 by whole pixels, as MNIST did.

    Returns (fitted, centred). Ink so lopsided that centring pushes it off the field is fitted smaller.
    """
    for box in range(BOX, 13, -1):
        fitted = fit_box(cropped, box)
        centred = place(fitted, center_of_mass(fitted))
        if centred is not None:
            return fitted, centred
    raise AssertionError("unreachable: a 14x14 box always fits a 28x28 field around its centre of mass")


# ----------------------------------------------------------------------------- pixel conventions
def to_uint8(image: np.ndarray) -> np.ndarray:
    """Return an image as uint8 in 0-255; uint8 stays as it is, floats are taken to be in [0, 1]."""
    image = np.asarray(image)
    return image if image.dtype == np.uint8 else (np.clip(image, 0.0, 1.0) * 255).round().astype(np.uint8)


def to_float(images: torch.Tensor | np.ndarray) -> torch.Tensor | np.ndarray:
    """Return uint8 pixels (0-255) as float32 in [0, 1], other input as float32; a tensor stays a tensor."""
    if isinstance(images, torch.Tensor):
        return images.float().div_(255.0) if images.dtype == torch.uint8 else images.float()
    images = np.asarray(images)
    if images.dtype == np.uint8:
        return images.astype(np.float32) / np.float32(255)
    return images.astype(np.float32, copy=False)


def to_batch(images: torch.Tensor | np.ndarray) -> torch.Tensor:
    """Return digits (28, 28), (N, 28, 28) or (N, 1, 28, 28) as a float (N, 1, 28, 28) tensor in [0, 1]."""
    x = to_float(images)
    # A read-only array (a Prediction's model_input) is copied: torch will not share memory it may not write.
    x = torch.as_tensor(x if isinstance(x, torch.Tensor) or x.flags.writeable else x.copy()).detach()
    if x.shape[-2:] != (SIZE, SIZE) or x.dim() not in (2, 3, 4) or (x.dim() == 4 and x.shape[1] != 1):
        raise ValueError(
            f"Expected 28x28 digits shaped (28, 28), (N, 28, 28) or (N, 1, 28, 28), got {tuple(x.shape)}. "
            "Pass what the model saw, e.g. mnistlib.predict(model, drawing).model_input."
        )
    if x.numel() and (x.min() < 0 or x.max() > 1):
        raise ValueError(f"Expected pixel values in [0, 1], got [{x.min():.3g}, {x.max():.3g}].")
    return x.reshape(-1, 1, SIZE, SIZE)


# ----------------------------------------------------------------------------- grey: reading the picture
def to_grey(image: ImageInput) -> np.ndarray:
    """Decode and check any accepted input; return (H, W) float32 grey in [0, 1], transparency composited.

    Accepted: a PIL image, an array or tensor (H, W), (H, W, 3) or (H, W, 4) of bools, 8- or 16-bit
    integers or floats in [0, 1], a file path, or the bytes of a PNG, JPEG, GIF, BMP or WebP file.
    """
    array = checked_array(image)
    scale = unit_scale(array)
    if array.ndim == 2:
        grey = np.multiply(array, scale, dtype=np.float32)
    else:
        grey = luma(array, scale)
        if array.shape[2] == 4:
            grey = composite(grey, np.multiply(array[..., 3], scale, dtype=np.float32))
    factor = math.ceil(max(grey.shape) / WORK_SIDE)
    return grey if factor == 1 else np.asarray(Image.fromarray(grey, "F").reduce(factor))


def checked_array(image: ImageInput) -> np.ndarray:
    """Decode and check any input ``to_grey`` accepts; return an (H, W), (H, W, 3) or (H, W, 4) array."""
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
    check_size(image.shape[1], image.shape[0], "The image")
    if image.dtype == np.uint8 and max(image.shape[:2]) > WORK_SIDE:
        image = _pil_to_array(Image.fromarray(image))  # Pillow averages it down: far less memory
    return image


def check_size(width: int, height: int, what: str) -> None:
    """Raise InvalidImageError for a picture too small to hold a digit, or too big to decode."""
    if width == 0 or height == 0:
        raise InvalidImageError(f"{what} is empty ({width}x{height} pixels). Pass a picture of a digit.")
    if width * height > MAX_PIXELS:
        raise InvalidImageError(
            f"{what} is {width}x{height} pixels, more than the {MAX_PIXELS:,} mnistlib decodes (a guard "
            "against decompression bombs). Scale it down first, e.g. with PIL.Image.thumbnail((1024, 1024))."
        )
    if width < MIN_SIDE or height < MIN_SIDE:
        raise InvalidImageError(
            f"{what} is only {width}x{height} pixels; a digit needs at least {MIN_SIDE}x{MIN_SIDE}."
        )


def unreadable(what: str, exc: Exception) -> InvalidImageError:
    """Return the error for a file or PIL image that Pillow could not decode."""
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return InvalidImageError(
        f"{what} is not a readable PNG, JPEG, GIF, BMP or WebP file ({reason}). "
        "Check that the file is complete and really is a picture, or save it again."
    )


def _decode(fp: io.BufferedIOBase, what: str) -> Image.Image:
    """Decode an encoded image after checking its header size; any failure is an InvalidImageError."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(fp, formats=FORMATS)  # reads the header only
            check_size(img.width, img.height, what)
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
    except Exception as exc:  # struct.error, zlib.error, ValueError...: each means "not a readable image"
        raise unreadable(what, exc) from exc
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
    """Return a PIL image as an (H, W), (H, W, 3) or (H, W, 4) array, upright and reduced if very large."""
    check_size(img.width, img.height, "The image")
    try:
        img.load()  # an image from Image.open() is decoded only now
    except Exception as exc:
        raise unreadable("The PIL image", exc) from exc
    if img.getexif().get(ExifTags.Base.Orientation, 1) != 1:
        img = ImageOps.exif_transpose(img)  # phone photos are often stored sideways with an EXIF note
    if img.mode.startswith("I;16"):
        return np.asarray(img).astype(np.uint16)  # 16-bit grey: the dtype keeps the 65535 scale
    if img.mode in ("I", "F"):
        return np.asarray(img)
    has_alpha = img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info
    mode = "RGBA" if has_alpha else "L" if img.mode in ("1", "L") else "RGB"
    if img.mode != mode:
        img = img.convert(mode)
    factor = math.ceil(max(img.size) / WORK_SIDE)
    if factor > 1:  # averaging blocks now saves memory later
        img = img.reduce(factor)
    return np.asarray(img)


def _tensor_to_array(tensor: torch.Tensor) -> np.ndarray:
    tensor = tensor.detach().cpu()
    if tensor.dtype == torch.bfloat16:  # numpy has no bfloat16
        tensor = tensor.float()
    try:
        return tensor.numpy()
    except (TypeError, RuntimeError) as exc:
        raise InvalidImageError(f"Cannot use a {tensor.dtype} tensor as an image ({exc}).") from exc


def unit_scale(arr: np.ndarray) -> np.float32:
    """Check a numeric array's values; return the factor that maps them to [0, 1] (by dtype and range)."""
    if arr.dtype.kind == "b":
        return np.float32(1)
    if arr.dtype.kind == "f":
        if not np.isfinite(arr).all():
            raise InvalidImageError("The image holds NaN or infinite values: replace them (np.nan_to_num).")
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
    scale = 1 if hi <= 1 else 65535 if arr.dtype == np.uint16 or hi > 255 else 255  # a 0/1 mask, 16 or 8 bit
    if hi > scale:
        raise InvalidImageError(
            f"The pixel values go up to {hi}; integers must be 8-bit (0-255) or 16-bit (0-65535)."
        )
    return np.float32(1 / scale)


def luma(rgb: np.ndarray, scale: np.float32) -> np.ndarray:
    """Return the grey (H, W) float32 of an (H, W, 3+) array, times ``scale``."""
    weights = LUMA * scale
    grey = np.multiply(rgb[..., 0], weights[0], dtype=np.float32)
    grey += np.multiply(rgb[..., 1], weights[1], dtype=np.float32)
    grey += np.multiply(rgb[..., 2], weights[2], dtype=np.float32)
    return grey


def composite(lum: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Flatten grey ``lum`` with transparency ``alpha`` (both (H, W) in [0, 1]) onto a background shade."""
    if alpha.min() >= 1:
        return lum
    if alpha.max() <= 0:
        raise BlankImageError("The image is fully transparent: nothing is drawn on it. Draw a digit first.")
    painted = subsample(lum)[subsample(alpha) >= min(0.5, float(alpha.max()))]
    lo, hi = percentiles(painted, 1, 99) if painted.size else (0.0, 0.0)
    if hi - lo > 0.25:  # the painted part has a paper of its own (a photo with transparent corners)
        fill = float(np.median(painted))
    else:  # strokes alone on transparency (a canvas snapshot): dark ones go on white, light ones on black
        stroke = float((alpha * lum).sum() / alpha.sum())
        fill = 1.0 if stroke < 0.5 else 0.0
    lum -= fill  # alpha * lum + (1 - alpha) * fill, in place
    lum *= alpha
    lum += fill
    return lum


def subsample_step(size: int) -> int:
    """Return the step of ``subsample`` for a picture of ``size`` pixels."""
    return max(1, int(math.sqrt(size / 16_000)))


def subsample(image: np.ndarray) -> np.ndarray:
    """Return every k-th pixel in both directions, at least 16,000 of them: statistics stay fast."""
    step = subsample_step(image.size)
    return image[::step, ::step]


def percentiles(values: np.ndarray, *qs: float) -> list[float]:
    """Return the ``qs`` percentiles of ``values`` (nearest rank; faster than np.percentile)."""
    flat = values.ravel()
    ranks = [round(q / 100 * (flat.size - 1)) for q in qs]
    part = np.partition(flat, ranks)
    return [float(part[r]) for r in ranks]
