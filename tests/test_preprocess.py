"""MNIST-style preprocessing: what any accepted picture turns into, and how bad input is refused."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image, ImageDraw, ImageFile

from mnistlib import preprocess
from mnistlib.preprocess import BlankImageError, InvalidImageError, to_float, to_mnist, to_uint8

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ----------------------------------------------------------------------------- helpers


def assert_mnist_like(out: np.ndarray) -> None:
    """The MNIST conventions, checked without the library's own helpers."""
    assert out.shape == (28, 28) and out.dtype == np.float32
    assert out.min() >= 0 and out.max() <= 1 and out.max() > 0
    rows, cols = np.indices(out.shape)
    mass = out.astype(np.float64)
    cy, cx = (rows * mass).sum() / mass.sum(), (cols * mass).sum() / mass.sum()
    assert abs(cy - 14) <= 0.5 + 1e-6 and abs(cx - 14) <= 0.5 + 1e-6, (cy, cx)
    ink_rows, ink_cols = np.flatnonzero(out.any(1)), np.flatnonzero(out.any(0))
    assert ink_rows[-1] - ink_rows[0] + 1 <= 20 and ink_cols[-1] - ink_cols[0] + 1 <= 20


def draw_strokes(size: tuple[int, int], points: list[tuple[int, int]], width: int) -> np.ndarray:
    """Return (H, W) float coverage in [0, 1] of a polyline drawn with round joints."""
    img = Image.new("L", (size[1] * 2, size[0] * 2))  # at 2x, then halved: anti-aliased edges
    ImageDraw.Draw(img).line([(2 * x, 2 * y) for x, y in points], fill=255, width=2 * width, joint="curve")
    return np.asarray(img.resize((size[1], size[0]), Image.Resampling.BOX), dtype=np.float32) / 255


def render(
    cover: np.ndarray, polarity: str = "light-on-dark", fmt: str = "grey", dtype: str = "uint8"
) -> np.ndarray:
    """Turn coverage into an image of the given polarity, format (grey/rgb/rgba) and dtype."""
    if fmt == "rgba":  # transparent background, strokes in the ink colour
        ink = (0.1, 0.1, 0.3) if polarity == "dark-on-light" else (0.95, 0.9, 0.8)
        x = np.dstack([np.broadcast_to(np.float32(c), cover.shape) for c in ink] + [cover])
    else:
        paper, ink = (0.05, 0.95) if polarity == "light-on-dark" else (0.95, 0.1)
        x = paper + (ink - paper) * cover
        if fmt == "rgb":
            x = np.dstack([x, x * 0.9, x * 0.8])  # a warm tint: colour must not matter
    if dtype == "uint8":
        return np.round(x * 255).astype(np.uint8)
    if dtype == "uint16":
        return np.round(x * 65535).astype(np.uint16)
    if dtype == "float64-255":
        return (x * 255).astype(np.float64)
    return x.astype(dtype)


