"""Debian's chromium, headless, for the tests that must see a page as a browser does.

`.ci/run` installs the package where it is missing (as root); elsewhere the tests that need it are
skipped with a message saying how to get it.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
         "--virtual-time-budget=2000"]


def chromium_path() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("chromium is not installed: `apt-get install -y chromium` (Debian) to run the browser tests")


def chromium(page: Path, *extra: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    """Run chromium on a local page with a fresh profile; --dump-dom output is in stdout."""
    binary = chromium_path()
    with tempfile.TemporaryDirectory(prefix="threer-chromium-") as profile:
        done = subprocess.run([binary, *FLAGS, f"--user-data-dir={profile}", *extra, page.resolve().as_uri()],
                              capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise AssertionError(f"chromium exited {done.returncode}: {done.stderr[-2000:]}")
    return done


def dump_dom(page: Path) -> str:
    return chromium(page, "--dump-dom").stdout
