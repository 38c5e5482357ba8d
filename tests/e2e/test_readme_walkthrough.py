"""The README's walkthrough ("### Try it") runs as written: every ```bash block, each in a shell of its own
(a terminal of its own, as the README says), from the repository root.

It runs against a `parley local` started for the test on a free port: the only change made to the blocks
is rewriting the README's 127.0.0.1:8000 to that port. A block that runs the WebSocket client keeps
running (Bob's terminal) while the later blocks run; every other block must finish with status 0, under
`set -e -o pipefail` so that no failing command goes unnoticed.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.support.contracts import validate_server_frame

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(bool(os.environ.get("PARLEY_HTTP_URL")), reason="the walkthrough is for parley local"),
]

REPO_ROOT = Path(__file__).resolve().parents[2]
README_ADDRESS = "127.0.0.1:8000"
SECTION = "### Try it"
# What a newcomer's shell would not have: the test suite's own backend and secret.
SUITE_ONLY_ENV = ("AWS_ENDPOINT_URL", "REDIS_URL", "JWT_SECRET", "WS_MANAGEMENT_URL", "PYTHONPATH", "VIRTUAL_ENV")


def walkthrough_blocks() -> list[str]:
    readme = (REPO_ROOT / "README.md").read_text()
    start = readme.index(SECTION + "\n")
    following = re.search(r"^#{1,3} ", readme[start + len(SECTION) :], flags=re.MULTILINE)
    section = readme[start : start + len(SECTION) + following.start()] if following else readme[start:]
    return re.findall(r"^```bash\n(.*?)^```$", section, flags=re.MULTILINE | re.DOTALL)


class Terminal:
    """One block running in its own bash, its output collected as it comes."""

    def __init__(self, block: str, env: dict[str, str]) -> None:
        self.block = block
        self.output = ""
        self._lock = threading.Lock()
        self.process = subprocess.Popen(
            ["bash", "-e", "-o", "pipefail", "-c", block], cwd=REPO_ROOT, env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for chunk in iter(lambda: self.process.stdout.read(1), ""):
            with self._lock:
                self.output += chunk

    def wait_for(self, text: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if text in self.output:
                    return True
            if self.process.poll() is not None:
                time.sleep(0.2)  # the reader may still be draining the last output
                return text in self.output
            time.sleep(0.05)
        return False

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # Ctrl-C, as the README says
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def test_the_readme_walkthrough_runs_as_written_and_bob_sees_the_message() -> None:
    from tests.support.local_runtime import run_local_runtime

    blocks = walkthrough_blocks()
    assert len(blocks) >= 2 and all(README_ADDRESS in block for block in blocks), blocks
    assert any("-m websockets" in block for block in blocks), "the walkthrough shows no WebSocket client"
    env = {name: value for name, value in os.environ.items() if name not in SUITE_ONLY_ENV}
    terminals: list[Terminal] = []
    with run_local_runtime(env=env) as runtime:
        try:
            for block in blocks:
                terminal = Terminal(block.replace(README_ADDRESS, f"127.0.0.1:{runtime.port}"), env)
                terminals.append(terminal)
                if "-m websockets" in block:  # Bob's terminal: stays open, connected
                    assert terminal.wait_for("Connected to", 60), terminal.output
                    continue
                terminal.process.wait(timeout=60)
                time.sleep(0.2)  # let the reader take the last output
                assert terminal.process.returncode == 0, f"{block}\n--- output:\n{terminal.output}"
                assert '"error"' not in terminal.output, f"{block}\n--- output:\n{terminal.output}"
            sender = terminals[-1]
            assert json.loads(sender.output)["message"]["content"] == "hi bob", sender.output  # stored, answered
            listener = next(t for t in terminals if "-m websockets" in t.block)
            assert listener.wait_for('"new_message"', 15), listener.output
            assert "hi bob" in listener.output
            # What Bob's terminal printed keeps to the contract, as every frame the e2e suite receives.
            frames = [json.loads(found) for found in re.findall(r"^.*?< (\{.*\})$", listener.output, re.M)]
            assert frames, listener.output
            for frame in frames:
                validate_server_frame(frame)
        finally:
            for terminal in terminals:
                terminal.close()
