"""Execute the numbered notebooks in order, headlessly, writing executed copies to build/.

python -m tools.runner                    # full mode: the real lessons (`make run`)
MNISTLIB_SMOKE=1 python -m tools.runner   # smoke mode: fast, as CI runs them
python -m tools.runner --record           # maintainers, after a full run: keep its times

In full mode the seconds each lesson took go into build/run_times.json (merged with the lessons not run
this time), with the machine's cores and PyTorch's threads; build/ is git-ignored, so a run leaves the
work tree clean. Notebook 00 prints those times when they exist, else the committed record,
notebooks/run_times.json. `--record` copies a full run of every lesson into that record and rewrites
the lesson tables that quote it (tools/lesson_table.py); nothing else writes the record.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from mnistlib.paths import NOTEBOOKS_DIR, REPO_ROOT
from tools.lesson_table import RECORD, lesson_paths, write_tables

BUILD_DIR = REPO_ROOT / "build"
RUN_TIMES = BUILD_DIR / "run_times.json"  # this machine's last full-mode times (git-ignored)


def smoke_mode() -> bool:
    """Return True if MNISTLIB_SMOKE asks for smoke mode (the kernels inherit the variable)."""
    return os.environ.get("MNISTLIB_SMOKE", "0").strip().lower() not in ("", "0", "false", "no")


def torch_threads() -> int:
    """Return the number of threads PyTorch computes with here (what a kernel started from here gets)."""
    import torch  # only in full mode: importing it costs a second

    return torch.get_num_threads()


def write_run_times(seconds: dict[str, float], path: Path = RUN_TIMES) -> dict:
    """Merge these notebooks' full-mode seconds into the run-times file; return what was written."""
    times = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    times.update(
        mode="full",
        date=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        cores=len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        torch_threads=torch_threads(),
    )
    merged = {**times.get("seconds", {}), **{name: round(s, 1) for name, s in seconds.items()}}
    times["seconds"] = dict(sorted(merged.items()))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(times, indent=2) + "\n", encoding="utf-8")
    return times


def record_times(
    times_path: Path = RUN_TIMES, record_path: Path = RECORD, lessons: Path = NOTEBOOKS_DIR
) -> dict:
    """Copy the full-mode times of every lesson into the committed record; ValueError if some are missing."""
    if not times_path.exists():
        raise ValueError(f"no {times_path}: run every lesson in full mode first (python -m tools.runner)")
    times = json.loads(times_path.read_text(encoding="utf-8"))
    names = [p.name for p in lesson_paths(lessons)]
    missing = [name for name in names if name not in times.get("seconds", {})]
    if times.get("mode") != "full" or missing:
        raise ValueError(f"{times_path} lacks full-mode times of {missing}: python -m tools.runner first")
    # Only today's lessons: the old entry of a renamed or removed notebook is dropped.
    times["seconds"] = {name: times["seconds"][name] for name in names}
    record_path.write_text(json.dumps(times, indent=2) + "\n", encoding="utf-8")
    return times


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
    parser.add_argument("--out", type=Path, default=BUILD_DIR, help="where executed copies go")
    parser.add_argument(
        "--times", type=Path, default=RUN_TIMES, help="full mode: where the lessons' seconds are written"
    )
    parser.add_argument(
        "--lessons", type=Path, default=NOTEBOOKS_DIR, help="the folder whose notebooks' times are kept"
    )
    parser.add_argument(
        "--record",
        action="store_true",
        help="run nothing: copy --times into notebooks/run_times.json and rewrite the lesson tables",
    )
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every numbered notebook")
    args = parser.parse_args(argv)
    if args.record:
        if args.notebooks:
            parser.error("--record runs nothing; run the notebooks first, then --record alone")
        try:
            times = record_times(args.times, RECORD, args.lessons)
        except ValueError as exc:
            print(exc, file=sys.stderr)
            return 1
        changed = write_tables()
        print(f"recorded {len(times['seconds'])} lessons' times ({times['date']}) in {RECORD}")
        print("lesson tables rewritten: " + (", ".join(str(p) for p in changed) or "none needed"))
        print(
            "then rerun notebook 00 so it prints them: python -m tools.runner --out notebooks notebooks/00_start_here.ipynb"
        )
        return 0
    paths = args.notebooks or lesson_paths(args.lessons)
    failed = []
    seconds_taken = {}
    total = time.perf_counter()
    for i, path in enumerate(paths, 1):
        # Whole lines only: the kernel's own start-up messages may appear between them.
        print(f"[{i}/{len(paths)}] {path.name}: running", flush=True)
        try:
            seconds = run_notebook(path, args.out)
            print(f"[{i}/{len(paths)}] {path.name}: ok ({seconds:.0f} s)", flush=True)
            # Only the lessons themselves: a solution notebook or a copy elsewhere is not a lesson's time.
            if path.resolve().parent == args.lessons.resolve():
                seconds_taken[path.name] = seconds
        except CellExecutionError as exc:
            failed.append(path.name)
            print(f"[{i}/{len(paths)}] {path.name}: FAILED", flush=True)
            print(str(exc)[-3000:], file=sys.stderr)
    print(
        f"{len(paths) - len(failed)} of {len(paths)} notebooks ran in {time.perf_counter() - total:.0f} s; "
        f"executed copies in {args.out}"
    )
    if seconds_taken and not smoke_mode():
        write_run_times(seconds_taken, args.times)
        print(f"full-mode times of {len(seconds_taken)} notebooks written to {args.times}")
    if failed:
        print("failed: " + ", ".join(failed), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
