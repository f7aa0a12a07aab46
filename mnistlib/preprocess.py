"""Pixel conventions: the one place that knows what an MNIST digit looks like.

An MNIST digit is a (28, 28) image of bright ink (1.0) on black (0.0). The ink was scaled to fit
a 20x20 box, keeping its aspect ratio, with anti-aliased edges, then shifted by whole pixels so
that its centre of mass landed on pixel (14, 14), counting pixel ``i`` as centred at ``i``.
Measured on the 10,000 test digits: the long side of every ink bounding box is at most 20 px,
and the centres of mass average (13.99, 14.01), each within half a pixel of (14, 14).

``to_mnist`` makes any picture of a digit look like that, in these steps::

    grey      decode, composite transparency, convert to grey       (H, W) in [0, 1]
              (mnistlib.image_input)
    ink       invert dark-on-light pictures so the ink is bright    (H, W)
    cleaned   subtract background, uneven light and noise;          (H, W)
              the ink's level becomes 1
    cropped   cut to the ink's bounding box, stray specks left out  (h, w)
    fitted    scale the long side to 20 px, aspect ratio kept;      (<= 20, <= 20)
              hairlines thickened to MNIST's pen width
    centered  place in 28x28 with the centre of mass at (14, 14)    (28, 28) float32 in [0, 1]

The same conventions hold for training data (MNIST itself) and for the drawing pad, and the
normalisation constants live here only.
"""

from __future__ import annotations

import bisect
import contextlib
import functools
import math
import sys
from collections.abc import Iterator

import numpy as np
import torch
from PIL import ExifTags, Image, ImageFilter

# Reading and checking the input is mnistlib.image_input's job. Its errors, ImageInput, to_grey and
# limits are part of this module's API too: users import them from here.
from mnistlib.image_input import (  # noqa: F401
    FORMATS,
    MIN_SIDE,
    WORK_SIDE,
    BlankImageError,
    ImageInput,
    InvalidImageError,
    _checked_array,
    _grey_of,
    _luma,
    _percentiles,
    _sample,
    _sample_step,
    _unit_scale,
    _unreadable,
    to_grey,
)

# Mean and standard deviation of the MNIST training pixels, scaled to [0, 1]. The models
# normalise with these themselves: everything else hands them images in [0, 1].
MNIST_MEAN = 0.1307
MNIST_STD = 0.3081

SIZE = 28  # the MNIST field is SIZE x SIZE
BOX = 20  # the ink fits a BOX x BOX square
CENTER = 14.0  # the centre of mass goes to pixel (CENTER, CENTER), as in MNIST itself

# Cleaning. Uneven light is estimated on a coarse grid of GRID x GRID blocks (slow changes,
# not strokes) and subtracted; then pixels more than NOISE_SIGMAS standard deviations of the
# background's noise above the background are ink.
GRID = 8
NOISE_SIGMAS = 4.0
MIN_CONTRAST = 0.08  # ink must differ from the background by 8 % of full scale, or it is blank
INK_THRESHOLD = 0.1  # the crop is the bounding box of pixels >= 10 % of the ink level...
SPECK = 0.01  # ...leaving out, beyond empty rows or columns, specks with < 1 % of the ink

# Stroke width, in pixels of the 20x20 box. MNIST's: median 2.4, 5th percentile 1.65. A digit
# written with a fine pen and shrunk to 20 px becomes a faint hairline the models misread, so
# strokes thinner than MIN_STROKE are thickened to about TARGET_STROKE.
MIN_STROKE = 1.6
TARGET_STROKE = 2.2


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Return an image as uint8 in 0-255; uint8 stays as it is, floats are taken to be in [0, 1]."""
    image = np.asarray(image)
    return image if image.dtype == np.uint8 else (np.clip(image, 0.0, 1.0) * 255).round().astype(np.uint8)


def to_unit_float(images: torch.Tensor | np.ndarray) -> torch.Tensor | np.ndarray:
    """Return uint8 pixels (0-255) as float32 in [0, 1], a tensor as a tensor and an array as an array.

    Float input is taken to be in [0, 1] already and only made float32.
    """
    if isinstance(images, torch.Tensor):
        return images.float().div_(255.0) if images.dtype == torch.uint8 else images.float()
    images = np.asarray(images)
    if images.dtype == np.uint8:
        return images.astype(np.float32) / np.float32(255)
    return images.astype(np.float32, copy=False)


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Run torch single-threaded inside the block, then restore the thread count."""
    # One image is far too little work to share. On a busy 2-core machine, waiting for a second
    # thread made a reading 4-50x slower (median 7-10 ms instead of 1.7 ms, measured), and a small
    # resize product 3x slower even on a quiet one.
    threads = torch.get_num_threads()
    if threads == 1:  # setting it, even to the same count, costs more than a check
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


