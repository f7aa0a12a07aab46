"""Tests for mnistlib.look_inside: feature maps, saliency, embeddings and the transformations of notebook 05."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from mnistlib import evaluate, look_inside


@pytest.fixture(scope="module")
def cnn(shipped_cnn) -> nn.Module:
    return shipped_cnn


@pytest.fixture(scope="module")
def mlp(shipped_mlp) -> nn.Module:
    return shipped_mlp


@pytest.fixture(scope="module")
def test_data(mnist_test) -> tuple[torch.Tensor, torch.Tensor]:
    return mnist_test


def linear_model() -> nn.Module:
    """A model whose score is exactly W @ x + b: saliency has a closed form to compare with."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 10)).eval()


# ---- inputs ----------------------------------------------------------------------------------------


def test_one_digit_accepts_a_28x28_image_in_any_container(digits):
    x = digits[0]
    for image in (x, x.numpy(), x.numpy().astype(np.float64), x.reshape(1, 1, 28, 28), (x * 255).byte()):
        batch = look_inside.one_digit(image)
        assert batch.shape == (1, 1, 28, 28) and batch.dtype == torch.float32
        assert torch.equal(batch[0, 0], x)


@pytest.mark.parametrize(
    "bad, hint",
    [
        (np.zeros((28, 28, 3)), "model_input"),
        (np.zeros((32, 32)), "model_input"),
        (np.zeros((2, 28, 28)), "model_input"),
        (np.full((28, 28), 255.0), "255"),
    ],
)
def test_one_digit_explains_what_to_pass(bad, hint):
    with pytest.raises(ValueError, match=hint):
        look_inside.one_digit(bad)


# ---- feature maps and filters --------------------------------------------------------------------


def test_feature_maps_of_the_cnn_have_one_entry_per_conv_layer_with_its_shape(cnn, digits):
    maps = look_inside.feature_maps(cnn, digits[0])
    convs = [(name, m) for name, m in cnn.named_modules() if isinstance(m, nn.Conv2d)]
    assert list(maps) == [name for name, _ in convs]
    sizes = [14, 7, 3]  # each conv block's output: it pools (halving the size) before BatchNorm and ReLU
    for (name, conv), size in zip(convs, sizes):
        assert maps[name].shape == (conv.out_channels, size, size)
        assert maps[name].min() >= 0  # taken after the ReLU: what the layer passes on
    assert maps[convs[0][0]].max() > 0


def test_feature_maps_are_the_activation_after_each_conv():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(3, 5, 3))
    model.eval()
    x = torch.rand(28, 28)
    maps = look_inside.feature_maps(model, x)
    assert list(maps) == ["0", "3"]
    expected_first = torch.relu(model[0](x.reshape(1, 1, 28, 28)))[0]
    torch.testing.assert_close(maps["0"], expected_first)
    # the last conv has no activation after it: its raw output is shown
    torch.testing.assert_close(maps["3"], model(x.reshape(1, 1, 28, 28))[0])
    assert maps["3"].shape == (5, 12, 12)


def test_feature_maps_leave_no_hooks_and_restore_training_mode(cnn, digits):
    cnn.train()
    try:
        look_inside.feature_maps(cnn, digits[0])
        assert cnn.training
        assert all(not m._forward_hooks for m in cnn.modules())
    finally:
        cnn.eval()


def test_feature_maps_of_a_model_without_convolutions_is_a_clear_error(mlp, digits):
    with pytest.raises(ValueError, match="no convolutional layers"):
        look_inside.feature_maps(mlp, digits[0])
    with pytest.raises(ValueError, match="no convolutional layers"):
        look_inside.first_layer_filters(mlp)


def test_first_layer_filters_are_the_first_conv_weights(cnn):
    first = next(m for m in cnn.modules() if isinstance(m, nn.Conv2d))
    filters = look_inside.first_layer_filters(cnn)
    k = first.kernel_size[0]
    assert filters.shape == (first.out_channels, k, k)
    torch.testing.assert_close(filters, first.weight.detach()[:, 0])


def test_mlp_first_layer_gives_one_28x28_image_per_hidden_unit(mlp, cnn):
    weights = look_inside.mlp_first_layer(mlp)
    assert weights.shape == (mlp.fc1.out_features, 28, 28)
    torch.testing.assert_close(weights.flatten(1), mlp.fc1.weight.detach())
    with pytest.raises(ValueError, match="784"):
        look_inside.mlp_first_layer(cnn)


def test_mlp_top_units_are_the_most_active_first_layer_units(mlp, digits):
    x = digits[0]
    units, values = look_inside.mlp_top_units(mlp, x, k=5)
    hidden = torch.relu(mlp.fc1(mlp.normalize(x.reshape(1, 1, 28, 28)).flatten(1)))[0].detach()
    torch.testing.assert_close(values, hidden.topk(5).values)
    torch.testing.assert_close(hidden[units], values)


# ---- saliency --------------------------------------------------------------------------------------


