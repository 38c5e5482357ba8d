"""Runs `parley local` as a subprocess (its own process group, ended with the process that started it) for
e2e tests and benchmarks."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from infra.local.cli import READY_LINE, STOP_HINT
from infra.local.services import die_with_parent

REPO_ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT_SECONDS = 30
STOP_TIMEOUT_SECONDS = 15


class _Output:
    """Drains the child's output (stdout and stderr together) so it never blocks on a full pipe."""

    def __init__(self, stream) -> None:
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._ended = False
        self._thread = threading.Thread(target=self._drain, args=(stream,), daemon=True)
        self._thread.start()

    def _drain(self, stream) -> None:
        for line in stream:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._ended = True
            self._changed.notify_all()

    def text(self) -> str:
        with self._changed:
            return "\n".join(self.lines)

    def wait_for_ready_block(self, timeout: float) -> list[str]:
        """The lines from the ready line to the stop hint; raises with the output if they don't come."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                if READY_LINE in self.lines:
                    block = self.lines[self.lines.index(READY_LINE) :]
                    if any(STOP_HINT in line for line in block):
                        return block
                remaining = deadline - time.monotonic()
                if self._ended or remaining <= 0:
                    reason = "exited" if self._ended else f"was not ready within {timeout:.0f} s"
                    raise RuntimeError(f"parley local {reason}; its output:\n" + "\n".join(self.lines))
                self._changed.wait(remaining)


@dataclass
class LocalRuntimeProcess:
    process: subprocess.Popen
    port: int
    http_url: str  # ends in /api/v1
    ws_url: str
    management_url: str  # what a boto3 apigatewaymanagementapi client takes as endpoint_url
    dynamodb_url: str
    redis_url: str
    _output: _Output = field(repr=False)
    s3_url: str = ""  # the local S3 front

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        return self._output.text()

    def stop(self, signum: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT_SECONDS) -> int | None:
        """Signals the runtime (not its group: it must clean up by itself) and waits; kills the whole
        group if it doesn't exit in time. Returns the exit code (None if it had to be killed)."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signum)
            try:
                return self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                return None
        return self.process.returncode

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


def _parse_ready_block(block: list[str]) -> dict[str, str]:
    """``  HTTP API    http://…`` lines -> {"HTTP API": "http://…"}."""
    fields = {}
    for line in block[1:]:
        if line.startswith("  "):
            name, _, rest = line.strip().partition("  ")
            fields[name] = rest.strip().split()[0] if rest.strip() else ""
    return fields


@contextlib.contextmanager
def run_local_runtime(
    env: dict[str, str] | None = None, port: int = 0, ready_timeout: float = READY_TIMEOUT_SECONDS
) -> Iterator[LocalRuntimeProcess]:
    """Starts ``python -m infra.local.cli local --port PORT`` with `env` as its whole environment
    (default: this process's), waits for its ready line, yields its URLs, and stops it on exit."""
    environ = dict(os.environ if env is None else env)
    environ["PYTHONUNBUFFERED"] = "1"
    process = subprocess.Popen(
        [sys.executable, "-m", "infra.local.cli", "local", "--port", str(port)],
        cwd=REPO_ROOT,
        env=environ,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        start_new_session=True,
        # A test run that is killed (no `finally`) still stops it: SIGTERM, and it stops its own children.
        preexec_fn=die_with_parent,  # noqa: PLW1509 - only a prctl call
    )
    output = _Output(process.stdout)
    runtime = None
    try:
        fields = _parse_ready_block(output.wait_for_ready_block(ready_timeout))
        http_url = fields["HTTP API"]
        base_url = http_url.removesuffix("/api/v1")
        runtime = LocalRuntimeProcess(
            process=process,
            port=int(base_url.rsplit(":", 1)[1]),
            http_url=http_url,
            ws_url=fields["WebSocket"].split("?", 1)[0],
            management_url=fields["Management"].removesuffix("/@connections"),
            dynamodb_url=fields["DynamoDB"],
            redis_url=fields["Redis"],
            _output=output,
            s3_url=fields.get("S3", ""),
        )
        yield runtime
    finally:
        if runtime is None:
            runtime = LocalRuntimeProcess(process, 0, "", "", "", "", "", output)
        runtime.stop()
        # Whatever the runtime left behind in its group (nothing, if it cleaned up) goes too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
