"""Fetch, verify and cache MNIST, then hand it out as whole tensors held in memory.

The four IDX files come from ``source`` or ``$MNIST_SOURCE`` (a folder or URL, gzipped or not), else from
torchvision's download; each is checked against its published SHA-256 and kept in ``<data dir>/MNIST/raw/``.
"""

import gzip
import hashlib
import os
import urllib.error
import urllib.request
import zlib
from collections.abc import Iterator
from pathlib import Path

import torch
from torchvision.datasets import MNIST
from torchvision.datasets.mnist import read_image_file, read_label_file

from mnistlib.paths import DATA_DIR, write_atomically

SOURCE_ENV = "MNIST_SOURCE"

# SHA-256 of each *decompressed* file, as published for the official MNIST distribution.
SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
SPLITS = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


class MNISTUnavailableError(RuntimeError):
    """MNIST is not on disk and could not be fetched."""


class CorruptFileError(RuntimeError):
    """A copy of an MNIST file does not match its published SHA-256."""


def raw_dir(root: str | Path | None = None) -> Path:
    """Return the folder holding the verified, decompressed IDX files."""
    return Path(root if root is not None else DATA_DIR) / "MNIST" / "raw"


def sha256_of(path: str | Path) -> str:
    """Return the hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _is_verified(path: Path) -> bool:
    return path.is_file() and sha256_of(path) == SHA256[path.name]


def _read_source(source: str, name: str) -> tuple[bytes, str]:
    """Return the decompressed bytes of one IDX file from a folder or URL, and where it was found."""
    candidates = [f"{name}.gz", name]
    if "://" not in source:
        base = Path(source).expanduser()
        for folder in (base, base / "MNIST" / "raw"):  # the folder, or a torchvision-style data folder
            for candidate in candidates:
                path = folder / candidate
                if path.is_file():
                    return _decompress(path.read_bytes(), str(path)), str(path)
        raise MNISTUnavailableError(
            f"{name}(.gz) is not in {source!r} (set by the source argument or ${SOURCE_ENV}). "
            f"The folder must hold the four MNIST IDX files: {', '.join(SHA256)}, gzipped or not."
        )
    errors = []
    for candidate in candidates:
        url = source.rstrip("/") + "/" + candidate
        try:
            with urllib.request.urlopen(url, timeout=60) as response:
                return _decompress(response.read(), url), url
        except (urllib.error.URLError, OSError) as exc:
            errors.append(f"{url}: {exc}")
    raise MNISTUnavailableError(f"Could not fetch {name} from {source!r}:\n" + "\n".join(errors))


def _decompress(blob: bytes, where: str) -> bytes:
    if blob[:2] != b"\x1f\x8b":
        return blob
    try:
        return gzip.decompress(blob)
    except (OSError, EOFError, zlib.error) as exc:
        raise CorruptFileError(f"{where} is a damaged gzip file ({exc}): use a fresh copy.") from exc


def _download_with_torchvision(root: Path) -> None:
    """Let torchvision download and extract the four archives into root/MNIST/raw."""
    try:
        MNIST(str(root), train=True, download=True)
    except (RuntimeError, urllib.error.URLError, OSError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise MNISTUnavailableError(
            f"MNIST is not on this computer and could not be downloaded ({first_line}).\nTwo ways out:\n"
            "  1. connect to the internet and run this again, or\n"
            "  2. point at a local copy of the four IDX files, gzipped or not: set the environment variable\n"
            f"     {SOURCE_ENV}=/path/to/folder (or a URL), or call load_mnist(source='/path/to/folder')."
        ) from exc


def ensure_mnist(root: str | Path | None = None, source: str | Path | None = None) -> Path:
    """Make sure the four verified IDX files are in ``root``/MNIST/raw (bad copies replaced); return it."""
    root = Path(root if root is not None else DATA_DIR)
    source = source if source is not None else os.environ.get(SOURCE_ENV) or None
    folder = raw_dir(root)
    for path in (folder / name for name in SHA256):
        if path.exists() and not _is_verified(path):
            print(f"mnistlib: {path} is corrupt or truncated (SHA-256 mismatch); fetching it again.")
            path.unlink()
    missing = [name for name in SHA256 if not (folder / name).exists()]
    if not missing:
        return folder
    if source is None:
        _download_with_torchvision(root)
    else:
        for name in missing:
            blob, where = _read_source(str(source), name)
            if hashlib.sha256(blob).hexdigest() != SHA256[name]:
                raise CorruptFileError(
                    f"{where} is corrupt or truncated (not {name}'s published SHA-256): use a fresh copy."
                )
            write_atomically(folder / name, blob)
    for bad in (folder / name for name in SHA256 if not _is_verified(folder / name)):
        bad.unlink(missing_ok=True)
        raise CorruptFileError(f"{bad} failed its SHA-256 check after download; run again.")
    return folder


def load_mnist(
    split: str = "train", root: str | Path | None = None, source: str | Path | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return one split as tensors in memory: images (N, 28, 28) uint8 and labels (N,) int64."""
    if split not in SPLITS:
        raise ValueError(f"split must be 'train' or 'test', not {split!r}")
    folder = ensure_mnist(root, source)
    images_name, labels_name = SPLITS[split]
    return read_image_file(str(folder / images_name)), read_label_file(str(folder / labels_name))


def data_sha256(split: str = "train") -> str:
    """Return one SHA-256 that identifies a split's images and labels (recorded in checkpoints)."""
    return hashlib.sha256("".join(SHA256[n] for n in SPLITS[split]).encode()).hexdigest()


def validation_split(
    X: torch.Tensor, y: torch.Tensor, size: int = 5000, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Set ``size`` digits aside at random (the same ones for the same seed); return X_fit, y_fit, X_val, y_val."""
    order = torch.randperm(len(X), generator=torch.Generator().manual_seed(seed))
    return X[order[size:]], y[order[size:]], X[order[:size]], y[order[:size]]


def batches(
    X: torch.Tensor,
    y: torch.Tensor,
    batch_size: int,
    shuffle: bool = False,
    generator: torch.Generator | None = None,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield (X, y) mini-batches of tensors in memory, in order or (``shuffle``) in a random order."""
    order = torch.randperm(len(X), generator=generator) if shuffle else torch.arange(len(X))
    for start in range(0, len(X), batch_size):
        idx = order[start : start + batch_size]
        yield X[idx], y[idx]


if __name__ == "__main__":
    folder = ensure_mnist()
    print(f"MNIST is present and verified (SHA-256) in {folder}")
