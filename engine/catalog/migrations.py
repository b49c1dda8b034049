"""Schema versions and the steps between them.

A fresh catalog is built by running version 1's frozen DDL and then every later step, so a fresh file and a
migrated one take the same path and cannot drift apart. Add a step by appending a function to `STEPS`; never
edit a step that has shipped. The ORM in `schema.py` describes the newest version (a test checks they agree).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import Connection, text

from engine.catalog import fts
from engine.errors import LibraryVersionError

logger = logging.getLogger(__name__)

# Version 1: every table, no full-text search.
_V1_DDL = """
CREATE TABLE schema_version (
    id INTEGER NOT NULL, version INTEGER NOT NULL, CONSTRAINT pk_schema_version PRIMARY KEY (id));
CREATE TABLE library_meta (
    "key" VARCHAR(64) NOT NULL, value TEXT NOT NULL, CONSTRAINT pk_library_meta PRIMARY KEY ("key"));
CREATE TABLE collections (
    id INTEGER NOT NULL, name VARCHAR(255) NOT NULL, kind VARCHAR(32) NOT NULL, source TEXT NOT NULL,
    scan_mark INTEGER NOT NULL, last_ingested FLOAT, CONSTRAINT pk_collections PRIMARY KEY (id));
CREATE TABLE articles (
    id INTEGER NOT NULL, pmcid VARCHAR(32), pmid VARCHAR(32), doi VARCHAR(255), title TEXT,
    journal VARCHAR(512), year INTEGER, license VARCHAR(255), license_url TEXT,
    CONSTRAINT pk_articles PRIMARY KEY (id), CONSTRAINT uq_articles_pmcid UNIQUE (pmcid));
CREATE INDEX ix_articles_journal ON articles (journal);
CREATE INDEX ix_articles_year ON articles (year);
CREATE TABLE vectors (
    content_sha256 VARCHAR(64) NOT NULL, data BLOB NOT NULL, CONSTRAINT pk_vectors PRIMARY KEY (content_sha256));
CREATE TABLE figures (
    id INTEGER NOT NULL, collection_id INTEGER NOT NULL, article_id INTEGER, "key" TEXT NOT NULL,
    image_path TEXT NOT NULL, file_size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
    content_sha256 VARCHAR(64) NOT NULL, caption TEXT, label VARCHAR(255), figure_id VARCHAR(255),
    modality VARCHAR(64), modality_confidence FLOAT, status VARCHAR(16) NOT NULL, scan_mark INTEGER NOT NULL,
    CONSTRAINT pk_figures PRIMARY KEY (id),
    CONSTRAINT uq_figures_collection_id UNIQUE (collection_id, "key"),
    CONSTRAINT fk_figures_collection_id_collections FOREIGN KEY(collection_id)
        REFERENCES collections (id) ON DELETE CASCADE,
    CONSTRAINT fk_figures_article_id_articles FOREIGN KEY(article_id) REFERENCES articles (id) ON DELETE SET NULL,
    CONSTRAINT fk_figures_content_sha256_vectors FOREIGN KEY(content_sha256) REFERENCES vectors (content_sha256));
CREATE INDEX ix_figures_content_sha256 ON figures (content_sha256);
CREATE INDEX ix_figures_modality ON figures (modality);
CREATE INDEX ix_figures_scan ON figures (collection_id, scan_mark);
CREATE INDEX ix_figures_article_id ON figures (article_id);
CREATE TABLE ingest_problems (
    id INTEGER NOT NULL, collection_id INTEGER NOT NULL, path TEXT NOT NULL, message TEXT NOT NULL,
    CONSTRAINT pk_ingest_problems PRIMARY KEY (id),
    CONSTRAINT fk_ingest_problems_collection_id_collections FOREIGN KEY(collection_id)
        REFERENCES collections (id) ON DELETE CASCADE);