@st.composite
def drawings(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    """A scribble on a canvas of any size, polarity, format and dtype: (image, its coverage)."""
    h, w = draw(st.integers(8, 160)), draw(st.integers(8, 160))
    points = draw(st.lists(st.tuples(st.integers(0, w - 1), st.integers(0, h - 1)), min_size=1, max_size=6))
    width = draw(st.integers(1, max(1, min(h, w) // 4)))
    polarity = draw(st.sampled_from(["light-on-dark", "dark-on-light"]))
    fmt = draw(st.sampled_from(["grey", "rgb", "rgba"]))
    dtype = draw(st.sampled_from(["uint8", "uint16", "float32", "float64", "float64-255"]))
    cover = draw_strokes((h, w), points, width)
    return render(cover, polarity, fmt, dtype), cover


@pytest.fixture(scope="module")
def digit_cover(mnist_test) -> np.ndarray:
    """A test-split 7, redrawn 5x larger with an offset on a 200x160 canvas, as coverage in [0, 1]."""
    seven = Image.fromarray(mnist_test[0][0].numpy())
    big = np.asarray(seven.resize((140, 140), Image.Resampling.BICUBIC), dtype=np.float32)
    canvas = np.zeros((200, 160), dtype=np.float32)
    canvas[40:180, 5:145] = np.clip(big / 255, 0, 1)
    return canvas


# ----------------------------------------------------------------------------- what comes out


@SETTINGS
@given(drawings())
def test_any_drawing_becomes_an_mnist_like_digit(drawing):
    image, cover = drawing
    border = np.concatenate([cover[0], cover[-1], cover[1:-1, 0], cover[1:-1, -1]])
    visible = (cover >= 0.2).any() and np.mean(border > 0) < 0.5  # some ink; the border mostly paper
    try:
        out = to_mnist(image)
    except BlankImageError:
        assert not visible, "a visible drawing was called blank"
        return
    assert_mnist_like(out)


@SETTINGS
@given(
    hnp.arrays(
        dtype=st.sampled_from([np.uint8, np.uint16, np.int32, np.float32, np.float64, np.bool_]),
        shape=st.tuples(st.integers(8, 48), st.integers(8, 48))
        | st.tuples(st.integers(8, 48), st.integers(8, 48), st.sampled_from([3, 4])),
        elements=None,
    )
)
def test_any_array_gives_mnist_like_output_or_a_clear_error(image):
    try:
        out = to_mnist(image)
    except (BlankImageError, InvalidImageError) as exc:
        assert str(exc)  # a message that says what is wrong
        return
    assert_mnist_like(out)


@SETTINGS
@given(
    st.one_of(
        hnp.arrays(np.uint8, st.tuples(st.integers(8, 40), st.integers(8, 40), st.sampled_from([3, 4]))),
        hnp.arrays(np.uint16, st.tuples(st.integers(8, 40), st.integers(8, 40))),
        hnp.arrays(
            np.float32, st.tuples(st.integers(8, 40), st.integers(8, 40)), elements=st.floats(0, 1, width=32)
        ),
    )
)
def test_every_valid_array_is_accepted(image):
    try:
        out = to_mnist(image)
    except BlankImageError:
        return  # noise or a flat picture: nothing stands out
    assert_mnist_like(out)


def test_mnist_digits_come_through_almost_unchanged(mnist_test):
    images = mnist_test[0].numpy()
    out = np.stack([to_mnist(x) for x in images])
    ref = images / np.float32(255)
    # Measured: mean |difference| 0.0016. Differences come from rounding a centre of mass that
    # sits exactly between two pixels, thickening the 2 % thinnest digits, and dropping specks.
    assert np.abs(out - ref).mean() < 0.004
    assert np.median(np.abs(out - ref).max(axis=(1, 2))) <= 0.01
    rows = np.arange(28)
    com = lambda a: ((a.sum(2) @ rows) / a.sum((1, 2)), (a.sum(1) @ rows) / a.sum((1, 2)))
    (y0, x0), (y1, x1) = com(ref), com(out)
    assert np.mean((np.abs(y1 - y0) <= 0.5) & (np.abs(x1 - x0) <= 0.5)) > 0.99


def test_center_convention_matches_mnist(mnist_test):
    ref = mnist_test[0][:2000].numpy() / np.float32(255)
    centres = np.array([preprocess.center_of_mass(x) for x in ref])
    assert np.allclose(centres.mean(0), preprocess.CENTER, atol=0.05)
    assert np.abs(centres - preprocess.CENTER).max() <= 0.51


def test_steps_are_returned_in_order_with_their_shapes(digit_cover):
    out, steps = to_mnist(render(digit_cover, "dark-on-light", "rgba"), return_steps=True)
    assert list(steps) == ["grey", "ink", "cleaned", "cropped", "fitted", "centred"]
    assert steps["grey"].shape == steps["ink"].shape == steps["cleaned"].shape == (200, 160)
    assert max(steps["fitted"].shape) == 20 and steps["cropped"].shape[0] < 200
    assert steps["centred"] is out
    assert all(s.dtype == np.float32 and s.min() >= 0 and s.max() <= 1 for s in steps.values())


def test_a_thin_one_stays_thin():
    cover = draw_strokes((200, 200), [(100, 20), (100, 180)], 14)
    out = to_mnist(cover)
    assert_mnist_like(out)
    cols = np.flatnonzero(out.sum(0) > 0.05)
    assert 1 <= len(cols) <= 4  # 14 px on 160 px tall is 1.75 px at 20 px tall, not a 20 px blob


def test_hairlines_are_thickened_to_mnist_width():
    cover = draw_strokes((300, 300), [(60, 40), (240, 40), (120, 260)], 2)  # a "7" drawn with a fine pen
    out = to_mnist(cover)
    assert preprocess.stroke_width(cover) < 3
    assert preprocess.MIN_STROKE <= preprocess.stroke_width(out) <= 3.5
    assert out.max() > 0.9  # not a faint smear


# ----------------------------------------------------------------------------- polarity, alpha, colour


@pytest.mark.parametrize("fmt", ["grey", "rgb"])
def test_dark_ink_on_light_paper_is_inverted(digit_cover, fmt):
    reference = to_mnist(render(digit_cover, "light-on-dark", "grey"))
    out = to_mnist(render(digit_cover, "dark-on-light", fmt))
    assert np.abs(out - reference).max() < 0.05


@pytest.mark.parametrize("polarity", ["light-on-dark", "dark-on-light"])
def test_transparent_background_is_composited(digit_cover, polarity):
    reference = to_mnist(render(digit_cover, "light-on-dark", "grey"))
    out = to_mnist(render(digit_cover, polarity, "rgba"))
    assert np.abs(out - reference).max() < 0.05


def test_canvas_snapshot_black_strokes_on_transparent_black(digit_cover):
    # ipycanvas: background (0, 0, 0, 0), strokes (0, 0, 0, a). Ignoring alpha shows nothing at all.
    snapshot = np.zeros((*digit_cover.shape, 4), dtype=np.uint8)
    snapshot[..., 3] = np.round(digit_cover * 255)
    reference = to_mnist(digit_cover)
    assert np.abs(to_mnist(snapshot) - reference).max() < 0.05


def test_transparent_corners_of_an_opaque_photo_are_not_ink(digit_cover):
    paper = render(digit_cover, "dark-on-light", "rgb")
    rgba = np.dstack([paper, np.full(digit_cover.shape, 255, np.uint8)])
    rgba[:30, :30, 3] = 0  # rounded-off corner, its colour undefined
    rgba[:30, :30, :3] = 0
    assert np.abs(to_mnist(rgba) - to_mnist(paper)).max() < 0.05


def test_uneven_light_and_noise_on_paper_are_removed(digit_cover):
    rng = np.random.default_rng(0)
    h, w = digit_cover.shape
    light = np.linspace(1.0, 0.6, w)[None, :] * np.linspace(1.0, 0.85, h)[:, None]  # a shadow
    photo = (0.9 - 0.6 * digit_cover) * light + rng.normal(0, 0.02, digit_cover.shape)
    buf = io.BytesIO()
    Image.fromarray(np.uint8(np.clip(photo, 0, 1) * 255)).save(buf, "JPEG", quality=70)
    out, steps = to_mnist(buf.getvalue(), return_steps=True)
    clean = to_mnist(digit_cover)
    assert np.abs(out - clean).mean() < 0.03
    assert steps["cropped"].shape[0] < 0.8 * h  # the shadow did not widen the crop


def test_faint_background_does_not_eat_thin_strokes():
    cover = draw_strokes((120, 120), [(30, 20), (90, 20), (50, 100)], 3)
    paper = 0.7 + 0.05 * np.random.default_rng(1).random(cover.shape)  # textured grey paper
    image = paper - 0.35 * cover  # faint pencil
    out = to_mnist(image)
    ref = to_mnist(cover)
    assert_mnist_like(out)
    assert np.abs(out - ref).mean() < 0.03


# ----------------------------------------------------------------------------- every kind of input


def test_dtypes_and_formats_agree(digit_cover):
    reference = to_mnist(render(digit_cover))
    for dtype in ["uint8", "uint16", "float32", "float64", "float64-255"]:
        for fmt in ["grey", "rgb", "rgba"]:
            assert np.abs(to_mnist(render(digit_cover, "light-on-dark", fmt, dtype)) - reference).max() < 0.05
    mask = digit_cover > 0.5
    binary = to_mnist(mask.astype(np.uint8) * 255)
    assert np.abs(to_mnist(mask) - binary).max() < 1e-6  # a bool mask
    assert np.abs(to_mnist(mask.astype(np.uint8)) - binary).max() < 1e-6  # 0/1 integers
    assert np.abs(to_mnist(torch.from_numpy(digit_cover)) - reference).max() < 0.05


@pytest.mark.parametrize("mode", ["1", "L", "P", "RGB", "RGBA", "LA", "I", "I;16", "F", "CMYK", "YCbCr"])
def test_pil_modes(digit_cover, mode):
    reference = to_mnist(digit_cover)
    grey = Image.fromarray(np.uint8(np.round(digit_cover * 255)))
    if mode == "I;16":
        img = Image.fromarray(np.uint16(np.round(digit_cover * 65535)))
    elif mode == "F":
        img = Image.fromarray(digit_cover.astype(np.float32))
    else:
        img = grey.convert(mode)
    tolerance = 0.04 if mode == "1" else 0.01  # "1" loses the anti-aliasing
    assert np.abs(to_mnist(img) - reference).mean() < tolerance


def test_palette_png_with_transparency(digit_cover, tmp_path):
    path = tmp_path / "palette.png"
    Image.fromarray(render(digit_cover, "dark-on-light", "rgba")).quantize(colors=64).save(path)
    img = Image.open(path)
    assert img.mode == "P" and "transparency" in img.info
    assert np.abs(to_mnist(img) - to_mnist(digit_cover)).mean() < 0.02


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "BMP", "WEBP"])
def test_encoded_files_paths_and_bytes(digit_cover, tmp_path, fmt):
    reference = to_mnist(digit_cover)
    rgb = render(digit_cover, "dark-on-light", "rgb")
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, fmt)
    data = buf.getvalue()
    path = tmp_path / f"digit.{fmt.lower()}"
    path.write_bytes(data)
    for source in (data, bytearray(data), memoryview(data), path, str(path), Image.open(path)):
        out = to_mnist(source)
        assert np.abs(out - reference).mean() < 0.02, (fmt, type(source))


def test_transparent_png_file(digit_cover, tmp_path):
    path = tmp_path / "canvas.png"
    Image.fromarray(render(digit_cover, "dark-on-light", "rgba")).save(path)
    assert np.abs(to_mnist(path) - to_mnist(digit_cover)).max() < 0.05


def test_sixteen_bit_png(digit_cover, tmp_path):
    path = tmp_path / "deep.png"
    Image.fromarray(np.uint16(np.round((1 - digit_cover) * 65535))).save(path)  # dark on light
    assert Image.open(path).mode.startswith("I")
    assert np.abs(to_mnist(path) - to_mnist(digit_cover)).max() < 0.05


def test_exif_orientation_is_applied(digit_cover):
    rgb = render(digit_cover, "dark-on-light", "rgb")
    stored = Image.fromarray(rgb).transpose(Image.Transpose.ROTATE_90)  # the camera held sideways
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    buf = io.BytesIO()
    stored.save(buf, "JPEG", exif=exif, quality=95)
    assert np.abs(to_mnist(buf.getvalue()) - to_mnist(digit_cover)).mean() < 0.02


def test_a_large_photo_is_reduced_first(digit_cover):
    rgb = render(digit_cover, "dark-on-light", "rgb")
    big = Image.fromarray(rgb).resize((3000, 3750), Image.Resampling.BICUBIC)
    buf = io.BytesIO()
    big.save(buf, "JPEG", quality=85)
    out, steps = to_mnist(buf.getvalue(), return_steps=True)
    assert max(steps["grey"].shape) <= preprocess.WORK_SIDE
    assert np.abs(out - to_mnist(digit_cover)).mean() < 0.02
    _, steps = to_mnist(np.asarray(big), return_steps=True)
    assert max(steps["grey"].shape) <= preprocess.WORK_SIDE


# ----------------------------------------------------------------------------- bad input


def png_header_claiming(width: int, height: int) -> bytes:
    """A small PNG whose header claims another size (a decompression bomb's trick)."""
    buf = io.BytesIO()
    Image.new("L", (8, 8)).save(buf, "PNG")
    data = bytearray(buf.getvalue())
    ihdr = struct.pack(">II", width, height) + bytes(data[24:29])
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return bytes(data)


@pytest.mark.parametrize("size", [(8000, 8000), (20_000, 10_000)])  # over our limit; over Pillow's too
def test_decompression_bombs_are_refused_before_decoding(size, monkeypatch):
    decoded = []
    real_load = ImageFile.ImageFile.load
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: decoded.append(1) or real_load(self))
    with pytest.raises(InvalidImageError, match="pixels|decompression bomb"):
        to_mnist(png_header_claiming(*size))
    assert not decoded


