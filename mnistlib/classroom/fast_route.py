"""The pad's speed route: the same reading as ``mnistlib.predict``, in a fraction of the time.

A pad reads a drawing several times a second, for a whole class on one server, so a reading must
cost well under a millisecond. ``fast_predict`` gives the answers of ``mnistlib.predict`` (the
readable route, the reference; tests pin the two together to 1e-5) in three ways:

* one thread: a single image is far too little work to share between threads, and on a busy
  2-core machine waiting for a second thread made a reading several times slower;
* ``fast_to_mnist``: a canvas snapshot, the pad's raster or an MNIST digit is a drawing on one
  flat background (the same value, or transparency, everywhere outside the drawing's box). Then
  every whole-picture statistic of ``mnistlib.preprocess`` is known from the box alone: the
  background is the median of the sample and of the border, the noise is 0, and only the box's
  pixels are above it. So the steps run on the box, with the same float32 operations and Pillow's
  bilinear filter as cached matrices. Any decision it cannot make as surely as the readable route
  returns None, and that route runs (and raises the errors);
* ``mnistlib.classroom.folded_cnn``: a SmallCNN's forward pass as a few matrix products.
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
from PIL import ExifTags, Image
from torch import nn

from mnistlib import preprocess
from mnistlib.classroom.folded_cnn import folded_forward
from mnistlib.prediction import Prediction, model_probabilities


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Run torch single-threaded inside the block, then restore the thread count."""
    threads = torch.get_num_threads()
    if threads == 1:  # setting it, even to the same count, costs more than a check
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def fast_predict(model: nn.Module, image: preprocess.ImageInput) -> Prediction:
    """Return ``mnistlib.predict(model, image)``, computed the fast way (same answers to 1e-5)."""
    if not isinstance(model, nn.Module):
        raise TypeError(
            f"fast_predict() takes the model first, then the image; got a {type(model).__name__}."
        )
    with one_thread():
        x = fast_to_mnist(image)
        folded = folded_forward(model)
        probabilities = model_probabilities(model, x) if folded is None else _softmax(folded(x))
    return Prediction.of(x, probabilities)


def fast_to_mnist(image: preprocess.ImageInput) -> np.ndarray:
    """Return ``preprocess.to_mnist(image)``, from the drawing's box alone where the picture allows it."""
    fast = _flat_background_pil(image) if isinstance(image, Image.Image) else None
    if fast is not None:
        return fast
    array = preprocess.checked_array(image)
    fast = _flat_background_digit(array)
    return fast if fast is not None else preprocess.to_mnist(array)


def _softmax(logits: np.ndarray) -> np.ndarray:
    """Return the float64 softmax of 10 logits: numpy costs a fraction of torch's calls for 10 numbers."""
    z = logits.astype(np.float64)
    z -= z.max()
    np.exp(z, out=z)
    z /= z.sum()
    return z


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
    """Return how many of the picture's border pixels (``preprocess.border``) lie inside the box."""
    inner = max(0, min(rows.stop, h - 1) - max(rows.start, 1))  # rows strictly between first and last
    width = cols.stop - cols.start
    return width * ((rows.start == 0) + (rows.stop == h)) + inner * ((cols.start == 0) + (cols.stop == w))


@functools.lru_cache(maxsize=32)
def _lattice(h: int, w: int) -> tuple[np.ndarray, np.ndarray, int, int, int]:
    """Return rows and columns of up to 4 x 4 points in each of preprocess.background_map's blocks, and the grid's shape."""
    b = math.ceil(max(h, w) / preprocess.GRID)
    gh, gw = math.ceil(h / b), math.ceil(w / b)
    offsets = np.unique(np.linspace(0, b - 1, min(b, 4)).round().astype(np.intp))
    rows = np.minimum(np.arange(gh)[:, None] * b + offsets, h - 1).ravel()  # a cut-off block's own pixels
    cols = np.minimum(np.arange(gw)[:, None] * b + offsets, w - 1).ravel()
    return rows, cols, gh, gw, offsets.size


