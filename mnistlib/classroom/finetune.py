"""Fine-tuning a model on a class's own drawings: split by student, mix in MNIST, train gently.

A class store holds many drawings by each student, and one student's drawings look alike. A split by
drawing would put some of every student's drawings on both sides, and the measured accuracy would
say how well the model reads hands it has already seen. A split **by student** keeps every drawing
of a student on one side, so the held-out students are new hands, as next year's class will be.

    train_part, held_out = split_by_student(cs.images(), held_out=0.3, seed=0)
    X, y = mix_with_mnist(train_part, mnist_train, per_drawing=2, seed=0)
    model = copy.deepcopy(shipped_cnn)
    train.fit(model, (X, y), recipe=FINE_TUNE)
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import torch

from mnistlib.classroom.store import ClassImages
from mnistlib.models import Recipe

# Gentle: a sixth of the CNN recipe's peak learning rate, so a few hundred drawings adjust the shipped
# weights instead of overwriting them; light augmentation and no label smoothing, so a fine-tuned model's
# confidence stays honest. Chosen on an earlier sample class store, 5 folds by student.
FINE_TUNE = Recipe(num_epochs=6, batch_size=64, lr=1e-3, weight_decay=5e-4, augment=0.5)


def students_of(data: ClassImages) -> list[str]:
    """Return the students of a class store, sorted (so a seed picks the same split on every machine)."""
    return sorted(set(data.students.tolist()))


def subset(data: ClassImages, keep: np.ndarray) -> ClassImages:
    """Return the drawings where the (N,) boolean mask ``keep`` is True, every field alike."""
    return ClassImages(*(field[keep] for field in data))


def split_by_student(
    data: ClassImages, held_out: float = 0.3, seed: int = 0
) -> tuple[ClassImages, ClassImages]:
    """Split a class store by student: return (training part, held-out part), no student in both.

    ``held_out``: the fraction of students held out (at least one, and at least one left to train
    on), or their number when an int. Students are drawn at random with ``seed``.
    """
    students = students_of(data)
    if len(students) < 2:
        raise ValueError(
            f"Splitting by student needs drawings by at least 2 students; this set has {len(students)}. "
            "Collect drawings on more pads (each pad is one student)."
        )
    count = held_out if isinstance(held_out, int) else round(held_out * len(students))
    count = min(max(count, 1), len(students) - 1)
    order = np.random.default_rng(seed).permutation(len(students))
    chosen = np.isin(data.students, [students[i] for i in order[:count]])
    return subset(data, ~chosen), subset(data, chosen)


def student_folds(data: ClassImages, k: int = 5, seed: int = 0) -> Iterator[tuple[ClassImages, ClassImages]]:
    """Yield ``k`` (training part, held-out part) splits by student: each student is held out exactly once."""
    students = students_of(data)
    if not 2 <= k <= len(students):
        raise ValueError(f"k must be between 2 and the number of students ({len(students)}), not {k}.")
    order = np.random.default_rng(seed).permutation(len(students))
    for fold in np.array_split(order, k):
        chosen = np.isin(data.students, [students[i] for i in fold])
        yield subset(data, ~chosen), subset(data, chosen)


def mix_with_mnist(
    data: ClassImages,
    mnist: tuple[torch.Tensor, torch.Tensor],
    per_drawing: float = 2.0,
    seed: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return the class drawings plus ``per_drawing`` random MNIST digits for each, as (X uint8 (N, 28, 28), y).

    Training on the class's drawings alone would let the model forget the variety of MNIST; mixed
    in, the old digits keep it honest. The MNIST digits are drawn without replacement with ``seed``.
    """
    X_mnist, y_mnist = mnist
    count = min(len(X_mnist), math.ceil(per_drawing * len(data.images)))
    pick = torch.randperm(len(X_mnist), generator=torch.Generator().manual_seed(seed))[:count]
    X = torch.cat([torch.from_numpy(data.images), X_mnist[pick]])
    y = torch.cat([torch.from_numpy(data.labels), y_mnist[pick].long()])
    return X, y


def as_tensors(data: ClassImages) -> tuple[torch.Tensor, torch.Tensor]:
    """Return a class store's images (N, 28, 28) uint8 and labels (N,) int64 as tensors, like ``load_mnist``."""
    return torch.from_numpy(data.images), torch.from_numpy(data.labels)
