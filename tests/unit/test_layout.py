"""shared/'s rooms (DESIGN.md §7): no import runs upward, so a newcomer knows where a line belongs.

domain at the bottom; storage and adapters above it, beside each other; realtime above them; services above
everything but the composition root (shared/wiring.py), which nothing below imports.
"""

from __future__ import annotations

import ast
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared"
RANK = {"domain": 0, "storage": 1, "adapters": 1, "realtime": 2, "services": 3, "wiring": 4}


def room_of(dotted: str) -> str | None:
    """The room of a module under shared/ (its first component), or None if it is not in a room."""
    parts = dotted.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "shared" and parts[1] in RANK else None


def imports_of(path: Path) -> set[str]:
    """Every shared.* module a file imports, wherever the import statement is (lazy ones too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("shared"):
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("shared"))
    return found


def test_no_module_of_shared_imports_a_room_above_its_own_or_a_room_beside_it():
    wrong = []
    for path in sorted(SHARED.rglob("*.py")):
        room = room_of("shared." + ".".join(path.relative_to(SHARED).with_suffix("").parts))
        if room is None:
            continue
        for target in map(room_of, imports_of(path)):
            if target is not None and target != room and RANK[target] >= RANK[room]:
                wrong.append(f"{path.relative_to(SHARED.parent)} ({room}) imports from shared.{target}")
    assert not wrong, "\n".join(sorted(set(wrong)))


def test_the_rooms_exist_and_hold_modules():
    for room in ("domain", "storage", "adapters", "realtime", "services"):
        assert len(list((SHARED / room).glob("*.py"))) > 1, room
