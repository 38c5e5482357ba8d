"""The browser tier: the built web client (web/build.sh) in headless Chromium from Debian's packages,
driven by Selenium through /usr/bin/chromedriver (never Selenium Manager: nothing is downloaded), against
a `parley local` of its own. tests/run.sh installs chromium and chromium-driver when they are missing
and it runs as root; PARLEY_REQUIRE_BROWSER=1 (set there) turns a missing browser into a failure."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
WEB_DIST = REPO_ROOT / "web" / "dist"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


def _missing(reason: str):
    if os.environ.get("PARLEY_REQUIRE_BROWSER") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def web_dist() -> Path:
    if shutil.which("npm") is None:
        _missing("npm is not installed: the web client can't be built")
    subprocess.run(["bash", str(REPO_ROOT / "web" / "build.sh")], check=True)
    return WEB_DIST