def _surely_black(key: np.ndarray, outside: object, rows: slice, cols: slice, h: int, w: int) -> bool:
    """Return True if preprocess.background_map would find a black background: no 3x3 group of blocks drawn on throughout.

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
    # preprocess.min3x3(drawn).any(), for booleans: each cell and its neighbours, the edges repeated
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
    """Return an RGBA box's grey composited as ``preprocess.composite`` does (alpha 0 outside), and the shade outside."""
    grey = preprocess.luma(box, scale)
    alpha = np.multiply(box[..., 3], scale, dtype=np.float32)
    step = preprocess.subsample_step(h * w)
    first = (-rows.start % step, -cols.start % step)  # the box's part of preprocess.subsample(whole picture)
    painted = grey[first[0] :: step, first[1] :: step][
        alpha[first[0] :: step, first[1] :: step] >= min(0.5, float(alpha.max()))
    ]
    lo, hi = preprocess.percentiles(painted, 1, 99) if painted.size else (0.0, 0.0)
    if hi - lo > 0.25:
        return None  # a painted background of its own: the outside is not black ink-free paper
    stroke = float((alpha * grey).sum()) / float(alpha.sum())
    if abs(stroke - 0.5) < 1e-4:
        return None  # preprocess.composite's float32 sums might round the other way
    shade = 1.0 if stroke < 0.5 else 0.0
    grey -= shade
    grey *= alpha
    grey += shade
    if shade and grey.max() > 1:
        return None  # painted uint8 white has a grey of 1 + 1e-7: its ink would be just below 0
    return grey, shade


def _flat_ink(grey: np.ndarray, shade: float, rows: slice, cols: slice, h: int, w: int) -> np.ndarray | None:
    """Return the box's bright ink as ``preprocess.ink_bright`` makes it of the whole picture; None unless the outside is black."""
    n_border = 2 * w + 2 * (h - 2)
    if n_border - _border_count(rows, cols, h, w) <= n_border // 2:
        return None  # the border's median is not the background's shade
    mean = (grey.sum(dtype=np.float64) + shade * (h * w - grey.size)) / (h * w)
    if abs(mean - shade) < 1e-5:
        return None  # too close to call with grey.mean()'s float32 rounding
    ink, shade = (1 - grey, 1 - shade) if mean < shade else (grey, shade)
    return ink if shade == 0 else None  # else preprocess.background_map would model the background


def _flat_above(ink: np.ndarray, rows: slice, cols: slice, h: int, w: int) -> np.ndarray | None:
    """Return the ink above the floor as ``preprocess.remove_background`` finds it; None unless that floor is 0."""
    step = preprocess.subsample_step(h * w)
    sample = ink[-rows.start % step :: step, -cols.start % step :: step]
    above = sample[sample > 0]
    n_sample = len(range(0, h, step)) * len(range(0, w, step))
    # The ink is >= 0, so what is not above 0 is 0: if that is most of the sample, it is the
    # background and the median distance below it (the noise) is 0 too.
    if n_sample - above.size <= n_sample // 2:
        return None
    return above if above.size >= 100 else ink[ink > 0]


