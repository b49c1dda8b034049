"""Opening a catalog file: the SQLAlchemy engine, connection pragmas, migrations and sessions.

WAL lets GUI worker threads read while an ingest writes; foreign keys are off by default in SQLite, so a
connect listener turns them on for every pooled connection (cascade deletes depend on it).
"""

from __future__ import annotations

import logging
import os
import sqlite3
from pathlib import Path

import numpy as np
from sqlalchemy import Engine, create_engine, event, select
from sqlalchemy.exc import DatabaseError as SADatabaseError
from sqlalchemy.orm import Session, sessionmaker

from engine.catalog import migrations, verified
from engine.catalog.schema import LibraryMeta
from engine.errors import (
    LibraryDamagedError,
    LibraryError,
    LibraryVersionError,
    StorageError,
    UnfinishedLibraryError,
)
from engine.storage_errors import as_storage_error

logger = logging.getLogger(__name__)


def _on_connect(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")  # a reader waits for a writer's commit instead of failing
    cursor.execute("PRAGMA synchronous=NORMAL")  # safe with WAL: a crash loses at most the last commit, never corrupts
    cursor.close()


def _url(path: Path, *, read_only: bool, immutable: bool = False) -> str:
    if immutable:
        # Read-only media or a read-only copy: SQLite may not create the -shm file WAL readers need, so it is told
        # the file cannot change (true: nobody can write there) and reads it without any locking.
        return f"sqlite:///file:{path.as_posix()}?immutable=1&uri=true"
    if read_only:
        return f"sqlite:///file:{path.as_posix()}?mode=ro&uri=true"
    return f"sqlite:///{path.as_posix()}"


def repair_advice(path: Path) -> str:
    return f"run `pmc-search --library {path.parent} check --repair` to salvage it"


def open_engine(path: Path, *, read_only: bool = False, create: bool = False, verify: bool = True) -> Engine:
    """An engine on the catalog file, migrated to the current schema (unless read-only) and checked.

    `verify` runs `PRAGMA quick_check` (LibraryDamagedError when it finds damage, with the way out). A read-only
    open that SQLite cannot make in the usual mode (a read-only folder, no -shm) retries with `immutable=1`.
    """
    path = Path(path)
    if not create and not path.exists():
        raise LibraryError(f"no catalog at {path}")
    try:
        return _open_checked(path, read_only=read_only, immutable=False, verify=verify)
    except LibraryDamagedError:
        raise
    except (LibraryError, StorageError) as e:
        if not read_only or not _may_open_immutable(path, e):
            raise
        logger.info("catalog %s cannot be opened read-only in place (%s); opening it as immutable", path, e)
        return _open_checked(path, read_only=True, immutable=True, verify=verify)


def _may_open_immutable(path: Path, error: Exception) -> bool:
    wal = path.with_name(path.name + "-wal")
    unsaved = wal.exists() and wal.stat().st_size > 0  # immutable would silently ignore what the WAL holds
    cannot_open = "unable to open" in str(error.__cause__ or error)
    return cannot_open and not unsaved and not _writable_folder(path.parent)


def _writable_folder(folder: Path) -> bool:
    """os.access says yes to root even on a read-only mount; statvfs knows the mount is read-only."""
    if not os.access(folder, os.W_OK):
        return False
    statvfs = getattr(os, "statvfs", None)
    return statvfs is None or not statvfs(folder).f_flag & getattr(os, "ST_RDONLY", 1)


def _open_checked(path: Path, *, read_only: bool, immutable: bool, verify: bool) -> Engine:
    engine = create_engine(_url(path, read_only=read_only, immutable=immutable),
                           connect_args={"check_same_thread": False, "timeout": 30})
    event.listen(engine, "connect", _on_connect)
    try:
        with engine.connect() as conn:
            if not read_only:
                mode = conn.exec_driver_sql("PRAGMA journal_mode=WAL").scalar()
                logger.debug("catalog %s journal mode %s", path, mode)
            if verify and not verified.is_known_good(path):
                _quick_check(conn, path)
                if not read_only:
                    verified.remember_good(path)
            conn.commit()  # end the autobegun transaction so the migration runs in one of its own
            with conn.begin():
                if read_only:
                    _check_version(conn, path)
                else:
                    migrations.migrate(conn)
    except (SADatabaseError, sqlite3.DatabaseError) as e:
        engine.dispose()
        text = str(getattr(e, "orig", None) or e)
        if "malformed" in text or "not a database" in text:
            raise LibraryDamagedError(f"the catalog {path} is damaged ({text}); {repair_advice(path)}") from e
        storage = as_storage_error(e, f"opening {path}")
        if storage is not None:
            raise storage from e
        raise LibraryDamagedError(f"{path} is not a readable library catalog ({text}); {repair_advice(path)}") from e
    except Exception:
        engine.dispose()
        raise
    return engine


def _quick_check(conn, path: Path) -> None:
    """`PRAGMA quick_check`: page, record and b-tree structure (not index contents: that is `integrity_check`)."""
    verified.forget(path)
    rows = [r[0] for r in conn.exec_driver_sql("PRAGMA quick_check(20)")]
    if rows != ["ok"]:
        logger.error("catalog %s failed quick_check: %s", path, rows)
        raise LibraryDamagedError(f"the catalog {path} is damaged ({rows[0]}); {repair_advice(path)}")


def _check_version(conn, path: Path) -> None:
    found = migrations.current_version(conn)
    if found == 0:
        raise UnfinishedLibraryError(
            f"the library at {path.parent} was never finished (its creation was interrupted); run "
            f"`pmc-search --library {path.parent} index FOLDER` to create it again"
        )
    if found < migrations.CURRENT_VERSION:
        raise LibraryVersionError(
            f"the catalog {path} has schema {found}, older than this program's {migrations.CURRENT_VERSION}; "
            "open it once for writing (e.g. `pmc-search index`) to upgrade it"
        )
    if found > migrations.CURRENT_VERSION:
        migrations.migrate(conn)  # raises the "written by a newer version" error


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
