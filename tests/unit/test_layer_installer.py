"""layers/build.py looks for pip or uv everywhere it may be, and says what to do when there is none."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

BUILD = runpy.run_path(str(Path(__file__).resolve().parents[2] / "layers" / "build.py"))


def test_no_installer_anywhere_is_one_line_of_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    find_installer = BUILD["find_installer"]
    monkeypatch.setattr(find_installer.__globals__["importlib"].util, "find_spec", lambda name: None)
    monkeypatch.setattr(find_installer.__globals__["shutil"], "which", lambda name: None)
    monkeypatch.setattr(sys, "_base_executable", sys.executable, raising=False)  # not in a venv
    with pytest.raises(SystemExit) as stopped:
        find_installer()
    message = str(stopped.value)
    assert "\n" not in message and "bash infra/bootstrap.sh" in message
