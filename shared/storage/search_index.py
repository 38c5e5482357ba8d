"""One user's search index: an SQLite database with an FTS5 table (no server).

Each user has one index holding the messages of their own conversations, so a search can only ever find
the caller's messages. Entries are keyed by (conversation_id, seq); adding one twice or removing one that
is not there changes nothing, so a redelivered stream record is harmless. Results come newest first by
the message's creation time.

Query text is data, never syntax: the query is split into terms by the same tokenizer that indexed the
messages (`unicode61 remove_diacritics 2`: case- and accent-insensitive), and each term becomes a quoted
prefix query, all of them joined by AND. No input can make FTS5 parse an operator, a column filter or a
malformed expression.

The SQLite is sqlean.py's when it is installed: a build with FTS5 compiled in, pinned in the dependencies
layer as a manylinux aarch64 wheel, because whether the SQLite behind Lambda's python3.13 has FTS5 is not
documented. Without it (a platform it has no wheel for), Python's own sqlite3. Either way this module
checks FTS5 on import, so a search function without it fails its init with the reason, not a search with a
500. Only the search functions import this module (the wheel's 8.8 MB library loads nowhere else).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

try:
    import sqlean as sqlite3  # the same DB-API as the standard library's
except ImportError:  # pragma: no cover - sqlean.py is a dependency; kept for platforms without its wheel
    import sqlite3

TOKENIZER = "unicode61 remove_diacritics 2"
MAX_QUERY_TERMS = 16  # more terms are dropped: they could only narrow a result nobody would read
SCHEMA_VERSION = 1
# Positions order entries by creation time: epoch milliseconds times this, plus a tiebreak for messages
# created in the same millisecond.
_PER_MILLISECOND = 1000

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS entries (
    position INTEGER PRIMARY KEY,
    conversation_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    text TEXT NOT NULL,
    UNIQUE (conversation_id, seq)
);
CREATE VIRTUAL TABLE IF NOT EXISTS texts USING fts5(
    text, content='entries', content_rowid='position', tokenize='{TOKENIZER}'
);
PRAGMA user_version = {SCHEMA_VERSION};
"""


@dataclass(frozen=True)
class IndexEntry:
    conversation_id: str
    seq: int
    created_at_ms: int
    text: str


@dataclass(frozen=True)
class SearchHit:
    conversation_id: str
    seq: int
    position: int  # where it sorts: a later message has a greater position; pages continue below it


class SqliteWithoutFts5Error(RuntimeError):
    """The SQLite this process loaded cannot build the index (no FTS5, or no unicode61 tokenizer)."""


def require_fts5(driver=sqlite3) -> None:
    """Raises SqliteWithoutFts5Error unless the driver's SQLite makes the index's FTS5 table."""
    db = driver.connect(":memory:")
    try:
        db.execute(f"CREATE VIRTUAL TABLE probe USING fts5(text, tokenize='{TOKENIZER}')")
    except driver.Error as error:
        raise SqliteWithoutFts5Error(
            f"search needs SQLite with FTS5 ({TOKENIZER}); {driver.__name__}'s SQLite {driver.sqlite_version} "
            f"answered: {error}. Install sqlean.py (layers/dependencies/requirements.txt pins it for Lambda)."
        ) from None
    finally:
        db.close()


require_fts5()  # at import: the search functions' init fails with the reason


def query_terms(query: str) -> list[str]:
    """The terms the index would make of `query`, folded (lower case, no accents), in order, without
    repeats; at most MAX_QUERY_TERMS."""
    scratch = sqlite3.connect(":memory:")
    try:
        scratch.execute(f"CREATE VIRTUAL TABLE q USING fts5(text, tokenize='{TOKENIZER}')")
        scratch.execute("CREATE VIRTUAL TABLE terms USING fts5vocab(q, 'instance')")
        # sqlite3 cannot bind a str with lone surrogates; they are not part of any word anyway.
        scratch.execute("INSERT INTO q (text) VALUES (?)", (query.encode("utf-8", "replace").decode(),))
        found = [term for (term,) in scratch.execute("SELECT term FROM terms ORDER BY offset")]
    finally:
        scratch.close()
    return list(dict.fromkeys(term for term in found if term))[:MAX_QUERY_TERMS]


def match_expression(terms: Iterable[str]) -> str:
    """An FTS5 expression that matches entries holding a word starting with each term."""
    return " AND ".join('"' + term.replace('"', '""') + '"*' for term in terms)