# ----------------------------------------------------------------------------- the steps


def _border(image: np.ndarray) -> np.ndarray:
    """Return the outermost ring of pixels: mostly paper, since a digit seldom runs along the edges."""
    return np.concatenate([image[0], image[-1], image[1:-1, 0], image[1:-1, -1]])


def ink_bright(grey: np.ndarray) -> np.ndarray:
    """Return the image with bright ink: invert it if the ink is darker than the paper.

    The paper's shade is the median of the picture's border. The ink pulls the picture's mean
    towards its own side of that: a mean below it means dark ink.
    """
    return 1 - grey if grey.mean() < np.median(_border(grey)) else grey


def _min3x3(grid: np.ndarray) -> np.ndarray:
    """Return each cell's minimum over itself and its 8 neighbours."""
    gh, gw = grid.shape
    p = np.pad(grid, 1, mode="edge")
    return np.min([p[i : i + gh, j : j + gw] for i in range(3) for j in range(3)], axis=0)


def background_map(ink: np.ndarray) -> np.ndarray | float:
    """Return the background's shade at every pixel: uneven light makes it vary slowly.

    The picture is cut into about GRID x GRID blocks. A block's background is its median (ink
    covers less than half of most blocks), or a neighbour's if lower (the block may lie inside
    a thick stroke); bilinear interpolation smooths between blocks. A black background, as in
    every canvas snapshot and MNIST digit, is returned as plain 0.
    """
    h, w = ink.shape
    b = math.ceil(max(h, w) / GRID)  # block side
    gh, gw = math.ceil(h / b), math.ceil(w / b)
    if (gh * b, gw * b) != (h, w):  # pad to whole blocks (a copy, so only when needed)
        ink = np.pad(ink, ((0, gh * b - h), (0, gw * b - w)), mode="edge")
    blocks = ink.reshape(gh, b, gw, b)
    if not _min3x3(blocks.min(axis=(1, 3))).any():
        return 0.0  # black pixels near every block: a black background (and a fast path)
    medians = np.median(blocks.transpose(0, 2, 1, 3).reshape(gh, gw, b * b), axis=2)
    low = Image.fromarray(np.ascontiguousarray(_min3x3(medians), dtype=np.float32), "F")
    return np.asarray(low.resize((gw * b, gh * b), Image.Resampling.BILINEAR))[:h, :w]


def remove_background(ink: np.ndarray) -> np.ndarray:
    """Subtract background, light gradients and noise; rescale so the ink level is 1; values in [0, 1].

    Raises BlankImageError when nothing stands out from the background by MIN_CONTRAST.
    """
    light = background_map(ink)
    if isinstance(light, np.ndarray):
        ink = ink - light  # the background is now about 0, its noise either side
    sample = _sample(ink)
    # Ink only ever raises a median, so the background is the lower of the picture's median
    # (right unless ink covers half the picture) and its border's (right unless ink covers
    # half the border). Pixels below it are pure noise: their median distance from it is
    # 0.6745 sigma, a spread that no amount of ink inflates.
    background = min(float(np.median(sample)), float(np.median(_border(ink))))
    sigma = 1.4826 * float(np.median(background - sample[sample <= background]))
    floor = background + NOISE_SIGMAS * sigma
    above = sample[sample > floor]
    if above.size < 100:  # the sample may all but miss a small or thin drawing: use every pixel
        above = ink[ink > floor]
    return _rescale(ink, floor, above)


def _rescale(ink: np.ndarray, floor: float, above: np.ndarray) -> np.ndarray:
    """Map ``floor`` to 0 and the level of the ink (the pixels ``above`` it) to 1, clipped to [0, 1]."""
    level = _ink_level(floor, above)
    cleaned = ink - np.float32(floor)
    cleaned *= np.float32(1 / (level - floor))
    return np.clip(cleaned, 0, 1, out=cleaned)


