"""Opening a catalog file: the SQLAlchemy engine, connection pragmas, migrations and sessions.

WAL lets GUI worker threads read while an ingest writes; foreign keys are off by default in SQLite, so a
connect listener turns them on for every pooled connection (cascade deletes depend on it).
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import numpy as np
from sqlalchemy import Engine, create_engine, event, select
from sqlalchemy.exc import DatabaseError as SADatabaseError
from sqlalchemy.orm import Session, sessionmaker

from engine.catalog import migrations
from engine.catalog.schema import LibraryMeta
from engine.errors import LibraryError

logger = logging.getLogger(__name__)


def _on_connect(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")  # a reader waits for a writer's commit instead of failing
    cursor.execute("PRAGMA synchronous=NORMAL")  # safe with WAL: a crash loses at most the last commit, never corrupts
    cursor.close()


def open_engine(path: Path, *, read_only: bool = False, create: bool = False) -> Engine:
    """An engine on the catalog file, migrated to the current schema (unless read-only)."""
    path = Path(path)
    if not create and not path.exists():
        raise LibraryError(f"no catalog at {path}")
    if read_only:
        url = f"sqlite:///file:{path.as_posix()}?mode=ro&uri=true"
    else:
        url = f"sqlite:///{path.as_posix()}"
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
    event.listen(engine, "connect", _on_connect)
    try:
        with engine.connect() as conn:
            if not read_only:
                mode = conn.exec_driver_sql("PRAGMA journal_mode=WAL").scalar()
                logger.debug("catalog %s journal mode %s", path, mode)
            conn.commit()  # end the autobegun transaction so the migration runs in one of its own
            with conn.begin():
                if read_only:
                    found = migrations.current_version(conn)
                    if found != migrations.CURRENT_VERSION:
                        raise LibraryError(f"catalog {path} has schema {found}; open it once for writing to upgrade it")
                else:
                    migrations.migrate(conn)
    except (SADatabaseError, sqlite3.DatabaseError) as e:
        engine.dispose()
        raise LibraryError(f"{path} is not a readable library catalog: {e}") from e
    except Exception:
        engine.dispose()
        raise
    return engine


def session_factory(engine: Engine) -> sessionmaker[Session]:
    # expire_on_commit=False: values read inside a transaction stay usable after it (they become dataclasses).
    return sessionmaker(engine, expire_on_commit=False)


def get_meta(session: Session, key: str) -> str | None:
    row = session.get(LibraryMeta, key)
    return row.value if row else None


def set_meta(session: Session, key: str, value: str) -> None:
    row = session.get(LibraryMeta, key)
    if row is None:
        session.add(LibraryMeta(key=key, value=value))
    else:
        row.value = value


def all_meta(session: Session) -> dict[str, str]:
    return {row.key: row.value for row in session.scalars(select(LibraryMeta))}


def bump_generation(session: Session) -> int:
    """Every commit that changes which vectors are searchable bumps this; the index stamp must match it."""
    generation = int(get_meta(session, "generation") or 0) + 1
    set_meta(session, "generation", str(generation))
    return generation


def vector_to_blob(vector: np.ndarray) -> bytes:
    return np.ascontiguousarray(vector, dtype="<f4").tobytes()


def blob_to_vector(blob: bytes, dim: int) -> np.ndarray:
    vector = np.frombuffer(blob, dtype="<f4")
    if vector.shape[0] != dim:
        raise LibraryError(f"a stored vector has {vector.shape[0]} values, the library expects {dim}")
    return vector.astype(np.float32, copy=False)
