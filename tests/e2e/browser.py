"""A real gateway on 127.0.0.1 and Debian's Chromium driven by Playwright, for the dashboard's
end-to-end tests. Nothing is downloaded: Playwright's own driver comes with its wheel and the
browser is the system's (``THRIFTY_CHROMIUM``, else ``/usr/bin/chromium``). Without Chromium the
test is skipped on a developer's machine and fails in CI (``CI`` set), where nothing may be.

Screenshots go to ``test-artifacts/dashboard/`` (``THRIFTY_TEST_ARTIFACTS`` moves the root).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from live_server import serving
from thrifty.settings import Settings

ROOT = Path(__file__).parents[2]
LAPTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}


def chromium_path() -> str:
    found = os.environ.get("THRIFTY_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if Path(found).exists():
        return found
    message = f"Chromium not found at {found} (apt install chromium, or set THRIFTY_CHROMIUM)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def artifacts_dir(name: str) -> Path:
    root = Path(os.environ.get("THRIFTY_TEST_ARTIFACTS", ROOT / "test-artifacts"))
    folder = root / "dashboard" / name
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):  # this run's screenshots only
        old.unlink()
    return folder


@contextmanager
def served(settings: Settings, clock: Any) -> Iterator[str]:
    """The whole app under uvicorn in a thread, on a free port, with the test's clock."""
    from thrifty.app import create_app

    with serving(create_app(settings, clock=clock)) as url:
        yield url


@contextmanager
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        try:
            yield browser
        finally:
            browser.close()