def _ink_level(floor: float, above: np.ndarray) -> float:
    """Return the level of the ink (the pixels ``above`` the floor); BlankImageError if there is too little."""
    if above.size == 0:
        raise BlankImageError("The image is blank: there is no ink on it. Draw a digit first.")
    (level,) = _percentiles(above, 99)  # the ink's level, robust to a few bright specks
    if level - floor < MIN_CONTRAST:
        raise BlankImageError(
            f"The image is (nearly) blank: nothing differs from the background by more than "
            f"{MIN_CONTRAST:.0%}. Draw a darker or thicker digit, or take the photo in better light."
        )
    return level


def _span(counts: np.ndarray) -> tuple[int, int]:
    """Return the first and last index of the runs of nonzero ``counts`` that are not specks.

    A run is a stretch of rows (or columns) holding ink, between empty ones. Runs with less than
    SPECK of all the ink are dropped: a stray noise pixel far from the digit must not widen the
    crop, while a digit's detached parts (the bar of a 5) are far bigger than that.
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
    (top, bottom), (left, right) = _span(mask.sum(1)), _span(mask.sum(0))
    return cleaned[top : bottom + 1, left : right + 1]


def _resize(image: np.ndarray, long_side: int) -> np.ndarray:
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
    """Scale the ink so its long side is ``box`` pixels, keeping the aspect ratio (a "1" stays thin).

    Hairlines (strokes thinner than MIN_STROKE once fitted) are thickened to about TARGET_STROKE.
    The brightest ink is 1, as in MNIST, however much shrinking has dimmed thin strokes.
    """
    fitted = _resize(cropped, box)
    if stroke_width(fitted) < MIN_STROKE:
        # Thicken by grey dilation at 4x the final size, where a few pixels are a fraction of one
        # and the width can be measured without the blur of the final scale. Fit to 4 * box - 2r
        # first, so that the dilated ink still fits the box.
        width = stroke_width(_resize(cropped, 4 * box)) / 4
        r = max(1, round(2 * (TARGET_STROKE - width)))  # 4x pixels added on each side of a stroke
        big = np.pad(_resize(cropped, 4 * box - 2 * r), r)
        big = Image.fromarray(big, "F").filter(ImageFilter.MaxFilter(2 * r + 1))
        fitted = _resize(np.asarray(big), box)
    peak = fitted.max()
    return np.clip(fitted / peak if peak > 0 else fitted, 0, 1)


def center_of_mass(image: np.ndarray) -> tuple[float, float]:
    """Return the (row, column) centre of mass of an image's brightness, pixel ``i`` centred at ``i``."""
    total = float(image.sum(dtype=np.float64))
    if total <= 0:
        raise BlankImageError("The image has no ink, so it has no centre of mass. Draw a digit first.")
    rows = image.sum(1, dtype=np.float64) @ np.arange(image.shape[0]) / total
    cols = image.sum(0, dtype=np.float64) @ np.arange(image.shape[1]) / total
    return float(rows), float(cols)


def _place(fitted: np.ndarray, center: tuple[float, float] | None = None) -> np.ndarray | None:
    """Paste into SIZE x SIZE with the centre of mass on CENTER (whole-pixel shift); None if it won't fit.

    ``center``: the centre of mass of ``fitted``, if the caller has computed it already.
    """
    cy, cx = center_of_mass(fitted) if center is None else center
    top, left = round(CENTER - cy), round(CENTER - cx)
    h, w = fitted.shape
    if top < 0 or left < 0 or top + h > SIZE or left + w > SIZE:
        return None
    out = np.zeros((SIZE, SIZE), dtype=np.float32)
    out[top : top + h, left : left + w] = fitted
    return out


