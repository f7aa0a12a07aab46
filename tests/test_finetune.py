"""Fine-tuning helpers: splits by student keep every student on one side; MNIST is mixed in as asked."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mnistlib.classroom.finetune import (
    as_tensors,
    mix_with_mnist,
    split_by_student,
    student_folds,
    students_of,
)
from mnistlib.classroom.store import ClassImages, sample_class


def toy_class(students: dict[str, int]) -> ClassImages:
    """Return a class store with ``count`` drawings per student; each image's pixel (0, 0) is its index."""
    names = [name for name, count in students.items() for _ in range(count)]
    n = len(names)
    images = np.zeros((n, 28, 28), np.uint8)
    images[:, 0, 0] = np.arange(n)
    return ClassImages(
        images=images,
        labels=np.arange(n, dtype=np.int64) % 10,
        students=np.array(names, dtype=str),
        ids=np.arange(1, n + 1, dtype=np.int64),
        predicted=np.full(n, -1, dtype=np.int64),
    )


def test_a_split_by_student_puts_all_of_a_students_drawings_on_one_side():
    data = toy_class({"anon-a": 5, "anon-b": 7, "anon-c": 3, "anon-d": 9, "anon-e": 6, "anon-f": 2})
    train_part, held_out = split_by_student(data, held_out=0.3, seed=1)
    train_students, held_students = set(train_part.students), set(held_out.students)
    assert not train_students & held_students
    assert train_students | held_students == set(data.students)
    assert len(held_students) == 2  # 30 % of 6 students, rounded
    assert len(train_part.ids) + len(held_out.ids) == len(data.ids)
    assert sorted(np.concatenate([train_part.ids, held_out.ids])) == sorted(data.ids)
    # Every field is cut alike: the image, label and id of a record stay together.
    for part in (train_part, held_out):
        assert (part.images[:, 0, 0] == part.ids - 1).all()
        assert (part.labels == (part.ids - 1) % 10).all()


def test_the_same_seed_gives_the_same_split_and_other_seeds_other_ones():
    data = toy_class({f"anon-{i}": 4 for i in range(10)})
    held = [tuple(sorted(set(split_by_student(data, 3, seed=s)[1].students))) for s in range(10)]
    assert held[0] == tuple(sorted(set(split_by_student(data, 3, seed=0)[1].students)))
    assert len(set(held)) > 5
    assert all(len(h) == 3 for h in held)  # an int is a number of students


def test_a_split_keeps_at_least_one_student_on_each_side():
    data = toy_class({"anon-a": 3, "anon-b": 3})
    for fraction in (0.01, 0.99):
        train_part, held_out = split_by_student(data, held_out=fraction)
        assert len(set(train_part.students)) == len(set(held_out.students)) == 1
    with pytest.raises(ValueError, match="at least 2 students"):
        split_by_student(toy_class({"anon-a": 10}))


def test_folds_hold_out_every_student_exactly_once():
    data = toy_class({f"anon-{i}": i + 1 for i in range(7)})
    folds = list(student_folds(data, k=3, seed=0))
    held = [set(h.students) for _, h in folds]
    assert len(folds) == 3 and sorted(s for h in held for s in h) == students_of(data)
    for train_part, held_out in folds:
        assert not set(train_part.students) & set(held_out.students)
        assert len(train_part.ids) + len(held_out.ids) == len(data.ids)
    with pytest.raises(ValueError, match="between 2"):
        list(student_folds(data, k=8))


def test_mnist_digits_are_mixed_in_as_many_per_drawing_as_asked():
    data = toy_class({"anon-a": 4, "anon-b": 6})
    mnist = (torch.full((100, 28, 28), 200, dtype=torch.uint8), torch.arange(100) % 10)
    X, y = mix_with_mnist(data, mnist, per_drawing=2.5, seed=0)
    assert X.dtype == torch.uint8 and X.shape == (10 + 25, 28, 28) and y.dtype == torch.int64
    assert (X[:10, 0, 0].numpy() == data.images[:, 0, 0]).all() and (y[:10].numpy() == data.labels).all()
    assert (X[10:] == 200).all()
    X_again, y_again = mix_with_mnist(data, mnist, per_drawing=2.5, seed=0)
    assert (
        torch.equal(X, X_again)
        and torch.equal(y, y_again)
        and not torch.equal(y, mix_with_mnist(data, mnist, 2.5, seed=1)[1])
    )
    X_all, _ = mix_with_mnist(data, mnist, per_drawing=50)  # more than MNIST has: all of it, once
    assert len(X_all) == 10 + 100


def test_the_shipped_sample_splits_by_student():
    data = sample_class().images()
    train_part, held_out = split_by_student(data, held_out=0.3, seed=0)
    students = len(set(data.students))
    assert students >= 5 and len(set(held_out.students)) == round(0.3 * students)
    assert len(train_part.ids) + len(held_out.ids) == len(data.ids)
    X, y = as_tensors(held_out)
    assert X.shape == (len(held_out.ids), 28, 28) and X.dtype == torch.uint8 and y.dtype == torch.int64