def test_huge_arrays_and_pil_images_are_refused():
    with pytest.raises(InvalidImageError, match="decompression bombs"):
        to_mnist(np.broadcast_to(np.uint8(0), (10_000, 6_000)))  # 60 MP, no memory used
    with pytest.raises(InvalidImageError, match="decompression bombs"):
        to_mnist(Image.new("1", (10_000, 6_000)))


@pytest.mark.parametrize(
    "bad",
    [
        None,
        42,
        3.5,
        [[0, 255], [255, 0]],
        {"image": 1},
        object(),
        np.zeros((0, 0)),
        np.zeros((0, 28)),
        np.zeros((28, 0, 3)),
        np.zeros(()),
        np.zeros(28),
        np.zeros((28, 28, 2)),
        np.zeros((28, 28, 5)),
        np.zeros((1, 28, 28)),
        np.zeros((2, 28, 28, 3)),
        np.zeros((4, 4)),
        np.zeros((7, 100)),
        np.zeros((28, 28), dtype=complex),
        np.zeros((28, 28), dtype=object),
        np.full((28, 28), "a"),
        np.full((28, 28), np.nan),
        np.full((28, 28), np.inf),
        np.full((28, 28), -1),
        np.full((28, 28), 300.0),
        np.full((28, 28), -0.5),
        np.full((28, 28), 70_000, dtype=np.int32),
        torch.zeros(1, 28, 28),
        Image.new("L", (0, 0)),
        Image.new("L", (5, 50)),
        b"",
        b"not an image",
        b"\x89PNG\r\n\x1a\n" + b"\0" * 40,
        "",
        "no_such_file.png",
        "bad\0name.png",
        "x" * 5000,
    ],
    ids=lambda b: type(b).__name__,
)
def test_bad_input_raises_invalid_image_error(bad):
    with pytest.raises(InvalidImageError) as info:
        to_mnist(bad)
    assert len(str(info.value)) > 20


