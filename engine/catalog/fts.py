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
_PHRASE = re.compile(r'"([^"]*)"')

# Words that carry no search meaning: function words, and words found in nearly every figure caption. Matching them
# ranks nothing, lets unrelated captions count as keyword hits, and makes SQLite score most of the table.
# fmt: off
STOP_WORDS = frozenset((
    "a", "about", "above", "after", "all", "also", "am", "an", "and", "any", "are", "as", "at", "be", "been",
    "before", "being", "below", "between", "both", "but", "by", "can", "could", "did", "do", "does", "each", "either",
    "etc", "for", "from", "had", "has", "have", "he", "her", "here", "his", "how", "i", "if", "in", "into", "is",
    "it", "its", "may", "me", "more", "most", "my", "no", "nor", "not", "of", "on", "one", "only", "or", "other",
    "our", "over", "per", "she", "should", "so", "some", "such", "than", "that", "the", "their", "them", "then",
    "there", "these", "they", "this", "those", "through", "to", "under", "up", "upon", "very", "via", "was", "we",
    "were", "what", "when", "where", "which", "while", "who", "whom", "why", "will", "with", "within", "without",
    "would", "you", "your",
    # in almost every figure caption
    "fig", "figs", "figure", "figures", "image", "images", "panel", "panels", "shown", "shows", "showing",
))
# fmt: on


def _meaningful(word: str) -> bool:
    """A word worth matching on its own: not a stop word, not a bare number, not a single character."""
    return len(word) > 1 and not word.isdigit() and word not in STOP_WORDS


def query_words(query_text: str) -> list[str]:
    """The meaningful words of a user's query: lower-cased, in order, no repeats (see `_meaningful`)."""
    seen: dict[str, None] = {}
    for word in _WORD.findall(query_text.lower()):
        if _meaningful(word):
            seen.setdefault(word, None)
    return list(seen)


def ignored_words(query_text: str) -> list[str]:
    """The query's words that `query_words` leaves out (stop words, bare numbers, single characters)."""
    seen: dict[str, None] = {}
    for word in _WORD.findall(query_text.lower()):
        if not _meaningful(word):
            seen.setdefault(word, None)
    return list(seen)


def quoted_phrases(query_text: str) -> list[str]:
    """Phrases the user put in double quotes, as lower-cased words joined by single spaces ("pleural effusion")."""
    phrases: dict[str, None] = {}
    for inner in _PHRASE.findall(query_text):
        words = _WORD.findall(inner.lower())
        if words:
            phrases.setdefault(" ".join(words), None)
    return list(phrases)


def match_expression(words: list[str]) -> str | None:
    """An FTS5 MATCH string that finds any of the words. Each is quoted, so user text is never FTS syntax."""
    if not words:
        return None
    return " OR ".join('"' + w.replace('"', '""') + '"' for w in words)


def phrase_expression(phrases: list[str]) -> str | None:
    """An FTS5 MATCH string that finds captions containing every phrase, each as consecutive words."""
    if not phrases:
        return None
    return " AND ".join('"' + p.replace('"', '""') + '"' for p in phrases)


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
