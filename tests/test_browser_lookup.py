"""The browser tests find their browser: the system's Chromium first, else Playwright's own, else a clear stop."""

from __future__ import annotations

import subprocess
from types import SimpleNamespace

import browser_support
import pytest


def fake_playwright(path):
    """A stand-in for Playwright that says where its own Chromium would be."""
    return SimpleNamespace(chromium=SimpleNamespace(executable_path=str(path)))


@pytest.fixture
def no_system_browser(monkeypatch):
    monkeypatch.setattr(browser_support, "_found_browser", [])
    monkeypatch.setattr(browser_support.shutil, "which", lambda name: None)


def test_the_system_chromium_comes_first(monkeypatch, tmp_path):
    monkeypatch.setattr(browser_support, "_found_browser", [])
    monkeypatch.setattr(browser_support.shutil, "which", lambda name: f"/opt/bin/{name}")
    own = tmp_path / "chrome"
    own.touch()
    assert browser_support.find_chromium(fake_playwright(own)) == f"/opt/bin/{browser_support.CHROMIUM}"


def test_playwrights_own_browser_is_used_when_the_system_has_none(no_system_browser, monkeypatch, tmp_path):
    own = tmp_path / "chrome"
    own.touch()
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: pytest.fail("nothing to install: it is there"))
    assert browser_support.find_chromium(fake_playwright(own)) == str(own)


def test_playwright_installs_its_browser_once_when_none_is_found(no_system_browser, monkeypatch, tmp_path):
    own, calls = tmp_path / "chrome", []

    def install(args, **kwargs):
        calls.append(args[-2:])
        own.touch()  # the download worked
        return subprocess.CompletedProcess(args, 0, "", "")

    monkeypatch.setattr(browser_support.subprocess, "run", install)
    assert browser_support.find_chromium(fake_playwright(own)) == str(own)
    assert browser_support.find_chromium(fake_playwright(own)) == str(own)
    assert calls == [["install", "chromium"]]


def test_without_any_browser_it_stops_with_the_install_command(no_system_browser, monkeypatch, tmp_path):
    def refused(args, **kwargs):
        return subprocess.CompletedProcess(args, 1, "", "Error: getaddrinfo ENOTFOUND cdn.example")

    monkeypatch.setattr(browser_support.subprocess, "run", refused)
    with pytest.raises(RuntimeError, match=r"apt-get install chromium.*ENOTFOUND"):
        browser_support.find_chromium(fake_playwright(tmp_path / "missing"))