class SearchIndex:
    """An open index database. Not shared between threads; close it when done."""

    def __init__(self, path: str, *, read_only: bool = False) -> None:
        if read_only:
            self._db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
            # SQLite opens the file on first use: use it now, while the caller still knows it exists (a
            # newer version may replace it a moment later; an open file outlives its unlinking).
            self._db.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
        else:
            self._db = sqlite3.connect(path, check_same_thread=False)
            # Removed text is overwritten on disk, not left in free pages.
            self._db.execute("PRAGMA secure_delete = ON")
            self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> SearchIndex:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def add(self, entries: Iterable[IndexEntry]) -> int:
        """Indexes each entry not indexed yet; returns how many were new."""
        added = 0
        with self._db:
            for entry in entries:
                if self._position(entry.conversation_id, entry.seq) is not None:
                    continue
                position = self._free_position(entry.created_at_ms)
                self._db.execute(
                    "INSERT INTO entries (position, conversation_id, seq, text) VALUES (?, ?, ?, ?)",
                    (position, entry.conversation_id, entry.seq, _storable(entry.text)),
                )
                self._db.execute("INSERT INTO texts (rowid, text) VALUES (?, ?)", (position, _storable(entry.text)))
                added += 1
        return added

    def remove(self, keys: Iterable[tuple[str, int]]) -> set[tuple[str, int]]:
        """Removes the entries of these (conversation_id, seq); returns those that were there."""
        removed = set()
        with self._db:
            for conversation_id, seq in keys:
                row = self._db.execute(
                    "SELECT position, text FROM entries WHERE conversation_id = ? AND seq = ?", (conversation_id, seq)
                ).fetchone()
                if row is None:
                    continue
                # An external-content table forgets a row only when told what it held.
                self._db.execute("INSERT INTO texts (texts, rowid, text) VALUES ('delete', ?, ?)", row)
                self._db.execute("DELETE FROM entries WHERE position = ?", (row[0],))
                removed.add((conversation_id, seq))
        return removed

    def entries(self) -> list[IndexEntry]:
        """Everything indexed (to fold one index into another)."""
        rows = self._db.execute("SELECT conversation_id, seq, position, text FROM entries ORDER BY position")
        return [IndexEntry(conversation_id, seq, position // _PER_MILLISECOND, text) for conversation_id, seq, position, text in rows]

    def search(self, query: str, *, limit: int, before: int | None = None) -> list[SearchHit]:
        """Entries with a word starting with every term of `query`, newest first, below position
        `before` when given. A query without terms finds nothing."""
        terms = query_terms(query)
        if not terms or limit <= 0:
            return []
        rows = self._db.execute(
            "SELECT e.position, e.conversation_id, e.seq FROM texts JOIN entries e ON e.position = texts.rowid "
            "WHERE texts MATCH ? AND texts.rowid < ? ORDER BY texts.rowid DESC LIMIT ?",
            (match_expression(terms), (1 << 63) - 1 if before is None else before, limit),
        )
        return [SearchHit(conversation_id, seq, position) for position, conversation_id, seq in rows]

    def count(self) -> int:
        return self._db.execute("SELECT count(*) FROM entries").fetchone()[0]

    def _position(self, conversation_id: str, seq: int) -> int | None:
        row = self._db.execute(
            "SELECT position FROM entries WHERE conversation_id = ? AND seq = ?", (conversation_id, seq)
        ).fetchone()
        return None if row is None else row[0]

    def _free_position(self, created_at_ms: int) -> int:
        """The first free position of that millisecond (a thousand messages of one user in one millisecond
        would spill into the next: their order is then off by a millisecond, nothing worse)."""
        position = max(created_at_ms, 0) * _PER_MILLISECOND
        (taken,) = self._db.execute(
            "SELECT max(position) FROM entries WHERE position BETWEEN ? AND ?", (position, position + _PER_MILLISECOND - 1)
        ).fetchone()
        if taken is not None:
            position = taken + 1
        while self._db.execute("SELECT 1 FROM entries WHERE position = ?", (position,)).fetchone():
            position += 1
        return position


def _storable(text: str) -> str:
    """sqlite3 cannot bind a str holding lone surrogates (validation refuses them; this is the backstop)."""
    return text.encode("utf-8", "replace").decode()
