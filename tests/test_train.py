"""Training: a short run learns, seeds make it repeatable, augmentation keeps digits intact."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from mnistlib import data, evaluate, models, preprocess, train
from mnistlib.runtime import seed_everything


@pytest.fixture(scope="module")
def small_split():
    X, y = data.load_mnist("train")
    Xt, yt = data.load_mnist("test")
    return (X[:3000], y[:3000]), (Xt[:1000], yt[:1000])


def _short_run(name, split, seed=0, num_epochs=1, **changes):
    arch, recipe = train.RECIPES[name]
    recipe = dataclasses.replace(recipe, num_epochs=num_epochs, **changes)
    seed_everything(seed)
    model = models.build_model(arch)
    history = train.fit(model, split[0], split[1], recipe, seed=seed, device="cpu", progress=False)
    return model, history


@pytest.mark.parametrize("name", ["mlp", "plain_cnn", "cnn"])
def test_short_training_run_beats_chance_by_far(name, small_split):
    _, history = _short_run(name, small_split)
    assert history["val_acc"][-1] > 0.60  # chance is 0.10; one epoch over 3,000 digits
    assert set(history) == {"epoch", "train_loss", "train_acc", "val_loss", "val_acc", "time"}
    assert len(history["train_loss"]) == 1 and history["time"][-1] > 0


def test_same_seed_same_model(small_split):
    a, ha = _short_run("cnn", small_split, seed=3)
    b, hb = _short_run("cnn", small_split, seed=3)
    c, _ = _short_run("cnn", small_split, seed=4)
    Xt = small_split[1][0][:200]
    assert ha["train_loss"] == hb["train_loss"]
    assert torch.equal(evaluate.predict_proba(a, Xt), evaluate.predict_proba(b, Xt))
    assert not torch.equal(evaluate.predict_proba(a, Xt), evaluate.predict_proba(c, Xt))


def test_fp32_path_also_learns(small_split):
    _, history = _short_run("cnn", small_split, bf16="off", num_epochs=2)
    assert history["val_acc"][-1] > 0.90  # two epochs over 3,000 digits


def test_augmentation_moves_pixels_but_keeps_ink_and_shape():
    X, _ = data.load_mnist("test")
    xb = preprocess.to_batch(X[:64])
    out = train.augment_batch(xb, 1.0, torch.Generator().manual_seed(0))
    assert out.shape == xb.shape
    assert not torch.allclose(out, xb)
    ink_ratio = out.sum((1, 2, 3)) / xb.sum((1, 2, 3))
    assert ((ink_ratio > 0.7) & (ink_ratio < 1.3)).all()  # scale <= 10 %: ink area stays similar
    assert torch.allclose(train.augment_batch(xb, 0.0), xb, atol=1e-5)  # strength 0 is the identity


def test_on_epoch_end_sees_the_growing_history(small_split):
    seen = []
    arch, recipe = train.RECIPES["mlp"]
    model = models.build_model(arch)
    train.fit(
        model,
        small_split[0],
        None,
        dataclasses.replace(recipe, num_epochs=2),
        progress=False,
        device="cpu",
        on_epoch_end=lambda h: seen.append(list(h["epoch"])),
    )
    assert seen == [[1], [1, 2]]


def test_a_last_batch_of_one_image_is_left_out(small_split):
    # 257 images in batches of 256 would end with one image, which BatchNorm cannot train on.
    (X, y), _ = small_split
    arch, recipe = train.RECIPES["cnn"]
    model = models.build_model(arch)
    history = train.fit(
        model,
        (X[:257], y[:257]),
        None,
        dataclasses.replace(recipe, num_epochs=1, batch_size=256),
        progress=False,
        device="cpu",
    )
    assert history["epoch"] == [1] and history["train_acc"][-1] > 0


def _ink_area(x: torch.Tensor) -> torch.Tensor:
    return (x > 0.5).sum((1, 2, 3)).float()  # pixels of solid ink per image


def test_a_thicker_pen_grows_every_digit_within_one_pixel():
    X, _ = data.load_mnist("test")
    xb = preprocess.to_batch(X[:128])
    out = train.vary_stroke(xb, 1.0, torch.Generator().manual_seed(0), thin=0.0)
    assert out.shape == xb.shape and out.dtype == xb.dtype
    assert (out >= xb - 1e-6).all()  # dilation only ever adds ink
    assert (out <= torch.nn.functional.max_pool2d(xb, 3, stride=1, padding=1) + 1e-6).all()
    growth = _ink_area(out) / _ink_area(xb)
    assert (growth >= 1).all() and growth.median() > 1.3  # a pen up to one pixel wider on each side


def test_a_thinner_pen_shrinks_digits_and_each_digit_goes_one_way():
    X, _ = data.load_mnist("test")
    xb = preprocess.to_batch(X[:256])
    out = train.vary_stroke(xb, 1.0, torch.Generator().manual_seed(0), thin=1.0)
    thinner = (out <= xb + 1e-6).flatten(1).all(1)
    thicker = (out >= xb - 1e-6).flatten(1).all(1)
    assert (thinner | thicker).all()  # one amount per digit: eroded or dilated, never a mix
    shrink = _ink_area(out) / _ink_area(xb)
    assert (shrink[thinner & ~thicker] <= 1).all()
    assert (shrink < 0.8).sum() > 20 and (shrink > 1.2).sum() > 20  # both ways, often by a lot
    assert (out >= -torch.nn.functional.max_pool2d(-xb, 3, stride=1, padding=1) - 1e-6).all()


def test_the_fast_dilation_is_the_stride_one_max_pool():
    xb = torch.rand(37, 1, 28, 20)
    torch.testing.assert_close(
        train._dilate(xb), torch.nn.functional.max_pool2d(xb, 3, stride=1, padding=1), rtol=0, atol=0
    )


def test_the_training_optimizer_is_fused_on_the_cpu():
    model = models.SmallCNN()
    assert train._optimizer(model, models.MODELS["cnn"].recipe).defaults["fused"] is True


def test_stroke_share_leaves_the_other_digits_untouched():
    X, _ = data.load_mnist("test")
    xb = preprocess.to_batch(X[:400])
    out = train.vary_stroke(xb, 1.0, torch.Generator().manual_seed(0), share=0.25)
    changed = (out - xb).abs().flatten(1).amax(1) > 1e-6
    assert 60 < changed.sum() < 140  # about a quarter of 400
    torch.testing.assert_close(train.vary_stroke(xb, 0.0, torch.Generator().manual_seed(0)), xb)


def test_pen_and_slant_augmentation_are_seeded():
    X, _ = data.load_mnist("test")
    xb = preprocess.to_batch(X[:64])

    def both(seed):
        g = torch.Generator().manual_seed(seed)
        return train.augment_batch(train.vary_stroke(xb, 0.6, g, thin=0.5), 0.5, g, shear=1.0)

    assert torch.equal(both(1), both(1))
    assert not torch.allclose(both(1), both(2))


def test_shear_slants_and_widens_a_bar_both_ways():
    bar = torch.zeros(256, 1, 28, 28)
    bar[:, 0, 4:24, 13:15] = 1.0  # an upright stroke, like a 1
    out = train.augment_batch(bar, 0.0, torch.Generator().manual_seed(0), shear=1.0)
    cols = torch.arange(28.0)

    def centre(rows):  # the ink's mean column in those rows
        ink = out[:, 0, rows].sum(1)
        return (ink * cols).sum(1) / ink.sum(1)

    lean = centre(slice(4, 9)) - centre(slice(19, 24))  # top minus bottom: the slant
    assert (lean > 1.5).any() and (lean < -1.5).any() and lean.abs().max() < 7
    width = (out[:, 0, 8:20] > 0.25).sum(2).float().mean(1)
    assert width.max() - width.min() > 0.3  # some narrower, some wider hands
    assert torch.allclose(train.augment_batch(bar, 0.0, shear=0.0), bar, atol=1e-5)


def test_a_run_with_pen_and_slant_augmentation_learns(small_split):
    _, history = _short_run("cnn", small_split, stroke=0.6, thin=0.5, stroke_share=0.5, shear=0.5)
    assert history["val_acc"][-1] > 0.60  # chance is 0.10; one epoch over 3,000 digits


def test_pooling_only_the_changed_digits_gives_the_same_images():
    X, _ = data.load_mnist("test")
    xb = preprocess.to_batch(X[:300])
    out = train.vary_stroke(xb, 0.8, torch.Generator().manual_seed(3), thin=0.5, share=0.5)
    # The same draws, with every image pooled: the formula before only the chosen ones were.
    g = torch.Generator().manual_seed(3)
    amount = (torch.rand(300, generator=g) * 1.5 - 0.5) * 0.8
    amount = (amount * (torch.rand(300, generator=g) < 0.5)).view(-1, 1, 1, 1)
    thicker = torch.nn.functional.max_pool2d(xb, 3, stride=1, padding=1)
    thinner = -torch.nn.functional.max_pool2d(-xb, 3, stride=1, padding=1)
    expected = torch.where(
        amount > 0,
        torch.lerp(xb, thicker, amount.clamp(max=1)),
        torch.lerp(xb, thinner, (-amount).clamp(max=1)),
    )
    assert torch.equal(out, expected)
    assert not torch.equal(out, xb)


def test_the_recipe_temperature_is_folded_into_the_trained_model(small_split):
    # Same seed, same training: only the folded temperature differs, so the scores differ by its factor.
    plain, history_plain = _short_run("cnn", small_split, seed=1, temperature=1.0)
    sharp, history_sharp = _short_run("cnn", small_split, seed=1, temperature=0.5)
    x = preprocess.to_batch(small_split[1][0][:64])
    with torch.inference_mode():
        before, after = plain(x), sharp(x)
    torch.testing.assert_close(after, before / 0.5, rtol=1e-4, atol=1e-4)
    assert history_plain["val_acc"] == history_sharp["val_acc"]  # measured before the fold
    assert train.RECIPES["cnn"][1].temperature < 1  # the shipped CNN's smoothing is undone by one
