"""The dashboard's pages are documented, and its vendored assets are what vendor.json says."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from fastapi.routing import APIRoute

from thrifty.ui.routes import PAGES, STATIC

DOCS = (Path(__file__).parents[2] / "docs" / "dashboard.md").read_text("utf-8")


def _pages() -> list[tuple[str, str]]:
    found = []
    for page in PAGES:
        for route in page.router.routes:
            assert isinstance(route, APIRoute)
            found += [(method, route.path) for method in sorted(route.methods)]
    assert len(found) >= 10
    return found


@pytest.mark.parametrize(("method", "path"), _pages())
def test_every_page_is_documented(method: str, path: str) -> None:
    assert f"`{method} {path}`" in DOCS, f"{method} {path} is missing from docs/dashboard.md"


def test_vendored_files_match_their_record() -> None:
    vendor = STATIC / "vendor"
    record = json.loads((vendor / "vendor.json").read_text("utf-8"))
    assert record, "vendor.json lists nothing"
    for package, entry in record.items():
        data = (vendor / entry["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], package
        assert entry["version"] in data[:200].decode("utf-8", "replace"), package
        assert entry["version"] in DOCS, f"{package} {entry['version']} is not in the docs"