def test_gradient_x_input_of_a_linear_model_is_weight_times_pixel():
    model = linear_model()
    x = torch.rand(28, 28)
    saliency = look_inside.gradient_saliency(model, x, target=3)
    expected = (model[1].weight[3].detach().reshape(28, 28) * x).numpy()
    np.testing.assert_allclose(saliency, expected, rtol=1e-5, atol=1e-6)
    plain = look_inside.gradient_saliency(model, x, target=3, times_input=False)
    np.testing.assert_allclose(plain, model[1].weight[3].detach().reshape(28, 28).numpy(), rtol=1e-5)


def test_gradient_x_input_highlights_ink_more_than_background(cnn, digits):
    for x in digits:
        saliency = look_inside.gradient_saliency(cnn, x)
        assert saliency.shape == (28, 28)
        ink = x.numpy() > 0.5
        assert np.abs(saliency[ink]).mean() > 10 * np.abs(saliency[~ink]).mean()
    assert all(p.grad is None for p in cnn.parameters())  # the model's own gradients are left alone


def test_plain_gradient_also_lights_up_blank_paper(cnn, digits):
    plain = look_inside.gradient_saliency(cnn, digits[0], times_input=False)
    background = digits[0].numpy() == 0
    assert np.abs(plain[background]).max() > 0  # where adding ink would change the score


def test_occlusion_with_one_pixel_patches_equals_gradient_x_input_for_a_linear_model():
    model = linear_model()
    x = torch.rand(28, 28)
    occlusion = look_inside.occlusion_saliency(model, x, target=5, patch=1, stride=1)
    np.testing.assert_allclose(
        occlusion, look_inside.gradient_saliency(model, x, target=5), rtol=1e-4, atol=1e-5
    )


def test_occlusion_of_ink_lowers_the_probability_and_blank_paper_changes_nothing(cnn, digits):
    for x in digits:
        drop = look_inside.occlusion_saliency(cnn, x, score="probability")
        assert drop.shape == (28, 28)
        assert drop.max() > 1e-3  # some patch of ink matters
        # a pixel whose every covering patch is blank paper: erasing blank paper changes nothing
        ink = torch.nn.functional.max_pool2d(x[None, None], 11, stride=1, padding=5)[0, 0] > 0
        assert np.all(drop[~ink.numpy()] == 0)
    # erasing the patch the map calls most important really lowers the predicted digit's probability
    x = digits[2]
    p = evaluate.predict_proba(cnn, x)[0]
    r, c = np.unravel_index(look_inside.occlusion_saliency(cnn, x, patch=6).argmax(), (28, 28))
    erased = x.clone()
    erased[max(0, r - 3) : r + 3, max(0, c - 3) : c + 3] = 0
    assert evaluate.predict_proba(cnn, erased)[0, p.argmax()] < p.max()


@pytest.mark.parametrize("kwargs", [{"patch": 0}, {"stride": 0}, {"score": "loss"}, {"target": 10}])
def test_occlusion_rejects_bad_settings(cnn, digits, kwargs):
    with pytest.raises(ValueError):
        look_inside.occlusion_saliency(cnn, digits[0], **kwargs)


# ---- embeddings, PCA, neighbours -----------------------------------------------------------------


def test_embed_returns_what_the_last_linear_layer_reads(mlp, test_data):
    X = test_data[0][:50]
    emb = look_inside.embed(mlp, X, batch_size=16)
    x = mlp.normalize(X.float().div(255)).flatten(1)
    expected = torch.relu(mlp.fc1(x))  # the hidden layer: what the last layer, fc2, reads
    torch.testing.assert_close(emb, expected.detach())


def test_embed_of_the_cnn_has_one_row_per_image(cnn, test_data):
    emb = look_inside.embed(cnn, test_data[0][:10])
    last = [m for m in cnn.modules() if isinstance(m, nn.Linear)][-1]
    assert emb.shape == (10, last.in_features)
    # uint8 images and the same images as float in [0, 1] give the same features
    torch.testing.assert_close(look_inside.embed(cnn, test_data[0][:10].float() / 255), emb)


def test_embed_explains_bad_input(cnn):
    with pytest.raises(ValueError, match="28, 28"):
        look_inside.embed(cnn, torch.zeros(3, 32, 32))
    with pytest.raises(ValueError, match="no Linear layer"):
        look_inside.embed(nn.Sequential(nn.Conv2d(1, 2, 3)), torch.zeros(3, 28, 28))


def test_pca_matches_an_svd_and_keeps_the_most_variance():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(300, 6, generator=g) * torch.tensor([5.0, 3.0, 1.0, 0.5, 0.2, 0.1])
    pca = look_inside.fit_pca(X, k=2)
    points = pca.transform(X)
    assert points.shape == (300, 2)
    torch.testing.assert_close(pca.components @ pca.components.T, torch.eye(2), atol=1e-5, rtol=0)
    _, S, Vh = torch.linalg.svd(X - X.mean(0), full_matrices=False)
    # the same directions as the SVD, up to sign
    torch.testing.assert_close((pca.components * Vh[:2]).sum(1).abs(), torch.ones(2), atol=1e-4, rtol=0)
    torch.testing.assert_close(pca.explained_variance_ratio, (S[:2] ** 2) / (S**2).sum(), atol=1e-5, rtol=0)
    assert pca.transform(X[0]).shape == (2,)