def center_digit(cropped: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fit the cropped ink into 20x20 and centre it in 28x28; return (fitted, centered).

    Whole-pixel shifts, as MNIST used, keep the anti-aliased ink inside its 20x20 box and put
    the centre of mass within half a pixel of (14, 14). Ink so lopsided that centring it would
    push it off the field (never the case in MNIST) is fitted a little smaller instead: at
    14 px every shape fits.
    """
    for box in range(BOX, 13, -1):
        fitted = fit_box(cropped, box)
        centered = _place(fitted)
        if centered is not None:
            return fitted, centered
    raise AssertionError("unreachable: a 14x14 box always fits a 28x28 field around its centre of mass")


# ----------------------------------------------------------------------------- the fast route
# A canvas snapshot, the pad's raster or an MNIST digit is a drawing on one flat background (the
# same value, or transparency, everywhere outside the drawing's bounding box). Then every
# whole-picture statistic of the steps above is known from the box alone: the background holds
# most of the picture, so it is the median of the sample and of the border, the noise is 0, and
# only the box's pixels are above it. ``_flat_background_digit`` computes the steps on the box
# with the same float32 operations, so its answer is identical, in a fraction of the time. Any
# decision it cannot make as surely as the ordinary route makes it returns None: that route then
# runs (and raises the errors).


def _drawing_box(image: np.ndarray, key: np.ndarray, outside: object) -> tuple[slice, slice, int] | None:
    """Return the bounding box of the pixels of ``key`` that differ from ``outside``, and key's largest value there.

    None if no pixel differs. The largest value is -1 where it is not known cheaply.
    """
    if image.ndim == 3 and image.dtype == np.uint8 and image.flags.c_contiguous and sys.byteorder == "little":
        # Each pixel as one uint32 with alpha as its top byte: a row's maximum has that row's largest alpha.
        pixels = image.view(np.uint32)[..., 0]
        top = pixels.max(axis=1)
        rows = np.flatnonzero(top >= 1 << 24)
        if rows.size == 0:
            return None
        cols = np.flatnonzero(pixels[rows[0] : rows[-1] + 1].max(axis=0) >= 1 << 24)
        largest = int(top.max()) >> 24
    else:
        mask = key != outside
        rows = np.flatnonzero(mask.any(1))
        if rows.size == 0:
            return None
        cols = np.flatnonzero(mask[rows[0] : rows[-1] + 1].any(0))
        largest = -1
    return slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1), largest


def _border_count(rows: slice, cols: slice, h: int, w: int) -> int:
    """Return how many of the picture's border pixels (``_border``) lie inside the box."""
    inner = max(0, min(rows.stop, h - 1) - max(rows.start, 1))  # rows strictly between first and last
    width = cols.stop - cols.start
    return width * ((rows.start == 0) + (rows.stop == h)) + inner * ((cols.start == 0) + (cols.stop == w))


@functools.lru_cache(maxsize=32)
def _lattice(h: int, w: int) -> tuple[np.ndarray, np.ndarray, int, int, int]:
    """Return rows and columns of up to 4 x 4 points in each of background_map's blocks, and the grid's shape."""
    b = math.ceil(max(h, w) / GRID)
    gh, gw = math.ceil(h / b), math.ceil(w / b)
    offsets = np.unique(np.linspace(0, b - 1, min(b, 4)).round().astype(np.intp))
    rows = np.minimum(np.arange(gh)[:, None] * b + offsets, h - 1).ravel()  # a cut-off block's own pixels
    cols = np.minimum(np.arange(gw)[:, None] * b + offsets, w - 1).ravel()
    return rows, cols, gh, gw, offsets.size


def _surely_black(key: np.ndarray, outside: object, rows: slice, cols: slice, h: int, w: int) -> bool:
    """Return True if background_map would find a black background: no 3x3 group of blocks drawn on throughout.

    ``key`` is the drawing's box (``rows``, ``cols``) of an h x w picture that is ``outside``
    everywhere else. The ink is >= 0 and 0 wherever the key is ``outside``, so a block with ink in
    every pixel has ink at every point of a lattice: testing the lattice's points is enough to rule it out.
    """
    lattice_rows, lattice_cols, gh, gw, n = _lattice(h, w)
    # The lattice is sorted: the points inside the box are one run along each axis.
    r0, r1 = bisect.bisect_left(lattice_rows, rows.start), bisect.bisect_left(lattice_rows, rows.stop)
    c0, c1 = bisect.bisect_left(lattice_cols, cols.start), bisect.bisect_left(lattice_cols, cols.stop)
    drawn = np.zeros((len(lattice_rows), len(lattice_cols)), bool)  # points outside the box: not drawn
    inside = key[(lattice_rows[r0:r1] - rows.start)[:, None], lattice_cols[c0:c1] - cols.start]
    drawn[r0:r1, c0:c1] = inside != outside
    drawn = drawn.reshape(gh, n, gw, n).all(axis=(1, 3))
    if not drawn.any():
        return True
    # _min3x3(drawn).any(), for booleans: each cell and its neighbours, the edges repeated
    down = drawn.copy()
    down[1:] &= drawn[:-1]
    down[:-1] &= drawn[1:]
    both = down.copy()
    both[:, 1:] &= down[:, :-1]
    both[:, :-1] &= down[:, 1:]
    return not both.any()


def _flat_rgba(
    box: np.ndarray, rows: slice, cols: slice, h: int, w: int, scale: np.float32
) -> tuple[np.ndarray, float] | None:
    """Return an RGBA box's grey composited as ``_composite`` does (alpha 0 outside), and the shade outside."""
    grey = _luma(box, scale)
    alpha = np.multiply(box[..., 3], scale, dtype=np.float32)
    step = _sample_step(h * w)
    first = (-rows.start % step, -cols.start % step)  # the box's part of _sample(whole picture)
    painted = grey[first[0] :: step, first[1] :: step][
        alpha[first[0] :: step, first[1] :: step] >= min(0.5, float(alpha.max()))
    ]
    lo, hi = _percentiles(painted, 1, 99) if painted.size else (0.0, 0.0)
    if hi - lo > 0.25:
        return None  # a painted background of its own: the outside is not black ink-free paper
    stroke = float((alpha * grey).sum()) / float(alpha.sum())
    if abs(stroke - 0.5) < 1e-4:
        return None  # _composite's float32 sums might round the other way
    shade = 1.0 if stroke < 0.5 else 0.0
    grey -= shade
    grey *= alpha
    grey += shade
    if shade and grey.max() > 1:
        return None  # painted uint8 white has a grey of 1 + 1e-7: its ink would be just below 0
    return grey, shade


def _flat_ink(grey: np.ndarray, shade: float, rows: slice, cols: slice, h: int, w: int) -> np.ndarray | None:
    """Return the box's bright ink as ``ink_bright`` makes it of the whole picture; None unless the outside is black."""
    n_border = 2 * w + 2 * (h - 2)
    if n_border - _border_count(rows, cols, h, w) <= n_border // 2:
        return None  # the border's median is not the background's shade
    mean = (grey.sum(dtype=np.float64) + shade * (h * w - grey.size)) / (h * w)
    if abs(mean - shade) < 1e-5:
        return None  # too close to call with grey.mean()'s float32 rounding
    ink, shade = (1 - grey, 1 - shade) if mean < shade else (grey, shade)
    return ink if shade == 0 else None  # else background_map would model the background


def _flat_above(ink: np.ndarray, rows: slice, cols: slice, h: int, w: int) -> np.ndarray | None:
    """Return the ink above the floor as ``remove_background`` finds it; None unless that floor is 0."""
    step = _sample_step(h * w)
    sample = ink[-rows.start % step :: step, -cols.start % step :: step]
    above = sample[sample > 0]
    n_sample = len(range(0, h, step)) * len(range(0, w, step))
    # The ink is >= 0, so what is not above 0 is 0: if that is most of the sample, it is the
    # background and the median distance below it (the noise) is 0 too.
    if n_sample - above.size <= n_sample // 2:
        return None
    return above if above.size >= 100 else ink[ink > 0]


def _fast_crop(cleaned: np.ndarray) -> np.ndarray:
    """Return ``crop_to_ink(cleaned)``, skipping the speck search when the ink is one block of rows and columns."""
    mask = cleaned >= INK_THRESHOLD
    spans = []
    for axis in (1, 0):
        inked = np.flatnonzero(mask.any(axis))
        if inked.size == 0:
            return crop_to_ink(cleaned)  # raises its BlankImageError
        a, b = int(inked[0]), int(inked[-1])
        spans.append((a, b) if b - a + 1 == inked.size else _span(mask.sum(axis)))  # no gaps: no specks
    (top, bottom), (left, right) = spans
    return cleaned[top : bottom + 1, left : right + 1]


@functools.lru_cache(maxsize=256)
def _bilinear_weights(size_in: int, size_out: int) -> torch.Tensor:
    """Return the (size_out, size_in) float32 weights of Pillow's BILINEAR resampling along one axis.

    The same weights Pillow computes (Resample.c, precompute_coeffs): a triangle filter that widens
    with the scale when shrinking, normalised to sum to 1 for each output pixel.
    """
    scale = size_in / size_out
    filterscale = max(scale, 1.0)
    support = filterscale  # the bilinear filter's support is 1 input pixel, times the shrink factor
    weights = np.zeros((size_out, size_in))
    for i in range(size_out):
        center = (i + 0.5) * scale
        lo = max(int(center - support + 0.5), 0)
        hi = min(int(center + support + 0.5), size_in)
        k = np.maximum(1 - np.abs((np.arange(lo, hi) - center + 0.5) * (1 / filterscale)), 0)
        total = k.sum()
        weights[i, lo:hi] = k / total if total != 0 else k
    return torch.from_numpy(weights.astype(np.float32))


def _fast_resize(image: np.ndarray, long_side: int) -> np.ndarray:
    """Return ``_resize(image, long_side)`` (a writable copy) as two small matrix products.

    Pillow's resize of a float image is slow for what it does (mostly filter set-up and two
    passes of 19 taps for a 9x shrink); the same weights as matrices, cached per size, are
    several times faster. The result equals Pillow's up to float32 rounding (about 1e-7).
    """
    h, w = image.shape
    scale = long_side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    if size == (w, h):
        return np.array(image, dtype=np.float32)  # Pillow only copies an image resized to its own size
    data = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32))
    with one_thread():
        across = torch.mm(data, _bilinear_weights(w, size[0]).t())  # Pillow's order: rows first
        return torch.mm(_bilinear_weights(h, size[1]), across).numpy()


