"""Timestamps as the API shows them: ISO 8601 UTC with milliseconds, e.g. 2026-11-24T01:24:12.345Z."""

from __future__ import annotations

import time
from datetime import datetime, timezone


def iso_from_ms(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def now_ms() -> int:
    return int(time.time() * 1000)