def test_pca_rejects_too_few_rows():
    with pytest.raises(ValueError, match="N >= 2"):
        look_inside.fit_pca(torch.zeros(1, 5))


def test_the_penultimate_layer_separates_the_classes_in_two_dimensions(cnn, test_data):
    X, y = test_data[0][:2000], test_data[1][:2000]
    emb = look_inside.embed(cnn, X)
    points = look_inside.fit_pca(emb).transform(emb)
    assert points.shape == (2000, 2)
    # chance is 0.1; the raw pixels' own 2-D PCA map scores far lower than the network's
    assert look_inside.nearest_centroid_accuracy(points, y) > 0.5
    pixels = X.flatten(1).float()
    assert look_inside.nearest_centroid_accuracy(look_inside.fit_pca(pixels).transform(pixels), y) < 0.5


def test_nearest_centroid_accuracy_is_one_for_separate_clusters_and_near_chance_for_noise():
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(10).repeat(50)
    clusters = torch.randn(500, 2, generator=g) * 0.1 + labels[:, None].float() * 10
    assert look_inside.nearest_centroid_accuracy(clusters, labels) == 1.0
    assert look_inside.nearest_centroid_accuracy(torch.randn(500, 2, generator=g), labels) < 0.3


def test_a_training_digit_is_its_own_nearest_neighbour(cnn, mnist_train):
    X_train, _ = mnist_train
    bank = look_inside.embed(cnn, X_train[:300])
    idx, dist = look_inside.nearest_neighbours(bank[123], bank, k=5)
    assert idx.shape == dist.shape == (1, 5)
    assert idx[0, 0] == 123 and dist[0, 0] < 1e-3
    assert torch.all(dist[0, 1:] >= dist[0, :-1])  # sorted, nearest first
    with pytest.raises(ValueError, match="same model"):
        look_inside.nearest_neighbours(torch.zeros(3), bank)


# ---- out-of-distribution transformations ---------------------------------------------------------


def _centre_of_ink(image: np.ndarray) -> np.ndarray:
    rows, cols = np.indices(image.shape)
    return np.array([(rows * image).sum(), (cols * image).sum()]) / image.sum()


def test_shift_moves_the_ink_by_whole_pixels(digits):
    x = digits[0].numpy()
    moved = evaluate.shift_images(x, 3, -2)
    np.testing.assert_allclose(_centre_of_ink(moved), _centre_of_ink(x) + [-2, 3], atol=1e-4)
    np.testing.assert_array_equal(evaluate.shift_images(x, 0, 0), x)


def test_rotate_turns_anticlockwise_about_the_centre(digits):
    x = digits[0].numpy()
    np.testing.assert_allclose(evaluate.rotate_images(x, 90), np.rot90(x), atol=1e-5)
    np.testing.assert_allclose(evaluate.rotate_images(x, 0), x, atol=1e-6)


def test_thicken_adds_ink_and_negative_pixels_remove_it(digits):
    x = digits[0].numpy()
    ink = (x > 0.5).sum()
    assert (look_inside.thicken(x, 1) > 0.5).sum() > ink
    assert (look_inside.thicken(x, 2) > 0.5).sum() > (look_inside.thicken(x, 1) > 0.5).sum()
    assert (look_inside.thicken(x, -1) > 0.5).sum() < ink
    np.testing.assert_array_equal(look_inside.thicken(x, 0), x)
    assert look_inside.thicken(x, 1).shape == (28, 28)


def test_render_text_and_scribble_draw_white_ink_on_black():
    letter = look_inside.render_text("A")
    assert letter.shape == (280, 280) and letter.dtype == np.uint8
    assert letter[0, 0] == 0 and 0.02 < (letter > 128).mean() < 0.5
    a, b = look_inside.scribble(seed=1), look_inside.scribble(seed=2)
    assert a.shape == (280, 280) and (a > 128).mean() > 0.01
    np.testing.assert_array_equal(a, look_inside.scribble(seed=1))  # same seed, same scribble
    assert not np.array_equal(a, b)


def test_predict_proba_takes_one_digit_or_many_and_gives_a_row_each(cnn, digits, test_data):
    p = evaluate.predict_proba(cnn, np.stack([d.numpy() for d in digits]))
    assert p.shape == (5, 10)
    np.testing.assert_allclose(p.sum(1), 1, rtol=1e-5)
    assert (p.argmax(1) == test_data[1][:5].numpy()).all()
    assert evaluate.predict_proba(cnn, digits[0]).shape == (1, 10)
