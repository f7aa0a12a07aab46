"""The project's own files agree: one pinned list, environment.yml, pyproject, CI, notebooks, and the
README's test command; the README stays a front door and the documentation's links resolve."""

from __future__ import annotations

import json
import re
from importlib.metadata import version
from pathlib import Path

import pytest
import tomllib
from packaging.requirements import Requirement

from mnistlib.paths import REPO_ROOT

NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("*.ipynb"))
PAGES = [
    REPO_ROOT / "README.md",
    REPO_ROOT / "teachers" / "README.md",
    *sorted((REPO_ROOT / "docs").glob("*.md")),
]
_LINK = re.compile(r"\]\(([^)\s]+)\)")


def pinned(name: str = "requirements-dev.txt") -> dict[str, str]:
    """Return {package: version} from a requirements file and the files it includes with -r."""
    pins = {}
    for line in (REPO_ROOT / name).read_text().splitlines():
        line = line.split("#")[0].strip()
        if line.startswith("-r "):
            pins.update(pinned(line[3:].strip()))
        elif line and not line.startswith("-"):
            req = Requirement(line)
            (spec,) = req.specifier
            assert spec.operator == "==", f"{name} must pin exact versions: {line}"
            pins[req.name.lower()] = spec.version
    return pins


def test_runtime_list_holds_no_development_tools():
    runtime, dev = pinned("requirements.txt"), pinned("requirements-dev.txt")
    assert set(runtime) < set(dev)
    assert not {"pytest", "nbval", "hypothesis", "playwright", "ruff"} & set(runtime)


def test_environment_yml_installs_through_the_pinned_list():
    text = (REPO_ROOT / "environment.yml").read_text()
    pip_lines = re.findall(r"^\s+-\s+(-r .+|-e .+)$", text, flags=re.MULTILINE)
    assert pip_lines == ["-r requirements.txt", "-e ."]
    # conda installs Python and pip only: any other package would be a second list that can drift
    conda_deps = re.findall(r"^  - (\S+)$", text.split("dependencies:")[1], flags=re.MULTILINE)
    assert [d.split("=")[0] for d in conda_deps if not d.endswith(":")] == ["python", "pip"]


def test_every_pyproject_dependency_is_pinned_within_its_bounds():
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    declared = list(project["dependencies"]) + [
        d for extra in project["optional-dependencies"].values() for d in extra
    ]
    pins = pinned()
    for line in declared:
        req = Requirement(line)
        assert req.name.lower() in pins, f"{req.name} is in pyproject.toml but not pinned in requirements.txt"
        assert req.specifier.contains(pins[req.name.lower()]), (
            f"{req.name}=={pins[req.name.lower()]} violates {line}"
        )


def test_torch_pair_is_pinned_and_installed():
    pins = pinned()
    assert (pins["torch"], pins["torchvision"]) == ("2.14.1", "0.29.1")
    for name, pin in pins.items():
        assert version(name).split("+")[0] == pin, (
            f"installed {name} {version(name)} differs from the pin {pin}"
        )


def test_ci_runs_exactly_the_readme_test_command():
    readme = (REPO_ROOT / "README.md").read_text()
    commands = re.findall(r"^(make \w+)\s*#.*every test", readme, flags=re.MULTILINE)
    assert commands, "README.md must name the test command as `make <target>   # ... every test ...`"
    ci_lines = [
        l.strip()
        for l in (REPO_ROOT / ".ci" / "run").read_text().splitlines()
        if l.strip() and not l.strip().startswith("#")
    ]
    assert ci_lines[-1] == commands[0]


def test_readme_is_a_front_door():
    lines = (REPO_ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 150, f"README.md has {len(lines)} lines; move the details into docs/"


def broken_links(text: str, folder: Path) -> list[str]:
    """The relative links of a markdown text that name no file or folder under ``folder``."""
    targets = [t.split("#")[0] for t in _LINK.findall(text) if not re.match(r"^([a-z]+:|#)", t)]
    return [t for t in targets if t and not (folder / t).exists()]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_documentation_links_resolve(page):
    assert not broken_links(page.read_text(encoding="utf-8"), page.parent)


def test_link_check_finds_a_broken_link(tmp_path):
    (tmp_path / "there.md").write_text("x")
    text = "[a](there.md#part) [b](https://example.org) [c](#top) [d](missing.md) [e](../nowhere/)"
    assert broken_links(text, tmp_path) == ["missing.md", "../nowhere/"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_are_fully_run_or_fully_stripped(path):
    cells = [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
    counts = [c["execution_count"] for c in cells]
    if all(n is None for n in counts):
        assert not any(c["outputs"] for c in cells), "stripped notebook still has outputs"
    else:
        assert counts == list(range(1, len(cells) + 1)), (
            f"execution counts {counts} are not 1..N: rerun the notebook"
        )
