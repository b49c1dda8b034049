"""Full-text search over figure captions and article titles (SQLite FTS5), kept in sync by triggers.

The FTS table's rowid is the figure id. Triggers rather than application code keep it current, so a cascade
delete of a collection, a caption update or an article retitle can never leave stale text behind.
"""

from __future__ import annotations

import re

from sqlalchemy import Connection, text

TABLE = "figures_fts"

_CREATE = [
    f"CREATE VIRTUAL TABLE {TABLE} USING fts5(caption, title, tokenize = 'porter unicode61')",
    f"""CREATE TRIGGER figures_fts_insert AFTER INSERT ON figures BEGIN
        INSERT INTO {TABLE} (rowid, caption, title)
        VALUES (new.id, new.caption, (SELECT title FROM articles WHERE id = new.article_id));
    END""",
    f"""CREATE TRIGGER figures_fts_delete AFTER DELETE ON figures BEGIN
        DELETE FROM {TABLE} WHERE rowid = old.id;
    END""",
    f"""CREATE TRIGGER figures_fts_update AFTER UPDATE OF caption, article_id ON figures BEGIN
        DELETE FROM {TABLE} WHERE rowid = old.id;
        INSERT INTO {TABLE} (rowid, caption, title)
        VALUES (new.id, new.caption, (SELECT title FROM articles WHERE id = new.article_id));
    END""",
    f"""CREATE TRIGGER articles_fts_title AFTER UPDATE OF title ON articles BEGIN
        UPDATE {TABLE} SET title = new.title WHERE rowid IN (SELECT id FROM figures WHERE article_id = new.id);
    END""",
]


def create(conn: Connection) -> None:
    for statement in _CREATE:
        conn.execute(text(statement))


def rebuild(conn: Connection) -> None:
    conn.execute(text(f"DELETE FROM {TABLE}"))
    conn.execute(
        text(
            f"INSERT INTO {TABLE} (rowid, caption, title) SELECT f.id, f.caption, a.title "
            "FROM figures f LEFT JOIN articles a ON a.id = f.article_id"
        )
    )


_WORD = re.compile(r"[^\W_]+", re.UNICODE)

# Words in nearly every caption: matching them ranks nothing and makes SQLite score most of the table.
# fmt: off
STOP_WORDS = frozenset((
    "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "has", "have", "in", "into", "is", "it", "its",
    "of", "on", "or", "that", "the", "their", "this", "to", "was", "were", "which", "with", "within", "without",
))
# fmt: on


def query_words(query_text: str) -> list[str]:
    """The words of a user's query worth matching: lower-cased, in order, no repeats, no stop words."""
    seen: dict[str, None] = {}
    for word in _WORD.findall(query_text.lower()):
        if word not in STOP_WORDS:
            seen.setdefault(word, None)
    return list(seen)


def match_expression(words: list[str]) -> str | None:
    """An FTS5 MATCH string that finds any of the words. Each is quoted, so user text is never FTS syntax."""
    if not words:
        return None
    return " OR ".join('"' + w.replace('"', '""') + '"' for w in words)


def matched_terms(words: list[str], caption: str | None, title: str | None = None) -> tuple[str, ...]:
    """Which query words a caption or title contains (a word also matches its longer forms: 'tumor' ~ 'tumors')."""
    tokens = set(_WORD.findall(f"{caption or ''} {title or ''}".lower()))
    found = []
    for word in words:
        if word in tokens or any(
            token.startswith(word) or (word.startswith(token) and len(token) >= 4) for token in tokens
        ):
            found.append(word)
    return tuple(found)