CREATE INDEX ix_ingest_problems_collection_id ON ingest_problems (collection_id);
"""


def _execute_script(conn: Connection, script: str) -> None:
    for statement in script.split(";"):
        if statement.strip():
            conn.execute(text(statement))


def create_v1(conn: Connection) -> None:
    """Version 1 exactly as it shipped (tests use it to check migrations from an old file)."""
    _execute_script(conn, _V1_DDL)
    conn.execute(text("INSERT INTO schema_version (id, version) VALUES (1, 1)"))


def _v1_to_v2(conn: Connection) -> None:
    fts.create(conn)
    fts.rebuild(conn)


def _v2_to_v3(conn: Connection) -> None:
    # Lets a stale index catch up with the figures changed since it was saved instead of being rebuilt whole.
    conn.execute(text("ALTER TABLE figures ADD COLUMN vector_generation INTEGER DEFAULT '0' NOT NULL"))
    conn.execute(text("CREATE INDEX ix_figures_vector_generation ON figures (vector_generation)"))
    # Existing figures count as changed at the current generation: a stale index must re-add them all.
    conn.execute(
        text(
            "UPDATE figures SET vector_generation = "
            "(SELECT CAST(value AS INTEGER) FROM library_meta WHERE key = 'generation')"
            " WHERE EXISTS (SELECT 1 FROM library_meta WHERE key = 'generation')"
        )
    )


def _first_minutes(conn: Connection) -> None:
    """Complete citations, collections of several sources, and incomplete (cancelled) collections.

    Articles gain authors (a JSON list of "Family, Given"), volume, issue and pages. A collection may hold several
    sources (the PMC packages a user imported in one action): each becomes a row of `collection_sources`, and the
    existing collections get their one source copied there. A collection's status says whether its last run
    finished ("complete") or stopped early ("incomplete": the user may resume it).
    """
    for column in ("authors TEXT", "volume VARCHAR(64)", "issue VARCHAR(64)", "pages VARCHAR(64)"):
        conn.execute(text(f"ALTER TABLE articles ADD COLUMN {column}"))
    conn.execute(text("ALTER TABLE collections ADD COLUMN status VARCHAR(16) DEFAULT 'complete' NOT NULL"))
    conn.execute(text("UPDATE collections SET status = 'incomplete' WHERE last_ingested IS NULL"))
    conn.execute(
        text(
            "CREATE TABLE collection_sources ("
            " id INTEGER NOT NULL, collection_id INTEGER NOT NULL, position INTEGER NOT NULL,"
            " kind VARCHAR(32) NOT NULL, source TEXT NOT NULL,"
            " CONSTRAINT pk_collection_sources PRIMARY KEY (id),"
            " CONSTRAINT uq_collection_sources_collection_id UNIQUE (collection_id, position),"
            " CONSTRAINT fk_collection_sources_collection_id_collections FOREIGN KEY(collection_id)"
            " REFERENCES collections (id) ON DELETE CASCADE)"
        )
    )
    conn.execute(
        text(
            "INSERT INTO collection_sources (collection_id, position, kind, source)"
            " SELECT id, 0, kind, source FROM collections"
        )
    )


def _reliability_step(conn: Connection) -> None:
    # Issue 15: stored vectors found unusable (wrong length, NaN) are kept out of the index until re-encoded.
    conn.execute(
        text(
            "CREATE TABLE quarantined_vectors (content_sha256 VARCHAR(64) NOT NULL, reason TEXT NOT NULL, "
            "found_at FLOAT NOT NULL, CONSTRAINT pk_quarantined_vectors PRIMARY KEY (content_sha256))"
        )
    )


# STEPS[i] goes from version i+1 to i+2
STEPS: list[Callable[[Connection], None]] = [_v1_to_v2, _v2_to_v3, _first_minutes, _reliability_step]
CURRENT_VERSION = 1 + len(STEPS)


def current_version(conn: Connection) -> int:
    exists = conn.execute(text("SELECT name FROM sqlite_master WHERE type='table' AND name='schema_version'")).first()
    if not exists:
        return 0
    row = conn.execute(text("SELECT version FROM schema_version WHERE id = 1")).first()
    return int(row[0]) if row else 0


def migrate(conn: Connection) -> int:
    """Bring the catalog to CURRENT_VERSION inside the caller's transaction; returns the version found."""
    found = current_version(conn)
    if found > CURRENT_VERSION:
        raise LibraryVersionError(
            f"this library was written by a newer version of the program (schema {found}, "
            f"this program knows up to {CURRENT_VERSION}); update the program to open it"
        )
    if found == 0:
        create_v1(conn)
        version = 1
    else:
        version = found
    while version < CURRENT_VERSION:
        logger.info("migrating catalog schema %d -> %d", version, version + 1)
        STEPS[version - 1](conn)
        version += 1
        conn.execute(text("UPDATE schema_version SET version = :v WHERE id = 1"), {"v": version})
    return found
