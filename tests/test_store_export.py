"""A class store exported as an ImageFolder: the layout torchvision reads, records.csv, all-or-nothing writes."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from class_support import ONE, SEVEN, bar_image
from PIL import Image

from mnistlib.classroom.store import ClassStore, new_student_id
from mnistlib.classroom.store_export import EXPORT_COLUMNS, export_target, write_export


@pytest.fixture
def store(tmp_path: Path) -> ClassStore:
    return ClassStore(tmp_path / "class" / "class.sqlite", timeout=5)


def test_export_is_an_image_folder_per_digit_with_a_record_list(store: ClassStore, tmp_path: Path) -> None:
    from torchvision.datasets import ImageFolder

    a = new_student_id()
    ids = [store.add(SEVEN, 7, a), store.add(ONE, 1), store.add(bar_image(), 1, a)]
    out = store.export(tmp_path / "export")
    assert sorted(p.name for p in out.iterdir()) == [*map(str, range(10)), "records.csv"]
    dataset = ImageFolder(str(out), allow_empty=True)
    assert dataset.class_to_idx == {str(d): d for d in range(10)}
    assert sorted(label for _, label in dataset.samples) == [1, 1, 7]
    rows = list(csv.DictReader((out / "records.csv").read_text(encoding="utf-8").splitlines()))
    assert [int(r["id"]) for r in rows] == ids and rows[0]["student"] == a
    for row in rows:
        image = np.asarray(Image.open(out / row["file"]))
        np.testing.assert_array_equal(image, store.get(int(row["id"])).model_input)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        store.export(out)
    store.delete(ids[0])
    store.export(out, overwrite=True)
    assert len(list(csv.DictReader((out / "records.csv").read_text(encoding="utf-8").splitlines()))) == 2
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary left


def test_an_export_that_fails_half_way_leaves_nothing(store: ClassStore, tmp_path: Path, monkeypatch) -> None:
    for _ in range(3):
        store.add(ONE, 1)
    real_save, calls = Image.Image.save, []

    def failing_save(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real_save(self, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "save", failing_save)
    with pytest.raises(OSError, match="No space"):
        store.export(tmp_path / "export")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["class"]


def test_a_folder_that_is_not_an_export_is_never_replaced(tmp_path: Path) -> None:
    other = tmp_path / "homework"
    other.mkdir()
    (other / "essay.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not an earlier export"):
        export_target(other, overwrite=True)
    assert [p.name for p in other.iterdir()] == ["essay.txt"]
    assert export_target(tmp_path / "new", overwrite=False) == (tmp_path / "new").absolute()


def test_rows_are_written_without_any_store(tmp_path: Path) -> None:
    image = np.arange(784, dtype=np.uint8).reshape(28, 28)
    uuid = "0b7c4f1e-8a59-4c1f-9d3e-2f6a1b0c9d8e"
    row = {"id": 5, "uuid": uuid, "label": 3, "student": "anon-0000abcd", "created": "t"}
    row |= {"model_input": image.tobytes(), "predicted": None, "model": None}
    out = write_export([tuple(row[c] for c in EXPORT_COLUMNS.split(", "))], tmp_path / "out")
    np.testing.assert_array_equal(np.asarray(Image.open(out / "3" / f"{uuid}.png")), image)
    (record,) = csv.DictReader((out / "records.csv").read_text(encoding="utf-8").splitlines())
    assert record == {
        "file": f"3/{uuid}.png",
        "id": "5",
        "uuid": uuid,
        "label": "3",
        "student": "anon-0000abcd",
        "created": "t",
        "predicted": "",
        "model": "",
    }