def test_nan_in_an_otherwise_good_image(digit_cover):
    image = digit_cover.copy()
    image[3, 3] = np.nan
    with pytest.raises(InvalidImageError, match="NaN"):
        to_mnist(image)


def test_files_that_are_not_images(tmp_path):
    text = tmp_path / "notes.png"
    text.write_text("just text")
    with pytest.raises(InvalidImageError, match=r"^The image file .*notes.png is not a readable PNG"):
        to_mnist(text)
    for missing in (tmp_path, tmp_path / "missing.png", str(tmp_path / "missing.png")):
        with pytest.raises(InvalidImageError, match="There is no image file"):
            to_mnist(missing)


def test_unsupported_formats_are_refused(digit_cover):
    buf = io.BytesIO()
    Image.fromarray(np.uint8(digit_cover * 255)).save(buf, "TIFF")
    with pytest.raises(InvalidImageError, match="PNG, JPEG, GIF, BMP or WebP"):
        to_mnist(buf.getvalue())


@pytest.fixture(scope="module")
def encoded() -> dict[str, bytes]:
    rng = np.random.default_rng(0)
    cover = draw_strokes((64, 48), [(10, 10), (40, 30), (20, 55)], 5)
    rgb = render(cover, "dark-on-light", "rgb") + rng.integers(0, 20, (64, 48, 3), dtype=np.uint8)
    files = {}
    for fmt in preprocess.FORMATS:
        buf = io.BytesIO()
        Image.fromarray(rgb).save(buf, fmt)
        files[fmt] = buf.getvalue()
    return files