def _fast_stroke_width(image: np.ndarray) -> float:
    """Return ``stroke_width(image)``, the same sums on the same zero-padded array, without np.pad's overhead."""
    padded = np.zeros((image.shape[0] + 2, image.shape[1] + 2), image.dtype)
    padded[1:-1, 1:-1] = image
    down = padded[1:] - padded[:-1]  # np.diff's values, without its per-call overhead
    across = padded[:, 1:] - padded[:, :-1]
    outline = (np.abs(down, out=down).sum() + np.abs(across, out=across).sum()) * np.pi / 4
    return float(2 * image.sum() / outline) if outline > 0 else 0.0


def _near(value: float, edge: float) -> bool:
    """Return True if ``value`` is so close to ``edge`` that float32 rounding might put it on either side."""
    return abs(value - edge) < 1e-4


def _fast_center(cropped: np.ndarray) -> np.ndarray:
    """Return ``center_digit(cropped)[1]``, taking the common case (no thickening, a 20 px box fits) directly."""
    fitted = _fast_resize(cropped, BOX)
    peak = fitted.max()
    # _fast_resize rounds a little differently from Pillow: where a decision (thicken or not, which
    # whole-pixel shift) is too close to call, the ordinary route decides, with Pillow's own pixels.
    if peak <= 0:
        return center_digit(cropped)[1]
    width = _fast_stroke_width(fitted)
    if width < MIN_STROKE or _near(width, MIN_STROKE):
        return center_digit(cropped)[1]
    # Bilinear weights are >= 0, so fitted / peak lies in [0, 1] already: fit_box's clip changes nothing.
    fitted /= peak
    cy, cx = center_of_mass(fitted)
    if _near((CENTER - cy) % 1, 0.5) or _near((CENTER - cx) % 1, 0.5):
        return center_digit(cropped)[1]
    centered = _place(fitted, (cy, cx))
    return centered if centered is not None else center_digit(cropped)[1]


