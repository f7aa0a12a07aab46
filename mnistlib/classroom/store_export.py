"""A class store's drawings written out as a PNG folder per digit, as torchvision's ImageFolder reads it.

``ClassStore.export`` reads the rows (``EXPORT_COLUMNS``, by id) and hands them here: this module only
writes files, and knows nothing of SQLite. The folder is built beside the target and renamed into
place, so the target is always a whole export or absent.
"""

from __future__ import annotations

import csv
import os
import secrets
import shutil
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

EXPORT_COLUMNS = "id, uuid, label, student, created, model_input, predicted, model"
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection): such a cell is
# written with a leading apostrophe, which spreadsheets show as text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: object) -> object:
    """Return ``value``, or a text cell a spreadsheet would run as a formula made into plain text."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def export_target(path: str | os.PathLike, overwrite: bool) -> Path:
    """Return the absolute export folder, or raise FileExistsError if it may not be written."""
    target = Path(path).expanduser().absolute()
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target} already exists. Choose a new folder, or pass overwrite=True.")
    if target.exists() and not (target / "records.csv").is_file():
        raise FileExistsError(
            f"{target} exists and is not an earlier export (no records.csv): not replacing it."
        )
    return target


def write_export(rows: list[tuple], target: Path) -> Path:
    """Write the export of ``rows`` (EXPORT_COLUMNS) in a temporary folder, then rename it into place as ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        for digit in range(10):
            (tmp / str(digit)).mkdir()
        with open(tmp / "records.csv", "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["file", "id", "uuid", "label", "student", "created", "predicted", "model"])
            for rid, ruuid, label, student, created, model_input, predicted, model in rows:
                name = f"{label}/{ruuid}.png"
                image = np.frombuffer(model_input, dtype=np.uint8).reshape(28, 28)
                Image.fromarray(image, "L").save(tmp / name, format="PNG")
                row = [
                    name,
                    rid,
                    ruuid,
                    label,
                    student,
                    created,
                    "" if predicted is None else predicted,
                    model or "",
                ]
                writer.writerow([spreadsheet_safe(cell) for cell in row])
        tmp.chmod(0o755)  # mkdtemp makes it private; an export is for sharing
        if target.exists():  # replace an earlier export: the old one is moved away, then removed
            old = target.with_name(f".{target.name}.{secrets.token_hex(4)}.old")
            target.rename(old)
            tmp.rename(target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target