@SETTINGS
@given(fmt=st.sampled_from(preprocess.FORMATS), keep=st.floats(0, 1))
def test_truncated_files_raise_invalid_image_error(encoded, fmt, keep):
    data = encoded[fmt]
    # A PNG missing only its last CRC, or a GIF only its trailer, still holds every pixel.
    cut = data[: int(keep * (len(data) - 5))]
    with pytest.raises(InvalidImageError):
        to_mnist(cut)


def test_corrupt_png_data_is_detected(encoded):
    data = bytearray(encoded["PNG"])
    data[len(data) // 2] ^= 0xFF  # flip a byte inside the image data: its chunk's CRC fails
    with pytest.raises(InvalidImageError):
        to_mnist(bytes(data))


@SETTINGS
@given(st.binary(max_size=2000))
def test_random_bytes_raise_invalid_image_error(data):
    with pytest.raises(InvalidImageError):
        to_mnist(data)


@pytest.mark.parametrize(
    "blank",
    [
        np.zeros((280, 280), np.uint8),
        np.full((280, 280), 255, np.uint8),
        np.full((50, 60), 0.5),
        np.full((40, 40, 3), (200, 180, 90), np.uint8),
        np.zeros((280, 280, 4), np.uint8),
        np.dstack([np.full((40, 40, 3), 255, np.uint8), np.full((40, 40), 255, np.uint8)]),
        0.5 + np.random.default_rng(0).normal(0, 0.01, (100, 100)),  # grey paper, sensor noise
    ],
    ids=["black", "white", "grey", "colour", "transparent", "opaque-white-rgba", "noise"],
)
def test_blank_images_raise_blank_image_error(blank):
    with pytest.raises(BlankImageError) as info:
        to_mnist(blank)
    assert "Draw" in str(info.value)  # says what to do


def test_blank_paper_photo_as_jpeg_is_blank():
    rng = np.random.default_rng(0)
    paper = np.clip(0.85 + rng.normal(0, 0.02, (300, 400)), 0, 1)
    buf = io.BytesIO()
    Image.fromarray(np.uint8(paper * 255)).save(buf, "JPEG", quality=60)
    with pytest.raises(BlankImageError):
        to_mnist(buf.getvalue())


def test_errors_are_value_errors():
    assert issubclass(InvalidImageError, ValueError) and issubclass(BlankImageError, ValueError)
    assert not issubclass(InvalidImageError, BlankImageError)
    assert not issubclass(BlankImageError, InvalidImageError)


def test_normalisation_constants_match_the_training_pixels(mnist_train):
    x = mnist_train[0].float() / 255
    assert abs(x.mean().item() - preprocess.MNIST_MEAN) < 1e-4
    assert abs(x.std().item() - preprocess.MNIST_STD) < 1e-4


# ---- dtype conversion -------------------------------------------------------------------------------


def test_uint8_and_unit_float_convert_both_ways():
    pixels = np.array([[0, 128, 255]], dtype=np.uint8)
    unit = to_float(pixels)
    assert unit.dtype == np.float32 and np.allclose(unit, [[0, 128 / 255, 1]])
    assert np.array_equal(to_uint8(unit), pixels)
    assert to_uint8(pixels) is pixels  # uint8 stays as it is
    assert np.array_equal(to_uint8(np.array([-0.5, 1.5])), [0, 255])  # floats are clipped to [0, 1]
    tensor = to_float(torch.from_numpy(pixels))
    assert isinstance(tensor, torch.Tensor) and tensor.dtype == torch.float32
    assert torch.allclose(tensor, torch.from_numpy(unit))
    floats = torch.tensor([0.25])
    assert torch.equal(to_float(floats), floats)  # float input is already in [0, 1]