def _flat_background_digit(image: np.ndarray) -> np.ndarray | None:
    """Return ``to_mnist`` of a checked grey or RGBA array drawn on one flat background; None otherwise.

    None means "not that simple" (uneven light, ink covering half the picture, a colour photo, a
    decision too close to call): the caller takes the ordinary route, which also raises the errors.
    """
    h, w = image.shape[:2]
    if (image.ndim == 3 and image.shape[2] != 4) or max(h, w) > WORK_SIDE:
        return None
    key, outside = (image, image[0, 0]) if image.ndim == 2 else (image[..., 3], 0)
    box = _drawing_box(image, key, outside)
    if box is None or (box[0].stop - box[0].start) * (box[1].stop - box[1].start) == h * w:
        return None
    rows, cols, largest = box
    # _unit_scale checks every pixel; a uint8 box with a value above 1 already decides its scale.
    if image.dtype == np.uint8 and largest < 0:
        largest = int(key[rows, cols].max())
    big = image.dtype == np.uint8 and largest > 1
    scale = np.float32(1 / 255) if big else _unit_scale(image)
    if image.ndim == 2:  # to_grey
        flat = (
            np.multiply(image[rows, cols], scale, dtype=np.float32),
            float(np.multiply(outside, scale, dtype=np.float32)),
        )
    else:  # to_grey and _composite, with alpha 0 outside the box
        flat = _flat_rgba(image[rows, cols], rows, cols, h, w, scale)
    return _flat_box_digit(flat, key[rows, cols], outside, rows, cols, h, w)


