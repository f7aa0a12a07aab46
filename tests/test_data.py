"""MNIST from anywhere: local copies (gz or plain, folder or URL), checksums, the offline error."""

from __future__ import annotations

import gzip
import hashlib
import shutil

import pytest
import torch
from torchvision.datasets import MNIST

from mnistlib import data


@pytest.fixture(scope="module")
def verified_raw():
    """The verified raw files in the project's data folder (fetched through MNIST_SOURCE if needed)."""
    return data.ensure_mnist()


@pytest.fixture(scope="module")
def plain_copy(tmp_path_factory, verified_raw):
    """A folder holding the four decompressed IDX files, like an unzipped USB-stick copy."""
    folder = tmp_path_factory.mktemp("plain")
    for name in data.SHA256:
        shutil.copyfile(verified_raw / name, folder / name)
    return folder


@pytest.fixture(scope="module")
def gz_copy(tmp_path_factory, verified_raw):
    """A folder holding the four gzipped IDX files, as they are distributed."""
    folder = tmp_path_factory.mktemp("gz")
    for name in data.SHA256:
        (folder / f"{name}.gz").write_bytes(gzip.compress((verified_raw / name).read_bytes()))
    return folder


def test_load_returns_whole_splits_as_tensors():
    X, y = data.load_mnist("train")
    Xt, yt = data.load_mnist("test")
    assert X.shape == (60000, 28, 28) and X.dtype == torch.uint8
    assert y.shape == (60000,) and y.dtype == torch.int64
    assert Xt.shape == (10000, 28, 28) and yt.shape == (10000,)
    assert set(y.unique().tolist()) == set(range(10))
    assert int(X.max()) == 255 and int(X.min()) == 0


@pytest.mark.parametrize("copy", ["plain_copy", "gz_copy"])
def test_local_copy_gz_or_plain_is_accepted(copy, request, tmp_path):
    source = request.getfixturevalue(copy)
    X, y = data.load_mnist("test", root=tmp_path, source=source)
    ref_X, ref_y = data.load_mnist("test")
    assert torch.equal(X, ref_X) and torch.equal(y, ref_y)
    for name in data.SHA256:
        assert data.sha256_of(tmp_path / "MNIST" / "raw" / name) == data.SHA256[name]


def test_local_copy_through_environment_variable(monkeypatch, gz_copy, tmp_path):
    monkeypatch.setenv(data.SOURCE_ENV, str(gz_copy))
    X, _ = data.load_mnist("test", root=tmp_path)
    assert X.shape == (10000, 28, 28)


def test_local_copy_from_a_url(gz_copy, tmp_path):
    X, _ = data.load_mnist("test", root=tmp_path, source=gz_copy.as_uri())
    assert X.shape == (10000, 28, 28)


def test_truncated_source_file_is_rejected_by_name(plain_copy, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(plain_copy, bad)
    target = bad / "t10k-labels-idx1-ubyte"
    target.write_bytes(target.read_bytes()[:-100])
    with pytest.raises(data.CorruptFileError, match="t10k-labels-idx1-ubyte"):
        data.load_mnist("test", root=tmp_path / "root", source=bad)
    # the damaged file is never copied into the cache
    assert not (tmp_path / "root" / "MNIST" / "raw" / "t10k-labels-idx1-ubyte").exists()


def test_damaged_gzip_is_rejected_by_name(gz_copy, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(gz_copy, bad)
    target = bad / "t10k-images-idx3-ubyte.gz"
    target.write_bytes(target.read_bytes()[:5000])
    with pytest.raises(data.CorruptFileError, match="t10k-images-idx3-ubyte.gz"):
        data.load_mnist("test", root=tmp_path / "root", source=bad)


def test_one_flipped_byte_is_detected(plain_copy, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(plain_copy, bad)
    target = bad / "t10k-images-idx3-ubyte"
    blob = bytearray(target.read_bytes())
    blob[5000] ^= 0xFF  # same size, one pixel changed
    target.write_bytes(bytes(blob))
    with pytest.raises(data.CorruptFileError, match="t10k-images-idx3-ubyte"):
        data.load_mnist("test", root=tmp_path / "root", source=bad)


def test_corrupt_cached_file_is_named_and_replaced(gz_copy, tmp_path, capsys):
    data.load_mnist("test", root=tmp_path, source=gz_copy)
    cached = tmp_path / "MNIST" / "raw" / "t10k-images-idx3-ubyte"
    cached.write_bytes(cached.read_bytes()[:1000])  # an interrupted copy
    X, _ = data.load_mnist("test", root=tmp_path, source=gz_copy)
    assert "t10k-images-idx3-ubyte" in capsys.readouterr().out
    assert X.shape == (10000, 28, 28)
    assert data.sha256_of(cached) == data.SHA256["t10k-images-idx3-ubyte"]


def test_missing_file_in_source_is_named(plain_copy, tmp_path):
    partial = tmp_path / "partial"
    shutil.copytree(plain_copy, partial)
    (partial / "train-labels-idx1-ubyte").unlink()
    with pytest.raises(data.MNISTUnavailableError, match="train-labels-idx1-ubyte"):
        data.load_mnist("train", root=tmp_path / "root", source=partial)


def test_offline_without_a_copy_says_both_ways_out(monkeypatch, tmp_path):
    monkeypatch.delenv(data.SOURCE_ENV, raising=False)
    # A mirror nobody listens on: the real torchvision download path, failing the way offline does.
    monkeypatch.setattr(MNIST, "mirrors", ["http://127.0.0.1:9/"])
    with pytest.raises(data.MNISTUnavailableError) as info:
        data.load_mnist("test", root=tmp_path)
    message = str(info.value)
    assert "internet" in message and data.SOURCE_ENV in message and "source=" in message


def test_unknown_split_is_refused():
    with pytest.raises(ValueError, match="train"):
        data.load_mnist("validation")


def test_shuffled_batches_cover_every_sample_once():
    X = torch.arange(103).float().unsqueeze(1)
    y = torch.arange(103)
    seen = torch.cat(
        [yb for _, yb in data.batches(X, y, 10, shuffle=True, generator=torch.Generator().manual_seed(0))]
    )
    assert sorted(seen.tolist()) == list(range(103))
    assert seen.tolist() != list(range(103))


def test_gzip_copy_round_trips(gz_copy):
    with gzip.open(gz_copy / "t10k-labels-idx1-ubyte.gz", "rb") as f:
        blob = f.read()
    assert hashlib.sha256(blob).hexdigest() == data.SHA256["t10k-labels-idx1-ubyte"]


def test_the_validation_split_sets_the_same_random_digits_aside():
    X, y = torch.arange(100).view(100, 1), torch.arange(100)
    X_fit, y_fit, X_val, y_val = data.validation_split(X, y, size=20, seed=0)
    assert len(X_val) == 20 and len(X_fit) == 80
    assert sorted(torch.cat([y_fit, y_val]).tolist()) == list(range(100))  # each digit once
    assert torch.equal(X_val[:, 0], y_val) and y_val.tolist() != list(range(20))  # at random, labels kept
    assert torch.equal(data.validation_split(X, y, size=20, seed=0)[3], y_val)  # the same again
    assert not torch.equal(data.validation_split(X, y, size=20, seed=1)[3], y_val)
