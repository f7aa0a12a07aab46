"""Where the project's folders are, resolved from the package rather than the working directory."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
# MNISTLIB_DATA_DIR lets a classroom keep one download outside the repository.
DATA_DIR = Path(os.environ.get("MNISTLIB_DATA_DIR", REPO_ROOT / "data")).expanduser()
MODELS_DIR = REPO_ROOT / "models"  # the shipped models
# Where students' own checkpoints (models/student_*.pt) are saved and where the pad looks for them.
# MNISTLIB_MODELS_DIR moves them out of a shared, read-only install (JupyterHub: each student's home).
STUDENT_MODELS_DIR = Path(os.environ.get("MNISTLIB_MODELS_DIR", MODELS_DIR)).expanduser()
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
