"""Print how much disk each install route takes: a fresh venv with the runtime list, then with the dev list.

Usage: python -m tools.install_sizes [--cpu-torch] [--keep DIR]
Each route is installed from nothing into a throwaway venv (pip's cache makes the second run fast),
and measured with `du`. With --cpu-torch, a third venv gets PyTorch's CPU-only wheels first
(download.pytorch.org: needs that host, which some networks, CI among them, do not reach).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from mnistlib.paths import REPO_ROOT

CPU_INDEX = "https://download.pytorch.org/whl/cpu"
# The CUDA runtime that the default (PyPI) torch wheel pulls in; the CPU wheels need none of it.
CUDA_PARTS = ("nvidia", "triton")


def du_bytes(path: Path) -> int:
    """Return the disk usage of ``path`` in bytes, as `du -s` counts it."""
    out = subprocess.run(
        ["du", "-s", "--block-size=1", str(path)], capture_output=True, text=True, check=True
    )
    return int(out.stdout.split()[0])


def human(n: float) -> str:
    """Return ``n`` bytes as a short figure: 26.4 MB, 6.2 GB."""
    return f"{n / 1e9:.1f} GB" if n >= 1e9 else f"{n / 1e6:.1f} MB"


def pip(venv: Path, *args: str) -> None:
    """Run the venv's pip quietly, failing with its output if it fails."""
    cmd = [
        str(venv / "bin" / "python"),
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        *args,
    ]
    done = subprocess.run(cmd, check=False, capture_output=True, text=True)
    if done.returncode:
        tail = 2 * 1024  # characters of each stream: pip's error comes last
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stdout[-tail:]}{done.stderr[-tail:]}")


def site_packages(venv: Path) -> Path:
    """Return the venv's site-packages folder."""
    (site,) = (venv / "lib").glob("python3*/site-packages")
    return site


def cuda_share(venv: Path) -> int:
    """Return the bytes of site-packages that only CUDA needs (the nvidia-* wheels and triton)."""
    return sum(du_bytes(p) for p in site_packages(venv).iterdir() if p.name.lower().startswith(CUDA_PARTS))


def main() -> None:
    """Install each route into a fresh venv and print its size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu-torch", action="store_true", help="also measure the CPU-only PyTorch route")
    parser.add_argument("--keep", type=Path, help="build the venvs here and keep them (default: a temp dir)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="install-sizes-") as tmp:
        base = args.keep or Path(tmp)
        venv = base / "runtime"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        empty = du_bytes(venv)
        pip(venv, "-r", str(REPO_ROOT / "requirements.txt"))
        runtime = du_bytes(venv)
        cuda, torch_size = cuda_share(venv), du_bytes(site_packages(venv) / "torch")
        pip(venv, "-r", str(REPO_ROOT / "requirements-dev.txt"))
        dev = du_bytes(venv)
        print(f"empty venv:                          {human(empty)}")
        print(f"requirements.txt (lessons + app):    {human(runtime)}")
        print(
            f"  of which nvidia-* and triton:      {human(cuda)}  (CUDA only: the CPU wheels leave them out)"
        )
        print(f"  of which torch (CUDA build):       {human(torch_size)}")
        print(f"requirements-dev.txt (+ test tools): {human(dev)}")
        if args.cpu_torch:
            cpu = base / "cpu"
            subprocess.run([sys.executable, "-m", "venv", str(cpu)], check=True)
            pip(cpu, "torch==2.14.1", "torchvision==0.29.1", "--index-url", CPU_INDEX)
            pip(cpu, "-r", str(REPO_ROOT / "requirements.txt"))
            print(f"CPU-only torch + requirements.txt:   {human(du_bytes(cpu))}")


if __name__ == "__main__":
    main()
