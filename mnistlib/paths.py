"""Where the project's folders are, resolved from the package rather than the working directory."""

import os
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
# MNISTLIB_DATA_DIR lets a classroom keep one download outside the repository.
DATA_DIR = Path(os.environ.get("MNISTLIB_DATA_DIR", REPO_ROOT / "data")).expanduser()
MODELS_DIR = REPO_ROOT / "models"  # the shipped models
# Students' own checkpoints (student_*.pt); MNISTLIB_MODELS_DIR moves them out of a read-only install.
STUDENT_MODELS_DIR = Path(os.environ.get("MNISTLIB_MODELS_DIR", MODELS_DIR)).expanduser()
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"


def write_atomically(path: Path, content: bytes) -> Path:
    """Write ``content`` next to ``path`` and rename it into place: never half a file, readable by all."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp creates 0600
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