def _flat_background_pil(img: Image.Image) -> np.ndarray | None:
    """Return ``to_mnist`` of an RGBA PIL image drawn on transparency, reading only the drawing's box; else None.

    A canvas snapshot is mostly transparent: Pillow finds the box of the drawn pixels in C
    (getbbox) and copies out only that box, instead of the whole picture going through numpy.
    None for anything else (other modes, EXIF rotations, sizes ``_checked_array`` would refuse or
    reduce, faint alpha): the caller takes the array route, which also raises the errors.
    """
    w, h = img.size
    if img.mode != "RGBA" or min(w, h) < MIN_SIDE or max(w, h) > WORK_SIDE:
        return None
    try:
        img.load()  # an image from Image.open() is decoded only now
    except Exception as exc:
        raise _unreadable("The PIL image", exc) from exc  # as _pil_to_array says it
    if img.getexif().get(ExifTags.Base.Orientation, 1) != 1:
        return None
    bbox = img.getbbox()  # of the pixels whose alpha is not 0: an RGBA image's box ignores colour
    if bbox is None or bbox == (0, 0, w, h):
        return None
    left, top, right, bottom = bbox
    box = np.asarray(img.crop(bbox))
    if int(box[..., 3].max()) <= 1:
        return None  # then the scale depends on every pixel's colour (_unit_scale): the array route
    rows, cols = slice(top, bottom), slice(left, right)
    flat = _flat_rgba(box, rows, cols, h, w, np.float32(1 / 255))
    return _flat_box_digit(flat, box[..., 3], 0, rows, cols, h, w)


def _flat_box_digit(
    flat: tuple[np.ndarray, float] | None,
    key: np.ndarray,
    outside: object,
    rows: slice,
    cols: slice,
    h: int,
    w: int,
) -> np.ndarray | None:
    """Return the digit from the drawing's box, its grey ``flat`` composited (with the shade outside); None if not sure."""
    ink = None if flat is None else _flat_ink(*flat, rows, cols, h, w)
    if ink is None or not _surely_black(key, outside, rows, cols, h, w):
        return None
    above = _flat_above(ink, rows, cols, h, w)
    if above is None:
        return None
    level = _ink_level(0.0, above)
    cleaned = ink * np.float32(1 / level)  # _rescale from 0: the ink is >= 0 already
    np.minimum(cleaned, np.float32(1), out=cleaned)  # in place: no second array of the box's size
    # Rows and columns outside the box are empty: the crop and everything after it are the same.
    return _fast_center(_fast_crop(cleaned))


def to_mnist(
    image: ImageInput, return_steps: bool = False
) -> np.ndarray | tuple[np.ndarray, dict[str, np.ndarray]]:
    """Turn any picture of one digit into a (28, 28) float32 MNIST digit in [0, 1], ink bright.

    With ``return_steps=True`` also return the intermediate images, in order, as a dict
    (grey, ink, cleaned, cropped, fitted, centered) for showing each step. Raises
    InvalidImageError for input that is not a usable image and BlankImageError when it holds
    no ink; both are ValueErrors.
    """
    if not return_steps:  # the steps are for showing: they come from the ordinary route
        fast = _flat_background_pil(image) if isinstance(image, Image.Image) else None
        if fast is not None:
            return fast
    array = _checked_array(image)
    if not return_steps:
        fast = _flat_background_digit(array)
        if fast is not None:
            return fast
    steps: dict[str, np.ndarray] = {}
    steps["grey"] = _grey_of(array)
    steps["ink"] = ink_bright(steps["grey"])
    steps["cleaned"] = remove_background(steps["ink"])
    steps["cropped"] = crop_to_ink(steps["cleaned"])
    steps["fitted"], steps["centered"] = center_digit(steps["cropped"])
    return (steps["centered"], steps) if return_steps else steps["centered"]