def _fast_crop(cleaned: np.ndarray) -> np.ndarray:
    """Return ``preprocess.crop_to_ink(cleaned)``, skipping the speck search when the ink is one block of rows and columns."""
    mask = cleaned >= preprocess.INK_THRESHOLD
    spans = []
    for axis in (1, 0):
        inked = np.flatnonzero(mask.any(axis))
        if inked.size == 0:
            return preprocess.crop_to_ink(cleaned)  # raises its BlankImageError
        a, b = int(inked[0]), int(inked[-1])
        spans.append(
            (a, b) if b - a + 1 == inked.size else preprocess.ink_span(mask.sum(axis))
        )  # no gaps: no specks
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
    """Return ``preprocess.resize(image, long_side)`` (a writable copy) as two small matrix products.

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
    """Return ``preprocess.stroke_width(image)``, the same sums on the same zero-padded array, without np.pad's overhead."""
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
    """Return ``preprocess.center_digit(cropped)[1]``, taking the common case (no thickening, a 20 px box fits) directly."""
    fitted = _fast_resize(cropped, preprocess.BOX)
    peak = fitted.max()
    # _fast_resize rounds a little differently from Pillow: where a decision (thicken or not, which
    # whole-pixel shift) is too close to call, the ordinary route decides, with Pillow's own pixels.
    if peak <= 0:
        return preprocess.center_digit(cropped)[1]
    width = _fast_stroke_width(fitted)
    if width < preprocess.MIN_STROKE or _near(width, preprocess.MIN_STROKE):
        return preprocess.center_digit(cropped)[1]
    # Bilinear weights are >= 0, so fitted / peak lies in [0, 1] already: preprocess.fit_box's clip changes nothing.
    fitted /= peak
    cy, cx = preprocess.center_of_mass(fitted)
    if _near((preprocess.CENTER - cy) % 1, 0.5) or _near((preprocess.CENTER - cx) % 1, 0.5):
        return preprocess.center_digit(cropped)[1]
    centred = preprocess.place(fitted, (cy, cx))
    return centred if centred is not None else preprocess.center_digit(cropped)[1]


def _flat_background_digit(image: np.ndarray) -> np.ndarray | None:
    """Return ``to_mnist`` of a checked grey or RGBA array drawn on one flat background; None otherwise.

    None means "not that simple" (uneven light, ink covering half the picture, a colour photo, a
    decision too close to call): the caller takes the ordinary route, which also raises the errors.
    """
    h, w = image.shape[:2]
    if (image.ndim == 3 and image.shape[2] != 4) or max(h, w) > preprocess.WORK_SIDE:
        return None
    key, outside = (image, image[0, 0]) if image.ndim == 2 else (image[..., 3], 0)
    box = _drawing_box(image, key, outside)
    if box is None or (box[0].stop - box[0].start) * (box[1].stop - box[1].start) == h * w:
        return None
    rows, cols, largest = box
    # preprocess.unit_scale checks every pixel; a uint8 box with a value above 1 already decides its scale.
    if image.dtype == np.uint8 and largest < 0:
        largest = int(key[rows, cols].max())
    big = image.dtype == np.uint8 and largest > 1
    scale = np.float32(1 / 255) if big else preprocess.unit_scale(image)
    if image.ndim == 2:  # to_grey
        flat = (
            np.multiply(image[rows, cols], scale, dtype=np.float32),
            float(np.multiply(outside, scale, dtype=np.float32)),
        )
    else:  # to_grey and preprocess.composite, with alpha 0 outside the box
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
    if img.mode != "RGBA" or min(w, h) < preprocess.MIN_SIDE or max(w, h) > preprocess.WORK_SIDE:
        return None
    try:
        img.load()  # an image from Image.open() is decoded only now
    except Exception as exc:
        raise preprocess.unreadable("The PIL image", exc) from exc  # as _pil_to_array says it
    if img.getexif().get(ExifTags.Base.Orientation, 1) != 1:
        return None
    bbox = img.getbbox()  # of the pixels whose alpha is not 0: an RGBA image's box ignores colour
    if bbox is None or bbox == (0, 0, w, h):
        return None
    left, top, right, bottom = bbox
    box = np.asarray(img.crop(bbox))
    if int(box[..., 3].max()) <= 1:
        return None  # then the scale depends on every pixel's colour (preprocess.unit_scale): the array route
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
    level = preprocess.ink_level(0.0, above)
    cleaned = ink * np.float32(1 / level)  # remove_background's rescale, from 0: the ink is >= 0 already
    np.minimum(cleaned, np.float32(1), out=cleaned)  # in place: no second array of the box's size
    # Rows and columns outside the box are empty: the crop and everything after it are the same.
    return _fast_center(_fast_crop(cleaned))
