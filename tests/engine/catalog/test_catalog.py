"""The catalog file: pragmas, schema version and migrations, FTS kept in sync by triggers."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import create_engine, inspect, text

from engine.catalog import CURRENT_VERSION, Base, fts, migrations, open_engine, session_factory
from engine.errors import LibraryError


def _columns(engine) -> dict[str, set[str]]:
    inspector = inspect(engine)
    return {t: {c["name"] for c in inspector.get_columns(t)} for t in inspector.get_table_names() if "fts" not in t}


def test_fresh_catalog_is_wal_with_foreign_keys_and_current_schema(tmp_path):
    engine = open_engine(tmp_path / "c.sqlite", create=True)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert migrations.current_version(conn) == CURRENT_VERSION
    engine.dispose()


def test_orm_describes_exactly_the_migrated_schema(tmp_path):
    engine = open_engine(tmp_path / "c.sqlite", create=True)
    expected = {t.name: {c.name for c in t.columns} for t in Base.metadata.sorted_tables}
    assert _columns(engine) == expected
    engine.dispose()


def _insert_v1_rows(conn) -> None:
    conn.execute(text("INSERT INTO collections (id, name, kind, source, scan_mark) VALUES (1, 'c', 'folder', '/x', 1)"))
    conn.execute(text("INSERT INTO articles (id, pmcid, title) VALUES (1, 'PMC1', 'Pleural effusion in adults')"))
    conn.execute(text("INSERT INTO vectors (content_sha256, data) VALUES ('aa', x'00000000')"))
    conn.execute(
        text(
            "INSERT INTO figures (id, collection_id, article_id, key, image_path, file_size, mtime_ns, "
            "content_sha256, caption, status, scan_mark) "
            "VALUES (7, 1, 1, 'k', '/x/a.png', 1, 1, 'aa', 'Axial CT of the thorax', 'ok', 1)"
        )
    )


def _version_1_file(tmp_path, extra_sql: str):
    """A catalog file as version 1 wrote it, with a few rows and `extra_sql`."""
    path = tmp_path / "old.sqlite"
    raw = create_engine(f"sqlite:///{path}")
    with raw.begin() as conn:
        migrations.create_v1(conn)
        _insert_v1_rows(conn)
        conn.execute(text(extra_sql))
    raw.dispose()
    return path


def test_migrates_a_version_1_file_and_backfills_full_text(tmp_path):
    engine = open_engine(_version_1_file(tmp_path, "INSERT INTO library_meta (key, value) VALUES ('generation', '5')"))
    with engine.connect() as conn:  # v3: existing figures count as changed at the current generation
        assert conn.execute(text("SELECT vector_generation FROM figures WHERE id = 7")).scalar() == 5
    with engine.connect() as conn:
        assert migrations.current_version(conn) == CURRENT_VERSION
        hits = conn.execute(text(f"SELECT rowid FROM {fts.TABLE} WHERE {fts.TABLE} MATCH 'thorax'")).scalars().all()
        title_hits = (
            conn.execute(text(f"SELECT rowid FROM {fts.TABLE} WHERE {fts.TABLE} MATCH 'effusion'")).scalars().all()
        )
    assert hits == [7] and title_hits == [7]
    fresh = open_engine(tmp_path / "fresh.sqlite", create=True)
    assert _columns(engine) == _columns(fresh)
    engine.dispose()
    fresh.dispose()


def test_an_old_file_gets_collection_sources_status_and_citation_columns(tmp_path):
    engine = open_engine(_version_1_file(tmp_path, "INSERT INTO collections (id, name, kind, source, scan_mark, "
                                                   "last_ingested) VALUES (2, 'done', 'pmc', '/p.tar.gz', 1, 12.5)"))
    with engine.connect() as conn:
        sources = conn.execute(text("SELECT collection_id, position, kind, source FROM collection_sources "
                                    "ORDER BY collection_id")).all()
        status = dict(conn.execute(text("SELECT id, status FROM collections")).all())
        article = conn.execute(text("SELECT authors, volume, issue, pages FROM articles WHERE id = 1")).one()
    assert [tuple(r) for r in sources] == [(1, 0, "folder", "/x"), (2, 0, "pmc", "/p.tar.gz")]
    assert status == {1: "incomplete", 2: "complete"}  # never finished vs. a finished run
    assert tuple(article) == (None, None, None, None)
    engine.dispose()


def test_refuses_a_newer_schema(tmp_path):
    path = tmp_path / "new.sqlite"
    open_engine(path, create=True).dispose()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE schema_version SET version = ?", (CURRENT_VERSION + 1,))
    with pytest.raises(LibraryError, match="newer version"):
        open_engine(path)


def test_garbage_file_is_a_library_error(tmp_path):
    path = tmp_path / "junk.sqlite"
    path.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(LibraryError):
        open_engine(path)


def test_fts_follows_caption_and_title_changes_and_cascade_deletes(tmp_path):
    engine = open_engine(tmp_path / "c.sqlite", create=True)
    sessions = session_factory(engine)

    def match(word: str) -> list[int]:
        with engine.connect() as conn:
            return (
                conn.execute(text(f"SELECT rowid FROM {fts.TABLE} WHERE {fts.TABLE} MATCH :m"), {"m": word})
                .scalars()
                .all()
            )

    with sessions.begin() as session:
        _insert_v1_rows(session.connection())
    assert match("thorax") == [7]
    with engine.begin() as conn:
        conn.execute(text("UPDATE figures SET caption = 'Sagittal MRI of the knee' WHERE id = 7"))
    assert match("thorax") == [] and match("knee") == [7]
    with engine.begin() as conn:
        conn.execute(text("UPDATE articles SET title = 'Meniscal tears' WHERE id = 1"))
    assert match("effusion") == [] and match("meniscal") == [7]
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM collections WHERE id = 1"))  # cascades to figures, triggers clean FTS
        assert conn.execute(text("SELECT count(*) FROM figures")).scalar() == 0
    assert match("knee") == []
    engine.dispose()


@pytest.mark.parametrize(
    ("hostile", "words"),
    [
        ('tumour" OR "xray', ["tumour", "xray"]),
        ("NEAR(lung nodule)", ["near", "lung", "nodule"]),
        ("effusion*", ["effusion"]),
        ("caption:secret", ["caption", "secret"]),
        ('"""nodule"', ["nodule"]),
        ("title:^lung -nodule", ["title", "lung", "nodule"]),
    ],
)
def test_user_text_is_never_fts_syntax(tmp_path, hostile, words):
    """FTS5 operators, column filters, prefixes and stray quotes in a query are searched as plain words."""
    engine = open_engine(tmp_path / "c.sqlite", create=True)
    assert fts.query_words(hostile) == words
    expression = fts.match_expression(words)
    with engine.begin() as conn:
        conn.execute(
            text(f"INSERT INTO {fts.TABLE} (rowid, caption, title) VALUES (1, :c, '')"),
            {"c": "A secret lung nodule and a tumour near the effusion"},
        )
        found = conn.execute(
            text(f"SELECT rowid FROM {fts.TABLE} WHERE {fts.TABLE} MATCH :m"), {"m": expression}
        ).scalars().all()
    assert found == [1]  # no syntax error, and a real word of the query matched
    engine.dispose()


def test_query_words_keep_only_meaningful_terms_and_quoted_phrases_are_found():
    text = 'Gel with 6 lanes, "lane 1" and the X-ray of fig 2'
    assert fts.query_words(text) == ["gel", "lanes", "lane", "ray"]  # no stop words, bare digits or single letters
    assert fts.ignored_words(text) == ["with", "6", "1", "and", "the", "x", "of", "fig", "2"]
    assert fts.quoted_phrases(text) == ["lane 1"]
    assert fts.quoted_phrases('an "unclosed phrase') == [] and fts.quoted_phrases('""') == []
    assert fts.phrase_expression(["lane 1", 'a"b']) == '"lane 1" AND "a""b"'


def test_matched_terms_finds_plural_forms_and_titles():
    assert fts.matched_terms(["tumor", "mri"], "Two tumors on MRI.", None) == ("tumor", "mri")
    assert fts.matched_terms(["effusion"], "Chest film", "Pleural effusion") == ("effusion",)
    assert fts.matched_terms(["ct"], "Chest film", None) == ()
