"""Execute the numbered notebooks in order, headlessly, writing executed copies to build/.

python -m tools.runner              # full mode: the real lessons
MNISTLIB_SMOKE=1 python -m tools.runner   # smoke mode: fast, as CI runs them
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from mnistlib.paths import NOTEBOOKS_DIR, REPO_ROOT


def numbered_notebooks(folder: Path = NOTEBOOKS_DIR) -> list[Path]:
    """Return the notebooks whose names start with two digits, in reading order."""
    return sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb"))


def run_notebook(path: Path, out_dir: Path, timeout: int = 1800) -> float:
    """Execute one notebook in a fresh kernel, save the executed copy, return the seconds it took."""
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    try:
        client.execute()
    finally:
        out_dir.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, out_dir / path.name)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    """Run every numbered notebook; return 0 if all succeeded."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "build", help="where executed copies go")
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every numbered notebook")
    args = parser.parse_args(argv)
    paths = args.notebooks or numbered_notebooks()
    failed = []
    total = time.perf_counter()
    for i, path in enumerate(paths, 1):
        # Whole lines only: the kernel's own start-up messages may appear between them.
        print(f"[{i}/{len(paths)}] {path.name}: running", flush=True)
        try:
            seconds = run_notebook(path, args.out)
            print(f"[{i}/{len(paths)}] {path.name}: ok ({seconds:.0f} s)", flush=True)
        except CellExecutionError as exc:
            failed.append(path.name)
            print(f"[{i}/{len(paths)}] {path.name}: FAILED", flush=True)
            print(str(exc)[-3000:], file=sys.stderr)
    print(
        f"{len(paths) - len(failed)} of {len(paths)} notebooks ran in {time.perf_counter() - total:.0f} s; "
        f"executed copies in {args.out}"
    )
    if failed:
        print("failed: " + ", ".join(failed), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
