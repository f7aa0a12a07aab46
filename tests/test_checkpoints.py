"""Checkpoints: round trip, atomic writes, and every kind of bad file raising a clear error."""

from __future__ import annotations

import os
import pickle

import pytest
import torch

from mnistlib import checkpoints, models
from mnistlib.classroom.model_menu import ModelShelf


@pytest.fixture
def cnn():
    torch.manual_seed(0)
    return models.build_model("cnn", channels=(8, 8, 8), hidden=16).eval()


@pytest.fixture
def saved(cnn, tmp_path):
    return checkpoints.save_checkpoint(cnn, tmp_path / "cnn.pt", test_acc=0.99, seed=0, recipe={"lr": 1e-3})


def test_round_trip_gives_identical_predictions(cnn, saved):
    x = torch.rand(8, 1, 28, 28)
    loaded = checkpoints.load_checkpoint(saved)
    assert isinstance(loaded, models.SmallCNN) and not loaded.training
    assert torch.equal(loaded(x), cnn(x))
    assert loaded.checkpoint_metadata == {"test_acc": 0.99, "seed": 0, "recipe": {"lr": 1e-3}}
    payload = checkpoints.read_checkpoint(saved)
    assert payload["model_args"]["channels"] == [8, 8, 8]
    assert payload["normalization"] == {"mean": 0.1307, "std": 0.3081}


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(checkpoints.CheckpointError, match="nothing.pt"):
        checkpoints.load_checkpoint(tmp_path / "nothing.pt")


def test_truncated_file(saved):
    saved.write_bytes(saved.read_bytes()[: saved.stat().st_size // 2])
    with pytest.raises(checkpoints.CheckpointError, match=r"cnn\.pt.*truncated"):
        checkpoints.load_checkpoint(saved)


def test_corrupt_bytes(tmp_path):
    path = tmp_path / "noise.pt"
    path.write_bytes(os.urandom(4096))
    with pytest.raises(checkpoints.CheckpointError, match="noise.pt"):
        checkpoints.load_checkpoint(path)


def test_text_file_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "notes.pt"
    path.write_text("hello")
    with pytest.raises(checkpoints.CheckpointError, match="notes.pt"):
        checkpoints.load_checkpoint(path)


def test_plain_state_dict_is_not_a_checkpoint(cnn, tmp_path):
    path = tmp_path / "state.pt"
    torch.save(cnn.state_dict(), path)
    with pytest.raises(checkpoints.CheckpointError, match="not an mnistlib checkpoint"):
        checkpoints.load_checkpoint(path)


def test_pickled_code_is_refused_not_run(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    path = tmp_path / "evil.pt"
    with open(path, "wb") as f:
        pickle.dump({"format": checkpoints.FORMAT, "x": Evil()}, f)
    with pytest.raises(checkpoints.CheckpointError, match="evil.pt"):
        checkpoints.load_checkpoint(path)
    assert not marker.exists()


def test_wrong_architecture_is_named(saved):
    with pytest.raises(checkpoints.CheckpointError, match="'cnn'.*'mlp'"):
        checkpoints.load_checkpoint(saved, expected_model="mlp")


def test_wrong_shapes_are_reported(cnn, tmp_path):
    path = checkpoints.save_checkpoint(cnn, tmp_path / "shapes.pt")
    payload = torch.load(path, weights_only=True)
    payload["model_args"]["hidden"] = 32  # weights are for a hidden layer of 16
    torch.save(payload, path)
    with pytest.raises(checkpoints.CheckpointError, match=r"shapes\.pt.*do not fit"):
        checkpoints.load_checkpoint(path)


def test_unknown_model_name(cnn, tmp_path):
    path = checkpoints.save_checkpoint(cnn, tmp_path / "odd.pt")
    payload = torch.load(path, weights_only=True)
    payload["model_name"] = "transformer"
    torch.save(payload, path)
    with pytest.raises(checkpoints.CheckpointError, match="transformer"):
        checkpoints.load_checkpoint(path)


def test_interrupted_save_keeps_the_old_file(cnn, saved, monkeypatch):
    before = saved.read_bytes()

    def crash(obj, f, *args, **kwargs):
        f.write(b"half a checkpoint")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        checkpoints.save_checkpoint(models.build_model("cnn", channels=(8, 8, 8), hidden=16), saved)
    assert saved.read_bytes() == before
    assert sorted(p.name for p in saved.parent.iterdir()) == ["cnn.pt"]  # no temp file left behind
    checkpoints.load_checkpoint(saved)


def test_unregistered_model_cannot_be_saved(tmp_path):
    with pytest.raises(ValueError, match="not a registered model"):
        checkpoints.save_checkpoint(torch.nn.Linear(2, 2), tmp_path / "x.pt")


def test_metadata_is_stored_as_plain_data(cnn, tmp_path):
    path = checkpoints.save_checkpoint(
        cnn, tmp_path / "m.pt", torch=torch.__version__, acc=torch.tensor(0.5), shape=(1, 2)
    )
    assert checkpoints.load_checkpoint(path).checkpoint_metadata == {
        "torch": str(torch.__version__),
        "acc": 0.5,
        "shape": [1, 2],
    }
    with pytest.raises(TypeError, match="plain data"):
        checkpoints.save_checkpoint(cnn, tmp_path / "bad.pt", net=cnn)


def test_a_model_is_saved_with_the_arguments_it_was_built_with(tmp_path):
    model = models.SmallCNN(channels=(8, 12, 16), hidden=24, dropout=0.0)
    path = checkpoints.save_checkpoint(model, tmp_path / "m.pt")
    args = checkpoints.read_checkpoint(path)["model_args"]
    assert args["channels"] == [8, 12, 16] and args["hidden"] == 24 and args["dropout"] == 0.0
    assert checkpoints.load_checkpoint(path).model_args == {**model.model_args, "channels": [8, 12, 16]}


def test_the_model_shelf_loads_each_model_once_and_notes_checkpoint_accuracy(tmp_path):
    in_memory = models.MLP()
    path = checkpoints.save_checkpoint(models.MLP(), tmp_path / "m.pt", test_acc=0.9123)
    shelf = ModelShelf({"mine": in_memory, "saved": path})
    assert shelf.labels == ["mine", "saved"]
    assert shelf.load("mine") is in_memory and not in_memory.training
    assert shelf.load("saved") is shelf.load("saved")
    assert shelf.note("saved") == ", 91.2% on the test set" and shelf.note("mine") == ""
    with pytest.raises(checkpoints.CheckpointError, match="No model"):
        ModelShelf({})
