"""The stamp that says which catalog state an index file belongs to, kept in a JSON file beside the index.

The catalog is the source of truth; the index is a cache. A stamp that disagrees with the catalog (another library,
model, dimension, space, or an older catalog generation) means "rebuild", never "use it anyway". The stamp is
sealed with a SHA-256 of its own content, so an edited stamp (a hand-trimmed `deleted` list, a copied generation)
is not believed; the index file's CRC-32 in it is checked before hnswlib is handed the file, since a garbled
hnswlib file can crash the process instead of raising.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from engine.fileio import atomic_write_bytes

logger = logging.getLogger(__name__)

STAMP_FORMAT = 2  # 2: sealed, with the library id and the file's CRC-32 (a format-1 stamp means "rebuild")


@dataclass(frozen=True)
class IndexStamp:
    model_id: str
    dim: int
    space: str
    generation: int  # the catalog generation the index was built from; bumped on every catalog change
    library: str = ""  # the id of the library the index belongs to: another library's index never fits


def stamp_path(index_path: Path) -> Path:
    return index_path.with_name(index_path.name + ".stamp.json")


def _seal(payload: dict[str, Any]) -> str:
    body = {k: v for k, v in payload.items() if k != "seal"}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode("utf-8")).hexdigest()


def write_stamp(index_path: Path, stamp: IndexStamp, extra: dict[str, Any]) -> None:
    payload = {"format": STAMP_FORMAT, "stamp": asdict(stamp), **extra}
    payload["seal"] = _seal(payload)
    atomic_write_bytes(stamp_path(index_path), json.dumps(payload).encode("utf-8"))


def read_stamp(index_path: Path) -> tuple[IndexStamp, dict[str, Any]] | None:
    """The stamp and its extra fields, or None when the file is missing or unreadable."""
    path = stamp_path(index_path)
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
        if payload.get("format") != STAMP_FORMAT:
            return None
        if payload.get("seal") != _seal(payload):
            logger.warning("index stamp %s was altered after it was written; ignoring it", path)
            return None
        raw = payload["stamp"]
        stamp = IndexStamp(
            str(raw["model_id"]), int(raw["dim"]), str(raw["space"]), int(raw["generation"]), str(raw["library"])
        )
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError) as e:
        logger.warning("ignoring unreadable index stamp %s: %s", path, e)
        return None
    return stamp, payload
