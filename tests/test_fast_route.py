"""The pad's speed route gives the readable route's answers: fast_predict == mnistlib.predict, to 1e-5."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from mnistlib import preprocess
from mnistlib.classroom import fast_route
from mnistlib.classroom.fast_route import fast_predict, fast_to_mnist, one_thread
from mnistlib.classroom.folded_cnn import folded_forward
from mnistlib.look_inside import render_text, scribble
from mnistlib.models import build_model
from mnistlib.prediction import predict
from tools.canvas_testset import POLARITIES, STROKES, Style, draw_digit


def _png(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "PNG")
    return buffer.getvalue()


def _varied_inputs(digits: torch.Tensor) -> list:
    """Drawings of many sizes, places, pens and colours, in every form predict() takes."""
    rng = np.random.default_rng(13)
    images = []
    for i in range(120):
        style = Style(str(rng.choice(STROKES)), str(rng.choice(POLARITIES)), "rgba")
        canvas = (280, 280) if i % 2 else tuple(int(s) for s in rng.integers(64, 500, size=2))
        rgba = draw_digit(digits[i].numpy(), rng, style, canvas=canvas)
        images.append(rgba)  # a canvas snapshot: strokes on transparency
        images.append(
            [
                Image.fromarray(rgba, "RGBA"),
                np.ascontiguousarray(rgba[..., 3]),  # the pad's own raster: white on black
                np.ascontiguousarray(255 - rgba[..., 3]),  # dark on light grey
                draw_digit(digits[i].numpy(), rng, Style(style.stroke, style.polarity, "rgb")),
                _png(rgba),  # an upload
                np.ascontiguousarray(rgba[..., 3]).astype(np.float32) / 255,
            ][i % 6]
        )
    for i in range(120, 160):
        images += [digits[i].numpy(), digits[i].numpy().astype(np.float32) / 255]  # 28x28, as MNIST
    images += [scribble(s, num_strokes=1 + s % 4) for s in range(10)]
    images += [render_text(ch) for ch in "A7x%"]
    mask = np.zeros((120, 90), dtype=bool)
    mask[30:90, 40:50] = True  # a 0/1 mask of a "1"
    images += [mask, mask.astype(np.uint16) * 65535]
    big = np.zeros((280, 280), np.uint8)
    big[20:260, 20:260] = 255  # ink over most of the picture: the ordinary route
    big[60:220, 60:220] = 0
    lit = np.linspace(0.5, 0.9, 200, dtype=np.float32)[None, :] * np.ones((200, 1), np.float32)
    lit[60:140, 95:105] = 0.05  # a dark stroke on unevenly lit paper: the ordinary route
    images += [big, lit]
    return images


@pytest.fixture(scope="module")
def varied(mnist_train) -> list:
    return _varied_inputs(mnist_train[0])


def test_the_fast_preprocessing_equals_the_readable_one(varied):
    fast = 0
    pil_images, pil_fast = 0, 0
    for image in varied:
        expected = preprocess.to_mnist(image)
        np.testing.assert_allclose(fast_to_mnist(image), expected, rtol=0, atol=1e-5)
        fast += fast_route._flat_background_digit(preprocess.checked_array(image)) is not None
        if isinstance(image, Image.Image):
            pil_images += 1
            pil_fast += fast_route._flat_background_pil(image) is not None
    # The fast route must really be taken for the drawings, or this test compares nothing new.
    assert fast >= 0.7 * len(varied)
    assert fast < len(varied)  # and the ordinary route for the rest
    assert pil_images >= 10 and pil_fast >= 0.7 * pil_images  # PIL snapshots: read from their box alone


def test_fast_resize_equals_pillows():
    rng = np.random.default_rng(0)
    for h, w in [(186, 147), (20, 16), (31, 7), (400, 399), (5, 60), (21, 20)]:
        image = rng.random((h, w), dtype=np.float32)
        for side in (20, 16, 80):
            np.testing.assert_allclose(
                fast_route._fast_resize(image, side), preprocess.resize(image, side), rtol=0, atol=1e-6
            )


def test_fast_predict_equals_predict(varied, shipped_cnn, shipped_mlp):
    for model in (shipped_cnn, shipped_mlp):
        for image in varied:
            expected = predict(model, image)
            pred = fast_predict(model, image)
            np.testing.assert_allclose(pred.probabilities, expected.probabilities, rtol=0, atol=1e-5)
            np.testing.assert_allclose(pred.model_input, expected.model_input, rtol=0, atol=1e-5)
            assert pred.digit == expected.digit


def _rejected_inputs() -> list:
    transparent = np.zeros((280, 280, 4), np.uint8)
    transparent[..., :3] = 255  # white, but fully transparent
    faint = np.zeros((280, 280, 4), np.uint8)
    faint[100:120, 100:120] = (10, 10, 10, 3)  # almost nothing drawn
    speck = np.zeros((280, 280), np.uint8)
    speck[140, 140] = 4  # one faint pixel on black
    nan = np.zeros((28, 28), np.float32)
    nan[5, 5] = np.nan
    return [
        transparent,
        faint,
        speck,
        Image.fromarray(faint, "RGBA"),
        np.full((280, 280), 7, np.uint8),  # one shade everywhere
        np.zeros((280, 280), np.uint8),
        np.full((28, 28), 0.5, np.float32),
        np.zeros((4, 4), np.uint8),
        nan,
        np.zeros((28, 28, 2), np.uint8),
        np.full((30, 30), -1, np.int16),
        np.zeros((28, 28), dtype=complex),
        "not/a/file.png",
        b"not an image",
        _png(transparent),
    ]


@pytest.mark.parametrize("index", range(len(_rejected_inputs())))
def test_rejected_inputs_raise_the_readable_routes_error(index, shipped_cnn):
    image = _rejected_inputs()[index]
    with pytest.raises(ValueError) as expected:
        predict(shipped_cnn, image)
    assert expected.type in (preprocess.BlankImageError, preprocess.InvalidImageError)
    with pytest.raises(expected.type) as raised:
        fast_predict(shipped_cnn, image)

    def message(info: pytest.ExceptionInfo) -> str:
        return re.sub(r"0x[0-9a-f]+", "0x", str(info.value))  # Pillow names object addresses

    assert message(raised) == message(expected)


def test_a_model_partly_in_training_mode_is_read_in_eval_mode(shipped_cnn, shipped_mlp, digits):
    image = digits[0].numpy()
    for model, part in ((shipped_cnn, shipped_cnn.classifier), (shipped_mlp, shipped_mlp.fc1)):
        expected = predict(model, image).probabilities
        part.train()  # one part left training (dropout, BatchNorm), the rest in eval mode
        try:
            pred = fast_predict(model, image)
        finally:
            model.eval()
        np.testing.assert_allclose(pred.probabilities, expected, rtol=0, atol=1e-5)


def test_folded_cnn_follows_every_change_to_the_model(digits):
    torch.manual_seed(0)
    model = build_model("cnn").eval()
    x = digits[0].view(1, 1, 28, 28)
    image = digits[0].numpy()
    changes = [
        lambda: model.features[0][0].weight.mul_(1.5),  # an optimiser step: weights in place
        lambda: model.features[1][2].running_mean.add_(0.3),  # BatchNorm statistics of a training batch
        lambda: model.load_state_dict(build_model("cnn").state_dict()),  # new weights copied in
        lambda: model.train()(torch.rand(8, 1, 28, 28)) is model.eval(),  # BatchNorm statistics, no step
        lambda: setattr(model.classifier[5], "bias", nn.Parameter(torch.ones(10))),  # a replaced tensor
        lambda: setattr(
            model.classifier[1], "weight", nn.Parameter(torch.randn(128, 864) * 0.03)
        ),  # and another
        lambda: model.features[2].__setitem__(0, nn.Conv2d(32, 96, 3, padding=1, bias=False)),  # a new layer
    ]

    def logits() -> np.ndarray:
        with torch.no_grad():
            return model(x)[0].numpy()

    for change in changes:
        folded = folded_forward(model)
        assert folded is not None
        np.testing.assert_allclose(folded(image), logits(), rtol=0, atol=1e-5)
        with torch.no_grad():
            change()
        assert not np.allclose(folded(image), logits(), atol=1e-5)  # the old fold is stale...
        np.testing.assert_allclose(
            folded_forward(model)(image), logits(), rtol=0, atol=1e-5
        )  # ...and rebuilt


def test_folded_cnn_equals_the_model_on_test_digits(shipped_cnn, mnist_test):
    images = mnist_test[0][:300].float() / 255
    with torch.no_grad():
        expected = shipped_cnn(images.unsqueeze(1)).numpy()
    folded = folded_forward(shipped_cnn)
    got = np.stack([folded(image.numpy()) for image in images])
    np.testing.assert_allclose(got, expected, rtol=0, atol=2e-5)


def test_predict_during_training_reads_the_current_weights(digits):
    torch.manual_seed(0)
    model = build_model("cnn")
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    batch, labels = torch.stack(digits).unsqueeze(1), torch.arange(5)
    image = digits[1].numpy()
    for _ in range(3):
        model.train()
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(batch), labels).backward()
        optimizer.step()
        expected = predict(model, image).probabilities
        assert model.training  # predict put it back in training mode
        np.testing.assert_allclose(fast_predict(model, image).probabilities, expected, rtol=0, atol=1e-5)


def test_folded_cnn_is_not_used_where_it_would_differ():
    model = build_model("cnn").eval()
    handle = model.features[0][0].register_forward_hook(lambda *args: None)
    assert folded_forward(model) is None  # a watched layer must really run
    handle.remove()
    assert folded_forward(model) is not None
    with torch.no_grad():
        model.features[0][2].weight[0] = -1.0  # a negative BatchNorm scale does not commute with max-pool
    assert folded_forward(model) is None
    assert folded_forward(build_model("mlp")) is None
    assert folded_forward(build_model("cnn").to(torch.float64)) is None


def test_one_thread_runs_torch_on_one_thread_and_restores_the_count():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with one_thread():
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2
        with pytest.raises(RuntimeError), one_thread():
            raise RuntimeError("a failing block")
        assert torch.get_num_threads() == 2  # restored after an error too
        image = np.zeros((280, 280), np.uint8)
        image[60:200, 130:150] = 255  # a "1": its resize runs through one_thread
        assert fast_to_mnist(image).max() == 1 and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
