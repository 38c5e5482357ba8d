"""The web client stays small: its JavaScript under 100 KB gzipped (issue 9)."""

from __future__ import annotations

import gzip

import pytest

pytestmark = pytest.mark.browser

MAX_GZIPPED_JS_BYTES = 100 * 1024


def test_the_bundle_is_under_100_kb_gzipped(web_dist):
    scripts = sorted(web_dist.rglob("*.js"))
    assert scripts, "the build made no JavaScript"
    total = sum(len(gzip.compress(path.read_bytes(), compresslevel=9)) for path in scripts)
    assert total < MAX_GZIPPED_JS_BYTES, f"{total} bytes gzipped"


def test_the_page_loads_the_bundle_and_names_itself(web_dist):
    index = (web_dist / "index.html").read_text()
    assert '<script type="module" src="app.js">' in index
    assert '<html lang="en">' in index and 'name="viewport"' in index
